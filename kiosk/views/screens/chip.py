"""The card's chip after its QR code: "place your card on the reader", then "Is this you?"
with the chip's portrait, and a clerk's check with their PIN.

The read runs in the background (TaskRunner) through kiosk.services.chip_identity; this
module only shows progress and results and forwards what the citizen or the clerk does.
Without a reader, or when the chip cannot be read in time, the journey goes on with the
QR code's data and says so (session.chip_note, shown on "Is this you?").
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QProgressBar, QVBoxLayout

from kiosk.hardware.cardreader import NoCardError, NoReaderError
from kiosk.services import chip_identity
from kiosk.services.icao9303 import pa
from kiosk.services.icao9303.reader import BacRefusedError, ChipTimeoutError, decode_portrait
from kiosk.services.receipts import format_date
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.widgets import BigButton, Pictogram, Text

log = logging.getLogger(__name__)

NO_READER, TIMEOUT, FAILED, SKIPPED, OTHER_CARD = (
    "chip.note.no_reader",
    "chip.note.timeout",
    "chip.note.failed",
    "chip.note.skipped",
    "chip.note.other_card",
)


def continue_with_qr(vc, note: str) -> None:
    """Go on with the QR code's data, saying why the chip is not used."""
    session = vc.app.session
    if session.chip is not None:
        session.chip.wipe()
        session.chip = None
    session.chip_note = note
    vc.nav.replace("identify_confirm")


def after_qr_scan(vc, issue_date: date | None) -> None:
    """Called when the QR code of an ID card was read: the chip next, if there is a reader."""
    session = vc.app.session
    session.chip_note = None
    service = vc.app.extras.get("chip")
    if service is None:
        vc.nav.go("identify_confirm")  # this kiosk does not use chips at all
    elif not service.available:
        session.chip_note = NO_READER
        vc.nav.go("identify_confirm")
    else:
        vc.nav.go("chip_read", issued=issue_date.isoformat() if issue_date else None)


def _sample_read(vc) -> dict:
    from kiosk.services.dossiers import Applicant

    vc.app.session.applicant = Applicant(
        "001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 2, 1), "female"
    )
    return {"issued": "2021-08-15", "sample": True}


