"""Kiosk lock-down: one instance, no way out without an admin PIN.

- `SingleInstance`: a QLockFile in the data folder. A second kiosk on the same data folder
  is refused with a message naming the running one's PID. A lock left by a crashed kiosk
  (its process is gone) is taken over.
- `KioskLock`: close requests on the window (the window manager's close, Alt+F4) are
  ignored, and an application event filter swallows Escape and Alt+F4 everywhere. Ctrl+
  Shift+Q, or five quick taps in the top-left corner of the screen, opens a dialog that
  asks an admin's user name and PIN (checked with ClerkService.verify, lock-out included,
  every attempt audited). Only an admin's right PIN unlocks and closes the window.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QLockFile, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QWidget,
)

from kiosk.services.clerks import BadPin, ClerkService, Locked, Throttled
from kiosk.views.admin_exit import AdminExitDialog

log = logging.getLogger(__name__)

LOCK_NAME = "kiosk.lock"
CORNER_PX = 80
CORNER_TAPS = 5
CORNER_SECONDS = 3.0


class SingleInstance:
    """`acquire()` is False while another live process holds the data folder's lock."""

    def __init__(self, folder: Path, name: str = LOCK_NAME) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / name
        self._lock = QLockFile(str(self.path))
        # 0: never stale by age; a lock is taken over only when its process is gone.
        self._lock.setStaleLockTime(0)

    def acquire(self) -> bool:
        return self._lock.tryLock(200)

    def holder(self) -> str:
        """Who holds the lock, e.g. 'PID 1234 on host kiosk-01', for the refusal message."""
        # PySide6 returns (pid, hostname, appname); pid 0 when the lock file is unreadable.
        info = self._lock.getLockInfo()
        if isinstance(info, tuple) and len(info) >= 2 and info[0]:
            return f"PID {info[0]} on host {info[1] or '?'}"
        return "another process"

    def release(self) -> None:
        self._lock.unlock()


class KioskLock(QObject):
    """Keeps the kiosk window up until an admin unlocks it; `exited` after a right PIN."""

    exited = Signal()
    dialog_opened = Signal(object)

    def __init__(self, window: QWidget, clerks: ClerkService, tr: Callable[[str], str]) -> None:
        super().__init__(window)
        self.window = window
        self.clerks = clerks
        self.tr = tr
        self.unlocked = False
        self.swallowed = 0
        self.dialog: AdminExitDialog | None = None
        self._taps: deque[float] = deque(maxlen=CORNER_TAPS)
        self._last_press = -1
        window.installEventFilter(self)
        QApplication.instance().installEventFilter(self)

    def remove(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.window.removeEventFilter(self)

    # Events ------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Close and obj is self.window and not self.unlocked:
            # An ignored close event keeps the window: the accepted default would close it.
            event.ignore()
            log.info("close request ignored (kiosk is locked)")
            return True
        if kind in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride, QEvent.Type.KeyRelease):
            key, mods = event.key(), event.modifiers()
            ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            if key == Qt.Key.Key_Q and (mods & ctrl_shift) == ctrl_shift:
                if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                    self.request_exit()
                return True
            alt_f4 = key == Qt.Key.Key_F4 and mods & Qt.KeyboardModifier.AltModifier
            if key == Qt.Key.Key_Escape or alt_f4:
                if kind == QEvent.Type.KeyPress:
                    self.swallowed += 1
                return True
        if kind == QEvent.Type.MouseButtonPress:
            self._corner_tap(event)
        return False

    def _corner_tap(self, event: QEvent) -> None:
        # One press is seen once per widget it propagates through: count it once.
        stamp = event.timestamp()
        if stamp == self._last_press:
            return
        self._last_press = stamp
        where = self.window.mapFromGlobal(event.globalPosition().toPoint())
        if not (0 <= where.x() <= CORNER_PX and 0 <= where.y() <= CORNER_PX):
            self._taps.clear()
            return
        now = time.monotonic()
        self._taps.append(now)
        if len(self._taps) == CORNER_TAPS and now - self._taps[0] <= CORNER_SECONDS:
            self._taps.clear()
            self.request_exit()

    # Leaving -----------------------------------------------------------------------------
    def request_exit(self) -> AdminExitDialog:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        self.dialog = AdminExitDialog(self.window, self.tr)
        self.dialog.submitted.connect(self.try_exit)
        self.dialog.open()
        self.dialog.username.setFocus()
        self.dialog_opened.emit(self.dialog)
        return self.dialog

    def try_exit(self, username: str, pin: str) -> bool:
        dialog = self.dialog
        try:
            info = self.clerks.verify(username, pin, action="kiosk.unlock")
        except Locked:
            self._refuse(dialog, "deploy.exit.locked")
            return False
        except BadPin:
            self._refuse(dialog, "deploy.exit.bad_pin")
            return False
        except Throttled:
            self._refuse(dialog, "security.exit.wait")
            return False
        if not info.is_admin:
            self.clerks.audit(info, "kiosk.exit.refused", detail="not an admin")
            self._refuse(dialog, "deploy.exit.not_admin")
            return False
        self.clerks.audit(info, "kiosk.exit")
        log.info("kiosk unlocked by an admin; leaving")
        self.unlocked = True
        if dialog is not None:
            dialog.accept()
        self.window.close()
        self.exited.emit()
        return True

    def _refuse(self, dialog: AdminExitDialog | None, key: str) -> None:
        log.warning("kiosk exit refused (%s)", key.rsplit(".", 1)[-1])
        if dialog is not None:
            dialog.refuse(self.tr(key))
