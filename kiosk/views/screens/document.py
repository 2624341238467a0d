"""The wizard's document step: a live camera with the page outlined, the flattened photo
for approval, or the reason it was refused (written and spoken) and a retake."""

from __future__ import annotations

import logging

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from kiosk.qt.camera_bridge import frame_to_qimage
from kiosk.services.docscan import AttachmentTooLarge, encode_attachment
from kiosk.services.flow import Step
from kiosk.services.journey import DOCUMENT
from kiosk.views.registry import register
from kiosk.views.screens.identify import CameraView
from kiosk.views.steps import JourneyScreen, show_step
from kiosk.views.widgets import BigButton, Text

log = logging.getLogger(__name__)


class PageView(CameraView):
    """The camera picture with the detected page's outline drawn over it."""

    def __init__(self) -> None:
        super().__init__()
        self.outline: tuple | None = None  # (quad, frame w, frame h, ready)

    def paintEvent(self, event) -> None:
        QLabel.paintEvent(self, event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.image is not None and not self.image.isNull():
            scaled = QPixmap.fromImage(self.image).scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            x0 = (self.width() - scaled.width()) / 2
            y0 = (self.height() - scaled.height()) / 2
            painter.drawPixmap(int(x0), int(y0), scaled)
            if self.outline is not None:
                quad, fw, fh, ready = self.outline
                k = scaled.width() / fw
                points = [
                    QPointF(x0 + px * k, y0 + py * k)
                    for px, py in (quad.tl, quad.tr, quad.br, quad.bl)
                ]
                painter.setPen(QPen(QColor("#2e9e44" if ready else "#ffd84d"), 8))
                painter.drawPolygon(QPolygonF(points))
        painter.end()


def _sample(vc) -> dict:
    journey = vc.app.journey
    journey.choose("1.001193")
    first = journey.procedure.required_documents[0].key
    return {"step": journey.flow.jump(Step(DOCUMENT, first))}


@register("document", sample=_sample)
class DocumentScreen(JourneyScreen):
    prompt_key = "document.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.step = Text("", "hint")
        self.body.addWidget(self.step)
        row = QHBoxLayout()
        self.view = PageView()
        row.addWidget(self.view, 4)
        side = QVBoxLayout()
        self.hint = Text("")
        self.reason = Text("", "error")
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        side.addWidget(self.hint)
        side.addWidget(self.reason)
        # The rest may all be left out: one tap past them, not one per document.
        self.skip_rest = BigButton("")
        self.skip_rest.setObjectName("skip_rest")
        self.skip_rest.clicked.connect(self.skip_optional)
        side.addWidget(self.skip_rest)
        side.addWidget(self.preview, 1)
        row.addLayout(side, 3)
        self.body.addLayout(row, 1)
        self.take = BigButton("", "primary", pictogram="document_photo")
        self.take.clicked.connect(self.take_photo)
        self.use = BigButton("", "primary", pictogram="confirm")
        self.use.clicked.connect(self.use_photo)
        self.retake = BigButton("")
        self.retake.clicked.connect(self.start_camera)
        self.skip = BigButton("")
        self.skip.clicked.connect(self.next_step)  # brought to the clerk, or not needed
        nav = self.nav_row()
        for i, button in enumerate((self.skip, self.retake, self.take, self.use)):
            nav.insertWidget(2 + i, button)
        self.body.addLayout(nav)
        self.bridge = None
        self.result = None
        self.error_key: str | None = None

    # State -------------------------------------------------------------------------
    @property
    def document(self):
        step = self.flow_step
        return self.journey.document(step.key) if step is not None else None

    def enter(self, state) -> None:
        self.result, self.error_key = None, None
        self.take.setEnabled(True)  # a photo taken for an earlier entry is not awaited
        self.use.setEnabled(True)
        super().enter(state)
        self.start_camera()

    def leave(self) -> None:
        self.stop_camera()

    def wipe(self) -> None:
        super().wipe()
        self.stop_camera()
        self.result = None
        self.preview.clear()
        self.view.clear_frame()

    # Camera -------------------------------------------------------------------------
    def start_camera(self) -> None:
        self.result = None
        self.reason.clear()
        self.preview.clear()
        self.stop_camera()
        factory = self.vc.app.document_camera
        if factory is None:
            self.camera_failed("document.no_camera", "no camera configured")
            return
        self.bridge = factory(self)
        self.bridge.frame.connect(self.view.show_frame)
        self.bridge.tracked.connect(self.on_tracked)
        self.bridge.captured.connect(self.on_captured)
        self.bridge.failed.connect(self.camera_failed)
        self.bridge.start()
        self._buttons()

    def stop_camera(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None

    def camera_failed(self, key: str, detail: str) -> None:
        log.warning("document camera unavailable: %s", detail)
        self.error_key = key
        self.stop_camera()
        self.reason.setText(self.tr("document.no_camera"))
        self._buttons()

    def on_tracked(self, tracked) -> None:
        state, w, h = tracked
        self.view.outline = (state.quad, w, h, state.stable) if state.quad else None
        self.hint.setText(self.tr(state.hint_key))

    def take_photo(self) -> None:
        if self.bridge is not None:
            self.take.setEnabled(False)
            self.bridge.capture()

    def on_captured(self, result) -> None:
        self.take.setEnabled(True)
        self.result = result
        if result.ok:
            self.stop_camera()
            image = frame_to_qimage(result.image)
            self.preview.setPixmap(
                QPixmap.fromImage(image).scaled(
                    self.preview.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
            self.view.show_frame(image)
            self.view.outline = None
            self.hint.setText(self.tr("document.approve"))
            self.reason.clear()
        else:
            reason = result.reasons[0]
            log.info("document photo refused: %s", reason.detail)
            self.reason.setText(self.tr(reason.key))
            player = self.vc.app.speech
            if player is not None:
                player.say_key(reason.key)
        self._buttons()

    def use_photo(self) -> None:
        if self.result is None or not self.result.ok or not self.use.isEnabled():
            return
        self.use.setEnabled(False)  # one tap, one attachment
        key, image = self.document.key, self.result.image
        self.vc.tasks.run(lambda: encode_attachment([image], key), self._encoded, self._not_encoded)

    def _encoded(self, att) -> None:
        self.use.setEnabled(True)
        self.journey.attach(att.document_key, att.content_type, att.data)
        self.next_step()

    def _not_encoded(self, error: Exception) -> None:
        self.use.setEnabled(True)
        key = error.key if isinstance(error, AttachmentTooLarge) else "docscan.error.too_large"
        log.warning("document not kept: %s", getattr(error, "detail", type(error).__name__))
        self.reason.setText(self.tr(key))

    def next_step(self) -> None:
        self.stop_camera()
        self.go_next()

    def skip_optional(self) -> None:
        self.stop_camera()
        show_step(self.vc, self.journey.skip_optional_documents())

    # Text ---------------------------------------------------------------------------
    def _buttons(self) -> None:
        approved = self.result is not None and self.result.ok
        doc = self.document
        self.take.setVisible(not approved and self.bridge is not None)
        self.use.setVisible(approved)
        self.retake.setVisible(approved or (self.result is not None and not self.result.ok))
        self.skip.setVisible(doc is not None and (not doc.required or self.bridge is None))
        rest = self.journey.optional_documents_left() if doc is not None else 0
        self.skip_rest.setVisible(bool(rest) and not doc.required and not approved)
        if rest:
            self.skip_rest.setText(self.tr("document.skip_rest"))

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        doc, step = self.document, self.flow_step
        if doc is None:
            return
        lang = self.vc.app.session.lang
        self.title.setText(self.tr("document.title", document=doc.title(lang)))
        self.title.setVisible(True)
        self.step.setText(self.tr("document.step", n=step.index + 1, total=step.total))
        if self.result is None:
            self.hint.setText(self.tr("document.hint"))
        if self.error_key:
            self.reason.setText(self.tr("document.no_camera"))
        self.take.setText(self.tr("document.take"))
        self.use.setText(self.tr("document.use"))
        self.retake.setText(self.tr("document.retake"))
        self.skip.setText(
            self.tr("document.skip")
            if doc.required is False
            else self.tr("document.bring_to_clerk")
        )
        self._buttons()
