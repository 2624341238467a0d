"""The one helper for work off the UI thread.

`run(fn, on_result, on_error)` runs fn on a QThreadPool and calls on_result(value) or
on_error(exception) back on the UI thread. Tests may set `TaskRunner.inline = True` to run
tasks synchronously, so they stay deterministic.

A result belongs to whoever asked for it. The runner's `owner()` (set by the main window)
says who is asking now: the citizen's visit and the navigator's screen entry. A result
that comes back after the screen entry that asked has ended (the citizen went Back, on, or
away) is dropped here, once for every caller, so a late answer never moves a screen the
citizen has left. `run(..., until="visit")` keeps a result for as long as the visit lasts
(a dossier saved while the citizen tapped Back still gets its receipt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

Until = Literal["screen", "visit"]


class _Relay(QObject):
    done = Signal(object, object)  # (result, error)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)


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

    def __init__(
        self,
        parent: QObject | None = None,
        max_threads: int = 4,
        owner: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()
        self.owner = owner  # () -> (visit, screen entry); None: results always delivered
        self.dropped = 0

    def _token(self, until: Until) -> tuple[int, ...] | None:
        if self.owner is None:
            return None
        visit, entry = self.owner()
        return (visit,) if until == "visit" else (visit, entry)

    def run(
        self,
        fn: Callable[[], Any],
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        *,
        until: Until = "screen",
    ) -> None:
        token = self._token(until)
        if self.inline:
            try:
                value = fn()
            except Exception as exc:
                self._deliver(token, until, None, exc, on_result, on_error)
            else:
                self._deliver(token, until, value, None, on_result, on_error)
            return
        # The relay lives on the UI thread (so its slot runs there) and is owned by the
        # runner: it is deleted by deleteLater on the UI thread, never by the worker thread
        # dropping its last Python reference while the answer is still being delivered.
        relay = _Relay(self)
        self._relays.add(relay)

        @Slot(object, object)
        def finished(result: Any, error: Any) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            self._deliver(token, until, result, error, on_result, on_error)

        relay.done.connect(finished)
        self.pool.start(_Task(fn, relay))

    def _deliver(self, token, until, result, error, on_result, on_error) -> None:
        if token != self._token(until):
            self.dropped += 1
            log.info(
                "background result dropped: the %s that asked for it has ended%s",
                until,
                f" ({type(error).__name__})" if error is not None else "",
            )
            return
        if error is None:
            if on_result:
                on_result(result)
        elif on_error:
            on_error(error)
        else:
            log.error("background task failed: %s", type(error).__name__, exc_info=error)

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