@register("chip_read", sample=_sample_read)
class ChipReadScreen(Screen):
    title_key = "chip.read.title"
    prompt_key = "chip.read.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        row.addWidget(Pictogram("chip_reader", 220), 0, Qt.AlignmentFlag.AlignTop)
        side = QVBoxLayout()
        self.instruction = Text("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMinimumHeight(36)
        self.status = Text("", "error")
        side.addWidget(self.instruction)
        side.addWidget(self.progress)
        side.addWidget(self.status)
        # The clerk types the expiry printed on the card when the law's dates do not open it.
        self.expiry_label = Text("")
        self.expiry = QLineEdit()
        self.expiry.setObjectName("chip_expiry")
        self.expiry.setMinimumHeight(64)
        self.expiry_button = BigButton("")
        self.expiry_button.clicked.connect(self.read_with_expiry)
        for w in (self.expiry_label, self.expiry, self.expiry_button):
            side.addWidget(w)
        side.addStretch(1)
        row.addLayout(side, 1)
        self.body.addLayout(row, 1)
        self.retry = BigButton("", pictogram="repeat_audio")
        self.retry.clicked.connect(lambda: self.start_read())
        self.skip = BigButton("", pictogram="confirm")
        self.skip.clicked.connect(lambda: continue_with_qr(self.vc, SKIPPED))
        nav = self.nav_row()
        nav.insertWidget(2, self.retry)
        nav.insertWidget(3, self.skip)
        self.body.addLayout(nav)
        self.error_key: str | None = None
        self.invalid = False
        self._visit = 0
        self._cancel: threading.Event | None = None
        self._fraction = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._show_progress)
        self._set_mode("reading")

    # ------------------------------------------------------------------ reading
    def enter(self, state) -> None:
        self.error_key = None
        self.invalid = False
        super().enter(state)
        if state.get("sample"):
            self._fraction = 0.6
            self._show_progress()
            return
        self.start_read()

    def start_read(self, expiry: date | None = None) -> None:
        service = self.vc.app.extras.get("chip")
        applicant = self.vc.app.session.applicant
        if service is None or not service.available or applicant is None:
            continue_with_qr(self.vc, NO_READER)
            return
        self._stop()
        self.error_key = None
        self._set_mode("reading")
        self.retranslate()
        self._visit += 1
        visit = self._visit
        cancel = threading.Event()
        self._cancel = cancel
        self._fraction = 0.0
        self.timer.start()
        issued = self.state.get("issued")
        issue_date = date.fromisoformat(issued) if issued else None
        number, birth = applicant.id_number, applicant.date_of_birth

        def progress(fraction: float) -> None:
            self._fraction = fraction  # read by the UI timer

        def work():
            return service.read(number, birth, issue_date, expiry, progress, cancel)

        self.vc.tasks.run(
            work,
            lambda identity: self._done(visit, identity),
            lambda error: self._failed(visit, error),
        )

    def _show_progress(self) -> None:
        self.progress.setValue(int(self._fraction * 100))

    def _stop(self) -> None:
        self._visit += 1  # a late answer of the previous read is dropped
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None
        self.timer.stop()

    def _done(self, visit: int, identity) -> None:
        if visit != self._visit:
            identity.wipe()
            return
        self.timer.stop()
        self._cancel = None
        session = self.vc.app.session
        if identity.level == pa.INVALID:
            identity.wipe()
            self.invalid = True
            self._set_mode("invalid")
            self.retranslate()
            return
        if session.applicant is None or not chip_identity.matches_qr(identity, session.applicant):
            identity.wipe()
            continue_with_qr(self.vc, OTHER_CARD)
            return
        session.chip = identity
        session.chip_note = None
        session.applicant = chip_identity.apply_chip(session.applicant, identity)
        self.vc.nav.replace("chip_confirm")

    def _failed(self, visit: int, error: Exception) -> None:
        if visit != self._visit:
            return
        self.timer.stop()
        self._cancel = None
        log.info("chip not read: %s", type(error).__name__)
        if isinstance(error, NoReaderError):
            continue_with_qr(self.vc, NO_READER)
        elif isinstance(error, NoCardError | ChipTimeoutError):
            continue_with_qr(self.vc, TIMEOUT)
        else:
            self.error_key = getattr(error, "key", "chip.error.protocol")
            self._set_mode("bac" if isinstance(error, BacRefusedError) else "failed")
            self.retranslate()

    def read_with_expiry(self) -> None:
        try:
            typed = datetime.strptime(self.expiry.text().strip(), "%d/%m/%Y").date()
        except ValueError:
            self.error_key = "chip.read.expiry_invalid"
            self.retranslate()
            return
        self.start_read(expiry=typed)

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        reading = mode == "reading"
        self.progress.setVisible(reading)
        for w in (self.expiry_label, self.expiry, self.expiry_button):
            w.setVisible(mode == "bac")
        self.retry.setVisible(mode in ("failed", "bac"))
        self.skip.setVisible(mode in ("failed", "bac"))
        if hasattr(self, "back_button"):
            self.back_button.setVisible(mode != "invalid")

    # ------------------------------------------------------------------ texts
    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        if self.invalid:
            self.title.setText(self.tr("chip.invalid.title"))
            self.instruction.setText(self.tr("chip.invalid.text"))
        else:
            self.instruction.setText(
                self.tr("chip.read.reading" if self.mode == "reading" else "chip.read.instruction")
            )
        self.status.setText(self.tr(self.error_key) if self.error_key else "")
        self.expiry_label.setText(self.tr("chip.read.expiry_label"))
        self.expiry_button.setText(self.tr("chip.read.expiry_button"))
        self.retry.setText(self.tr("chip.read.retry"))
        self.skip.setText(self.tr("chip.read.skip"))

    def prompt(self) -> str:
        return "chip.invalid.prompt" if self.invalid else self.prompt_key

    def leave(self) -> None:
        self._stop()

    def wipe(self) -> None:
        super().wipe()
        self._stop()
        self.expiry.clear()
        self.error_key = None
        self.invalid = False
        self._set_mode("reading")


def _sample_confirm(vc) -> dict:
    from kiosk.hardware.card_emulator import demo_person, make_card
    from kiosk.hardware.cardreader import SimulatedReader
    from kiosk.services.dossiers import Applicant
    from kiosk.services.icao9303.reader import ChipReader, access_keys

    person = demo_person()
    reader = SimulatedReader()
    reader.insert(make_card(person))
    identity = ChipReader(reader).read(
        access_keys(person.id_number, person.date_of_birth, person.issue_date)
    )
    session = vc.app.session
    session.applicant = chip_identity.apply_chip(
        Applicant(person.id_number, person.full_name, person.date_of_birth, "female"), identity
    )
    session.chip = identity
    return {}


