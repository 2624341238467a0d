"""Identify: the live camera with a framing guide, the card's data to confirm, or typing.

The camera and the decoders run in a worker (kiosk.qt.camera_bridge); this screen shows
frames, and on a result asks the citizen to confirm what was read.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from kiosk.services.dossiers import Applicant
from kiosk.services.formats import format_date
from kiosk.services.journey import CONFIRM_IDENTITY, IDENTIFY
from kiosk.views.base import Screen
from kiosk.views.card_scan import CardScan
from kiosk.views.registry import register
from kiosk.views.steps import JourneyScreen, sample_applicant, sample_at, show_step
from kiosk.views.widgets import BigButton, Pictogram, Text

log = logging.getLogger(__name__)
HINT_AFTER_MS = 8000  # no card read by then: say what to try
MANUAL_AFTER_MS = 20000  # by then: typing the details is the big button
SAMPLE_CODE = "1.001193"  # birth registration: the sample for screenshots
MARRIAGE_CODE = "1.000894"  # marriage registration: the partner's card


class CameraView(QLabel):
    """The camera picture with a card-shaped guide drawn over it."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(480, 300)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #1a1a1a; border-radius: 16px;")
        self.image: QImage | None = None

    def show_frame(self, image: QImage) -> None:
        self.image = image
        self.update()

    def clear_frame(self) -> None:
        self.image = None
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect())
        if self.image is not None and not self.image.isNull():
            scaled = QPixmap.fromImage(self.image).scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            x = (self.width() - scaled.width()) / 2
            y = (self.height() - scaled.height()) / 2
            painter.drawPixmap(int(x), int(y), scaled)
        # An ID card is 85.6 x 54 mm; the guide shows where to hold it.
        h = area.height() * 0.7
        w = min(h * 85.6 / 54, area.width() * 0.8)
        h = w * 54 / 85.6
        guide = QRectF(area.center().x() - w / 2, area.center().y() - h / 2, w, h)
        painter.setPen(QPen(QColor("#ffd84d"), 8, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(guide, 18, 18)
        painter.end()


def _sample(vc) -> dict:
    return sample_at(vc, SAMPLE_CODE, IDENTIFY)


@register("identify", sample=_sample)
class IdentifyScreen(JourneyScreen):
    title_key = "identify.title"
    prompt_key = "identify.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        self.camera_view = CameraView()
        row.addWidget(self.camera_view, 4)
        side = QVBoxLayout()
        self.card_picture = Pictogram("identify_card", 120)
        side.addWidget(self.card_picture, 0, Qt.AlignmentFlag.AlignHCenter)
        self.instruction = Text("")
        self.status = Text("", "error")
        side.addWidget(self.instruction)
        side.addWidget(self.status)
        side.addStretch(1)
        row.addLayout(side, 3)
        self.body.addLayout(row, 1)
        self.manual_button = BigButton("", pictogram="manual_entry")
        self.manual_button.setObjectName("manual")
        self.manual_button.clicked.connect(self.go_manual)
        nav = self.nav_row()
        nav.insertWidget(2, self.manual_button)
        self.body.addLayout(nav)
        self.bridge = None
        self.error_key: str | None = None
        # No card read after a while: say what to try, then make typing the big button.
        self.tips = Text("", "hint")
        self.tips.setObjectName("tips")
        self.tips.hide()
        side.insertWidget(2, self.tips)
        self.clerk_button = BigButton("", pictogram="help_clerk")
        self.clerk_button.setObjectName("askClerk")
        self.clerk_button.clicked.connect(self.ask_clerk)
        self.clerk_button.hide()
        # Beside the tips it answers, not in the navigation row (four buttons do not fit
        # a portrait screen's width).
        side.insertWidget(3, self.clerk_button)
        self.hint_timer = QTimer(self)
        self.hint_timer.setSingleShot(True)
        self.hint_timer.setInterval(HINT_AFTER_MS)
        self.hint_timer.timeout.connect(self.show_tips)
        self.manual_timer = QTimer(self)
        self.manual_timer.setSingleShot(True)
        self.manual_timer.setInterval(MANUAL_AFTER_MS)
        self.manual_timer.timeout.connect(self.offer_manual)
        self.stage = 0  # 0 scanning, 1 tips shown, 2 typing offered big
        self.help_call = None  # the citizen's request for a clerk, once stored

    # Camera -----------------------------------------------------------------
    def enter(self, state) -> None:
        self.error_key = None
        self.stage = 0
        self.help_call = None
        super().enter(state)
        self.start_camera()
        self.hint_timer.start()
        self.manual_timer.start()

    def show_tips(self) -> None:
        """8 s without a read: what to try, on screen and aloud, and the other ways."""
        if self.stage >= 1 or self.vc.nav.current != self.name:
            return
        self.stage = 1
        self._stage_texts()
        player = self.vc.app.speech
        if player is not None:
            player.say_key("screens.identify.tips")

    def offer_manual(self) -> None:
        """20 s: typing the card's details becomes the big, first button."""
        if self.vc.nav.current != self.name:
            return
        self.stage = 2
        self._stage_texts()

    def _stage_texts(self) -> None:
        call = self.help_call
        if call is not None:  # a clerk was asked for: say so, and when
            from kiosk.views.clerk_bar import format_time

            self.tips.setText(self.tr("help.coming_since", time=format_time(call.asked_at)))
            self.clerk_button.setText(self.tr("help.asked"))
        else:
            self.tips.setText(self.tr("screens.identify.tips"))
            self.clerk_button.setText(self.tr("screens.identify.ask_clerk"))
        self.clerk_button.setEnabled(call is None)
        helping = self.stage >= 1 or call is not None
        self.tips.setVisible(helping)
        self.clerk_button.setVisible(helping)
        # The tips say what the picture and the first words said, and more: they take
        # their room, so the clerk button stays in view on a small screen.
        self.card_picture.setVisible(not helping)
        self.instruction.setVisible(not helping)
        big = self.stage >= 2
        if self.manual_button.property("big") != big:
            self.manual_button.setProperty("big", big)
            self.manual_button.setObjectName("primary" if big else "manual")
            self.manual_button.setIconSize(QSize(64, 64) if big else QSize(48, 48))
            self.manual_button.style().unpolish(self.manual_button)
            self.manual_button.style().polish(self.manual_button)
            # After the style (whose min-height would undo it): a big, first button.
            self.manual_button.setMinimumHeight(120 if big else 0)

    def ask_clerk(self) -> None:
        """A clerk is asked for: the request is stored where the clerks' screens see it
        (with this kiosk, the visit and the time); the kiosk says a clerk is coming."""
        app = self.vc.app
        visit = app.session.visit
        self.clerk_button.setEnabled(False)  # one request per tap, not one per tap twice
        self.vc.tasks.run(
            lambda: app.help_requests.ask(visit, "card_unreadable"),
            self._clerk_called,
            self._clerk_call_failed,
        )

    def _clerk_called(self, call) -> None:
        self.help_call = call
        self._stage_texts()
        player = self.vc.app.speech
        if player is not None:
            player.say_key("help.coming")

    def _clerk_call_failed(self, error: Exception) -> None:
        # Nothing personal in the reason: the store's error class.
        log.warning("help request not stored: %s", type(error).__name__)
        self.help_call = None
        self.clerk_button.setEnabled(True)
        self.tips.setText(self.tr("help.failed"))
        player = self.vc.app.speech
        if player is not None:
            player.say_key("help.failed")

    def start_camera(self) -> None:
        factory = self.vc.app.camera
        if factory is None:
            self.camera_failed("identify.no_camera", "no camera configured")
            return
        try:
            self.bridge = factory(self)
        except Exception as exc:  # a device that cannot open must not stop the journey
            self.camera_failed("identify.no_camera", str(exc))
            return
        self.bridge.frame.connect(self.camera_view.show_frame)
        self.bridge.scanned.connect(self.on_scanned)
        self.bridge.failed.connect(self.camera_failed)
        self.bridge.start()

    def stop_camera(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None

    def leave(self) -> None:
        self.hint_timer.stop()
        self.manual_timer.stop()
        self.stop_camera()

    def camera_failed(self, key: str, detail: str) -> None:
        # The citizen reads a plain message; the clerk finds the device detail in the log.
        log.warning("camera unavailable: %s", detail)
        self.error_key = key
        self.stop_camera()
        self.camera_view.clear_frame()
        self.status.setText(self.tr(key))

    def on_scanned(self, result) -> None:
        """A result seen on two frames: an ID card, a receipt, or something else."""
        kind = getattr(result, "kind", None)
        if kind == "cccd":
            self.hint_timer.stop()
            self.manual_timer.stop()
            self.stop_camera()
            citizen = result.citizen
            self.journey.identified(Applicant.from_card(citizen), citizen.warnings)
            # The chip step (if any) needs the issue date for the card's expiry.
            self.go_next(issued=citizen.issue_date.isoformat() if citizen.issue_date else None)
        elif kind == "receipt":
            self.status.setText(self.tr("identify.is_receipt"))
        elif kind == "invalid_cccd":
            self.status.setText(self.tr(result.error.key if result.error else "identify.invalid"))
        else:
            self.status.setText(self.tr("identify.not_a_card"))

    def go_manual(self) -> None:
        self.stop_camera()
        show_step(self.vc, self.journey.type_instead(), reason=self.error_key)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.instruction.setText(self.tr("identify.instruction"))
        self.status.setText(self.tr(self.error_key) if self.error_key else "")
        self.manual_button.setText(self.tr("identify.manual"))
        self._stage_texts()

    def wipe(self) -> None:
        super().wipe()
        self.hint_timer.stop()
        self.manual_timer.stop()
        self.stage = 0
        self.help_call = None
        self.stop_camera()
        self.camera_view.clear_frame()


def _sample_confirm(vc) -> dict:
    state = sample_at(vc, SAMPLE_CODE, CONFIRM_IDENTITY)
    vc.app.journey.identified(sample_applicant())
    return state


@register("identify_confirm", sample=_sample_confirm)
class IdentifyConfirmScreen(JourneyScreen):
    """'Is this you?': the card's data, read back for the citizen to confirm."""

    title_key = "identify.confirm.title"
    prompt_key = "identify.confirm.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        row.addWidget(Pictogram("identify_card", 140), 0, Qt.AlignmentFlag.AlignTop)
        self.details = Text("")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.details, 1)
        self.body.addLayout(row, 1)
        self.yes = BigButton("", "primary", pictogram="confirm")
        self.yes.clicked.connect(self.go_next)
        self.no = BigButton("")
        self.no.clicked.connect(self.go_back)
        row = self.nav_row(back=False)
        row.insertWidget(0, self.no)
        row.insertWidget(2, self.yes)
        self.body.addLayout(row)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.yes.setText(self.tr("identify.confirm.yes"))
        self.no.setText(self.tr("identify.confirm.no"))
        a = self.journey.session.applicant
        if a is None:
            self.details.clear()
            return
        sex = self.tr(f"journey.sex.{a.sex}") if a.sex else "—"
        rows = [
            (self.tr("journey.manual.full_name"), a.full_name),
            (self.tr("journey.manual.id_number"), a.id_number),
            (self.tr("journey.manual.date_of_birth"), format_date(a.date_of_birth)),
            (self.tr("journey.manual.sex"), sex),
            (self.tr("journey.manual.address"), a.address or "—"),
        ]
        html = "".join(f"<p><b>{label}:</b> {value}</p>" for label, value in rows)
        note = self.journey.session.chip_note  # why the card's chip was not used
        chip = self.vc.app.chip
        if note is None and chip is not None and not chip.available:
            note = "chip.note.no_reader"
        if note:
            html += f"<p><i>{self.tr(note)}</i></p>"
        self.details.setText(html)

    def wipe(self) -> None:
        super().wipe()
        self.details.clear()


# ------------------------------------------------------------------ another person's card
def _sample_other(vc) -> dict:
    from datetime import UTC, datetime

    from kiosk.services.flow import Step
    from kiosk.services.journey import QUESTION

    journey = vc.app.journey
    journey.choose(MARRIAGE_CODE)
    journey.consent(datetime.now(UTC))
    journey.identified(sample_applicant())
    journey.flow.jump(Step(QUESTION, "partner_full_name"))
    return {}


@register("identify_other", sample=_sample_other)
class IdentifyOtherScreen(CardScan, Screen):
    """The card of the other person a question is about (the partner at a marriage), held
    to the camera: its values answer those questions, as the citizen's own card does."""

    title_key = "other_card.title"
    prompt_key = "other_card.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        self.camera_view = CameraView()
        row.addWidget(self.camera_view, 4)
        side = QVBoxLayout()
        side.addWidget(Pictogram("identify_card", 120), 0, Qt.AlignmentFlag.AlignHCenter)
        self.instruction = Text("")
        self.status = Text("", "error")
        side.addWidget(self.instruction)
        side.addWidget(self.status)
        side.addStretch(1)
        row.addLayout(side, 3)
        self.body.addLayout(row, 1)
        self.body.addLayout(self.nav_row())

    @property
    def journey(self):
        return self.vc.app.journey

    def enter(self, state) -> None:
        super().enter(state)
        self.status.clear()
        self.start_scan()

    def on_scanned(self, result) -> None:
        if getattr(result, "kind", None) != "cccd":
            self.status.setText(self.tr("identify.not_a_card"))
            return
        error = self.journey.other_identified(Applicant.from_card(result.citizen))
        if error:
            self.status.setText(self.tr(error))  # the citizen's own card: keep scanning
            return
        self.stop_scan()
        self.vc.nav.back()  # the question, now answered from the card

    def leave(self) -> None:
        self.stop_scan()

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.instruction.setText(self.tr("other_card.instruction"))

    def wipe(self) -> None:
        super().wipe()
        self.stop_scan()
        self.status.clear()
