"""Citizens' feedback (phản ánh, kiến nghị): pick a topic by pictogram, record a voice
message (up to 2 minutes, a visible timer, played back before sending) or type it, choose
how to be known (the ID card, only a phone number, or anonymous: then the kiosk says plainly
that a voice can be recognised and offers typing instead), confirm, take the printed slip;
and the status look-up of a feedback with the authority's answer.

The screens render and forward: kiosk.services.feedback checks and stores, the microphone
records through the background helper. The citizen's own recording is played back to them
during their session; the answer to an identified feedback only through headphones.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, timedelta, timezone

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit, QPlainTextEdit, QVBoxLayout

from kiosk.services.feedback import (
    MAX_SECONDS,
    MAX_TEXT,
    TOPICS,
    FeedbackDraft,
    FeedbackRefused,
    FeedbackView,
)
from kiosk.views.base import Screen
from kiosk.views.card_scan import CardScan
from kiosk.views.recorder import Recorder
from kiosk.views.registry import register
from kiosk.views.screens.identify import CameraView
from kiosk.views.screens.notices import two_way
from kiosk.views.widgets import BigButton, Pictogram, Text, Tile

log = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7))
TOPIC_PICTOGRAMS = {t: f"topic_{t}" for t in TOPICS}
IDENTITY_PICTOGRAMS = {"card": "identify_card", "phone": "phone", "anonymous": "anonymous"}


def _player(vc):
    return vc.app.speech


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _draft(vc) -> dict:
    """What the citizen has given so far, kept in the session (wiped with it)."""
    session = vc.app.session
    if not isinstance(getattr(session, "feedback", None), dict):
        session.feedback = {}
    return session.feedback


def _sample_message(vc) -> dict:
    d = _draft(vc)
    d.update(topic="water")
    return {"sample_seconds": 37}


def _sample_identity(vc) -> dict:
    _draft(vc).update(topic="water", text="Nước sinh hoạt ở thôn Nà Pò bị đục.")
    return {"mode": "anonymous"}


def _sample_done(vc) -> dict:
    from kiosk.services.feedback import FeedbackDraft

    tw = two_way(vc)
    view = tw.feedback.confirm(
        FeedbackDraft(topic="roads", language="vi", text="Đường vào thôn bị sạt lở.")
    )
    return {"feedback": view, "printed": True}


def _sample_status(vc) -> dict:
    view = _sample_done(vc)["feedback"]
    from kiosk.services.portal_notices import FeedbackStatus

    tw = two_way(vc)
    tw.feedback.save_status(
        view.id,
        FeedbackStatus(
            "PA-QN-2026-000042",
            "answered",
            "2026-12-01T08:00:00Z",
            {
                "text": {
                    "vi": "UBND xã đã cử người sửa đoạn đường sạt lở, dự kiến xong trong tuần.",
                    "en": "The commune has sent workers to repair the road this week.",
                },
                "audio": {},
                "answered_by": "UBND xã Hoành Mô",
            },
        ),
    )
    return {"feedback": tw.feedback.get(view.id)}


@register("feedback_topic", sample=lambda vc: {})
class FeedbackTopicScreen(Screen):
    title_key = "feedback.citizen.topic.title"
    prompt_key = "feedback.citizen.topic.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        grid = QGridLayout()
        grid.setSpacing(16)
        self.tiles: dict[str, Tile] = {}
        for i, topic in enumerate(TOPICS):
            tile = Tile(TOPIC_PICTOGRAMS[topic], icon_size=88)
            tile.setMinimumHeight(170)
            tile.clicked.connect(lambda _=False, t=topic: self.pick(t))
            grid.addWidget(tile, i // 5, i % 5)
            grid.setColumnStretch(i % 5, 1)
            self.tiles[topic] = tile
        self.body.addLayout(grid, 1)
        self.body.addLayout(self.nav_row(back=True, cancel=True))

    def pick(self, topic: str) -> None:
        _draft(self.vc).clear()
        _draft(self.vc)["topic"] = topic
        self.vc.nav.go("feedback_message")

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        for topic, tile in self.tiles.items():
            tile.setText(self.tr(f"feedback.citizen.topic.{topic}"))


@register("feedback_message", sample=_sample_message)
class FeedbackMessageScreen(Screen):
    title_key = "feedback.citizen.message.title"
    prompt_key = "feedback.citizen.message.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        rec = QHBoxLayout()
        self.recorder = Recorder(
            vc,
            lambda raw: two_way(vc).feedback.check_recording(raw),
            record_key="feedback.citizen.record",
            stop_key="feedback.citizen.stop",
            play_key="feedback.citizen.play",
            timer=lambda s: self.tr(
                "feedback.citizen.timer", now=_clock(s), max=_clock(MAX_SECONDS)
            ),
            max_seconds=MAX_SECONDS,  # two minutes: the take ends by itself
            record_role="primary",
            timer_role="section",
            show_zero=True,
        )
        # The citizen's own recording, played back to them during their session.
        self.recorder.play_lang = lambda: self.vc.app.session.lang
        self.recorder.took.connect(self._took)
        self.recorder.refused.connect(self._recording_refused)
        self.recorder.changed.connect(self.retranslate)
        self.record_button = self.recorder.record_button
        self.play_button = self.recorder.play_button
        self.timer_label = self.recorder.timer_label
        self.delete_button = BigButton("", "danger", pictogram="cancel")
        self.delete_button.clicked.connect(self.drop_take)
        rec.addWidget(self.recorder, 1)
        rec.addWidget(self.delete_button)
        self.body.addLayout(rec)
        self.message = Text("", "error")
        self.body.addWidget(self.message)
        self.or_type = Text("", "hint")
        self.body.addWidget(self.or_type)
        self.text = QPlainTextEdit()
        self.text.setObjectName("feedbackText")
        self.text.setMinimumHeight(64)  # two lines at least, in the room the keyboard leaves
        self.typing = False
        self.text.textChanged.connect(self._count)
        self.body.addWidget(self.text, 1)
        self.counter = Text("", "hint")
        self.body.addWidget(self.counter)
        nav = self.nav_row(back=True, cancel=True)
        self.next_button = BigButton("", "primary", pictogram="confirm")
        self.next_button.clicked.connect(self.next)
        nav.insertWidget(2, self.next_button)
        self.body.addLayout(nav)

    def keyboard_shown(self, up: bool) -> None:
        """While the citizen types on a short screen, the recording row gives its room to
        the text (the keyboard's Done brings it back); a tall screen has room for both."""
        up = up and getattr(self.window(), "short", True)
        self.recorder.setVisible(not up)
        self.or_type.setVisible(not up)
        self.message.setVisible(not up or bool(self.message.text()))
        self.typing = up
        self._count()
        has_take = _draft(self.vc).get("take") is not None
        self.delete_button.setVisible(not up and has_take and not self.recorder.recording())

    # -- recording
    def _took(self, take) -> None:
        d = _draft(self.vc)
        d["take"], d["seconds"] = take.wav, take.seconds
        self.message.setText("")

    def _recording_refused(self, key: str) -> None:
        self.message.setText(self.tr(key))  # the recorder speaks it
        self.message.show()

    def _refused(self, key: str) -> None:
        self.message.setText(self.tr(key))
        self.message.show()
        player = _player(self.vc)
        if player is not None:
            player.say_key(key)

    def drop_take(self) -> None:
        _draft(self.vc).pop("take", None)
        _draft(self.vc).pop("seconds", None)
        self.recorder.clear()
        self.retranslate()

    def _count(self) -> None:
        n = len(self.text.toPlainText())
        self.counter.setText(self.tr("feedback.citizen.count", n=n, max=MAX_TEXT))
        self.counter.setObjectName("error" if n > MAX_TEXT else "hint")
        # While typing on a short screen the count shows only near the limit.
        self.counter.setVisible(not self.typing or n > MAX_TEXT * 0.9)
        self.counter.style().unpolish(self.counter)
        self.counter.style().polish(self.counter)

    def next(self) -> None:
        d = _draft(self.vc)
        text = self.text.toPlainText()
        try:
            d["text"] = two_way(self.vc).feedback.check_text(text)
        except FeedbackRefused as exc:
            self._refused(exc.key)
            return
        if not d.get("text") and not d.get("take"):
            self._refused("feedback.citizen.err.empty")
            return
        self.vc.nav.go("feedback_identity")

    def enter(self, state) -> None:
        super().enter(state)
        self.message.setText("")
        self.text.setPlainText(_draft(self.vc).get("text") or "")
        self._count()
        if "sample_seconds" in state:
            self.timer_label.setText(
                self.tr(
                    "feedback.citizen.timer",
                    now=_clock(state["sample_seconds"]),
                    max=_clock(MAX_SECONDS),
                )
            )

    def leave(self) -> None:
        self.recorder.close_microphone()
        _draft(self.vc)["text"] = self.text.toPlainText()

    def wipe(self) -> None:
        self.recorder.close_microphone()
        self.recorder.clear()
        self.text.clear()
        super().wipe()

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        recording = self.recorder.recording()
        d = _draft(self.vc)
        has_take = d.get("take") is not None
        if not recording and not self.recorder.busy:
            self.recorder.set_take(d.get("take"), d.get("seconds", 0))
        self.recorder.show_state()
        self.delete_button.setText(self.tr("feedback.citizen.delete"))
        typing = not self.recorder.isVisibleTo(self)
        self.delete_button.setVisible(has_take and not recording and not typing)
        self.or_type.setText(self.tr("feedback.citizen.or_type"))
        self.text.setPlaceholderText(self.tr("feedback.citizen.text_hint"))
        self.next_button.setText(self.tr("feedback.citizen.next"))
        self._count()


@register("feedback_identity", sample=_sample_identity)
class FeedbackIdentityScreen(Screen):
    title_key = "feedback.citizen.identity.title"
    prompt_key = "feedback.citizen.identity.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        row.setSpacing(16)
        self.tiles: dict[str, Tile] = {}
        for mode, picto in IDENTITY_PICTOGRAMS.items():
            tile = Tile(picto, icon_size=96)
            tile.setCheckable(True)
            tile.clicked.connect(lambda _=False, m=mode: self.choose(m))
            row.addWidget(tile, 1)
            self.tiles[mode] = tile
        self.body.addLayout(row)
        self.explain = Text("", "section")
        self.body.addWidget(self.explain)
        self.phone = QLineEdit()
        self.phone.setObjectName("feedbackPhone")
        self.phone.setMaxLength(15)
        self.body.addWidget(self.phone)
        self.type_instead = BigButton("", "", pictogram="keyboard")
        self.type_instead.clicked.connect(self.go_type)
        self.body.addWidget(self.type_instead)
        self.message = Text("", "error")
        self.body.addWidget(self.message)
        self.body.addStretch(1)
        nav = self.nav_row(back=True, cancel=True)
        self.confirm_button = BigButton("", "primary", pictogram="confirm")
        self.confirm_button.clicked.connect(self.confirm)
        nav.insertWidget(2, self.confirm_button)
        self.body.addLayout(nav)
        self.mode = ""
        self.busy = False

    def enter(self, state) -> None:
        self.busy = False
        self.mode = state.get("mode") or _draft(self.vc).get("identity", "")
        self.message.setText("")
        super().enter(state)

    def choose(self, mode: str) -> None:
        if mode == "card" and self.vc.app.session.applicant is None:
            _draft(self.vc)["identity"] = "card"
            self.vc.nav.go("feedback_card")
            return
        self.mode = mode
        _draft(self.vc)["identity"] = mode
        self.message.setText("")
        self.retranslate()
        if mode == "anonymous" and _draft(self.vc).get("take"):
            player = _player(self.vc)
            if player is not None:
                player.say_key("feedback.citizen.anonymous.voice")

    def go_type(self) -> None:
        d = _draft(self.vc)
        d.pop("take", None)
        d.pop("seconds", None)
        self.vc.nav.go("feedback_message")

    def confirm(self) -> None:
        if self.busy:
            return
        if not self.mode:
            self.message.setText(self.tr("feedback.citizen.err.identity"))
            return
        d = _draft(self.vc)
        session = self.vc.app.session
        draft = FeedbackDraft(
            topic=d.get("topic", "other"),
            language=session.lang,
            identity=self.mode,
            text=d.get("text"),
            recording=d.get("take"),
            applicant=session.applicant if self.mode == "card" else None,
            phone=self.phone.text() if self.mode == "phone" else None,
        )
        service = two_way(self.vc).feedback
        self.busy = True
        self.vc.tasks.run(lambda: service.confirm(draft), self._confirmed, self._failed)

    def _confirmed(self, view: FeedbackView) -> None:
        self.busy = False
        _draft(self.vc).clear()
        self.vc.app.notify_outbox()
        printed = print_slip(self.vc, view)
        self.vc.nav.go("feedback_done", feedback=view, printed=printed)

    def _failed(self, error: Exception) -> None:
        self.busy = False
        key = error.key if isinstance(error, FeedbackRefused) else "feedback.citizen.err.failed"
        if not isinstance(error, FeedbackRefused):
            log.warning("feedback not saved: %s", type(error).__name__)
        self.message.setText(self.tr(key))
        player = _player(self.vc)
        if player is not None:
            player.say_key(key)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        for mode, tile in self.tiles.items():
            tile.setText(self.tr(f"feedback.citizen.identity.{mode}"))
            tile.setChecked(mode == self.mode)
        explain = {
            "card": "feedback.citizen.identity.card_note",
            "phone": "feedback.citizen.identity.phone_note",
            "anonymous": "feedback.citizen.anonymous.voice"
            if _draft(self.vc).get("take")
            else "feedback.citizen.anonymous.note",
        }.get(self.mode)
        self.explain.setText(self.tr(explain) if explain else "")
        self.phone.setVisible(self.mode == "phone")
        self.phone.setPlaceholderText(self.tr("feedback.citizen.identity.phone_hint"))
        self.type_instead.setVisible(self.mode == "anonymous" and bool(_draft(self.vc).get("take")))
        self.type_instead.setText(self.tr("feedback.citizen.anonymous.type_instead"))
        self.confirm_button.setText(self.tr("feedback.citizen.send"))

    def wipe(self) -> None:
        self.phone.clear()
        self.mode = ""
        super().wipe()


def print_slip(vc, view: FeedbackView) -> bool:
    """Print the slip; False (and the code stays on screen) when the printer fails."""
    from kiosk.hardware.printers import PrinterError
    from kiosk.services.feedback_slip import SlipData, build_slip_pdf

    s = vc.app.settings
    data = SlipData(
        view.slip_code,
        view.topic,
        view.created_at.replace(tzinfo=UTC).astimezone(VIETNAM),
        s.commune_name,
        view.language,
        s.demo,
    )
    try:
        pdf = build_slip_pdf(data, s.paper, vc.app.translator)
        vc.app.printer.print_pdf(pdf, view.slip_code)
    except PrinterError as exc:
        log.warning("slip not printed: %s", exc.detail)
        return False
    except Exception as exc:
        log.warning("slip not printed: %s", type(exc).__name__)
        return False
    return True


@register("feedback_card")
class FeedbackCardScreen(CardScan, Screen):
    """Scan the ID card, for feedback given with one's identity."""

    title_key = "feedback.citizen.card.title"
    prompt_key = "feedback.citizen.card.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.camera_view = CameraView()
        self.body.addWidget(self.camera_view, 1)
        self.status = Text("", "hint")
        self.body.addWidget(self.status)
        self.body.addLayout(self.nav_row(back=True, cancel=True))

    def enter(self, state) -> None:
        super().enter(state)
        self.status.setText(self.tr("feedback.citizen.card.hint"))
        self.start_scan()

    def on_scanned(self, result) -> None:
        from kiosk.services.dossiers import Applicant

        if getattr(result, "kind", None) != "cccd":
            self.status.setText(self.tr("identify.not_a_card"))
            return
        self.vc.app.session.applicant = Applicant.from_card(result.citizen)
        self.stop_scan()
        self.vc.nav.replace("feedback_identity", mode="card")

    def leave(self) -> None:
        self.stop_scan()

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()


def qr_pixmap(content: str, size: int) -> QPixmap:
    import segno

    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="png", scale=8, border=4)
    pixmap = QPixmap()
    pixmap.loadFromData(buf.getvalue(), "PNG")
    return pixmap.scaled(size, size)


