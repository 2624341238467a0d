"""The citizen's journey: procedures → procedure → consent → identify → form → review → done.

The order of the steps and what the citizen has told the kiosk belong to the journey
(kiosk.services.journey); these screens render its steps and forward what the citizen
did, then show the step it returns. The receipt service prints.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.hardware.printers import PrinterError
from kiosk.services import catalogue as cat
from kiosk.services.consent import CONSENT_KEY
from kiosk.services.dossiers import Applicant
from kiosk.services.flow import Step
from kiosk.services.formats import format_date, format_vnd
from kiosk.services.journey import CONSENT, DOCUMENT, QUESTION, REVIEW, TYPE_IDENTITY
from kiosk.services.places import default_places
from kiosk.services.text import nfc
from kiosk.views.base import Screen
from kiosk.views.pickers import DatePicker, PlacePicker
from kiosk.views.registry import register
from kiosk.views.spoken import speak_receipt
from kiosk.views.steps import JourneyScreen, sample_applicant, sample_at, show_step
from kiosk.views.widgets import (
    BigButton,
    Pictogram,
    Text,
    Tile,
    choice_pictogram,
    clear_layout,
    pictogram_path,
)

log = logging.getLogger(__name__)
SAMPLE_CODE = "1.001193"  # birth registration: the sample for screenshots


def _procedure(vc, code: str | None):
    return vc.app.catalogue.get(code) if code else None


# ----------------------------------------------------------------------------- browser
@register("procedures", sample=lambda vc: {"mode": "submit"})
class ProceduresScreen(Screen):
    """Categories and a search that ignores diacritics and case."""

    title_key = "journey.procedures.title"
    prompt_key = "journey.procedures.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        search_row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.textChanged.connect(self._refresh)
        search_row.addWidget(self.search, 1)
        self.body.addLayout(search_row)
        self.categories = QGridLayout()
        self.categories.setSpacing(12)
        self.body.addLayout(self.categories)
        inner = QWidget()
        self.grid = QGridLayout(inner)
        self.grid.setSpacing(20)
        self.body.addWidget(inner, 1)
        self.body.addLayout(self.nav_row(back=True, cancel=False))
        self.category: str | None = None
        self.shown: list[str] = []

    def enter(self, state) -> None:
        self.category = state.get("category")
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.search.setPlaceholderText(self.tr("journey.procedures.search"))
        clear_layout(self.categories)
        keys = [None, *self.vc.app.catalogue.categories()]
        # Three to a row, two on a narrow (portrait) screen, so every name fits its button.
        per_row = 3 if self.window().width() >= 1600 else 2
        for i, key in enumerate(keys):
            label = (
                self.tr(f"catalogue.category.{key}") if key else self.tr("journey.procedures.all")
            )
            picto = key if key and pictogram_path(key).stem == key else None
            role = "primary" if key == self.category else "category"
            button = BigButton(label, role, picto, icon_size=36)
            button.setProperty("selection", True)  # highlighted when chosen, not an action
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, k=key: self._choose_category(k))
            self.categories.addWidget(button, i // per_row, i % per_row)
        self._refresh()

    def _choose_category(self, key: str | None) -> None:
        self.category = key
        self.search.clear()
        self.retranslate()

    def _refresh(self) -> None:
        lang = self.vc.app.session.lang
        catalogue = self.vc.app.catalogue
        query = self.search.text().strip()
        procs = catalogue.search(query, lang) if query else catalogue.visible(self.category)
        clear_layout(self.grid)
        self.shown = [p.code for p in procs]
        for column in range(3):
            self.grid.setColumnStretch(column, 1)
        for i, proc in enumerate(procs):
            tile = Tile(proc.pictogram, proc.title(lang), icon_size=96)
            tile.setProperty("code", proc.code)
            tile.clicked.connect(lambda _=False, c=proc.code: self._open(c))
            self.grid.addWidget(tile, i // 3, i % 3)
        if not procs:
            self.grid.addWidget(Text(self.tr("journey.procedures.none"), "hint"), 0, 0)

    def _open(self, code: str) -> None:
        self.vc.nav.go("procedure", code=code, mode=self.state.get("mode", "submit"))

    def tile_for(self, code: str):
        for i in range(self.grid.count()):
            widget = self.grid.itemAt(i).widget()
            if widget is not None and widget.property("code") == code:
                return widget
        return None

    def wipe(self) -> None:
        super().wipe()
        self.search.clear()


# --------------------------------------------------------------------------- procedure
@register("procedure", sample=lambda vc: {"code": SAMPLE_CODE, "mode": "submit"})
class ProcedureScreen(Screen):
    """What to bring, what it costs, how long it takes, and the legal basis."""

    prompt_key = "journey.procedure.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        top = QHBoxLayout()
        self.picture = QVBoxLayout()
        top.addLayout(self.picture)
        self.summary = Text("")
        top.addWidget(self.summary, 1)
        self.body.addLayout(top)
        inner = QWidget()
        self.facts = QVBoxLayout(inner)
        self.body.addWidget(inner, 1)
        self.start = BigButton("", "primary", pictogram="submit_dossier")
        self.start.clicked.connect(self._start)
        row = self.nav_row(back=True, cancel=True)
        row.insertWidget(2, self.start)
        self.body.addLayout(row)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        proc = _procedure(self.vc, self.state.get("code"))
        clear_layout(self.facts)
        clear_layout(self.picture)
        if proc is None:
            return
        lang = self.vc.app.session.lang
        self.title.setText(proc.title(lang))
        self.title.setVisible(True)
        self.picture.addWidget(Pictogram(proc.pictogram, 140))
        self.summary.setText(proc.summary(lang))
        fee = format_vnd(proc.fee_vnd) if proc.fee_vnd else self.tr("journey.procedure.free")
        facts = [
            (self.tr("journey.procedure.fee"), fee if proc.fee_vnd is not None else "—"),
            (
                self.tr("journey.procedure.days"),
                self.tr("journey.procedure.days_value", n=proc.processing_days)
                if proc.processing_days is not None
                else "—",
            ),
        ]
        for label, value in facts:
            self.facts.addWidget(Text(f"<b>{label}:</b> {value}"))
        self.facts.addWidget(Text(f"<b>{self.tr('journey.procedure.documents')}:</b>"))
        if proc.required_documents:
            for doc in proc.required_documents:
                self.facts.addWidget(Text(f"• {doc.title(lang)}"))
        else:
            self.facts.addWidget(Text("• " + self.tr("journey.procedure.no_documents")))
        self.facts.addWidget(
            Text(f"<b>{self.tr('journey.procedure.legal')}:</b> {proc.legal_basis(lang)}", "hint")
        )
        self.facts.addStretch(1)
        self.start.setVisible(self.state.get("mode", "submit") == "submit" and not proc.withdrawn)
        self.start.setText(self.tr("journey.procedure.start"))

    def _start(self) -> None:
        journey = self.vc.app.journey
        journey.choose(self.state["code"])
        show_step(self.vc, journey.next())


# ----------------------------------------------------------------------------- consent
@register("consent", sample=lambda vc: sample_at(vc, SAMPLE_CODE, CONSENT))
class ConsentScreen(JourneyScreen):
    """Asks before anything about the citizen is kept; its version goes with the dossier."""

    title_key = "journey.consent.title"
    prompt_key = "journey.consent.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        row.addWidget(Pictogram("consent", 140), 0, Qt.AlignmentFlag.AlignTop)
        self.text = Text("")
        row.addWidget(self.text, 1)
        self.body.addLayout(row, 1)
        self.agree = BigButton("", "primary", pictogram="confirm")
        self.agree.clicked.connect(self._agree)
        nav = self.nav_row()
        nav.insertWidget(2, self.agree)
        self.body.addLayout(nav)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.text.setText(self.tr(CONSENT_KEY))
        self.agree.setText(self.tr("journey.consent.agree"))

    def _agree(self) -> None:
        self.journey.consent(datetime.now(UTC))
        self.go_next()


# ------------------------------------------------------------------------ manual entry
MANUAL_FIELDS = (
    # key, type, label key
    ("id_number", "id_number", "journey.manual.id_number"),
    ("full_name", "text", "journey.manual.full_name"),
    ("date_of_birth", "date", "journey.manual.date_of_birth"),
    ("address", "text", "journey.manual.address"),
)


def _manual_field(key: str, kind: str) -> cat.Field:
    return cat.Field(
        key=key, type=kind, required=True, labels={"vi": key}, max_today=kind == "date"
    )


@register("manual_entry", sample=lambda vc: sample_at(vc, SAMPLE_CODE, TYPE_IDENTITY))
class ManualEntryScreen(JourneyScreen):
    """Typing the card's data when there is no camera or the card will not scan."""

    title_key = "journey.manual.title"
    prompt_key = "journey.manual.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.body.setSpacing(10)  # four fields and Next fit a 1280x800 screen
        self.body.setContentsMargins(48, 12, 48, 12)
        title_row = QHBoxLayout()
        self.body.removeWidget(self.title)
        title_row.addWidget(Pictogram("manual_entry", 48))
        title_row.addWidget(self.title, 1)
        self.body.insertLayout(0, title_row)
        self.reason_row = QWidget()
        top = QHBoxLayout(self.reason_row)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(Pictogram("camera_missing", 56))
        self.reason = Text("", "hint")
        top.addWidget(self.reason, 1)
        self.body.addWidget(self.reason_row)
        grid = QGridLayout()
        self.inputs: dict[str, QLineEdit] = {}
        self.labels: dict[str, Text] = {}
        self.errors: dict[str, Text] = {}
        for row, (key, kind, _label) in enumerate(MANUAL_FIELDS):
            label, error = Text(""), Text("", "error")
            grid.addWidget(label, row, 0)
            grid.addWidget(error, row, 2)
            self.labels[key], self.errors[key] = label, error
            if kind == "date":
                # Tapped on the date picker, never typed: 31/02 cannot be chosen.
                self.dob_button = BigButton("", pictogram="form_field", icon_size=32)
                self.dob_button.setObjectName(f"manual_{key}")
                self.dob_button.clicked.connect(self._toggle_dob)
                grid.addWidget(self.dob_button, row, 1)
                continue
            edit = QLineEdit()
            edit.setObjectName(f"manual_{key}")
            edit.setStyleSheet("min-height: 64px;")  # the smallest touch target, to fit
            # Digits without "/" for the number (no date is typed here), capitals at each
            # word for the name, as the journey's questions have.
            edit.setProperty("keyboard", {"id_number": "id_number"}.get(kind, "text"))
            if key == "full_name":
                edit.setProperty("keyboard", "name")
            grid.addWidget(edit, row, 1)
            self.inputs[key] = edit
        self.dob_picker = DatePicker(self.tr, max_today=True)
        self.dob_picker.setObjectName("manual_dob_picker")
        self.dob_picker.chosen.connect(self._dob_chosen)
        self.dob_picker.hide()
        self.sex_buttons: dict[str, BigButton] = {}
        sex_row = QHBoxLayout()
        self.sex_label = Text("")
        sex_row.addWidget(self.sex_label)
        for sex in ("female", "male"):
            button = BigButton("")
            button.setCheckable(True)
            button.setObjectName(f"sex_{sex}")
            button.clicked.connect(lambda _=False, s=sex: self._sex(s))
            self.sex_buttons[sex] = button
            sex_row.addWidget(button)
        sex_row.addStretch(1)
        grid.addLayout(sex_row, len(MANUAL_FIELDS), 0, 1, 3)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.body.addWidget(self.dob_picker)  # the page's full width, under the fields
        self.body.addStretch(1)
        self.next = BigButton("", "primary")
        self.next.clicked.connect(self.submit)
        nav = self.nav_row()
        nav.insertWidget(2, self.next)
        self.body.addLayout(nav)
        self.sex: str | None = None

    def _sex(self, sex: str) -> None:
        self.sex = sex
        for key, button in self.sex_buttons.items():
            button.setChecked(key == sex)

    def _toggle_dob(self) -> None:
        self.dob_picker.setVisible(not self.dob_picker.isVisible())
        if self.dob_picker.isVisible():
            QTimer.singleShot(0, self._dob_in_view)  # once the picker is laid out

    def _dob_in_view(self) -> None:
        """The date button at the top of the view, its picker under it."""
        area = self.area
        if area is None or not self.dob_picker.isVisible():
            return
        top = self.dob_button.mapTo(self.scroll_page, QPoint(0, 0)).y()
        area.verticalScrollBar().setValue(max(0, top - 8))

    def _dob_chosen(self) -> None:
        self.dob_picker.hide()
        self._show_dob()
        self.errors["date_of_birth"].clear()

    def _show_dob(self) -> None:
        chosen = self.dob_picker.text()
        self.dob_button.setText(chosen or self.tr("manual.dob.choose"))

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        reason = self.state.get("reason")
        self.reason.setText(self.tr(reason) if reason else self.tr("journey.manual.hint"))
        self.reason_row.setVisible(bool(reason))  # the title says it all otherwise
        for key, _kind, label in MANUAL_FIELDS:
            self.labels[key].setText(self.tr(label))
        self.sex_label.setText(self.tr("journey.manual.sex"))
        self.sex_buttons["female"].setText(self.tr("journey.sex.female"))
        self.sex_buttons["male"].setText(self.tr("journey.sex.male"))
        self.next.setText(self.tr("nav.next"))
        self.dob_picker.tr = self.tr
        self.dob_picker.set_value(self.dob_picker.value())  # its captions in the language
        self._show_dob()

    def submit(self) -> None:
        values, ok = {}, True
        lang = self.vc.app.session.lang
        for key, kind, _label in MANUAL_FIELDS:
            widget = self.inputs.get(key, self.dob_button)
            text = self.dob_picker.text() if kind == "date" else widget.text()
            value, error = cat.validate_value(_manual_field(key, kind), text, lang)
            self.errors[key].setText(self.tr(error) if error else "")
            widget.setProperty("invalid", bool(error))
            widget.style().polish(widget)
            ok = ok and error is None
            values[key] = value
        if ok:
            from datetime import date

            self.journey.identified(
                Applicant(
                    id_number=values["id_number"],
                    full_name=nfc(values["full_name"]),
                    date_of_birth=date.fromisoformat(values["date_of_birth"]),
                    sex=self.sex,
                    address=nfc(values["address"]),
                    id_source="manual",
                )
            )
            self.go_next()

    def wipe(self) -> None:
        super().wipe()
        for edit in self.inputs.values():
            edit.clear()
        for error in self.errors.values():
            error.clear()
        self.dob_picker.reset()
        self.dob_picker.hide()
        self._sex("")
        self.sex = None


