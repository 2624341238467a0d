"""The one helper for work off the UI thread.

`run_task(fn, on_result, on_error)` runs fn on a QThreadPool and calls on_result(value)
or on_error(exception) back on the UI thread. Tests may set `TaskRunner.inline = True`
to run tasks synchronously, so they stay deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object, object)  # (result, error)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # handed to the caller's error handler
            result, error = None, exc
        self.relay.done.emit(result, error)


class TaskRunner(QObject):
    inline = False

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()

    def run(
        self,
        fn: Callable[[], Any],
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if self.inline:
            try:
                value = fn()
            except Exception as exc:
                self._deliver(None, exc, on_result, on_error)
            else:
                self._deliver(value, None, on_result, on_error)
            return
        relay = _Relay()  # lives on the UI thread, so its slot runs there
        self._relays.add(relay)

        @Slot(object, object)
        def finished(result: Any, error: Any) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            self._deliver(result, error, on_result, on_error)

        relay.done.connect(finished)
        self.pool.start(_Task(fn, relay))

    @staticmethod
    def _deliver(result, error, on_result, on_error) -> None:
        if error is None:
            if on_result:
                on_result(result)
        elif on_error:
            on_error(error)
        else:
            log.error("background task failed: %s", type(error).__name__, exc_info=error)

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
