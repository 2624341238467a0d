"""Small widgets every screen uses: pictogram tiles, big buttons, wrapped labels."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.paths import resource


def pictogram_path(name: str):
    path = resource("pictograms", f"{name}.svg")
    return path if path.exists() else resource("pictograms", "procedure_generic.svg")


_CHOICE_PICTOGRAMS: dict[str, str] | None = None


def choice_pictogram(key: str) -> str | None:
    """The pictogram of a choice with a meaning that can be drawn (data:
    resources/choice_pictograms.json), or None."""
    global _CHOICE_PICTOGRAMS
    if _CHOICE_PICTOGRAMS is None:
        import json

        data = json.loads(resource("choice_pictograms.json").read_text("utf-8"))
        _CHOICE_PICTOGRAMS = {k: v for k, v in data.items() if not k.startswith("_")}
        missing = [v for v in _CHOICE_PICTOGRAMS.values() if pictogram_path(v).stem != v]
        if missing:
            raise ValueError(f"choice_pictograms.json: no pictogram {', '.join(missing)}")
    return _CHOICE_PICTOGRAMS.get(key)


def pictogram_pixmap(name: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    path = pictogram_path(name)
    if path.exists():
        renderer = QSvgRenderer(str(path))
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
    return pixmap


class Pictogram(QLabel):
    def __init__(self, name: str, size: int = 160) -> None:
        super().__init__()
        self.setPixmap(pictogram_pixmap(name, size))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedSize(size + 8, size + 8)
        self.setAccessibleName(name)


class Tile(QPushButton):
    """A large touch tile: pictogram above, a label below that wraps instead of clipping."""

    def __init__(self, pictogram: str, text: str = "", icon_size: int = 140) -> None:
        super().__init__()
        self.setObjectName("tile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        self.picture = QLabel()
        self.picture.setPixmap(pictogram_pixmap(pictogram, icon_size))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for child in (self.picture, self.label):
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
            child.setStyleSheet("background: transparent; border: none;")
            layout.addWidget(child)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(icon_size + 110)

    def setText(self, text: str) -> None:
        self.label.setText(text)

    def text(self) -> str:
        return self.label.text()


class BigButton(QPushButton):
    def __init__(
        self, text: str = "", role: str = "", pictogram: str | None = None, icon_size: int = 48
    ) -> None:
        super().__init__(text)
        if role:
            self.setObjectName(role)
        if pictogram:
            self.setIcon(QIcon(pictogram_pixmap(pictogram, icon_size * 2)))
            self.setIconSize(QSize(icon_size, icon_size))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)


class Text(QLabel):
    """A label that wraps, for body text in any language."""

    def __init__(self, text: str = "", role: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)
        if role:
            self.setObjectName(role)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)


class Note(Text):
    """A message that takes no room while it is empty (under a form, above its buttons)."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setVisible(bool(text))

    def clear(self) -> None:
        self.setText("")


class FitTable(QTableWidget):
    """A table as tall as its rows (each fits its wrapped text at the table's width): it
    scrolls with its screen, in the screen's one scroll area, never inside it."""

    def __init__(self, rows: int, columns: int) -> None:
        super().__init__(rows, columns)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_rows()

    def fit_rows(self) -> None:
        self.resizeRowsToContents()
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        height = self.horizontalHeader().height() + rows + 2 * self.frameWidth()
        if self.height() != height:
            self.setFixedHeight(max(height, 64))


class ScrollArea(QScrollArea):
    """It may shrink to one row of content: the rows around it (title, buttons) come first."""

    MIN_HEIGHT = 96

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), min(hint.height(), self.MIN_HEIGHT))


def scroll(inner: QWidget) -> QScrollArea:
    """`inner` in a frameless scroll area that gives it the full width."""
    area = ScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    # Never sideways: what is wider than the screen is a layout fault, not something to pan.
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(inner)
    return area


def clear_layout(layout) -> None:
    """Remove and delete everything in a layout (hidden at once, deleted later)."""
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().hide()
            item.widget().deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())