# -------------------------------------------------------------------------------- form
def _keyboard_kind(field: cat.Field) -> str:
    """The keyboard a typed answer gets: digits only for numbers (no "/" in a phone
    number), capitals at each word for a name."""
    if field.type in ("phone", "id_number", "number"):
        return field.type
    return "name" if field.key.endswith("name") else "text"


def _sample_form(vc) -> dict:
    journey = vc.app.journey
    journey.choose(SAMPLE_CODE)
    first = journey.procedure.fields[0].key
    return {"step": journey.flow.jump(Step(QUESTION, first))}


@register("form", sample=_sample_form)
class FormScreen(JourneyScreen):
    """One question per screen, prefilled from the card, checked as it is answered."""

    prompt_key = "journey.form.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.step = Text("", "hint")
        self.body.addWidget(self.step)
        row = QHBoxLayout()
        row.addWidget(Pictogram("form_field", 80), 0, Qt.AlignmentFlag.AlignTop)
        self.question_box = QVBoxLayout()
        row.addLayout(self.question_box, 1)
        self.body.addLayout(row, 1)
        self.next = BigButton("", "primary")
        self.next.clicked.connect(self.submit)
        nav = self.nav_row()
        nav.insertWidget(2, self.next)
        self.body.addLayout(nav)
        self.edit: QLineEdit | None = None
        self.date_picker: DatePicker | None = None
        self.place_picker: PlacePicker | None = None
        self.scan_other: BigButton | None = None  # the other person's card, on their questions
        self.error = Text("", "error")
        self.choice_buttons: dict[str, BigButton] = {}

    @property
    def field(self) -> cat.Field | None:
        step = self.flow_step
        return self.journey.field(step.key) if step is not None else None

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        field, step = self.field, self.flow_step
        clear_layout(self.question_box)
        self.edit, self.choice_buttons = None, {}
        self.date_picker = self.place_picker = self.scan_other = None
        if field is None:
            return
        lang = self.vc.app.session.lang
        self.title.setText(field.label(lang))
        self.title.setVisible(True)
        self.step.setText(self.tr("journey.form.step", n=step.index + 1, total=step.total))
        raw = self.journey.raw(field.key)
        hint = field.hint(lang) or (
            self.tr(f"journey.form.hint.{field.type}")
            if field.type in ("phone", "id_number")
            else ""
        )
        if hint:
            self.question_box.addWidget(Text(hint, "hint"))
        if field.prefill_other and self.journey.session.other is None:
            # The other person's card answers this question and those after it about them.
            self.scan_other = BigButton(
                self.tr("other_card.scan"), "primary", "identify_card", icon_size=64
            )
            self.scan_other.setObjectName("scan_other")
            self.scan_other.setProperty("selection", True)  # one way to answer, beside typing
            self.scan_other.clicked.connect(lambda: self.vc.nav.go("identify_other"))
            self.question_box.addWidget(self.scan_other)
        if field.type in ("choice", "checkbox"):
            options = (
                [(c.key, c.label(lang)) for c in field.choices]
                if field.type == "choice"
                else [("yes", self.tr("journey.form.yes")), ("no", self.tr("journey.form.no"))]
            )
            for key, label in options:
                # A choice whose meaning can be drawn carries its pictogram (Nam, Nữ, Cha…).
                button = BigButton(
                    label, "primary" if raw == key else "", choice_pictogram(key), icon_size=64
                )
                button.setObjectName(f"choice_{key}")
                button.setProperty("selection", True)
                button.clicked.connect(lambda _=False, k=key: self._choose(k))
                self.question_box.addWidget(button)
                self.choice_buttons[key] = button
            self.next.setVisible(
                bool(raw) and field.type == "choice" and raw in self.choice_buttons
            )
        elif field.type == "date":
            # Tapped, never typed: a date that does not exist cannot be chosen.
            self.date_picker = DatePicker(self.tr, max_today=field.max_today)
            value = cat.validate_value(field, raw, lang)[0] if raw else None
            if value:
                self.date_picker.set_value(date.fromisoformat(value))
            self.date_picker.chosen.connect(self.submit)
            self.question_box.addWidget(self.date_picker)
            self.next.setVisible(True)
        elif field.input == "place":
            # The kiosk's own commune and the citizen's own, one tap each; else the lists.
            # A card from before the merger names a commune of then: the lists say which
            # commune of today it is; a card whose commune is not in them opens its province.
            places = default_places()
            s = self.vc.app.settings
            session = self.journey.session
            applicant = session.other if field.prefill_other else session.applicant
            card = places.from_address(applicant.address or "") if applicant else None
            home = places.home(s.commune_name, s.province)
            own = (
                places.from_address(session.applicant.address or "") if session.applicant else None
            )
            self.place_picker = PlacePicker(
                self.tr,
                places,
                [card, home, own] if field.prefill_other else [home, card],
                province=card.province if card is not None and not card.commune else None,
            )
            if raw:
                self.place_picker.set_text(raw)
            self.place_picker.chosen.connect(self.submit)
            self.place_picker.listed.connect(self._communes_in_view)
            self.question_box.addWidget(self.place_picker)
            self.next.setVisible(True)
        else:
            self.edit = QLineEdit(raw)
            self.edit.setObjectName("answer")
            self.edit.setProperty("keyboard", _keyboard_kind(field))
            self.edit.returnPressed.connect(self.submit)  # also the keyboard's Xong
            self.question_box.addWidget(self.edit)
            self.next.setVisible(True)
            self.edit.setFocus()  # the on-screen keyboard opens with the question
        self.error = Text("", "error")
        self.question_box.addWidget(self.error)
        self.question_box.addStretch(1)
        self.next.setText(self.tr("nav.next"))

    def _communes_in_view(self) -> None:
        """The commune list's search box at the top of the view, the names under it."""

        def scroll() -> None:
            picker, area = self.place_picker, self.area
            if picker is None or area is None or not picker.commune_label.isVisible():
                return
            top = picker.commune_label.mapTo(self.scroll_page, QPoint(0, 0)).y()
            area.verticalScrollBar().setValue(max(0, top - 8))

        QTimer.singleShot(0, scroll)  # once the list is laid out

    def _choose(self, key: str) -> None:
        raw = {"yes": "1", "no": "0"}.get(key, key) if self.field.type == "checkbox" else key
        self._accept(raw)

    def submit(self) -> None:
        field = self.field
        if field is None:
            return
        if self.edit is not None:
            self._accept(self.edit.text())
        elif self.date_picker is not None:
            self._accept(self.date_picker.text())
        elif self.place_picker is not None:
            self._accept(self.place_picker.text())
        else:
            self._accept(self.journey.raw(field.key))

    def _accept(self, raw: str) -> None:
        error = self.journey.answer(self.field.key, raw)
        if error:
            self.error.setText(self.tr(error))
            if self.edit is not None:
                self.edit.setProperty("invalid", True)
                self.edit.style().polish(self.edit)
            return
        self.go_next()

    def wipe(self) -> None:
        super().wipe()
        clear_layout(self.question_box)
        self.edit = None


