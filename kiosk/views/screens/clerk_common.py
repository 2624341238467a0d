"""What the clerk's screens share: the desk (services + who is logged in), the screen base
class with its header, the assisted-mode banner, and sample data for screenshots.

The desk (kiosk.services.clerk_desk) is `app.clerk_desk`, built on first use. A clerk stays logged
in until they log out, the idle guard resets the kiosk, or a citizen's session ends —
except in assisted mode, where the clerk stays beside the citizen until they step out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QSizePolicy,
    QWidget,
)

from kiosk.services.clerk_desk import ClerkDesk
from kiosk.views.base import Screen
from kiosk.views.widgets import BigButton, Note, Text

log = logging.getLogger(__name__)

BANNER_NAME = "assistBanner"

# Clerk screens are denser than citizen screens but keep the kiosk's 20 pt and 64 px.
CLERK_QSS = """
QPushButton { min-height: 64px; padding: 4px 16px; }
QLineEdit, QComboBox { min-height: 64px; font-size: 20pt; }
QTableWidget { font-size: 16pt; gridline-color: #b8c4d6; }
QHeaderView::section { font-size: 16pt; font-weight: bold; background: #e6ecf5;
                       color: #111111; padding: 6px; border: 1px solid #b8c4d6; }
QLabel#clerkHeader { color: #333333; }
QLabel#screenTitle { font-size: 26pt; }
QPushButton:disabled { background: #f2f2f2; color: #4a4a4a; border-color: #8c8c8c; }
QLabel#mark, QLabel[alert="true"] { color: #8a0000; font-weight: bold; }
QLabel#ok { color: #0b5a1e; font-weight: bold; }
QLabel#section { font-size: 22pt; font-weight: bold; color: #0a3d7a; }
QLabel#bigNumber { font-size: 64pt; font-weight: bold; color: #0a3d7a; }
QPushButton#toggle:checked { background: #0a3d7a; color: #ffffff; }
"""


def desk(app) -> ClerkDesk:
    return app.clerk_desk


def fmt_time(moment, with_date: bool = True) -> str:
    """A naive-UTC store time as local time."""
    if moment is None:
        return "—"
    from datetime import UTC

    local = moment.replace(tzinfo=UTC).astimezone()
    return local.strftime("%d/%m/%Y %H:%M" if with_date else "%H:%M")


class ClerkScreen(Screen):
    """A clerk screen: needs a logged-in clerk (or an admin), shows who and a way out."""

    admin_only: ClassVar[bool] = False
    needs_login: ClassVar[bool] = True
    show_desk_button: ClassVar[bool] = True

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.setStyleSheet(CLERK_QSS)
        self.desk = desk(vc.app)
        self.outer.setContentsMargins(32, 12, 32, 12)
        self.outer.setSpacing(12)
        self.body.setSpacing(12)
        # One header row: the screen's title, who is logged in, and the way out.
        head = QHBoxLayout()
        head.setSpacing(16)
        self.body.removeWidget(self.title)
        head.addWidget(self.title)
        self.who = Text("", "clerkHeader")
        self.who.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.who.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        head.addWidget(self.who, 1)
        self.desk_button = BigButton("")
        self.desk_button.setObjectName("deskButton")
        self.desk_button.clicked.connect(lambda: self.vc.nav.go("clerk_home"))
        self.logout_button = BigButton("", "danger")
        self.logout_button.clicked.connect(self.do_logout)
        head.addWidget(self.desk_button)
        head.addWidget(self.logout_button)
        self.outer.insertLayout(0, head)
        self.header_row = head
        # A screen that failed to draw says so (the error is logged), never a silent blank.
        self.render_error = Note("", "error")
        self.render_error.hide()
        self.outer.insertWidget(1, self.render_error)

    def enter(self, state: dict[str, Any]) -> None:
        clerk = self.desk.clerk
        if self.needs_login and clerk is None:
            self.vc.nav.replace("clerk_login")
            return
        if self.admin_only and not clerk.is_admin:
            self.vc.nav.replace("clerk_home")
            return
        self.render_error.clear()
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        clerk = self.desk.clerk
        if clerk is not None:
            self.who.setText(
                self.tr("clerk.header", name=clerk.display_name, counter=self.desk.counter)
            )
        self.who.setVisible(clerk is not None)
        self.desk_button.setText(self.tr("clerk.nav.desk"))
        self.desk_button.setVisible(clerk is not None and self.show_desk_button)
        self.logout_button.setText(self.tr("clerk.nav.logout"))
        self.logout_button.setVisible(clerk is not None)

    def do_logout(self) -> None:
        AssistBanner.remove(self.window())
        self.desk.logout("by hand")
        self.vc.nav.cancel()

    def wipe(self) -> None:
        # The kiosk reset (idle, Cancel, a finished journey): the clerk is logged out,
        # unless they are helping a citizen right now (assisted mode survives the reset).
        super().wipe()
        if not self.desk.assisting:
            self.desk.logout("session reset")
            AssistBanner.remove(self.window())

    def safe(self, render: Callable[..., None]) -> Callable[..., None]:
        """`render` that logs any exception and shows the clerk a message instead of
        leaving the screen half drawn with nothing said."""

        def run(*args: Any) -> None:
            try:
                render(*args)
            except Exception as exc:
                # The type and where: never the values, which may be personal data.
                log.error(
                    "clerk screen %s could not be drawn: %s",
                    self.name,
                    type(exc).__name__,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
                self.render_error.setText(self.tr("screens.clerk.render_failed"))

        return run

    def error_text(self, error: Exception) -> str:
        key = getattr(error, "key", None)
        return self.tr(key) if key else self.tr("clerk.err.generic")


class AssistBanner(QWidget):
    """A strip under the top bar while a clerk helps a citizen: who, and a way out."""

    def __init__(self, vc, clerk_desk: ClerkDesk) -> None:
        super().__init__()
        self.vc, self.desk = vc, clerk_desk
        self.setObjectName(BANNER_NAME)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "QWidget#assistBanner { background: #ffd84d; }"
            "QLabel { background: transparent; color: #111111; font-weight: bold; }"
            "QPushButton { min-height: 64px; padding: 4px 16px; background: #ffffff; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(24, 6, 24, 6)
        self.label = Text("")
        row.addWidget(self.label, 1)
        self.desk_button = BigButton("")
        self.desk_button.clicked.connect(self.back_to_desk)
        self.end_button = BigButton("", "danger")
        self.end_button.clicked.connect(self.end)
        row.addWidget(self.desk_button)
        row.addWidget(self.end_button)
        vc.nav.changed.connect(self._on_screen)  # disconnected by Qt when the banner goes
        self.retranslate()

    def watch_idle(self, window) -> None:
        """End assisted mode when the kiosk is left alone (the clerk walked away): after
        the idle guard's countdown, or idle on the home screen. The shell's own reset has
        run by then (its slots were connected first)."""
        still_there = getattr(window, "still_there", None)
        if still_there is not None:
            still_there.expired.connect(self.idle_end)
        idle = getattr(window, "idle", None)
        if idle is not None:
            idle.idle.connect(self._idle_at_home)

    def _idle_at_home(self) -> None:
        nav = self.vc.nav
        if nav.current == nav.home_name and len(nav.history) <= 1:
            self.idle_end()

    def idle_end(self) -> None:
        if self.desk.clerk is None:
            return
        try:
            self.desk.audit("clerk.assist.end", detail="idle")
        except Exception as exc:  # as for logout: leaving assisted mode must not fail
            log.warning("end of assisted mode not audited: %s", type(exc).__name__)
        self.vc.app.session.assisted_by = None
        window = self.window()
        self.desk.logout("idle")
        AssistBanner.remove(window)

    def _on_screen(self, _name: str) -> None:
        # The banner goes with the assisted session: once no clerk is helping (logged
        # out, session ended, another clerk), it never stays on a screen.
        if not self.desk.assisting:
            AssistBanner.remove(self.window())
            return
        self.retranslate()

    def retranslate(self) -> None:
        clerk = self.desk.clerk
        self.label.setText(
            self.vc.tr("clerk.assist.banner", name=clerk.display_name if clerk else "")
        )
        self.desk_button.setText(self.vc.tr("clerk.assist.back_to_desk"))
        self.end_button.setText(self.vc.tr("clerk.assist.end"))

    def _stop(self) -> None:
        self.desk.audit("clerk.assist.end")
        # Still assisting while the citizen's data is wiped, so the reset keeps the clerk
        # logged in; assisted_by is cleared right after.
        self.vc.nav.cancel()
        self.vc.app.session.assisted_by = None

    def back_to_desk(self) -> None:
        self._stop()
        window = self.window()
        AssistBanner.remove(window)
        self.vc.nav.go("clerk_home")

    def end(self) -> None:
        """One tap back to citizen mode: assisted_by cleared, the clerk logged out."""
        self._stop()
        window = self.window()
        AssistBanner.remove(window)
        self.desk.logout("assist ended")

    # Placing it -----------------------------------------------------------------
    @staticmethod
    def find(window: QWidget | None) -> AssistBanner | None:
        if window is None:
            return None
        return window.findChild(AssistBanner, BANNER_NAME)

    @staticmethod
    def show_in(window: QWidget, vc, clerk_desk: ClerkDesk) -> AssistBanner:
        """Insert the strip between the window's top bar and its screens."""
        banner = AssistBanner.find(window)
        if banner is None:
            banner = AssistBanner(vc, clerk_desk)
            central = window.centralWidget() if hasattr(window, "centralWidget") else window
            layout = central.layout()
            layout.insertWidget(1 if layout.count() > 1 else 0, banner)
            banner.watch_idle(window)
        banner.retranslate()
        banner.show()
        return banner

    @staticmethod
    def remove(window: QWidget | None) -> None:
        banner = AssistBanner.find(window)
        if banner is not None:
            banner.hide()
            banner.setParent(None)
            banner.deleteLater()
