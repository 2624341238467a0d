"""Cameras (a real one through OpenCV, a simulated one from files) and the scan worker.

Every camera has the same small interface: `open()`, `read() -> BGR frame`, `close()`,
and raises `CameraError` with a translation key for the citizen and a detail naming
the device for the clerk. `ScanWorker` runs a camera in a plain thread, hands every
frame to a callback, decodes every Nth frame and reports a QR text once two decoded
frames agree. No Qt here: kiosk/qt/camera_bridge.py carries the callbacks to the UI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # OpenCV and numpy load when a camera opens, not with the kiosk
    import cv2
    import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


class CameraError(Exception):
    """`key` is shown to the citizen (through tr), `detail` names the device for the clerk."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


class Camera(Protocol):
    name: str

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


class OpenCvCamera:
    """A V4L2/UVC camera by device index, asking for the given resolution."""

    def __init__(
        self, index: int = 0, width: int = 1280, height: int = 720, max_failed_reads: int = 15
    ) -> None:
        self.index = index
        self.width = width
        self.height = height
        self.max_failed_reads = max_failed_reads
        self.name = f"camera device {index} (/dev/video{index})"
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        import cv2

        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            raise CameraError(
                "scan.no_camera", f"{self.name} could not be opened: no camera attached or in use"
            )
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture
        log.info(
            "opened %s at %dx%d",
            self.name,
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def read(self) -> np.ndarray:
        if self._capture is None:
            raise CameraError("scan.camera_failed", f"{self.name} was read before it was opened")
        # A USB camera drops the odd frame; only a run of failures means it is gone.
        for _ in range(self.max_failed_reads):
            ok, frame = self._capture.read()
            if ok and frame is not None:
                return frame
        raise CameraError(
            "scan.camera_failed",
            f"{self.name} stopped delivering frames ({self.max_failed_reads} failed reads)",
        )

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class SimulatedCamera:
    """Plays an image, a folder of images (sorted by name) or a video file, looping,
    at `fps` frames per second. For demos, tests and kiosks without a camera."""

    def __init__(self, source: str | Path, fps: float = 15.0, loop: bool = True) -> None:
        self.source = Path(source)
        self.fps = fps
        self.loop = loop
        self.name = f"simulated camera ({self.source})"
        self._images: list[np.ndarray] = []
        self._video: cv2.VideoCapture | None = None
        self._index = 0
        self._next_due = 0.0

    def open(self) -> None:
        import cv2

        if self.source.is_dir():
            files = sorted(p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            self._images = [img for img in (_read_image(p) for p in files) if img is not None]
            if not self._images:
                raise CameraError(
                    "scan.no_camera", f"{self.name}: no readable images in the folder"
                )
        elif self.source.suffix.lower() in IMAGE_SUFFIXES:
            image = _read_image(self.source)
            if image is None:
                raise CameraError("scan.no_camera", f"{self.name}: the image cannot be read")
            self._images = [image]
        else:
            video = cv2.VideoCapture(str(self.source))
            if not video.isOpened():
                video.release()
                raise CameraError("scan.no_camera", f"{self.name}: the video cannot be opened")
            self._video = video
        self._index = 0
        self._next_due = time.monotonic()

    def read(self) -> np.ndarray:
        # Pace like a real camera: a consumer that reads faster waits for the next frame.
        delay = self._next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic())
        if self._video is not None:
            return self._read_video()
        if not self._images:
            raise CameraError("scan.camera_failed", f"{self.name} was read before it was opened")
        if self._index >= len(self._images):
            if not self.loop:
                raise CameraError("scan.camera_failed", f"{self.name}: end of the images")
            self._index = 0
        frame = self._images[self._index]
        self._index += 1
        return frame.copy()

    def _read_video(self) -> np.ndarray:
        import cv2

        assert self._video is not None
        ok, frame = self._video.read()
        if not ok and self.loop:
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._video.read()
        if not ok or frame is None:
            raise CameraError("scan.camera_failed", f"{self.name}: no more frames in the video")
        return frame

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
        self._images = []


def _read_image(path: Path) -> np.ndarray | None:
    import cv2
    import numpy as np

    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # also works for non-ASCII paths
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def camera_from_spec(
    spec: str | int, width: int = 1280, height: int = 720, fps: float = 15.0
) -> Camera:
    """'0' or 0 -> the real camera with that index; anything else is a file or folder
    for the simulated camera."""
    text = str(spec).strip()
    if text.isdigit():
        return OpenCvCamera(int(text), width, height)
    return SimulatedCamera(text, fps=fps)


# ---------------------------------------------------------------- the scan worker

Decoder = Callable[["np.ndarray"], Sequence[object]]


def _text_of(item: object) -> str:
    return item if isinstance(item, str) else str(item.text)  # type: ignore[attr-defined]


class ScanWorker:
    """Reads frames in a thread until one QR text is confirmed, or `stop()` is called.

    - every frame goes to `on_frame(copy)` (the camera's own buffer may be reused);
    - every `decode_every`-th frame is decoded (grayscale) by `decoder`, which returns
      the codes in view (str or objects with `.text`); by default the live decoder
      (kiosk/hardware/fusion.py), which fuses the card's last frames under glare;
    - a text is accepted when `confirmations` decoded frames showed it as the only code
      in view; counts belong to this worker only;
    - a decoder exception is logged and counted, and the scan goes on;
    - on acceptance `done` is set, later frames are dropped and `on_result(text)` is
      called once; a camera failure calls `on_error(key, detail)`.
    Callbacks run on the worker thread.
    """

    def __init__(
        self,
        camera: Camera,
        on_result: Callable[[str], None],
        on_frame: Callable[[np.ndarray], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        decoder: Decoder | None = None,
        decode_every: int = 2,
        confirmations: int = 2,
    ) -> None:
        if decoder is None:
            # Single frames first, then the fusion of this card's last frames (glare).
            from kiosk.hardware.fusion import LiveQrDecoder

            decoder = LiveQrDecoder().decode
        self.camera = camera
        self.on_result = on_result
        self.on_frame = on_frame
        self.on_error = on_error
        self.decoder = decoder
        self.decode_every = max(1, decode_every)
        self.confirmations = max(1, confirmations)
        self.done = False
        self.frames = 0
        self.decoded_frames = 0
        self.decoder_errors = 0
        self._counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scan-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> bool:
        """Ask the thread to finish and wait for it; True when it has ended."""
        self._stop.set()
        self.done = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.camera.open()
        except CameraError as exc:
            self._report_error(exc)
            return
        try:
            while not self._stop.is_set() and not self.done:
                frame = self.camera.read()
                if self._stop.is_set() or self.done:
                    break  # a frame that arrives after the end is dropped
                self.frames += 1
                if self.on_frame is not None:
                    self._call(self.on_frame, frame.copy())
                if self.frames % self.decode_every == 0:
                    self._decode(frame)
        except CameraError as exc:
            if not self._stop.is_set():
                self._report_error(exc)
        finally:
            self.camera.close()

    def _decode(self, frame: np.ndarray) -> None:
        import cv2

        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        try:
            texts = {_text_of(item) for item in self.decoder(gray)}
        except Exception as exc:  # one bad frame must never stop the scan
            self.decoder_errors += 1
            log.warning("decoder failed on a frame: %s", type(exc).__name__)
            return
        self.decoded_frames += 1
        if len(texts) != 1:
            return  # nothing, or several codes in view: not a clear choice
        text = texts.pop()
        self._counts[text] = self._counts.get(text, 0) + 1
        if self._counts[text] >= self.confirmations and not self.done:
            self.done = True
            self._call(self.on_result, text)

    def _report_error(self, exc: CameraError) -> None:
        log.warning("camera error: %s", exc.detail)
        if self.on_error is not None:
            self._call(self.on_error, exc.key, exc.detail)

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception as exc:  # a failing consumer must not kill the camera thread
            # The type only: a message could quote the scanned payload.
            log.error(
                "scan callback %s failed: %s",
                getattr(callback, "__name__", "?"),
                type(exc).__name__,
            )


# ---------------------------------------------------------------- from the settings


class FallbackCamera:
    """The real camera when one answers, else the simulated one (the demo default).

    The clerk finds which device failed in the log; the citizen sees a working scan.
    """

    def __init__(self, real: Camera, simulated: Camera) -> None:
        self.real, self.simulated = real, simulated
        self.active: Camera | None = None

    @property
    def name(self) -> str:
        return getattr(self.active or self.real, "name", "camera")

    def open(self) -> None:
        try:
            self.real.open()
            self.active = self.real
        except CameraError as exc:
            log.warning("%s; using the simulated camera", exc.detail)
            self.simulated.open()
            self.active = self.simulated

    def read(self) -> np.ndarray:
        if self.active is None:
            raise CameraError("scan.camera_failed", "camera read before it was opened")
        return self.active.read()

    def close(self) -> None:
        if self.active is not None:
            self.active.close()
            self.active = None


def camera_factory(
    kind: str, index: int, width: int, height: int, sim_source: str | Path
) -> Callable[[], Camera] | None:
    """What the `camera` setting asks for: auto, device, sim or none (None)."""
    if kind == "none":
        return None
    if kind == "device":
        return lambda: OpenCvCamera(index, width, height)
    if kind == "sim":
        return lambda: SimulatedCamera(sim_source)
    return lambda: FallbackCamera(OpenCvCamera(index, width, height), SimulatedCamera(sim_source))
