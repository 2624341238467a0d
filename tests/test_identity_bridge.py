"""The Qt camera bridge: frames, results and failures arrive on the UI thread."""

from __future__ import annotations

import threading

import numpy as np
from identity_helpers import SAMPLE_PAYLOAD
from PySide6.QtGui import QImage

from kiosk.hardware.camera import OpenCvCamera, SimulatedCamera
from kiosk.paths import resource
from kiosk.qt.camera_bridge import CameraBridge, frame_to_qimage

SAMPLE = resource("samples", "cccd_sample.png")


def test_frame_to_qimage_copies_the_pixels(qapp):
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[..., 2] = 255  # BGR red
    image = frame_to_qimage(frame)
    frame[:] = 0  # the camera reusing its buffer must not change the shown image
    assert (image.width(), image.height()) == (6, 4)
    assert image.pixelColor(2, 2).red() == 255 and image.pixelColor(2, 2).blue() == 0
    gray = frame_to_qimage(np.full((3, 5), 77, np.uint8))
    assert gray.format() == QImage.Format.Format_Grayscale8
    assert gray.pixelColor(1, 1).red() == 77


def test_scan_on_the_ui_thread(qtbot):
    bridge = CameraBridge(lambda: SimulatedCamera(SAMPLE, fps=30))
    ui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def on_scanned(result):
        seen["scanned_thread"] = threading.get_ident()

    bridge.scanned.connect(on_scanned)
    with qtbot.waitSignal(bridge.scanned, timeout=10000) as blocker:
        bridge.start()
    result = blocker.args[0]
    assert result.kind == "cccd"
    assert result.raw == SAMPLE_PAYLOAD
    assert result.citizen.full_name == "Nguyễn Thị Hồng Nhung"
    assert seen["scanned_thread"] == ui_thread
    assert not bridge.active  # the scan stopped itself after the result


def test_preview_frames_arrive_on_the_ui_thread(qtbot):
    # A desk with no card: the scan goes on, so the preview keeps getting frames (with a
    # card, a busy machine may finish the scan before the first frame is painted, and
    # frames after the result are dropped on purpose).
    desk_frame = resource("samples", "camera", "frame_00.jpg")
    bridge = CameraBridge(lambda: SimulatedCamera(desk_frame, fps=30))
    ui_thread = threading.get_ident()
    slot_threads: list[int] = []
    bridge.frame.connect(lambda _image: slot_threads.append(threading.get_ident()))
    with qtbot.waitSignal(bridge.frame, timeout=10000) as blocker:
        bridge.start()
    image = blocker.args[0]
    bridge.stop()
    assert isinstance(image, QImage) and image.width() > 0
    assert slot_threads and set(slot_threads) == {ui_thread}


def test_no_camera_fails_with_key_and_detail(qtbot):
    bridge = CameraBridge(lambda: OpenCvCamera(8))
    with qtbot.waitSignal(bridge.failed, timeout=5000) as blocker:
        bridge.start()
    key, detail = blocker.args
    assert key == "scan.no_camera"
    assert "/dev/video8" in detail
    assert not bridge.active


def test_stop_drops_late_signals(qtbot):
    bridge = CameraBridge(lambda: SimulatedCamera(SAMPLE, fps=60), decode_every=1000)
    frames: list[QImage] = []
    bridge.frame.connect(frames.append)
    with qtbot.waitSignal(bridge.frame, timeout=5000):
        bridge.start()
    bridge.stop()
    count = len(frames)
    qtbot.wait(200)  # queued frames from before stop() are delivered now, and dropped
    assert len(frames) == count
    assert not bridge.active


def test_bridge_factory_makes_a_bridge_per_screen(qtbot):
    from PySide6.QtCore import QObject

    from kiosk.qt.camera_bridge import bridge_factory

    parent = QObject()
    make = bridge_factory(lambda: SimulatedCamera(SAMPLE, fps=30))
    first, second = make(parent), make(parent)
    assert first is not second and first.parent() is parent
    with qtbot.waitSignal(first.scanned, timeout=10000) as blocker:
        first.start()
    assert blocker.args[0].kind == "cccd"
    assert not second.active
