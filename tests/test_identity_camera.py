"""Cameras and the scan worker, with the simulated camera and real decoding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from identity_helpers import SAMPLE_PAYLOAD, qr_gray

from kiosk.hardware.camera import (
    CameraError,
    OpenCvCamera,
    ScanWorker,
    SimulatedCamera,
    camera_from_spec,
)
from kiosk.paths import resource

SAMPLE = resource("samples", "cccd_sample.png")


def frame_with(text: str | None, size=(360, 640)) -> np.ndarray:
    frame = np.full((*size, 3), 230, np.uint8)
    if text:
        qr = qr_gray(text, scale=3)
        frame[20 : 20 + qr.shape[0], 20 : 20 + qr.shape[1]] = qr[:, :, None]
    return frame


def write(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i:02d}.png"), f)
    return folder


def wait_for(condition, timeout: float = 5.0) -> bool:
    """Poll instead of sleeping a fixed time: CI machines are slow and busy."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Collector:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.results: list[str] = []
        self.errors: list[tuple[str, str]] = []
        self.finished = threading.Event()

    def on_frame(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def on_result(self, text: str) -> None:
        self.results.append(text)
        self.finished.set()

    def on_error(self, key: str, detail: str) -> None:
        self.errors.append((key, detail))
        self.finished.set()

    def worker(self, camera, **kw) -> ScanWorker:
        return ScanWorker(
            camera, on_result=self.on_result, on_frame=self.on_frame, on_error=self.on_error, **kw
        )


# ---------------------------------------------------------------- cameras


def test_no_camera_names_the_device():
    camera = OpenCvCamera(7)
    with pytest.raises(CameraError) as info:
        camera.open()
    assert info.value.key == "scan.no_camera"
    assert "7" in info.value.detail and "/dev/video7" in info.value.detail


def test_no_camera_reported_by_the_worker():
    got = Collector()
    worker = got.worker(OpenCvCamera(9))
    worker.start()
    assert got.finished.wait(5)
    assert got.errors and got.errors[0][0] == "scan.no_camera"
    assert "device 9" in got.errors[0][1]
    assert worker.stop()
    assert got.results == [] and got.frames == []


def test_camera_from_spec():
    assert isinstance(camera_from_spec("0"), OpenCvCamera)
    assert isinstance(camera_from_spec(2), OpenCvCamera)
    assert isinstance(camera_from_spec(str(SAMPLE)), SimulatedCamera)


def test_simulated_image_loops_at_the_set_fps():
    camera = SimulatedCamera(SAMPLE, fps=50)
    camera.open()
    started = time.monotonic()
    frames = [camera.read() for _ in range(11)]
    elapsed = time.monotonic() - started
    camera.close()
    assert all(f.shape == (720, 1280, 3) for f in frames)
    assert elapsed >= 0.19  # 10 intervals of 20 ms
    frames[0][:] = 0  # a consumer scribbling on a frame does not change the next one
    assert frames[1].any()


def test_simulated_folder_plays_in_order_and_loops(tmp_path):
    folder = write(tmp_path / "cam", [np.full((20, 30, 3), v, np.uint8) for v in (10, 20, 30)])
    (folder / "notes.txt").write_text("not an image")
    camera = SimulatedCamera(folder, fps=500)
    camera.open()
    values = [int(camera.read()[0, 0, 0]) for _ in range(7)]
    camera.close()
    assert values == [10, 20, 30, 10, 20, 30, 10]


def test_simulated_folder_without_loop_ends(tmp_path):
    folder = write(tmp_path / "cam", [np.zeros((20, 30, 3), np.uint8)])
    camera = SimulatedCamera(folder, fps=500, loop=False)
    camera.open()
    camera.read()
    with pytest.raises(CameraError) as info:
        camera.read()
    assert info.value.key == "scan.camera_failed"


def test_simulated_video_loops(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for v in (0, 120, 240):
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    camera = SimulatedCamera(path, fps=500)
    camera.open()
    values = [int(camera.read().mean()) for _ in range(5)]
    camera.close()
    assert len(values) == 5
    assert values[0] < 30 and values[2] > 200 and values[3] < 30  # looped back


@pytest.mark.parametrize("name", ["missing.png", "missing_folder", "missing.mp4"])
def test_simulated_missing_source(tmp_path, name):
    if name == "missing_folder":
        (tmp_path / name).mkdir()
    with pytest.raises(CameraError) as info:
        SimulatedCamera(tmp_path / name).open()
    assert info.value.key == "scan.no_camera"
    assert name in info.value.detail


# ---------------------------------------------------------------- the worker


def test_worker_reads_the_sample_card():
    got = Collector()
    worker = got.worker(SimulatedCamera(SAMPLE, fps=30))
    worker.start()
    assert got.finished.wait(10), "no result from the sample card"
    assert worker.stop()
    assert got.results == [SAMPLE_PAYLOAD]
    assert got.frames and got.frames[0].shape == (720, 1280, 3)


def test_worker_reads_the_sample_camera_folder():
    got = Collector()
    worker = got.worker(SimulatedCamera(resource("samples", "camera"), fps=30))
    worker.start()
    assert got.finished.wait(10)
    assert worker.stop()
    assert got.results == [SAMPLE_PAYLOAD]


def test_one_frame_is_not_enough(tmp_path):
    # One frame with the code among empty ones: seen once per loop, and two loops give
    # two sightings, so the result comes only after the second loop.
    folder = write(tmp_path / "cam", [frame_with(None)] * 3 + [frame_with("ONCE")])
    seen: list[int] = []
    got = Collector()
    worker = got.worker(SimulatedCamera(folder, fps=200), decode_every=1)
    original = worker.decoder

    def counting(gray):
        found = original(gray)
        if found:
            seen.append(worker.frames)
        return found

    worker.decoder = counting
    worker.start()
    assert got.finished.wait(10)
    worker.stop()
    assert got.results == ["ONCE"]
    assert seen == [4, 8]  # accepted on the second sighting, not the first


def test_two_codes_in_view_are_never_accepted(tmp_path):
    got = Collector()
    worker = got.worker(
        SimulatedCamera(SAMPLE, fps=200), decode_every=1, decoder=lambda gray: ["A", "B"]
    )
    worker.start()
    assert wait_for(lambda: worker.decoded_frames >= 5)
    assert worker.stop()
    assert got.results == []


def test_counts_are_per_worker():
    # Each worker sees "X" on one frame only. Were the counts shared between workers
    # (a class attribute), the second worker's sighting would complete the pair.
    def once():
        calls = iter([["X"]])
        return lambda gray: next(calls, [])

    results: list[str] = []
    for _ in range(2):
        worker = ScanWorker(
            SimulatedCamera(SAMPLE, fps=200),
            on_result=results.append,
            decode_every=1,
            decoder=once(),
        )
        worker.start()
        assert wait_for(lambda w=worker: w.decoded_frames >= 3)
        assert worker.stop()
    assert results == []


def test_throwing_decoder_does_not_stop_the_scan():
    calls = {"n": 0}

    def flaky(gray):
        calls["n"] += 1
        if calls["n"] <= 3:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad byte")  # as cv2 does
        if calls["n"] == 4:
            raise RuntimeError("decoder crashed")
        return ["OK"]

    got = Collector()
    worker = got.worker(SimulatedCamera(SAMPLE, fps=200), decode_every=1, decoder=flaky)
    worker.start()
    assert got.finished.wait(5)
    assert worker.stop()
    assert got.results == ["OK"]
    assert worker.decoder_errors == 4


def test_decodes_every_nth_frame_in_grayscale():
    shapes: list[tuple[int, ...]] = []
    got = Collector()
    worker = got.worker(
        SimulatedCamera(SAMPLE, fps=200),
        decode_every=3,
        decoder=lambda gray: shapes.append(gray.shape) or [],
    )
    worker.start()
    assert wait_for(lambda: len(shapes) >= 3)
    assert worker.stop()
    assert shapes and all(s == (720, 1280) for s in shapes)
    assert abs(len(shapes) - worker.frames // 3) <= 1
    assert len(got.frames) == worker.frames  # every frame handed on


def test_frames_handed_on_are_copies():
    got = Collector()
    camera = SimulatedCamera(SAMPLE, fps=100)
    worker = got.worker(camera, decoder=lambda gray: [])
    worker.start()
    assert wait_for(lambda: len(got.frames) >= 2)
    worker.stop()
    got.frames[0][:] = 0
    assert got.frames[1].any()


def test_stop_joins_the_thread_and_closes_the_camera():
    closed = threading.Event()

    class Watched(SimulatedCamera):
        def close(self) -> None:
            super().close()
            closed.set()

    got = Collector()
    worker = got.worker(Watched(SAMPLE, fps=30), decoder=lambda gray: [])
    worker.start()
    assert wait_for(lambda: len(got.frames) >= 1)
    assert worker.running
    started = time.monotonic()
    assert worker.stop(timeout=2)
    assert time.monotonic() - started < 1.0
    assert not worker.running and closed.is_set()
    assert worker.done
    count = len(got.frames)
    time.sleep(0.15)
    assert len(got.frames) == count  # nothing after stop


def test_late_frames_after_the_result_are_dropped():
    got = Collector()
    camera = SimulatedCamera(SAMPLE, fps=200)
    worker = got.worker(camera, decode_every=1, decoder=lambda gray: ["T"])
    worker.start()
    assert got.finished.wait(5)
    frames_at_result = worker.frames
    time.sleep(0.1)
    worker.stop()
    assert got.results == ["T"]  # reported once
    assert worker.frames == frames_at_result  # the loop ended with the result


def test_failing_callback_does_not_kill_the_worker():
    results: list[str] = []

    def broken_frame(frame):
        raise ValueError("UI went away")

    worker = ScanWorker(
        SimulatedCamera(SAMPLE, fps=200),
        on_result=results.append,
        on_frame=broken_frame,
        decode_every=1,
        decoder=lambda gray: ["R"],
    )
    worker.start()
    deadline = time.monotonic() + 5
    while not results and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert results == ["R"]


def test_camera_failure_mid_scan_is_reported():
    class Dying(SimulatedCamera):
        reads = 0

        def read(self):
            self.reads += 1
            if self.reads > 3:
                raise CameraError("scan.camera_failed", f"{self.name} unplugged")
            return super().read()

    got = Collector()
    worker = got.worker(Dying(SAMPLE, fps=200), decoder=lambda gray: [])
    worker.start()
    assert got.finished.wait(5)
    assert worker.stop()
    assert got.errors[0][0] == "scan.camera_failed"
    assert "cccd_sample.png" in got.errors[0][1]


def test_core_modules_do_not_import_qt():
    import subprocess
    import sys

    code = (
        "import sys; import kiosk.hardware.camera, kiosk.hardware.decoders, "
        "kiosk.services.cccd, kiosk.commands.scan; "
        "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)"
    )
    root = Path(__file__).resolve().parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0
