"""What every screen shares: the view context and the Screen base class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.views.widgets import BigButton, Text

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
    """

    name: ClassVar[str] = ""
    prompt_key: ClassVar[str] = ""  # the spoken prompt of this screen (a tr key)
    title_key: ClassVar[str] = ""

    def __init__(self, vc: ViewContext) -> None:
        super().__init__()
        self.vc = vc
        self.setObjectName(f"screen_{self.name}")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(48, 24, 48, 24)
        self.body.setSpacing(20)
        self.title = Text("", "screenTitle")
        self.body.addWidget(self.title)
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

    def nav_row(self, back: bool = True, cancel: bool = True) -> QHBoxLayout:
        """Back and Cancel, at the bottom of every step of a journey."""
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
        return row

    def go_back(self) -> None:
        """What Back does here: the previous screen (a flow's screen asks its flow)."""
        self.vc.nav.back()

    def retranslate_nav(self) -> None:
        if hasattr(self, "back_button"):
            self.back_button.setText(self.tr("nav.back"))
            self.cancel_button.setText(self.tr("nav.cancel"))
