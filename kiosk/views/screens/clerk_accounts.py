"""Admins only: the clerk accounts, with deactivate, reactivate and unlock. An admin acts
on other accounts (never their own); every change is audited by the service."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from kiosk.services.clerks import AccountState, ClerkError
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import BigButton, Text, clear_layout, scroll


def _sample(vc) -> dict:
    sample_login(vc, admin=True)
    return {}


@register("clerk_accounts", audience="clerk", sample=_sample)
class ClerkAccountsScreen(ClerkScreen):
    title_key = "security.accounts.title"
    admin_only = True

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.message = Text("", "hint")
        self.body.addWidget(self.message)
        inner = QWidget()
        column = QVBoxLayout(inner)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(0, 1)
        self.grid.setVerticalSpacing(12)
        column.addLayout(self.grid)
        column.addStretch(1)  # the rows at the top, not spread over the screen
        self.body.addWidget(scroll(inner), 1)
        self.rows: dict[str, dict[str, QWidget]] = {}
        self.accounts: list[AccountState] = []

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None or not self.desk.clerk.is_admin:
            return
        self.message.clear()
        self.refresh()

    def refresh(self) -> None:
        self.vc.tasks.run(self.desk.clerks.accounts, self._show, self._failed)

    def _show(self, accounts: list[AccountState]) -> None:
        self.accounts = accounts
        clear_layout(self.grid)
        self.rows = {}
        me = self.desk.clerk.username if self.desk.clerk else ""
        for i, account in enumerate(accounts):
            name = account.info.username
            label = Text(self._describe(account))
            self.grid.addWidget(label, i, 0)
            buttons: dict[str, QWidget] = {"label": label}
            if name != me:
                toggle = BigButton(
                    self.tr(
                        "security.accounts.deactivate"
                        if account.active
                        else "security.accounts.reactivate"
                    ),
                    "danger" if account.active else "",
                )
                toggle.clicked.connect(
                    lambda _=False, n=name, a=not account.active: self.set_active(n, a)
                )
                self.grid.addWidget(toggle, i, 1)
                buttons["toggle"] = toggle
                if account.locked_until is not None:
                    unlock = BigButton(self.tr("security.accounts.unlock"))
                    unlock.clicked.connect(lambda _=False, n=name: self.unlock(n))
                    self.grid.addWidget(unlock, i, 2)
                    buttons["unlock"] = unlock
            self.rows[name] = buttons

    def _describe(self, account: AccountState) -> str:
        role = self.tr(f"security.accounts.role.{account.info.role}")
        parts = [f"{account.info.display_name} ({account.info.username}) — {role}"]
        if not account.active:
            parts.append(self.tr("security.accounts.inactive"))
        if account.locked_until is not None:
            if account.locked_until.year >= 9999:
                parts.append(self.tr("security.accounts.locked_for_good"))
            else:
                parts.append(
                    self.tr("security.accounts.locked", until=fmt_time(account.locked_until))
                )
        return " · ".join(parts)

    def set_active(self, username: str, active: bool) -> None:
        by = self.desk.clerk
        self.vc.tasks.run(
            lambda: self.desk.clerks.set_active(username, active, by),
            lambda _info: self._done(
                "security.accounts.done.reactivate"
                if active
                else "security.accounts.done.deactivate",
                username,
            ),
            self._failed,
        )

    def unlock(self, username: str) -> None:
        by = self.desk.clerk
        self.vc.tasks.run(
            lambda: self.desk.clerks.unlock(username, by),
            lambda _info: self._done("security.accounts.done.unlock", username),
            self._failed,
        )

    def _done(self, key: str, username: str) -> None:
        self.message.setText(self.tr(key, name=username))
        self.refresh()

    def _failed(self, error: Exception) -> None:
        if isinstance(error, ClerkError) and "last active admin" in error.detail:
            self.message.setText(self.tr("security.accounts.last_admin"))
        else:
            self.message.setText(self.error_text(error))

    def retranslate(self) -> None:
        super().retranslate()
        if self.accounts:
            self._show(self.accounts)
