"""Signals emitted from a worker thread only while their QObject lives.

A window (and the bridges it owns) can be deleted on the UI thread while a camera or sync
thread is about to emit one of the bridge's signals: emitting on a deleted object crashes
the process. `ThreadEmitter.emit(name, ...)` takes a lock that the object's `destroyed`
signal also takes, so an emit either happens before the object goes or not at all.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject


class ThreadEmitter:
    def __init__(self, owner: QObject, on_destroyed: Any = None) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._alive = True
        self._on_destroyed = on_destroyed
        owner.destroyed.connect(self._gone)

    def _gone(self, *_: Any) -> None:
        with self._lock:
            self._alive = False
        if self._on_destroyed is not None:
            self._on_destroyed()

    @property
    def alive(self) -> bool:
        return self._alive

    def emit(self, name: str, *args: Any) -> None:
        with self._lock:
            if self._alive:
                getattr(self._owner, name).emit(*args)
