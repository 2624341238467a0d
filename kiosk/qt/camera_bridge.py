"""The camera scan on the UI thread: a QObject owning a `ScanWorker`.

The worker's callbacks run on its own thread; they emit private signals that Qt queues
to this object's thread, where the public signals are emitted:
- `frame(QImage)`: a copied image of the latest frame (at most one waiting at a time,
  so a busy UI skips frames instead of piling them up);
- `scanned(object)`: the accepted QR text, interpreted (`kiosk.services.cccd.Classified`);
- `failed(str, str)`: a translation key for the citizen and a detail for the clerk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from kiosk.hardware.camera import Camera, ScanWorker
from kiosk.qt.guard import ThreadEmitter
from kiosk.services.cccd import interpret


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """A QImage that owns its pixels (the numpy buffer may be reused or freed)."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    if frame.ndim == 2:
        image = QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_Grayscale8)
    else:
        image = QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_BGR888)
    return image.copy()


class CameraBridge(QObject):
    frame = Signal(QImage)
    scanned = Signal(object)
    failed = Signal(str, str)

    _frame_ready = Signal(QImage, int)
    _result_ready = Signal(str, int)
    _error_ready = Signal(str, str, int)

    def __init__(
        self,
        camera_factory: Callable[[], Camera],
        parent: QObject | None = None,
        decode_every: int = 2,
        interpret_text: Callable[[str], object] = interpret,
    ) -> None:
        super().__init__(parent)
        self._camera_factory = camera_factory
        self._decode_every = decode_every
        self._interpret = interpret_text
        self._worker: ScanWorker | None = None
        self._generation = 0  # signals from an earlier start() are dropped
        self._frame_waiting = threading.Event()
        self._emitter = ThreadEmitter(self, self._stop_worker)
        queued = Qt.ConnectionType.QueuedConnection
        self._frame_ready.connect(self._deliver_frame, queued)
        self._result_ready.connect(self._deliver_result, queued)
        self._error_ready.connect(self._deliver_error, queued)

    @property
    def active(self) -> bool:
        return self._worker is not None

    def start(self) -> None:
        self.stop()
        self._generation += 1
        generation = self._generation
        self._frame_waiting.clear()

        def on_frame(frame: np.ndarray) -> None:
            if not self._frame_waiting.is_set():
                self._frame_waiting.set()
                emitter.emit("_frame_ready", frame_to_qimage(frame), generation)

        emitter = self._emitter
        self._worker = ScanWorker(
            self._camera_factory(),
            on_result=lambda text: emitter.emit("_result_ready", text, generation),
            on_frame=on_frame,
            on_error=lambda key, detail: emitter.emit("_error_ready", key, detail, generation),
            decode_every=self._decode_every,
        )
        self._worker.start()

    def _stop_worker(self) -> None:
        worker = self.__dict__.get("_worker")
        if worker is not None:
            worker.stop()

    def stop(self) -> None:
        """Stop the worker and wait for its thread; late signals are then dropped."""
        self._generation += 1
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    @Slot(QImage, int)
    def _deliver_frame(self, image: QImage, generation: int) -> None:
        self._frame_waiting.clear()
        if generation == self._generation and self._worker is not None and not self._worker.done:
            self.frame.emit(image)

    @Slot(str, int)
    def _deliver_result(self, text: str, generation: int) -> None:
        if generation != self._generation:
            return
        self.stop()
        self.scanned.emit(self._interpret(text))

    @Slot(str, str, int)
    def _deliver_error(self, key: str, detail: str, generation: int) -> None:
        if generation != self._generation:
            return
        self.stop()
        self.failed.emit(key, detail)


def bridge_factory(
    camera_factory: Callable[[], Camera], decode_every: int = 2
) -> Callable[[QObject | None], CameraBridge]:
    """What screens expect in `app.camera`: parent -> a new bridge."""

    def make(parent: QObject | None = None) -> CameraBridge:
        return CameraBridge(camera_factory, parent, decode_every=decode_every)

    return make
