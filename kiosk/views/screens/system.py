"""Screens the kiosk shows when it cannot serve citizens."""

from __future__ import annotations

from PySide6.QtCore import Qt

from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.widgets import Pictogram, Text


@register("out_of_service", audience="system", sample=lambda vc: {"reason": "setup"})
class OutOfServiceScreen(Screen):
    """Shown before setup is done, after repeated crashes, or when the store is broken."""

    title_key = "oos.title"
    prompt_key = "oos.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.body.addWidget(Pictogram("warning", 200), 0, Qt.AlignmentFlag.AlignHCenter)
        self.message = Text("")
        self.phone = Text("", "bigCode")
        self.phone.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.addWidget(self.message)
        self.body.addWidget(self.phone)
        self.body.addStretch(1)

    def retranslate(self) -> None:
        super().retranslate()
        reason = self.state.get("reason", "setup")
        self.message.setText(self.tr(f"oos.reason.{reason}"))
        self.phone.setText(self.vc.app.settings.support_phone)
