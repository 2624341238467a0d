"""What every screen shares: the view context and the Screen base class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from kiosk.views.widgets import BigButton, Text, scroll

if TYPE_CHECKING:
    from kiosk.context import AppContext
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views.shell import Navigator


@dataclass
class ViewContext:
    app: AppContext
    nav: Navigator
    tasks: TaskRunner

    def tr(self, key: str, **values: object) -> str:
        return self.app.tr(key, **values)


class Screen(QWidget):
    """A full screen of the kiosk.

    `enter(state)` shows it with the given state; `retranslate()` redraws its texts in
    the session's language; `wipe()` drops any citizen data it shows. A screen forwards
    intent to services or to the navigator, it keeps no domain logic.

    Its parts, top to bottom: the title (`outer`), the content (`body`) and the footer
    (`footer`: the Back/Next/Cancel row). Only the content scrolls, in one scroll area
    (`area`), so the title and the navigation row stay in view whatever the screen's size
    and while the keyboard is up. A screen with its own scrolling list sets
    `scrolls = False`: its body then has to fit, and its list is the one scroll area.
    """

    name: ClassVar[str] = ""
    prompt_key: ClassVar[str] = ""  # the spoken prompt of this screen (a tr key)
    title_key: ClassVar[str] = ""
    scrolls: ClassVar[bool] = True

    def __init__(self, vc: ViewContext) -> None:
        super().__init__()
        self.vc = vc
        self.setObjectName(f"screen_{self.name}")
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(48, 16, 48, 16)
        self.outer.setSpacing(12)
        self.title = Text("", "screenTitle")
        self.outer.addWidget(self.title)
        self.scroll_page = QWidget()
        self.scroll_page.setObjectName("content")
        self.body = QVBoxLayout(self.scroll_page)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(16)
        self.area: QScrollArea | None = scroll(self.scroll_page) if self.scrolls else None
        self.outer.addWidget(self.area or self.scroll_page, 1)
        self.footer = QVBoxLayout()
        self.footer.setSpacing(8)
        self.outer.addLayout(self.footer)
        self.state: dict[str, Any] = {}

    def tr(self, key: str, **values: object) -> str:
        return self.vc.tr(key, **values)

    def enter(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self.retranslate()

    def leave(self) -> None:
        pass

    def retranslate(self) -> None:
        self.title.setText(self.tr(self.title_key) if self.title_key else "")
        self.title.setVisible(bool(self.title_key))

    def wipe(self) -> None:
        self.state = {}

    def prompt(self) -> str:
        return self.prompt_key or self.title_key

    def show_in_view(self, widget: QWidget) -> None:
        """Scroll the content so `widget` (e.g. the field being typed into) is in view."""
        area = self.area
        if area is None or not self.scroll_page.isAncestorOf(widget):
            return
        # The whole widget, not just its text cursor (what ensureWidgetVisible shows).
        top = widget.mapTo(self.scroll_page, QPoint(0, 0)).y()
        bottom = top + widget.height()
        bar, room = area.verticalScrollBar(), area.viewport().height()
        margin = max(0, min(16, (room - widget.height()) // 2))
        if bottom + margin > bar.value() + room:
            bar.setValue(bottom + margin - room)
        if top - margin < bar.value():
            bar.setValue(max(0, top - margin))

    def nav_row(self, back: bool = True, cancel: bool = True) -> QHBoxLayout:
        """Back and Cancel, at the bottom of every step of a journey (add it to `footer`)."""
        row = QHBoxLayout()
        self.back_button = BigButton("", pictogram="back")
        self.cancel_button = BigButton("", "danger", pictogram="cancel")
        self.back_button.clicked.connect(self.go_back)
        self.cancel_button.clicked.connect(self.vc.nav.cancel)
        self.back_button.setVisible(back)
        self.cancel_button.setVisible(cancel)
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        self._nav_layout = row
        return row

    def pin_footer(self) -> None:
        """Move the navigation row out of the scrolling content into the footer, wherever
        the screen put it (the shell calls this once the screen is built)."""
        row = getattr(self, "_nav_layout", None)
        if row is None or row.parent() is self.footer:
            return
        owner = row.parent()
        if owner is not None and hasattr(owner, "removeItem"):
            owner.removeItem(row)
            row.setParent(None)
        self.footer.addLayout(row)

    def go_back(self) -> None:
        """What Back does here: the previous screen (a flow's screen asks its flow)."""
        self.vc.nav.back()

    def retranslate_nav(self) -> None:
        if hasattr(self, "back_button"):
            self.back_button.setText(self.tr("nav.back"))
            self.cancel_button.setText(self.tr("nav.cancel"))