@register("feedback_done", sample=_sample_done)
class FeedbackDoneScreen(Screen):
    title_key = "feedback.citizen.done.title"
    prompt_key = "feedback.citizen.done.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        col = QVBoxLayout()
        self.picture = Pictogram("done", 120)
        self.thanks = Text("", "section")
        self.code_label = Text("", "hint")
        self.code = Text("", "screenTitle")
        self.printed = Text("", "hint")
        for w in (self.picture, self.thanks, self.code_label, self.code, self.printed):
            col.addWidget(w)
        col.addStretch(1)
        row.addLayout(col, 2)
        self.qr = Pictogram("done", 240)
        row.addWidget(self.qr, 1)
        self.body.addLayout(row, 1)
        self.done_button = BigButton("", "primary", pictogram="done")
        self.done_button.clicked.connect(self.vc.nav.cancel)
        self.body.addWidget(self.done_button)

    def enter(self, state) -> None:
        super().enter(state)
        view = state.get("feedback")
        if view is not None:
            self.qr.setPixmap(qr_pixmap(view.slip_code, 240))

    def retranslate(self) -> None:
        super().retranslate()
        view = self.state.get("feedback")
        self.thanks.setText(self.tr("feedback.citizen.done.thanks"))
        self.code_label.setText(self.tr("feedback.citizen.slip.code"))
        self.code.setText(view.slip_code if view else "")
        self.printed.setText(
            self.tr(
                "feedback.citizen.done.printed"
                if self.state.get("printed")
                else "feedback.citizen.done.not_printed"
            )
        )
        self.done_button.setText(self.tr("feedback.citizen.done.button"))


