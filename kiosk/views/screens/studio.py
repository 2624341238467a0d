"""The language studio (clerks with the translator or reviewer role): choose a language, see
every citizen-facing text with its Vietnamese source, where it appears and its pictogram,
in the order citizens meet them; translate on the on-screen keyboard, record the spoken
prompt, play it back, save a draft; a reviewer approves or sends back.

The screens render and forward: the work is done by kiosk.services.studio, recordings by
the microphone (kiosk.hardware.microphone) through the background helper.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidgetItem,
)

from kiosk.services.clerks import NotAllowed
from kiosk.services.langpacks import LANG_TAG
from kiosk.services.recording import TakeRefused
from kiosk.services.studio import APPROVED, DRAFT, MISSING, RETURNED, STALE, StudioError
from kiosk.views.recorder import Recorder
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, desk
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import BigButton, FitTable, Pictogram, Text, pictogram_pixmap

log = logging.getLogger(__name__)

# The Vietnamese text kept in view while typing: two short lines beside Save at most
# (the whole text is on the screen once the keyboard is down).
REMINDER_CHARS = 90

STATE_KEYS = {
    MISSING: "studio.state.missing",
    DRAFT: "studio.state.draft",
    APPROVED: "studio.state.approved",
    RETURNED: "studio.state.returned",
    STALE: "studio.state.stale",
}
SAMPLE_LANG = "tyz"


def _sample(vc) -> dict:
    """A clerk who both translates and reviews, and one Tày draft to show."""
    sample_login(vc)
    dk = desk(vc.app)
    for role in ("translator", "reviewer"):
        dk.clerk = dk.clerks.set_role(dk.clerk.username, role, True, dk.clerk)
    first = vc.app.studio.items()[1]
    vc.app.studio.save_draft(SAMPLE_LANG, first.item, "Khảm pây!", dk.clerk)
    return {"lang": SAMPLE_LANG}


def _sample_item(vc) -> dict:
    state = _sample(vc)
    return {**state, "item": vc.app.studio.items()[1].item}


def _check_prompt(raw: bytes):
    from kiosk.services.recording import process_take  # numpy: when a clerk records

    return process_take(raw, max_seconds=60)


def studio_roles(clerk) -> bool:
    return clerk is not None and (clerk.has("translator") or clerk.has("reviewer"))


class _StudioScreen(ClerkScreen):
    def enter(self, state) -> None:
        clerk = self.desk.clerk
        if clerk is not None and not studio_roles(clerk):
            self.vc.nav.replace("clerk_home")
            return
        super().enter(state)

    def lang(self) -> str:
        return self.state.get("lang") or ""


@register("studio", audience="clerk", sample=_sample)
class StudioScreen(_StudioScreen):
    """Choose a language; progress per screen; every text, most-met first."""

    title_key = "studio.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        # In a row on a wide screen, one under the other on a portrait one (see enter).
        langs = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        langs.setSpacing(12)
        self.lang_row = langs
        self.lang_buttons: dict[str, BigButton] = {}
        self.new_lang = QLineEdit()
        self.new_lang.setObjectName("newLang")
        self.new_lang.setMaxLength(12)
        self.new_lang_button = BigButton("")
        self.new_lang_button.clicked.connect(self.add_language)
        langs.addStretch(1)
        langs.addWidget(self.new_lang)
        langs.addWidget(self.new_lang_button)
        self.body.addLayout(langs)
        # The letters this language adds to the keyboard (kiosk.services.language_data).
        self.keys_label = Text("")
        self.body.addWidget(self.keys_label)
        keys_row = QHBoxLayout()
        self.keys_edit = QLineEdit()
        self.keys_edit.setObjectName("keyboardLetters")
        self.keys_edit.setMaxLength(80)
        self.keys_edit.setProperty("keyboard", "letters")  # with the combining marks
        self.keys_button = BigButton("")
        self.keys_button.clicked.connect(self.save_keys)
        keys_row.addWidget(self.keys_edit, 1)
        keys_row.addWidget(self.keys_button)
        self.body.addLayout(keys_row)
        self.keys_now = Text("", "hint")
        self.body.addWidget(self.keys_now)
        self.progress = QGridLayout()
        self.progress.setHorizontalSpacing(24)
        self.body.addLayout(self.progress)
        self.progress_labels: list[QLabel] = []
        offer_row = QHBoxLayout()
        self.message = Text("", "hint")
        offer_row.addWidget(self.message, 1)
        self.offer_button = BigButton("")
        self.offer_button.clicked.connect(self.offer)
        offer_row.addWidget(self.offer_button)
        self.body.addLayout(offer_row)
        self.table = FitTable(0, 3)  # as tall as its rows: the screen scrolls, once
        self.table.setObjectName("studioItems")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self.open_row)
        self.body.addWidget(self.table)
        self.body.addStretch(1)
        self.rows: list[str] = []

    def enter(self, state) -> None:
        wide = self.window().width() >= 1200
        self.lang_row.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )
        super().enter(state)
        if not self.isVisible() and self.desk.clerk is None:
            return
        self._languages()
        self._show_keys()
        if self.lang():
            self.refresh()

    def _show_keys(self) -> None:
        lang = self.lang()
        for w in (self.keys_label, self.keys_edit, self.keys_button, self.keys_now):
            w.setVisible(bool(lang))
        if not lang:
            return
        self.keys_edit.setProperty("keyboard_lang", lang)
        self.keys_edit.setText(self.vc.app.studio.keyboard_text(lang))
        kb = self.vc.app.language_data.keyboard(lang)
        shown = " ".join([*kb.keys, *("\u25cc" + m for m in kb.marks)])
        text = self.tr("studio.keys.now", keys=shown) if shown else self.tr("studio.keys.none")
        unsure = [
            k.key for k in self.vc.app.language_data.keys_of(lang) if k.status == "to_confirm"
        ]
        if unsure:
            text += "\n" + self.tr("studio.keys.to_confirm", keys=" ".join(unsure))
        self.keys_now.setText(text)

    def save_keys(self) -> None:
        lang, text, clerk = self.lang(), self.keys_edit.text(), self.desk.clerk
        app = self.vc.app

        def work() -> list[str]:
            keys = app.studio.save_keyboard(lang, text, clerk)
            app.language_data.set_layer("studio", app.studio.profiles())
            return keys

        def done(keys: list[str]) -> None:
            self._show_keys()
            self.message.setText(self.tr("studio.keys.saved" if keys else "studio.keys.removed"))

        self.vc.tasks.run(work, done, self._key_error)

    def _key_error(self, error: Exception) -> None:
        if isinstance(error, StudioError):
            self.message.setText(self.tr(error.key))
        elif isinstance(error, NotAllowed):
            self.message.setText(self.tr("studio.err.role"))
        else:
            log.warning("keyboard letters not saved: %s", type(error).__name__)
            self.message.setText(self.tr("clerk.err.generic"))

    def _languages(self) -> None:
        for button in self.lang_buttons.values():
            self.lang_row.removeWidget(button)
            button.deleteLater()
        self.lang_buttons = {}
        known = [lang for lang in self.vc.app.translator.languages() if lang != "vi"]
        if self.lang() and self.lang() not in known:
            known.append(self.lang())
        for i, lang in enumerate(known):
            name = self.vc.app.translator.tr("lang.self", lang)
            button = BigButton(name if name != "lang.self" else lang)
            button.setObjectName("toggle")
            button.setCheckable(True)
            button.setChecked(lang == self.lang())
            button.clicked.connect(lambda _=False, lang=lang: self.choose(lang))
            self.lang_row.insertWidget(i, button)
            self.lang_buttons[lang] = button

    def choose(self, lang: str) -> None:
        self.state["lang"] = lang
        for code, button in self.lang_buttons.items():
            button.setChecked(code == lang)
        self._show_keys()
        self.refresh()

    def add_language(self) -> None:
        tag = self.new_lang.text().strip().lower()
        if not LANG_TAG.match(tag) or tag == "vi":
            self.message.setText(self.tr("studio.err.language_tag"))
            return
        self.new_lang.clear()
        self.state["lang"] = tag
        self._languages()
        self._show_keys()
        self.refresh()

    def refresh(self) -> None:
        lang = self.lang()
        studio = self.vc.app.studio
        self.vc.tasks.run(
            lambda: (studio.progress(lang), studio.entries(lang)), self._show, self._failed
        )

    def _failed(self, error: Exception) -> None:
        log.warning("studio list failed: %s", type(error).__name__)
        self.message.setText(self.tr("clerk.err.generic"))

    def _show(self, result) -> None:
        progress, entries = result
        for label in self.progress_labels:
            self.progress.removeWidget(label)
            label.deleteLater()
        self.progress_labels = []
        for i, (group, approved, total) in enumerate(progress):
            label = Text(
                self.tr(
                    "studio.progress", screen=self.tr(f"studio.group.{group}"), n=approved, of=total
                )
            )
            self.progress.addWidget(label, i // 4, i % 4)
            self.progress_labels.append(label)
        items = self.vc.app.studio.items()
        self.table.setRowCount(len(items))
        self.rows = []
        for row, it in enumerate(items):
            entry = entries[it.item]
            state = QTableWidgetItem(self.tr(STATE_KEYS[entry.state]))
            state.setIcon(pictogram_pixmap(it.pictogram, 48))
            self.table.setItem(row, 0, state)
            self.table.setItem(row, 1, QTableWidgetItem(it.source))
            self.table.setItem(row, 2, QTableWidgetItem(entry.text))
            self.rows.append(it.item)
        self.table.fit_rows()
        self.message.setText(self.tr("studio.hint"))

    def offer(self) -> None:
        """A reviewer offers this commune's approved work to the province (contract 1.1)."""
        app, lang = self.vc.app, self.lang()
        sync = app.sync
        if not lang or sync is None:
            self.message.setText(self.tr("studio.offer.offline"))
            return

        def work() -> bool:
            import tempfile
            from pathlib import Path

            from kiosk.services.pack_sync import offer_contribution

            installed = app.packs.installed(lang)
            version = installed.version + 1 if installed else 1
            with tempfile.TemporaryDirectory(prefix="kiosk-offer-") as tmp:
                pack = app.studio.export_pack(lang, Path(tmp) / "pack.zip", version)
                return offer_contribution(sync.outbox.link.call, pack)

        def failed(error: Exception) -> None:
            # The studio's own reasons (nothing approved yet) as they are; anything else is
            # the portal out of reach or refusing: never a dossier's message.
            if isinstance(error, StudioError):
                self.message.setText(self.tr(error.key))
                return
            log.warning("offer to the province failed: %s", type(error).__name__)
            self.message.setText(self.tr("studio.offer.offline"))

        self.message.setText(self.tr("studio.offer.sending"))
        self.vc.tasks.run(
            work,
            lambda new: self.message.setText(
                self.tr("studio.offer.sent" if new else "studio.offer.already")
            ),
            failed,
        )

    def open_row(self, row: int, _column: int = 0) -> None:
        if 0 <= row < len(self.rows):
            self.vc.nav.go("studio_item", lang=self.lang(), item=self.rows[row])

    def retranslate(self) -> None:
        super().retranslate()
        self.new_lang.setPlaceholderText(self.tr("studio.new_language"))
        self.new_lang_button.setText(self.tr("studio.add_language"))
        self.offer_button.setText(self.tr("studio.offer"))
        self.keys_label.setText(self.tr("studio.keys.label"))
        self.keys_edit.setPlaceholderText(self.tr("studio.keys.hint"))
        self.keys_button.setText(self.tr("studio.keys.save"))
        clerk = self.desk.clerk
        self.offer_button.setVisible(clerk is not None and clerk.has("reviewer"))
        self.table.setHorizontalHeaderLabels(
            [self.tr("studio.col.state"), self.tr("studio.col.source"), self.tr("studio.col.text")]
        )


