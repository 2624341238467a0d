"""Clerk login: username and numeric PIN, with the attempts left and the lock-out shown.

The entry point of the clerk's desk (the discreet "clerk" button of the top bar goes
here); a clerk already logged in goes straight to the desk.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit

from kiosk.services.clerks import BadPin, ClerkError, Locked, Throttled
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import ensure_sample_data
from kiosk.views.widgets import BigButton, Pictogram, Text

ENTRY_SCREEN = "clerk_login"


def _sample(vc) -> dict:
    ensure_sample_data(vc.app).clerk = None  # the login form, not the desk
    return {}


@register(ENTRY_SCREEN, audience="clerk", sample=_sample)
class ClerkLoginScreen(ClerkScreen):
    title_key = "clerk.login.title"
    needs_login = False

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        row.addWidget(Pictogram("help_clerk", 140), 0, Qt.AlignmentFlag.AlignTop)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        self.user_label, self.pin_label = Text(""), Text("")
        self.username = QLineEdit()
        self.username.setObjectName("clerk_username")
        self.username.setProperty("keyboard", "text")
        self.pin = QLineEdit()
        self.pin.setObjectName("clerk_pin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(12)
        self.pin.setProperty("keyboard", "number")
        self.pin.returnPressed.connect(self.submit)
        self.username.returnPressed.connect(self.pin.setFocus)
        grid.addWidget(self.user_label, 0, 0)
        grid.addWidget(self.username, 0, 1)
        grid.addWidget(self.pin_label, 1, 0)
        grid.addWidget(self.pin, 1, 1)
        self.error = Text("", "error")
        grid.addWidget(self.error, 2, 0, 1, 2)
        row.addLayout(grid, 1)
        self.body.addLayout(row)
        self.body.addStretch(1)
        nav = QHBoxLayout()
        self.back = BigButton("", pictogram="back")
        self.back.clicked.connect(self.vc.nav.cancel)
        self.login = BigButton("", "primary")
        self.login.setObjectName("primary")
        self.login.clicked.connect(self.submit)
        nav.addWidget(self.back)
        nav.addStretch(1)
        nav.addWidget(self.login)
        self.footer.addLayout(nav)  # always in view, above the keyboard
        self.busy = False

    def enter(self, state) -> None:
        if self.desk.clerk is not None:
            self.vc.nav.replace("clerk_home")
            return
        self.error.clear()
        self.pin.clear()
        self.busy = False  # an answer for an earlier entry is dropped, not awaited
        self.login.setEnabled(True)
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        self.user_label.setText(self.tr("clerk.login.username"))
        self.pin_label.setText(self.tr("clerk.login.pin"))
        self.back.setText(self.tr("nav.back"))
        self.login.setText(self.tr("clerk.login.submit"))

    def submit(self) -> None:
        if self.busy:
            return
        username, pin = self.username.text().strip(), self.pin.text().strip()
        self.pin.clear()
        if not username or not pin.isdigit():
            self.error.setText(self.tr("clerk.login.missing"))
            return
        self.busy = True
        self.login.setEnabled(False)
        self.vc.tasks.run(lambda: self.desk.login(username, pin), self._ok, self._failed)

    def _ok(self, _clerk) -> None:
        self.busy = False
        self.login.setEnabled(True)
        self.username.clear()
        self.vc.nav.replace("clerk_home")

    def _failed(self, error: Exception) -> None:
        self.busy = False
        self.login.setEnabled(True)
        if isinstance(error, Locked | BadPin | Throttled):
            self.error.setText(login_refusal(self.tr, error))
        elif isinstance(error, ClerkError):
            self.error.setText(self.tr(error.key))
        else:
            self.error.setText(self.tr("clerk.err.generic"))

    def wipe(self) -> None:
        super().wipe()
        self.username.clear()
        self.pin.clear()
        self.error.clear()


def login_refusal(tr, error: Exception) -> str:
    """What a refused login says: the same for a wrong name and a wrong PIN, a count of
    tries only before the last one, and when to try again."""
    import math

    if isinstance(error, Throttled):
        return tr("security.login.wait", seconds=max(1, math.ceil(error.wait_s)))
    if isinstance(error, Locked):
        if error.until_unlocked:
            return tr("security.login.locked_for_good")
        return tr("clerk.login.locked", until=fmt_time(error.until, False))
    if isinstance(error, BadPin) and error.last_try:
        return tr("security.login.last_try")
    return tr("security.login.bad")