# ------------------------------------------------------------------------------ review
def _sample_review(vc) -> dict:

    journey = vc.app.journey
    journey.choose(SAMPLE_CODE)
    journey.consent(datetime.now(UTC))
    journey.identified(sample_applicant("Thôn Nà Pò, xã Đồng Văn, Quảng Ninh"))
    for f in journey.procedure.fields:
        if f.type == "choice":
            journey.answer(f.key, f.choices[0].key)
        elif f.type == "date":
            journey.answer(f.key, "01/11/2026")
        elif f.type == "phone":
            journey.answer(f.key, "0912345678")
        else:
            journey.answer(f.key, "Lò Văn Quý")
    return {"step": journey.flow.jump(Step(REVIEW))}


@register("review", sample=_sample_review)
class ReviewScreen(JourneyScreen):
    """Every answer, each with Change; Confirm saves the dossier once."""

    title_key = "journey.review.title"
    prompt_key = "journey.review.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        title_row = QHBoxLayout()
        self.outer.removeWidget(self.title)
        title_row.addWidget(Pictogram("review", 64))
        title_row.addWidget(self.title, 1)
        self.outer.insertLayout(0, title_row)
        inner = QWidget()
        self.rows = QGridLayout(inner)
        self.rows.setColumnStretch(1, 1)
        self.body.addWidget(inner, 1)
        self.error = Text("", "error")
        self.body.addWidget(self.error)
        self.confirm = BigButton("", "primary", pictogram="confirm")
        self.confirm.setObjectName("primary")
        self.confirm.clicked.connect(self.do_confirm)
        nav = self.nav_row()
        nav.insertWidget(2, self.confirm)
        self.body.addLayout(nav)
        self.busy = False

    def enter(self, state) -> None:
        self.busy = False
        self.confirm.setEnabled(True)
        self.error.clear()
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.confirm.setText(self.tr("journey.review.confirm"))
        clear_layout(self.rows)
        journey = self.journey
        proc = journey.procedure
        if proc is None:
            return
        lang = self.vc.app.session.lang
        row = 0
        self.rows.addWidget(Text(f"<b>{self.tr('journey.review.procedure')}</b>"), row, 0)
        self.rows.addWidget(Text(proc.title(lang)), row, 1)
        a = journey.session.applicant
        if a is not None:
            for label, value in (
                (self.tr("journey.manual.full_name"), a.full_name),
                (self.tr("journey.manual.id_number"), a.id_number),
                (self.tr("journey.manual.date_of_birth"), format_date(a.date_of_birth)),
            ):
                row += 1
                self.rows.addWidget(Text(f"<b>{label}</b>"), row, 0)
                self.rows.addWidget(Text(value), row, 1)
        for field in proc.fields:
            row += 1
            raw = journey.session.raw.get(field.key, "")
            shown = raw
            if field.type == "choice" and field.choice(raw):
                shown = field.choice(raw).label(lang)
            elif field.type == "checkbox":
                shown = self.tr("journey.form.yes") if raw == "1" else self.tr("journey.form.no")
            self.rows.addWidget(Text(f"<b>{field.label(lang)}</b>"), row, 0)
            self.rows.addWidget(Text(shown or "—"), row, 1)
            change = BigButton(self.tr("journey.review.change"))
            change.setObjectName(f"change_{field.key}")
            change.clicked.connect(lambda _=False, k=field.key: self._change(QUESTION, k))
            self.rows.addWidget(change, row, 2)
        row = self._documents(proc, row)
        self._fee(row)

    def _fee(self, row: int) -> None:
        from kiosk.views.screens.fees import fee_summary

        text = fee_summary(self.vc)
        if not text:
            return
        row += 1
        self.rows.addWidget(Text(f"<b>{self.tr('fees.review.label')}</b>"), row, 0)
        self.rows.addWidget(Text(text), row, 1)
        change = BigButton(self.tr("journey.review.change"))
        change.setObjectName("change_fee")
        first = self.journey.flow.stage("fee").steps(self.journey.session)
        change.clicked.connect(lambda _=False, s=first[0].screen: self._change(s, ""))
        self.rows.addWidget(change, row, 2)

    def _documents(self, proc, row: int) -> int:
        lang = self.vc.app.session.lang
        have = self.journey.session.attachments
        for doc in proc.required_documents:
            row += 1
            state = (
                self.tr("journey.review.photo_taken")
                if doc.key in have
                else self.tr("journey.review.photo_missing")
            )
            self.rows.addWidget(Text(f"<b>{doc.title(lang)}</b>"), row, 0)
            self.rows.addWidget(Text(state), row, 1)
            change = BigButton(self.tr("journey.review.change"))
            change.setObjectName(f"change_doc_{doc.key}")
            change.clicked.connect(lambda _=False, k=doc.key: self._change(DOCUMENT, k))
            self.rows.addWidget(change, row, 2)
        return row

    def _change(self, screen: str, key: str) -> None:
        show_step(self.vc, self.journey.change(screen, key))

    def do_confirm(self) -> None:
        """Acts once: the button is disabled before anything else happens."""
        if self.busy:
            return
        self.busy = True
        self.confirm.setEnabled(False)
        journey, app = self.journey, self.vc.app

        def work():
            from kiosk.views.screens.fees import record_choice

            fee_step = journey.session.fee_step
            confirmed = journey.confirm()
            try:  # the fee choice; the dossier is saved whatever happens here
                choice = record_choice(app, fee_step, confirmed.id)
            except Exception as exc:
                log.error("fee choice not recorded: %s", type(exc).__name__)
                choice = None
            return confirmed, choice

        # Saved is saved: the receipt follows even if the citizen tapped Back meanwhile.
        self.vc.tasks.run(work, self._confirmed, self._failed, until="visit")

    def _confirmed(self, result) -> None:
        from kiosk.views.screens.fees import after_confirm

        confirmed, choice = result
        self.vc.app.notify_outbox()
        after_confirm(self.vc, confirmed, choice)

    def _failed(self, error: Exception) -> None:
        log.error("confirm failed: %s", type(error).__name__, exc_info=error)
        self.busy = False
        self.confirm.setEnabled(True)
        self.error.setText(self.tr("journey.review.save_failed"))

    def wipe(self) -> None:
        super().wipe()
        clear_layout(self.rows)
        self.busy = False