@register("studio_item", audience="clerk", sample=_sample_item)
class StudioItemScreen(_StudioScreen):
    """One text: its Vietnamese source, where it appears, the translation and its recording."""

    title_key = "studio.item.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        top = QHBoxLayout()
        self.pictogram = Pictogram("procedure_generic", 96)
        top.addWidget(self.pictogram)
        self.thumbnail = QLabel()
        self.thumbnail.setObjectName("thumbnail")
        self.thumbnail.setFixedSize(240, 150)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        top.addWidget(self.thumbnail)
        info = QGridLayout()
        self.where = Text("")
        self.source = Text("", "section")
        self.state_label = Text("")
        info.addWidget(self.where, 0, 0)
        info.addWidget(self.source, 1, 0)
        info.addWidget(self.state_label, 2, 0)
        top.addLayout(info, 1)
        self.body.addLayout(top)
        self.text = QLineEdit()
        self.text.setObjectName("translation")
        self.text.setMaxLength(2000)
        self.body.addWidget(self.text)
        # Not the screen's main action (Save is, always in view below): it may scroll
        # under the text field while the keyboard is up.
        self.recorder = Recorder(
            vc,
            _check_prompt,
            record_key="studio.record",
            stop_key="studio.stop",
            play_key="studio.play",
            timer=lambda s: self.tr("studio.seconds", s=int(s)),
            record_pictogram="volume",
        )
        self.recorder.play_lang = self.lang
        self.recorder.fallback = self._saved_recording
        self.recorder.took.connect(lambda _take: self.message.setText(self.tr("studio.take_ok")))
        self.recorder.refused.connect(lambda key: self.message.setText(self.tr(key)))
        self.record_button = self.recorder.record_button
        self.play_button = self.recorder.play_button
        self.timer_label = self.recorder.timer_label
        self.body.addWidget(self.recorder)
        self.message = Text("", "hint")
        self.body.addWidget(self.message)
        self.note = QLineEdit()
        self.note.setObjectName("reviewNote")
        self.body.addWidget(self.note)
        actions = QHBoxLayout()
        self.save_button = BigButton("", "primary")
        self.save_button.clicked.connect(self.save)
        self.approve_button = BigButton("", "primary")
        self.approve_button.clicked.connect(lambda: self.review(True))
        self.send_back_button = BigButton("", "danger")
        self.send_back_button.clicked.connect(lambda: self.review(False))
        self.list_button = BigButton("")
        self.list_button.clicked.connect(lambda: self.vc.nav.go("studio", lang=self.lang()))
        # While the keyboard is up the item's header scrolls away: the Vietnamese text
        # being translated stays in view beside Save, in the room of "Back to the list".
        self.source_reminder = Text("", "hint")
        self.source_reminder.setVisible(False)
        actions.addWidget(self.source_reminder, 1)
        for b in (self.save_button, self.approve_button, self.send_back_button, self.list_button):
            actions.addWidget(b)
        self.footer.addLayout(actions)  # always in view, also while typing
        self.body.addStretch(1)
        self.entry = None

    def keyboard_shown(self, up: bool) -> None:
        remind = up and bool(self.source.text())
        self.source_reminder.setVisible(remind)
        self.list_button.setVisible(not remind)  # back on the keyboard's Done

    # -- showing
    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None or "item" not in self.state:
            return
        self.recorder.clear()
        self.message.setText("")
        self.note.clear()
        self._show()

    def _show(self) -> None:
        studio = self.vc.app.studio
        it = studio.item(self.state["item"])
        entry = studio.entries(self.lang())[it.item]
        self.pictogram.setPixmap(pictogram_pixmap(it.pictogram, 96))
        self.where.setText(self.tr("studio.where", screen=self.tr(f"studio.group.{it.group}")))
        self.source.setText(it.source)
        shown = it.source if len(it.source) <= REMINDER_CHARS else it.source[:REMINDER_CHARS] + "…"
        self.source_reminder.setText(self.tr("studio.source_reminder", text=shown))
        state = self.tr(STATE_KEYS[entry.state])
        if entry.note:
            state += " — " + entry.note
        self.state_label.setText(state)
        self.text.setText(entry.text)
        self.text.setProperty("keyboard_lang", self.lang())  # the language's own letters
        self.entry = entry
        self._thumbnail(it.screen, self.tr(f"studio.group.{it.group}"))
        clerk = self.desk.clerk
        can_review = (
            clerk.has("reviewer")
            and entry.state in (DRAFT, RETURNED)
            and entry.translator != clerk.username
        )
        self.save_button.setVisible(clerk.has("translator"))
        self.record_button.setVisible(clerk.has("translator"))
        self.approve_button.setVisible(can_review)
        self.send_back_button.setVisible(can_review)
        self.note.setVisible(can_review)
        self.recorder.show_state()  # play: the new take, else the saved recording

    def _thumbnail(self, screen: str, shown_name: str) -> None:
        """A small picture of the screen where the text appears, when it has been shown
        (else that screen's name in words)."""
        window = self.window()
        widget = getattr(window, "screens", {}).get(screen)
        if widget is None:
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText(shown_name)
            return
        pixmap = widget.grab()
        self.thumbnail.setPixmap(
            pixmap.scaled(
                self.thumbnail.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    # -- recording
    @property
    def take(self) -> bytes | None:
        return self.recorder.take

    def _saved_recording(self):
        entry = getattr(self, "entry", None)
        if entry is None or not entry.recording:
            return None
        return self.vc.app.studio.recording(entry.recording)

    def _refused(self, key: str) -> None:
        self.message.setText(self.tr(key))
        player = self.vc.app.speech
        if player is not None:
            player.say_key(key)

    # -- saving and review
    def save(self) -> None:
        lang, item, text, take = self.lang(), self.state["item"], self.text.text(), self.take
        clerk = self.desk.clerk
        studio = self.vc.app.studio
        self.vc.tasks.run(
            lambda: studio.save_draft(lang, item, text, clerk, take), self._saved, self._error
        )

    def _saved(self, _entry) -> None:
        self.recorder.clear()
        self._show()
        self.message.setText(self.tr("studio.saved"))

    def review(self, approve: bool) -> None:
        lang, item, note = self.lang(), self.state["item"], self.note.text()
        clerk = self.desk.clerk
        studio = self.vc.app.studio
        self.vc.tasks.run(
            lambda: studio.review(lang, item, clerk, approve, note),
            lambda _e: self._reviewed(approve),
            self._error,
        )

    def _reviewed(self, approved: bool) -> None:
        if approved:
            self.vc.app.apply_language_work()  # approved work reaches citizens at once
        self._show()
        self.message.setText(self.tr("studio.approved" if approved else "studio.sent_back"))

    def _error(self, error: Exception) -> None:
        if isinstance(error, TakeRefused | StudioError):
            self._refused(error.key)
        elif isinstance(error, NotAllowed):
            self.message.setText(self.tr("studio.err.role"))
        else:
            log.warning("studio action failed: %s", type(error).__name__)
            self.message.setText(self.tr("clerk.err.generic"))

    def leave(self) -> None:
        self.recorder.close_microphone()
        self.recorder.clear()

    def wipe(self) -> None:
        self.leave()
        super().wipe()

    def retranslate(self) -> None:
        super().retranslate()
        self.text.setPlaceholderText(self.tr("studio.translation_hint"))
        self.note.setPlaceholderText(self.tr("studio.note_hint"))
        self.recorder.show_state()
        self.save_button.setText(self.tr("studio.save"))
        self.approve_button.setText(self.tr("studio.approve"))
        self.send_back_button.setText(self.tr("studio.send_back"))
        self.list_button.setText(self.tr("studio.back_to_list"))
