"""Fonts and the style sheet: the app ships its fonts so no screen depends on the host's."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

from kiosk.paths import resource

FAMILY = "Noto Sans"


def install_theme(app: QApplication) -> str:
    families: list[str] = []
    for path in sorted(resource("fonts").glob("*.ttf")):
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id < 0:
            raise RuntimeError(f"font {path} could not be loaded")
        families += QFontDatabase.applicationFontFamilies(font_id)
    family = FAMILY if FAMILY in families else families[0]
    font = QFont(family)
    font.setPointSize(20)
    app.setFont(font)
    app.setStyleSheet(resource("theme", "kiosk.qss").read_text(encoding="utf-8"))
    return family