# ------------------------------------------------------------------------ print + done
@register("printing", sample=lambda vc: {"receipt_code": "QN01-000123-J"})
class PrintingScreen(Screen):
    """The dossier is saved; the receipt is printing. A print failure loses nothing."""

    title_key = "journey.printing.title"
    prompt_key = "journey.printing.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.body.addWidget(Pictogram("print_receipt", 200), 0, Qt.AlignmentFlag.AlignHCenter)
        self.body.addStretch(1)

    def enter(self, state) -> None:
        super().enter(state)
        dossier_id = state.get("dossier_id")
        if dossier_id is None:
            return
        app = self.vc.app

        def work() -> tuple[str, object, bool]:
            dossier = app.dossiers.get(dossier_id)
            expected = app.receipts.receipt_data(dossier).expected_date
            try:
                app.receipts.print_receipt(dossier_id)
            except PrinterError as exc:  # recorded by the service; the dossier is safe
                return exc.key, expected, _sent(app, dossier_id)
            return "", expected, _sent(app, dossier_id)

        self.vc.tasks.run(work, self._done, self._crashed)

    def _done(self, outcome: tuple[str, object, bool]) -> None:
        error_key, expected, sent = outcome
        self.vc.nav.replace(
            "done",
            receipt_code=self.state.get("receipt_code"),
            printed=not error_key,
            print_error=error_key,
            expected_date=expected,
            sent=sent,
        )

    def _crashed(self, error: Exception) -> None:
        log.error("receipt step failed: %s", type(error).__name__, exc_info=error)
        self.vc.nav.replace(
            "done",
            receipt_code=self.state.get("receipt_code"),
            printed=False,
            print_error="receipt.printer.failed",
        )