@register("chip_confirm", sample=_sample_confirm)
class ChipConfirmScreen(Screen):
    """'Is this you?' with the chip's portrait; a clerk may confirm with their PIN."""

    title_key = "chip.confirm.title"
    prompt_key = "chip.confirm.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        self.portrait = QLabel()
        self.portrait.setObjectName("chip_portrait")
        self.portrait.setFixedSize(300, 400)
        self.portrait.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.portrait.setStyleSheet("border: 4px solid #1B2A41; border-radius: 8px;")
        row.addWidget(self.portrait, 0, Qt.AlignmentFlag.AlignTop)
        side = QVBoxLayout()
        self.details = Text("")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.level = Text("")
        side.addWidget(self.details)
        side.addWidget(self.level)
        # The clerk's check: username and PIN, hidden until asked for.
        self.clerk_user = QLineEdit()
        self.clerk_user.setObjectName("clerk_username")
        self.clerk_pin = QLineEdit()
        self.clerk_pin.setObjectName("clerk_pin")
        self.clerk_pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.clerk_ok = BigButton("", "primary")
        self.clerk_ok.clicked.connect(self.clerk_confirm)
        self.clerk_status = Text("")
        for w in (self.clerk_user, self.clerk_pin):
            w.setMinimumHeight(64)
        for w in (self.clerk_user, self.clerk_pin, self.clerk_ok):
            side.addWidget(w)
            w.setVisible(False)
        side.addWidget(self.clerk_status)
        side.addStretch(1)
        row.addLayout(side, 1)
        self.body.addLayout(row, 1)
        self.yes = BigButton("", "primary", pictogram="confirm")
        self.yes.clicked.connect(lambda: self.vc.nav.go("form", index=0))
        self.no = BigButton("")
        self.no.clicked.connect(self.not_me)
        self.clerk = BigButton("", pictogram="help_clerk")
        self.clerk.clicked.connect(self.open_clerk_check)
        nav = self.nav_row(back=False)
        nav.insertWidget(0, self.no)
        nav.insertWidget(1, self.clerk)
        nav.insertWidget(3, self.yes)
        self.body.addLayout(nav)
        self.clerk_message: tuple[str, dict] | None = None

    def enter(self, state) -> None:
        self.clerk_message = None
        super().enter(state)
        chip = self.vc.app.session.chip
        self.portrait.clear()
        if chip is not None and chip.portrait is not None:
            try:
                rgb = decode_portrait(chip.portrait)
            except (OSError, ValueError):
                rgb = None
            if rgb is not None:
                h, w = rgb.shape[:2]
                image = QImage(rgb.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()
                self.portrait.setPixmap(
                    QPixmap.fromImage(image).scaled(
                        self.portrait.size(),
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )

    def not_me(self) -> None:
        session = self.vc.app.session
        if session.chip is not None:
            session.chip.wipe()
            session.chip = None
        session.applicant = None
        self.vc.nav.go("identify")

    def open_clerk_check(self) -> None:
        for w in (self.clerk_user, self.clerk_pin, self.clerk_ok):
            w.setVisible(True)
        self.clerk_user.setFocus()

    def clerk_confirm(self) -> None:
        from kiosk.services.clerks import ClerkError, ClerkService, Locked

        username, pin = self.clerk_user.text().strip(), self.clerk_pin.text()
        self.clerk_pin.clear()
        clerks = ClerkService(self.vc.app.store, machine=self.vc.app.settings.kiosk_id)

        def done(info) -> None:
            session = self.vc.app.session
            if session.applicant is not None:
                session.applicant = chip_identity.record_clerk_check(
                    session.applicant, info.username
                )
            self.clerk_message = ("chip.clerk.done", {"clerk": info.display_name})
            for w in (self.clerk_user, self.clerk_pin, self.clerk_ok):
                w.setVisible(False)
            self.retranslate()

        def failed(error) -> None:
            if not isinstance(error, ClerkError):
                log.error("clerk check failed: %s", type(error).__name__)
            key = "chip.clerk.locked" if isinstance(error, Locked) else "chip.clerk.bad_pin"
            self.clerk_message = (key, {})
            self.retranslate()

        self.vc.tasks.run(
            lambda: clerks.verify(username, pin, action="chip.photo_check"), done, failed
        )

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.yes.setText(self.tr("chip.confirm.yes"))
        self.no.setText(self.tr("chip.confirm.no"))
        self.clerk.setText(self.tr("chip.confirm.clerk"))
        self.clerk_user.setPlaceholderText(self.tr("chip.clerk.username"))
        self.clerk_pin.setPlaceholderText(self.tr("chip.clerk.pin"))
        self.clerk_ok.setText(self.tr("chip.clerk.confirm"))
        self.clerk_status.setText(
            self.tr(self.clerk_message[0], **self.clerk_message[1]) if self.clerk_message else ""
        )
        session = self.vc.app.session
        a, chip = session.applicant, session.chip
        if a is None or chip is None:
            self.details.clear()
            self.level.clear()
            return
        sex = self.tr(f"journey.sex.{a.sex}") if a.sex else "—"
        # Name, number, birth date, sex: never ethnicity or religion on this screen.
        rows = [
            (self.tr("journey.manual.full_name"), a.full_name),
            (self.tr("journey.manual.id_number"), a.id_number),
            (self.tr("journey.manual.date_of_birth"), format_date(a.date_of_birth)),
            (self.tr("journey.manual.sex"), sex),
        ]
        self.details.setText("".join(f"<p><b>{k}:</b> {v}</p>" for k, v in rows))
        self.level.setText(
            self.tr("chip.confirm.verified" if chip.verified else "chip.confirm.unverified")
        )

    def wipe(self) -> None:
        super().wipe()
        self.portrait.clear()
        self.details.clear()
        self.level.clear()
        self.clerk_user.clear()
        self.clerk_pin.clear()
        self.clerk_message = None
