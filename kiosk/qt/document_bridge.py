"""Document photos on the UI thread: a worker reads the camera, outlines the page on every
frame and, when asked, processes one frame into a flattened page (kiosk.services.docscan).

Signals (all on the UI thread):
- `frame(QImage)`: the latest frame, copied;
- `tracked(object)`: (TrackState, frame width, frame height) for the page outline;
- `captured(object)`: the DocResult of the frame taken after `capture()`;
- `failed(str, str)`: a translation key for the citizen and a detail for the clerk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from kiosk.hardware.camera import Camera, CameraError
from kiosk.qt.camera_bridge import frame_to_qimage
from kiosk.qt.guard import ThreadEmitter
from kiosk.services.docscan import LivePageTracker, process

log = logging.getLogger(__name__)


class DocumentBridge(QObject):
    frame = Signal(QImage)
    tracked = Signal(object)
    captured = Signal(object)
    failed = Signal(str, str)

    _frame = Signal(QImage, object, int)
    _captured = Signal(object, int)
    _failed = Signal(str, str, int)

    def __init__(self, camera_factory: Callable[[], Camera], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = camera_factory
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._capture = threading.Event()
        self._generation = 0  # signals from an earlier start() are dropped
        stop = self._stop
        self._emitter = ThreadEmitter(self, stop.set)
        queued = Qt.ConnectionType.QueuedConnection
        self._frame.connect(self._on_frame, queued)
        self._captured.connect(self._on_captured, queued)
        self._failed.connect(self._on_failed, queued)

    def start(self) -> None:
        self.stop()
        self._generation += 1
        self._stop.clear()
        self._capture.clear()
        self._thread = threading.Thread(
            target=self._run, args=(self._generation,), name="document-camera", daemon=True
        )
        self._thread.start()

    def capture(self) -> None:
        self._capture.set()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, generation: int) -> None:
        tracker = LivePageTracker()
        try:
            camera = self._factory()
            camera.open()
        except CameraError as exc:
            self._emitter.emit("_failed", exc.key, exc.detail, generation)
            return
        try:
            while not self._stop.is_set():
                frame = camera.read()
                state = tracker.update(frame)
                h, w = frame.shape[:2]
                emit = self._emitter.emit
                emit("_frame", frame_to_qimage(frame), (state, w, h), generation)
                if self._capture.is_set():
                    self._capture.clear()
                    emit("_captured", process(frame), generation)
        except CameraError as exc:
            self._emitter.emit("_failed", exc.key, exc.detail, generation)
        except Exception as exc:  # a processing fault must not kill the kiosk
            log.exception("document camera worker failed")
            self._emitter.emit("_failed", "scan.camera_failed", type(exc).__name__, generation)
        finally:
            camera.close()

    def _on_frame(self, image: QImage, tracked: object, generation: int) -> None:
        if generation == self._generation and not self._stop.is_set():
            self.frame.emit(image)
            self.tracked.emit(tracked)

    def _on_captured(self, result: object, generation: int) -> None:
        if generation == self._generation:
            self.captured.emit(result)

    def _on_failed(self, key: str, detail: str, generation: int) -> None:
        if generation == self._generation:
            self.failed.emit(key, detail)


def document_bridge_factory(
    camera_factory: Callable[[], Camera],
) -> Callable[[QObject | None], DocumentBridge]:
    def make(parent: QObject | None = None) -> DocumentBridge:
        return DocumentBridge(camera_factory, parent)

    return make
