"""The admin-exit dialog: an admin's user name and PIN to leave the locked-down kiosk.

It only asks; kiosk.qt.lockdown.KioskLock checks the PIN and decides.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class AdminExitDialog(QDialog):
    """User name and PIN of an admin; the lock decides."""

    submitted = Signal(str, str)

    def __init__(self, parent: QWidget | None, tr: Callable[[str], str]) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("adminExitDialog")
        self.setWindowTitle(tr("deploy.exit.title"))
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr("deploy.exit.explain")))
        form = QFormLayout()
        self.username = QLineEdit()
        self.username.setObjectName("exitUser")
        self.pin = QLineEdit()
        self.pin.setObjectName("exitPin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setValidator(QIntValidator(0, 2_000_000_000, self))
        self.pin.setMaxLength(12)
        form.addRow(tr("deploy.exit.user"), self.username)
        form.addRow(tr("deploy.exit.pin"), self.pin)
        layout.addLayout(form)
        self.message = QLabel("")
        self.message.setObjectName("exitMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.ok = QPushButton(tr("deploy.exit.ok"))
        self.cancel = QPushButton(tr("deploy.exit.cancel"))
        self.ok.setDefault(True)
        self.ok.clicked.connect(self._submit)
        self.pin.returnPressed.connect(self._submit)
        self.cancel.clicked.connect(self.reject)
        row.addWidget(self.cancel)
        row.addStretch(1)
        row.addWidget(self.ok)
        layout.addLayout(row)

    def _submit(self) -> None:
        self.submitted.emit(self.username.text().strip(), self.pin.text())

    def refuse(self, text: str) -> None:
        self.pin.clear()
        self.message.setText(text)
        self.pin.setFocus()
