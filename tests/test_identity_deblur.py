"""Deblurring: a code smeared by a moving hand or out of focus is restored and read."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from identity_helpers import (
    SAMPLE_PAYLOAD,
    card_scene,
    dim,
    gaussian_blur,
    jpeg,
    motion_blur,
    noise,
)

from kiosk.hardware.decoders import (
    Deblurrer,
    QrPipeline,
    _code_window,
    _enlarge,
    _motion_candidates,
    _noise_sigma,
    _threshold,
    decode_zxing,
)


def _window(gray: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = _code_window(gray)
    return gray[y0:y1, x0:x1]


def _motion_variants(gray: np.ndarray) -> list[np.ndarray]:
    """The deconvolutions for motion blur, in the order tried (the measured blurs first)."""
    return [image for name, image, _ in Deblurrer().variants(gray) if name == "deblur-motion"]


def _blurred_card(
    seed: int, module: float, length: int, angle: float, grain: float = 2.0, tilt: float = 8
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, module, tilt)
    return noise(motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), length, angle), grain, rng)


@pytest.mark.parametrize("angle", [0, 30, 100])
def test_motion_blur_beyond_the_sharpening_passes_is_read_by_deconvolution(angle):
    rng = np.random.default_rng(2)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 4.5, 3)
    gray = noise(motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 13, angle), 2, rng)
    assert decode_zxing(gray) == []
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [d.text for d in found] == [SAMPLE_PAYLOAD]
    assert found[0].stage == "deblur-motion"


def test_no_deblurred_text_from_a_frame_without_a_code():
    rng = np.random.default_rng(4)
    frame = gaussian_blur(rng.integers(0, 256, (720, 1280), dtype=np.uint8), 1.5)
    assert QrPipeline(budget_ms=1000.0).decode(frame) == []


@pytest.mark.parametrize(("length", "angle"), [(6, 20), (9, 58), (12, 151), (15, 116), (14, 95)])
def test_the_cepstrum_of_the_code_window_gives_the_blur_length_and_direction(length, angle):
    gray = _blurred_card(7, 4.0, length, angle)
    x0, y0, x1, y1 = _code_window(gray)
    # The blur of the frame is the first candidate or, where the code's own module
    # period competes, the second.
    best = min(
        _motion_candidates(gray[y0:y1, x0:x1])[:2],
        key=lambda c: abs(c[0] - length) + abs((np.degrees(-c[1]) - angle + 90) % 180 - 90),
    )
    found_length, found_angle = best[0], np.degrees(-best[1]) % 180  # image y points down
    assert abs(found_length - length) <= 0.6
    assert abs((found_angle - angle + 90) % 180 - 90) <= 4


def test_a_long_oblique_blur_is_read_with_the_length_and_angle_the_cepstrum_measures():
    # 13 px at 65 degrees: between the lengths and off the angles that a sweep along
    # the edges' direction tries, and no such sweep reads it.
    gray = _blurred_card(2, 4.2, 13, 65, tilt=-5)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [d.text for d in found] == [SAMPLE_PAYLOAD]
    assert found[0].stage.startswith("deblur-motion")
    # The first deconvolution tried, with the measured blur, is the one that reads.
    image = _motion_variants(gray)[0]
    texts = {d.text for _, read, _ in QrPipeline.DEBLURRED_READS for d in decode_zxing(read(image))}
    assert texts == {SAMPLE_PAYLOAD}


def test_small_deconvolved_modules_are_read_enlarged():
    gray = _blurred_card(3, 3.6, 12, 151, tilt=6)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-enlarged")]
    # The corners are mapped back from the enlarged window to the frame.
    xs, ys = zip(*found[0].corners, strict=True)
    assert min(xs) >= 0 and min(ys) >= 0 and max(xs) < 1280 and max(ys) < 720
    assert 150 < max(xs) - min(xs) < 300
    # The first deconvolved window (the measured blur) is read only enlarged.
    image = _motion_variants(gray)[0]
    assert decode_zxing(image, try_downscale=False) == []
    assert decode_zxing(_threshold(image, 21), try_downscale=False) == []
    assert [d.text for d in decode_zxing(_enlarge(image), try_downscale=False)] == [SAMPLE_PAYLOAD]


def test_a_dim_grainy_blurred_frame_is_restored_with_its_noise_taken_into_account():
    rng = np.random.default_rng(7)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 4.0, 5)
    gray = motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 8, 43)
    gray = noise(dim(gray, 0.25), 10, rng)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-enlarged")]


def test_the_noise_of_a_window_is_measured_through_its_edges():
    rng = np.random.default_rng(1)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 4.0, 5)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    for sigma in (5, 10, 20):
        measured = _noise_sigma(noise(motion_blur(gray, 9, 30), sigma, rng))
        assert sigma * 0.8 <= measured <= sigma * 1.2


def test_a_deconvolved_code_with_ringing_is_read_through_a_local_threshold():
    gray = _blurred_card(1, 3.8, 15, 30)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-threshold")]
    # No deconvolved variant is read as it is: the threshold is what reads it.
    for _, image, _ in Deblurrer().variants(gray):
        assert decode_zxing(image, try_downscale=False) == []


@pytest.mark.parametrize(("symbology", "scale"), [("Code128", 4), ("EAN13", 3), ("EAN13", 5)])
def test_a_1d_barcode_gives_no_text_and_no_error(symbology, scale):
    # Bars repeat along one axis, as a motion blur's zeros do: the cepstrum's deepest
    # points may lie on the edge of the range searched.
    import zxingcpp

    bars = zxingcpp.create_barcode("893604300001", getattr(zxingcpp.BarcodeFormat, symbology))
    image = np.asarray(bars.to_image(scale=scale))
    frame = np.full((720, 1280), 120, np.uint8)
    h, w = image.shape
    frame[300 : 300 + h, 200 : 200 + w] = image
    frame = noise(frame, 4, np.random.default_rng(scale))
    assert QrPipeline(budget_ms=1000.0).decode(frame) == []
    for width in (30, 60, 440):  # down to windows smaller than the longest blur
        assert isinstance(_motion_candidates(frame[300 : 300 + width, 200 : 200 + width]), list)


def test_a_dim_blurred_jpeg_is_restored_with_a_stronger_regularisation():
    # JPEG's blocks escape the grain measure, and dim light magnifies them once the
    # contrast is stretched: the measured blur reads only regularised more strongly.
    rng = np.random.default_rng(5)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 5.3, rng.uniform(-10, 10))
    gray = motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 9, 94)
    gray = cv2.cvtColor(jpeg(noise(dim(gray, 0.2), 3, rng), 22), cv2.COLOR_BGR2GRAY)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-enlarged")]
    variants = _motion_variants(gray)
    reads = QrPipeline.DEBLURRED_READS

    def read(image):
        return {d.text for _, prepare, _ in reads for d in decode_zxing(prepare(image))}

    candidates = len(_motion_candidates(_window(gray)))
    assert all(read(image) == set() for image in variants[:candidates])


def test_dim_grainy_small_modules_are_read_from_the_stretched_window_enlarged():
    # No blur at all: the code only needs its contrast back and a smoothed, enlarged
    # read. Deconvolving it (even for a slight defocus) adds grain and reads nothing.
    rng = np.random.default_rng(7)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 2.9, rng.uniform(-10, 10))
    gray = noise(dim(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 0.17), 17, rng)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "window-enlarged")]
    name, window, _ = next(Deblurrer().variants(gray))
    assert name == "window"
    assert np.percentile(window, 99) - np.percentile(window, 1) > 200  # stretched


def test_a_dim_blurred_jpeg_that_only_heavy_regularisation_reads(monkeypatch):
    # The code window of a benchmark frame (tilted card, motion 6 px at 52 degrees,
    # 26 % light, JPEG quality 33; a fictitious citizen): the measured blur is the
    # third candidate and reads only regularised as for strong noise. (The locator,
    # run on each deblurred image, reads it earlier: turned off to test the rest.)
    path = Path(__file__).parent / "fixtures" / "qr" / "dim_jpeg_motion_6px.png"
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    monkeypatch.setattr(QrPipeline, "LOCATE_DEBLURRED", False)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    payload = (
        "049095560512|977936931|Lê Ẩn Tuấn Mậu|10071995|Nam|"
        "Số 45, Nguyễn Huệ, Xã Tân Thạnh, Thị xã Sơn Tây, Tỉnh Quảng Nam|05122021"
    )
    assert [(d.text, d.stage) for d in found] == [(payload, "deblur-motion-threshold")]
