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
from kiosk.services.chip_identity import (
    CHIP_CONFIRM,
    CHIP_READ,
    NO_READER,
    SKIPPED,
    TIMEOUT,
    ChipService,
    DemoReader,
    use_chip_reader,
    without_chip,
)
from kiosk.services.flow import Step
from kiosk.services.formats import format_date
from kiosk.services.icao9303 import pa
from kiosk.services.icao9303.reader import BacRefusedError, ChipTimeoutError, decode_portrait
from kiosk.views.registry import register
from kiosk.views.steps import JourneyScreen, sample_at
from kiosk.views.widgets import BigButton, Pictogram, Text

log = logging.getLogger(__name__)
SAMPLE_CODE = "1.001193"  # birth registration: the sample for screenshots


def _demo_applicant():
    from kiosk.hardware.card_emulator import demo_person
    from kiosk.services.dossiers import Applicant

    p = demo_person()
    return p, Applicant(p.id_number, p.full_name, p.date_of_birth, p.sex, p.place_of_residence)


def _sample_read(vc) -> dict:
    if vc.app.chip is None or not vc.app.chip.available:
        use_chip_reader(vc.app, ChipService(DemoReader(), kind="sim"))
    state = sample_at(vc, SAMPLE_CODE, CHIP_READ)
    vc.app.journey.identified(_demo_applicant()[1])
    return {**state, "sample": True}


@register("chip_read", sample=_sample_read)  # CHIP_READ
class ChipReadScreen(JourneyScreen):
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
        self.skip.clicked.connect(lambda: self.go_on_without_chip(SKIPPED))
        nav = self.nav_row()
        nav.insertWidget(2, self.retry)
        nav.insertWidget(3, self.skip)
        self.body.addLayout(nav)
        self.error_key: str | None = None
        self.invalid = False
        self._ticket = 0
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
        if self.journey.session.applicant is None:
            self.go_back()  # Back from 'is this you?' ("not me"): scan the card again
            return
        self.start_read()

    def go_on_without_chip(self, note: str) -> None:
        self._stop()
        without_chip(self.journey, note)
        self.go_next()

    def start_read(self, expiry: date | None = None) -> None:
        service = self.vc.app.chip
        session = self.journey.session
        applicant = session.applicant
        if service is None or not service.available or applicant is None:
            self.go_on_without_chip(NO_READER)
            return
        self._stop()
        self.error_key = None
        self._set_mode("reading")
        self.retranslate()
        ticket = self._ticket
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

        def mine() -> bool:  # the answer belongs to this read of this visit's journey
            return ticket == self._ticket and self.journey.session is session

        self.vc.tasks.run(
            work,
            lambda identity: self._done(identity) if mine() else identity.wipe(),
            lambda error: self._failed(error) if mine() else None,
        )

    def _show_progress(self) -> None:
        self.progress.setValue(int(self._fraction * 100))

    def _stop(self) -> None:
        self._ticket += 1  # a late answer of an earlier read is dropped
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None
        self.timer.stop()

    def _done(self, identity) -> None:
        self.timer.stop()
        self._cancel = None
        if identity.level == pa.INVALID:
            identity.wipe()
            self.invalid = True  # stop here, keep nothing, a clerk must see the card
            self._set_mode("invalid")
            self.retranslate()
            return
        chip_identity.accept(self.journey, identity)  # or a note: another card's chip
        self.go_next()

    def _failed(self, error: Exception) -> None:
        self.timer.stop()
        self._cancel = None
        log.info("chip not read: %s", type(error).__name__)
        if isinstance(error, NoReaderError):
            self.go_on_without_chip(NO_READER)
        elif isinstance(error, NoCardError | ChipTimeoutError):
            self.go_on_without_chip(TIMEOUT)
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
        self.progress.setVisible(mode == "reading")
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
    from kiosk.hardware.card_emulator import make_card
    from kiosk.hardware.cardreader import SimulatedReader
    from kiosk.services.icao9303.reader import ChipReader, access_keys

    if vc.app.chip is None or not vc.app.chip.available:
        use_chip_reader(vc.app, ChipService(DemoReader(), kind="sim"))
    person, applicant = _demo_applicant()
    reader = SimulatedReader()
    reader.insert(make_card(person))
    identity = ChipReader(reader).read(
        access_keys(person.id_number, person.date_of_birth, person.issue_date)
    )
    journey = vc.app.journey
    sample_at(vc, SAMPLE_CODE, CHIP_READ)
    journey.identified(applicant)
    chip_identity.accept(journey, identity)
    return {"step": journey.flow.jump(Step(CHIP_CONFIRM))}


@register("chip_confirm", sample=_sample_confirm)  # CHIP_CONFIRM
class ChipConfirmScreen(JourneyScreen):
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
        self.yes.clicked.connect(self.go_next)
        self.no = BigButton("")
        self.no.clicked.connect(self.go_back)  # "not me": the chip stage forgets, scan again
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
        for w in (self.clerk_user, self.clerk_pin, self.clerk_ok):
            w.setVisible(False)
        super().enter(state)
        chip = self.journey.session.chip
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

    def open_clerk_check(self) -> None:
        for w in (self.clerk_user, self.clerk_pin, self.clerk_ok):
            w.setVisible(True)
        self.clerk_user.setFocus()

    def clerk_confirm(self) -> None:
        from kiosk.services.clerks import ClerkError, ClerkService, Locked

        username, pin = self.clerk_user.text().strip(), self.clerk_pin.text()
        self.clerk_pin.clear()
        clerks = ClerkService(self.vc.app.store, machine=self.vc.app.settings.kiosk_id)
        session = self.journey.session

        def done(info) -> None:
            if self.journey.session is not session or session.applicant is None:
                return  # the visit ended meanwhile
            session.applicant = chip_identity.record_clerk_check(session.applicant, info.username)
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
        session = self.journey.session
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