def _sent(app, dossier_id: int) -> bool:
    """Whether the portal has the dossier yet (it usually has not, a second after)."""
    dossier = app.dossiers.get(dossier_id)
    return dossier is not None and dossier.delivered_at is not None


@register("done", sample=lambda vc: {"receipt_code": "QN01-000123-J", "printed": True})
class DoneScreen(Screen):
    """The receipt code in large type; what happens next."""

    title_key = "journey.done.title"
    prompt_key = "journey.done.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.body.addWidget(Pictogram("done", 160), 0, Qt.AlignmentFlag.AlignHCenter)
        self.code_label = Text("", "hint")
        self.code_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code = Text("", "bigCode")
        self.code.setObjectName("bigCode")
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = Text("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sending = Text("")
        self.sending.setObjectName("sending")
        self.sending.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.addWidget(self.code_label)
        self.body.addWidget(self.code)
        self.body.addWidget(self.message)
        self.body.addWidget(self.sending)
        self.body.addStretch(1)
        row = QHBoxLayout()
        self.finish = BigButton("", "primary", pictogram="done")
        self.finish.clicked.connect(self.vc.nav.cancel)
        self.rate = BigButton("", pictogram="rate_service")
        self.rate.clicked.connect(self._rate)
        self.read_aloud = BigButton("", pictogram="repeat_audio")
        self.read_aloud.clicked.connect(self.speak_receipt)
        row.addStretch(1)
        row.addWidget(self.read_aloud)
        row.addWidget(self.rate)
        row.addWidget(self.finish)
        row.addStretch(1)
        self.footer.addLayout(row)  # always in view, under whatever scrolls

    def retranslate(self) -> None:
        super().retranslate()
        self.code_label.setText(self.tr("journey.done.code_label"))
        self.code.setText(self.state.get("receipt_code", ""))
        if self.state.get("printed", True):
            self.message.setText(self.tr("journey.done.printed"))
        else:
            self.message.setText(self.tr("journey.done.not_printed"))
        # Honest about the portal: saved here is not yet sent there.
        sent = self.state.get("sent", False)
        self.sending.setText(self.tr("screens.done.sent" if sent else "screens.done.not_sent"))
        self.finish.setText(self.tr("journey.done.finish"))
        self.rate.setText(self.tr("home.rate"))
        self.read_aloud.setText(self.tr("journey.done.read_aloud"))
        self.read_aloud.setVisible(self.vc.app.speech is not None)

    def speak_receipt(self) -> None:
        """The receipt's essentials, aloud: code, procedure, expected date; never the ID."""
        player = self.vc.app.speech
        code = self.state.get("receipt_code", "")
        if player is None or not code:
            return
        proc = self.vc.app.journey.procedure
        title = proc.title(self.vc.app.session.lang) if proc else ""
        expected = self.state.get("expected_date")
        # Spelt out character by character so a voice reads "Q N 0 1", not a word.
        spelt = " ".join(ch for ch in code if ch != "-")
        speak_receipt(
            player,
            self.vc.app.session.lang,
            code,
            proc.code if proc else None,
            expected,
            lambda: player.say_key(
                "journey.done.spoken",
                code=spelt,
                procedure=title,
                expected=format_date(expected) if expected else self.tr("journey.done.no_date"),
            ),
            self.vc.app.language_data.number_order(self.vc.app.session.lang),
        )

    def _rate(self) -> None:
        proc = self.vc.app.journey.procedure
        self.vc.nav.go("rating", procedure_code=proc.code if proc else None)

    def wipe(self) -> None:
        super().wipe()
        self.code.clear()
