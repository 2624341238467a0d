"""Fonts and the style sheet: the app ships its fonts so no screen depends on the host's."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
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
    palette = app.palette()
    # Qt's default placeholder grey is 3.6:1 on white; the kiosk wants 7:1 everywhere.
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#444444"))
    app.setPalette(palette)
    app.setStyleSheet(resource("theme", "kiosk.qss").read_text(encoding="utf-8"))
    return family


def shipped_font_lacks(text: str) -> list[str]:
    """Characters of `text` that no font shipped under resources/fonts can draw.

    Checked against the files themselves (QRawFont), not the family name, which the
    host's font configuration may merge with other fonts. (supportsCharacter takes the
    code point: its str overload answers False for any letter beyond Latin-1.)
    """
    from PySide6.QtGui import QRawFont

    fonts = [QRawFont(str(p), 20) for p in sorted(resource("fonts").glob("*.ttf"))]
    return sorted(
        {
            ch
            for ch in text
            if not ch.isspace() and not any(f.supportsCharacter(ord(ch)) for f in fonts)
        }
    )
