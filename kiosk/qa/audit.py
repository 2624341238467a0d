"""Measured accessibility: walk every registered screen and report each violation.

Checks, per screen, size and language: touch targets of at least 64×64 px, text
contrast of at least 7:1 (WCAG AAA), body text of at least 20 pt, no visible string
missing from the vi or en catalogue, no glyph the shipped font lacks, no text clipped
by its widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QWidget,
)

from kiosk.views.theme import shipped_font_lacks

MIN_TARGET = 64
MIN_CONTRAST = 7.0
MIN_POINTS = 20.0


@dataclass(frozen=True)
class Violation:
    screen: str
    size: str
    lang: str
    rule: str
    widget: str
    detail: str

    def __str__(self) -> str:
        return f"{self.screen} [{self.size} {self.lang}] {self.rule}: {self.widget}: {self.detail}"


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _over(fg: QColor, bg: QColor) -> QColor:
    """A translucent colour as it shows on its background."""
    a = fg.alphaF()
    return QColor.fromRgbF(
        fg.redF() * a + bg.redF() * (1 - a),
        fg.greenF() * a + bg.greenF() * (1 - a),
        fg.blueF() * a + bg.blueF() * (1 - a),
    )


def _background(widget: QWidget) -> QColor:
    """The colour actually behind a widget: the nearest ancestor that paints one."""
    w: QWidget | None = widget
    while w is not None:
        color = w.palette().color(w.backgroundRole())
        if color.alpha() == 255 and (
            w.autoFillBackground()
            or w.testAttribute(Qt.WidgetAttribute.WA_StyledBackground)
            or w.parentWidget() is None
            or isinstance(w, QAbstractButton | QLineEdit)
        ):
            return color
        w = w.parentWidget()
    return QColor("white")


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    label = f" {text[:30]!r}" if text else ""
    return f"{type(widget).__name__}#{widget.objectName() or '-'}{label}"


def _points(font: QFont) -> float:
    if font.pointSizeF() > 0:
        return font.pointSizeF()
    dpi = QApplication.primaryScreen().logicalDotsPerInchY() if QApplication.primaryScreen() else 96
    return font.pixelSize() * 72.0 / dpi


def _visible_text(widget: QWidget) -> str:
    if isinstance(widget, QLineEdit):
        return widget.text() or widget.placeholderText()
    if isinstance(widget, QLabel | QAbstractButton):
        text = widget.text()
        if isinstance(widget, QLabel) and widget.textFormat() != widget.textFormat().PlainText:
            doc = QLabel()
            doc.setText(text)
            from PySide6.QtGui import QTextDocument

            d = QTextDocument()
            d.setHtml(text)
            return d.toPlainText()
        return text
    return ""


def audit_widget_tree(
    root: QWidget, screen: str, size: str, lang: str, translator, font_family: str
) -> list[Violation]:
    out: list[Violation] = []

    def add(rule: str, widget: QWidget, detail: str) -> None:
        out.append(Violation(screen, size, lang, rule, _name(widget), detail))

    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        if not w.isVisibleTo(root) or w.width() == 0:
            continue
        interactive = isinstance(w, QAbstractButton | QLineEdit) and w.isEnabled()
        if interactive and (w.width() < MIN_TARGET or w.height() < MIN_TARGET):
            add("touch-target", w, f"{w.width()}x{w.height()} px < {MIN_TARGET}x{MIN_TARGET}")
        text = _visible_text(w).strip()
        if not text:
            continue
        if _points(w.font()) + 0.01 < MIN_POINTS:
            add("text-size", w, f"{_points(w.font()):.1f} pt < {MIN_POINTS:.0f} pt")
        role = w.foregroundRole()
        if isinstance(w, QLineEdit) and not w.text():
            role = QPalette.ColorRole.PlaceholderText
        bg = _background(w)
        fg = _over(w.palette().color(role), bg)
        ratio = contrast(fg, bg)
        if ratio + 1e-6 < MIN_CONTRAST:
            add("contrast", w, f"{ratio:.2f}:1 ({fg.name()} on {bg.name()}) < {MIN_CONTRAST:.0f}:1")
        missing = shipped_font_lacks(text)
        if missing:
            add("glyph", w, f"font lacks {''.join(missing)!r}")
        if _clipped(w, text):
            add("clipped", w, "text does not fit its widget")
    return out


def _clipped(w: QWidget, text: str) -> bool:
    fm = w.fontMetrics()
    if isinstance(w, QLabel):
        rect = w.contentsRect()
        if w.wordWrap():
            needed = w.heightForWidth(rect.width())
            return needed > rect.height() + 2
        if w.pixmap() is not None and not w.pixmap().isNull():
            return False
        if "\n" not in text and fm.tightBoundingRect(text).height() > rect.height() + 1:
            return True  # accents cut at the top, descenders at the bottom
        return fm.horizontalAdvance(text) > rect.width() + 1
    if isinstance(w, QAbstractButton):
        if hasattr(w, "label"):  # a tile draws its text in a child label
            return False
        icon = w.iconSize().width() + 12 if not w.icon().isNull() else 0
        if fm.horizontalAdvance(text) + icon > w.contentsRect().width() + 1:
            return True
        # Narrower than the style says its text, icon and padding need: the ends are cut.
        return w.width() + 1 < w.sizeHint().width()
    if isinstance(w, QLineEdit):
        return False  # a line edit scrolls its text by design
    return False