@register("feedback_status", sample=_sample_status)
class FeedbackStatusScreen(Screen):
    """A feedback found by its slip code or the portal's code: its state, and the
    authority's answer shown and played."""

    title_key = "feedback.citizen.status.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        top = QHBoxLayout()
        self.picture = Pictogram("feedback", 120)
        top.addWidget(self.picture)
        col = QVBoxLayout()
        self.topic = Text("", "section")
        self.state_text = Text("")
        self.codes = Text("", "hint")
        for w in (self.topic, self.state_text, self.codes):
            col.addWidget(w)
        top.addLayout(col, 1)
        self.body.addLayout(top)
        self.answer_by = Text("", "hint")
        self.answer = Text("")
        self.answer_vi = Text("", "hint")
        self.body.addWidget(self.answer_by)
        self.body.addWidget(self.answer, 1)
        self.body.addWidget(self.answer_vi, 1)
        self.listen = BigButton("", "primary", pictogram="volume")
        self.listen.clicked.connect(self.speak)
        self.body.addWidget(self.listen)
        self.body.addLayout(self.nav_row(back=True, cancel=False))

    def prompt(self) -> str:
        return "feedback.citizen.status.prompt"

    def _answer(self) -> dict:
        view = self.state.get("feedback")
        return (view.answer or {}) if view is not None else {}

    def speak(self) -> str:
        """The answer's recording in the citizen's language first, else its text. The
        answer to an identified feedback is personal: only through headphones."""
        view = self.state.get("feedback")
        player = _player(self.vc)
        if player is None or view is None or not view.answer:
            return "none"
        lang = self.vc.app.session.lang
        personal = not view.anonymous
        if personal and not getattr(player, "headphones", False):
            return player.say_key("speech.withheld")
        tw = two_way(self.vc)
        sha = (view.answer.get("audio") or {}).get(lang)
        path = tw.notices.media_path(sha) if sha and tw else None
        if path is not None:
            return player.play_file(path, lang)
        texts = view.answer.get("text") or {}
        text = texts.get(lang) or texts.get("vi") or ""
        text_lang = lang if texts.get(lang) else "vi"
        return player.say(
            "feedback.answer", lang, text, personal=personal, text_lang=text_lang, dynamic=True
        )

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        view = self.state.get("feedback")
        if view is None:
            return
        lang = self.vc.app.session.lang
        from kiosk.views.widgets import pictogram_pixmap

        self.picture.setPixmap(pictogram_pixmap(TOPIC_PICTOGRAMS.get(view.topic, "feedback"), 120))
        self.topic.setText(self.tr(f"feedback.citizen.topic.{view.topic}"))
        state = view.portal_status or ("waiting" if view.state != "delivered" else "received")
        self.state_text.setText(self.tr(f"feedback.citizen.status.{state}"))
        codes = view.slip_code + (f"  ·  {view.feedback_code}" if view.feedback_code else "")
        self.codes.setText(codes)
        answer = self._answer()
        texts = answer.get("text") or {}
        mine = texts.get(lang) or texts.get("vi") or ""
        self.answer.setText(mine or self.tr("feedback.citizen.status.no_answer"))
        beside = lang != "vi" and texts.get("vi") and texts.get("vi") != mine
        self.answer_vi.setText(texts.get("vi", "") if beside else "")
        self.answer_vi.setVisible(bool(beside))
        by = answer.get("answered_by")
        self.answer_by.setText(
            self.tr("feedback.citizen.status.answered_by", office=by) if by else ""
        )
        self.answer_by.setVisible(bool(by))
        self.listen.setText(self.tr("feedback.citizen.status.listen"))
        self.listen.setVisible(bool(answer))


