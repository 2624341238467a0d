"""Admins grant the language studio's roles: translator (translates and records) and
reviewer (approves or sends back); both are audited (kiosk.services.clerks.set_role)."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QGridLayout, QWidget

from kiosk.services.clerks import GRANTED_ROLES
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import BigButton, Text, clear_layout, scroll

log = logging.getLogger(__name__)


def _sample(vc) -> dict:
    sample_login(vc)
    return {}


@register("studio_roles", audience="clerk", sample=_sample)
class StudioRolesScreen(ClerkScreen):
    title_key = "studio.roles.title"
    admin_only = True

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        inner = QWidget()
        self.grid = QGridLayout(inner)
        self.grid.setHorizontalSpacing(16)
        self.body.addWidget(scroll(inner), 1)
        self.message = Text("", "hint")
        self.body.addWidget(self.message)
        self.toggles: dict[tuple[str, str], BigButton] = {}

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None or not self.desk.clerk.is_admin:
            return
        self.vc.tasks.run(self.desk.clerks.list, self._show, lambda _e: None)

    def _show(self, clerks) -> None:
        clear_layout(self.grid)
        self.toggles = {}
        for row, clerk in enumerate(clerks):
            self.grid.addWidget(Text(f"{clerk.display_name} ({clerk.username})"), row, 0)
            for col, role in enumerate(GRANTED_ROLES, start=1):
                button = BigButton(self.tr(f"studio.role.{role}"))
                button.setObjectName("toggle")
                button.setCheckable(True)
                button.setChecked(clerk.has(role))
                button.clicked.connect(lambda on, u=clerk.username, r=role: self.set_role(u, r, on))
                self.grid.addWidget(button, row, col)
                self.toggles[(clerk.username, role)] = button
        self.grid.setRowStretch(len(clerks), 1)

    def set_role(self, username: str, role: str, granted: bool) -> None:
        by = self.desk.clerk
        self.vc.tasks.run(
            lambda: self.desk.clerks.set_role(username, role, granted, by),
            lambda info: self._done(info, role, granted),
            self._failed,
        )

    def _done(self, info, role: str, granted: bool) -> None:
        if self.desk.clerk is not None and info.username == self.desk.clerk.username:
            self.desk.clerk = info
        key = "studio.roles.granted" if granted else "studio.roles.revoked"
        self.message.setText(
            self.tr(key, name=info.display_name, role=self.tr(f"studio.role.{role}"))
        )

    def _failed(self, error: Exception) -> None:
        log.warning("role change failed: %s", type(error).__name__)
        self.message.setText(self.tr("clerk.err.generic"))

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(self.tr("studio.roles.hint"))
