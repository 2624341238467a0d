"""Python's cycle collector runs on the UI thread only.

Left to itself, the collector runs on whichever thread happens to allocate when its
threshold is crossed: a sync worker, a camera thread, a portal deadline thread. When the
garbage it finds holds a Qt object that lives on the UI thread (a screen dropped with its
timers, a widget caught in a cycle with a lambda), that object is destroyed on the wrong
thread: Qt cannot unregister its timers from there, and the next time such a timer fires
the kiosk crashes inside Qt's event loop. So the automatic collector is switched off and
the same generational collection is run from a timer on the UI thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_EVERY_MS = 1000


class MainThreadCollector(QObject):
    """Runs gc's generational collection from the UI thread's event loop: the young
    generation every second (cheap: only what was made since), the middle one every
    tenth time, everything every hundredth (as the interpreter's own thresholds would)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.young_runs = self.middle_runs = 0
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_EVERY_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int:
        """One round of collection; returns the number of objects freed."""
        freed = gc.collect(0)
        self.young_runs += 1
        if self.young_runs >= max(1, self.threshold[1]):
            self.young_runs = 0
            freed += gc.collect(1)
            self.middle_runs += 1
            if self.middle_runs >= max(1, self.threshold[2]):
                self.middle_runs = 0
                freed += gc.collect(2)
        return freed


def collect_on_ui_thread(app: QObject) -> MainThreadCollector:
    """Install the collector once on `app` (the QApplication); returns it."""
    existing = app.findChild(MainThreadCollector)
    return existing if existing is not None else MainThreadCollector(app)