def lookup_feedback(screen, two_way, text: str) -> None:
    """From the status look-up: find the feedback by either code, ask the portal for its
    answer when online (the answer's recording is fetched and checked), and show it."""
    sync = screen.vc.app.sync

    def work():
        view = two_way.feedback.find(text)
        if view is None:
            return None
        outbox = getattr(sync, "outbox", None)
        if outbox is not None and view.feedback_code:
            try:
                client = outbox.link.client()
                view = two_way.feedback.refresh_status(client, view.id) or view
                fetch_answer_media(two_way, client, view)
            except Exception as exc:  # offline: show what the kiosk knows
                log.info("feedback status not refreshed: %s", type(exc).__name__)
        return view

    def found(view) -> None:
        screen.busy = False
        if view is None:
            screen.error.setText(screen.tr("feedback.citizen.status.unknown"))
            return
        screen.vc.nav.go("feedback_status", feedback=view)

    def failed(error: Exception) -> None:
        screen.busy = False
        screen.error.setText(screen.tr("status.err.failed"))

    screen.vc.tasks.run(work, found, failed)


def fetch_answer_media(two_way, client, view) -> None:
    from kiosk.services.notices import write_media
    from kiosk.services.portal_notices import fetch_media

    for sha in ((view.answer or {}).get("audio") or {}).values():
        if two_way.notices.media_path(sha) is None:
            _ctype, data = fetch_media(client, sha)  # checked against its hash
            write_media(two_way.notices.media_dir, sha, data)
