"""Glare over a finder pattern: the code is located from the other two finder patterns and
its alignment patterns, and read; a frame that only looks like a code gives no text."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from identity_helpers import SAMPLE_PAYLOAD, card_scene, dim, noise, qr_modules

from kiosk.hardware import qr_locator
from kiosk.hardware.decoders import QrPipeline, decode_zbar, decode_zxing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_qr import glare_spot, motion

FINDERS = {"top-left": (3.5, 3.5), "top-right": (-3.5, 3.5), "bottom-left": (3.5, -3.5)}


def _scene(seed: int, tilt: float = 0.0, payload: str = SAMPLE_PAYLOAD):
    rng = np.random.default_rng(seed)
    frame, quad = card_scene(payload, rng, 4.5, 12, tilt)
    size = qr_modules(payload, border=0)
    m = size + 4  # the scene's corners include 2 modules of quiet zone
    to_frame = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [m, 0], [m, m], [0, m]]), np.float32(quad)
    )
    return rng, frame, quad, size, to_frame


def _glare_on(finder: str, seed: int = 1, tilt: float = 0.0):
    """A card whose glare spot washes out one finder pattern (and little else)."""
    rng, frame, quad, size, to_frame = _scene(seed, tilt)
    x, y = FINDERS[finder]
    centre = np.float32([[[2 + (x if x > 0 else size + x), 2 + (y if y > 0 else size + y)]]])
    cx, cy = cv2.perspectiveTransform(centre, to_frame)[0, 0]
    module = float(np.linalg.norm(quad[1] - quad[0])) / (size + 4)
    frame, share = glare_spot(frame, quad, (cx, cy), (5 * module, 5 * module), 420)
    gray = noise(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 3, rng)
    inner = cv2.perspectiveTransform(
        np.float32([[[2, 2], [size + 2, 2], [size + 2, size + 2], [2, size + 2]]]), to_frame
    )[0]
    return gray, share, inner, module


@pytest.mark.parametrize("finder", FINDERS)
def test_a_code_with_one_finder_under_glare_is_located_and_read(finder, monkeypatch):
    gray, share, _, _ = _glare_on(finder)
    assert share < 0.08  # a little of the code: error correction alone would do
    assert decode_zxing(gray) == []
    assert decode_zbar(gray) == []
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "located")]
    # Nothing else in the pipeline reads it.
    monkeypatch.setattr(QrPipeline, "_located", lambda *args, **kwargs: [])
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def _dim_noisy_shaken(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 3.0, 10, 0.2)
    frame, _, _ = motion(frame, rng, (3, 5))
    return cv2.cvtColor(noise(dim(frame, 0.25), 16, rng), cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize("seed", [3, 10, 24])
def test_a_dim_noisy_shaken_code_no_decoder_finds_is_located_and_read(seed):
    """No glare: a dim room, sensor noise and a little hand shake hide the finder
    patterns' edges from zxing-cpp and zbar (and from every enhancing pass), not from
    the locator, which looks for them in a median-filtered copy. It runs before the
    (slower) deblurring."""
    gray = _dim_noisy_shaken(seed)
    assert decode_zxing(gray) == [] and decode_zbar(gray) == []
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "located")]


def test_a_dim_noisy_shaken_code_only_the_locator_reads(monkeypatch):
    gray = _dim_noisy_shaken(24)
    monkeypatch.setattr(QrPipeline, "_located", lambda *args, **kwargs: [])
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def test_the_located_corners_follow_a_tilted_card_to_within_a_module():
    gray, _, inner, module = _glare_on("bottom-left", seed=4, tilt=0.35)
    located = list(qr_locator.locate(gray))
    assert located, "not located"
    best = located[0]
    assert best.version == segno.make(SAMPLE_PAYLOAD, error="m", boost_error=False).version
    assert np.abs(best.quad - inner).max() < module
    assert ("M", segno.make(SAMPLE_PAYLOAD, error="m", boost_error=False).mask) in best.formats


def test_placements_that_stray_onto_the_blank_card_rank_below_the_right_one():
    """Two finder patterns fit a symbol on either side of the line between them. The one
    over the blank card keeps contrast only at the finder patterns, whose modules agree
    with any placement; counted over all its fixed modules, it ranks below every
    placement over the code."""
    gray, _, inner, module = _glare_on("bottom-left", seed=4, tilt=0.35)
    finders = qr_locator.find_finders(gray)
    smooth = cv2.GaussianBlur(gray, (0, 0), module / 4.0).astype(np.float32)
    side = float(np.linalg.norm(inner[1] - inner[0]))
    scored = []  # (fit, support, right, over the code)
    for src, dst, version in qr_locator._hypotheses(finders[0], finders[1], gray.shape):
        quad = qr_locator._affine_quad(src, dst, 17 + 4 * version)
        pattern = qr_locator._pattern(version)
        scored.append(
            (
                qr_locator._fit(smooth, quad, pattern),
                qr_locator._support(smooth, quad, pattern),
                np.abs(quad - inner).max() < 6 * module,
                np.linalg.norm(quad.mean(0) - inner.mean(0)) < 0.25 * side,
            )
        )
    assert not max(scored)[2]  # the plain share of agreeing modules prefers a stray one
    by_support = sorted(scored, key=lambda s: -s[1])
    assert by_support[0][2]
    over_code = [s[3] for s in by_support]
    assert over_code == sorted(over_code, reverse=True)  # all over the code come first


def test_finder_patterns_are_found_and_alignment_patterns_are_not():
    _, frame, _, size, to_frame = _scene(2)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found = qr_locator.find_finders(gray)
    expected = []
    for x, y in FINDERS.values():
        point = np.float32([[[2 + (x if x > 0 else size + x), 2 + (y if y > 0 else size + y)]]])
        expected.append(cv2.perspectiveTransform(point, to_frame)[0, 0])
    module = float(np.median([f.module for f in found]))
    assert len(found) == 3
    for centre in expected:
        assert min(np.linalg.norm(f.centre - centre) for f in found) < module


def test_two_finder_patterns_without_a_code_between_them_read_nothing():
    """The fixed modules of a real symbol, its data replaced by noise: located (its
    structure fits) but never read as any text."""
    code = segno.make(SAMPLE_PAYLOAD, error="m", boost_error=False)
    grid = np.array([list(r) for r in code.matrix], np.uint8)
    pattern = qr_locator._pattern(code.version)
    rng = np.random.default_rng(7)
    scrambled = rng.integers(0, 2, grid.shape).astype(np.uint8)
    scrambled[pattern.rows, pattern.cols] = grid[pattern.rows, pattern.cols]
    scrambled[pattern.fmt_rows, pattern.fmt_cols] = grid[pattern.fmt_rows, pattern.fmt_cols]
    image = np.where(scrambled == 1, 20, 235).astype(np.uint8)
    image = cv2.resize(image, None, fx=5, fy=5, interpolation=cv2.INTER_NEAREST)
    image = cv2.copyMakeBorder(image, 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=235)
    # Glare over the top-right finder, so that only the locator can find it.
    side = image.shape[1]
    cv2.circle(image, (side - 60 - 18, 60 + 18), 30, 255, -1)
    located = list(qr_locator.locate(image))
    assert located and located[0].version == code.version
    assert QrPipeline(budget_ms=1000.0).decode(image) == []


def test_a_frame_without_any_code_locates_nothing_quickly():
    rng = np.random.default_rng(9)
    gray = rng.integers(0, 256, (720, 1280)).astype(np.uint8)
    assert list(qr_locator.locate(gray)) == []


def test_the_live_single_frame_passes_leave_the_locator_to_stills(monkeypatch):
    """The locator costs tens of milliseconds on a whole frame: a live camera's budget
    for the single-frame passes does not run it (the live decoder runs it on a window
    around the symbol, with a budget of its own: see test_identity_fusion); a still
    gets it."""
    gray, _, _, _ = _glare_on("top-right")
    calls = []
    real = qr_locator.locate
    monkeypatch.setattr(
        qr_locator, "locate", lambda g, *args, **kw: calls.append(1) or real(g, *args, **kw)
    )
    assert QrPipeline(budget_ms=25.0).decode(gray) == []
    assert calls == []
    assert [d.stage for d in QrPipeline(budget_ms=1000.0).decode(gray)] == ["located"]
    assert calls == [1]


def test_a_version_either_side_of_the_finders_estimate_is_tried():
    """In a dim frame the finder rings threshold thin: modules of 4.1 px measured as 3.8 px
    put two finders of a version 9 symbol (53 modules) at the distance of a version 10."""
    true_module, measured = 4.1, 3.8
    left, right = np.array([200.0, 300.0]), np.array([200.0 + 46 * true_module, 300.0])

    def finder(centre: np.ndarray) -> qr_locator.Finder:
        half = 3.5 * measured
        corners = centre + np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
        return qr_locator.Finder(centre, corners, measured)

    versions = {v for _, _, v in qr_locator._hypotheses(finder(left), finder(right), (720, 1280))}
    assert 9 in versions


def _line_kernel(length: int, degrees: float) -> np.ndarray:
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    dx, dy = np.cos(np.radians(degrees)) * length / 2, np.sin(np.radians(degrees)) * length / 2
    start = (int(round(length - dx)), int(round(length - dy)))
    end = (int(round(length + dx)), int(round(length + dy)))
    cv2.line(kernel, start, end, 1.0, 1)
    return kernel / kernel.sum()


@pytest.mark.parametrize(
    ("finder", "length", "degrees"), [("top-left", 7, 30), ("top-right", 9, 60)]
)
def test_a_shaken_code_with_a_finder_under_glare_is_deblurred_then_located(
    finder, length, degrees, monkeypatch
):
    gray, _, _, _ = _glare_on(finder)
    shaken = cv2.filter2D(gray, -1, _line_kernel(length, degrees))
    monkeypatch.setattr(QrPipeline, "LOCATED_ENLARGED", 0)  # at the deblurred size
    found = QrPipeline(budget_ms=1000.0).decode(shaken)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-located")]
    monkeypatch.setattr(QrPipeline, "LOCATE_DEBLURRED", False)
    assert QrPipeline(budget_ms=1000.0).decode(shaken) == []


@pytest.mark.parametrize("finder", ["top-left", "top-right"])
def test_a_defocused_noisy_code_placed_on_the_frame_is_read_on_a_deblurred_image(
    finder, monkeypatch
):
    """Glare over a finder pattern, defocus and grain: the locator places the symbol and
    reads its format on the frame, but its blurred modules do not correct; the deblurred
    window, read at that same place, does. Deblurring looks where the symbol is."""
    rng, frame, quad, size, to_frame = _scene(2)
    x, y = FINDERS[finder]
    centre = np.float32([[[2 + (x if x > 0 else size + x), 2 + (y if y > 0 else size + y)]]])
    cx, cy = cv2.perspectiveTransform(centre, to_frame)[0, 0]
    module = float(np.linalg.norm(quad[1] - quad[0])) / (size + 4)
    frame, _ = glare_spot(frame, quad, (cx, cy), (5 * module, 5 * module), 420)
    gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (0, 0), 0.5 * module)
    gray = noise(gray, 17, rng)
    assert len(list(qr_locator.locate(gray))) == 1
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [d.text for d in found] == [SAMPLE_PAYLOAD]
    assert found[0].stage.endswith("-placed")
    monkeypatch.setattr(QrPipeline, "MAX_PLACED", 0)
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


@pytest.mark.parametrize("seed", [1, 4])
def test_a_dim_shaken_code_without_glare_is_located_on_a_deblurred_image(seed, monkeypatch):
    """No glare, no finder pattern zxing-cpp or the locator can see on the frame: the
    deblurred image shows two, and the locator reads the code there."""
    rng = np.random.default_rng(seed)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 4.0, 10, 0.2)
    frame, _, _ = motion(frame, rng, (6, 7))
    gray = cv2.cvtColor(noise(dim(frame, 0.17), 10, rng), cv2.COLOR_BGR2GRAY)
    monkeypatch.setattr(QrPipeline, "LOCATED_ENLARGED", 0)  # at the deblurred size
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-located")]
    monkeypatch.setattr(QrPipeline, "LOCATE_DEBLURRED", False)
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def test_a_tilted_code_whose_finder_rings_mislead_the_version_is_located(monkeypatch):
    """The code of a benchmark frame (a tilted card, 3.4 px modules, noise sigma 18, JPEG
    quality 31, a fictitious citizen): its two visible finder patterns measure 3.7 and
    3.1 px per module, which puts the version 1.4 away from the code's 9."""
    path = Path(__file__).parent / "fixtures" / "qr" / "tilted_noisy_jpeg.png"
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    payload = (
        "034199515680|741688153|Lò Văn Ỵ|22051999|Nữ|"
        "Số 208, Điện Biên Phủ, Phường Bến Nghé, Huyện Đông Hưng, Tỉnh Quảng Nam|27122022"
    )
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(payload, "located")]
    monkeypatch.setattr(qr_locator, "VERSION_SLACK", 1.25)
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


@pytest.mark.parametrize("seed", [1, 6, 8])
def test_small_shaken_modules_are_located_on_the_deblurred_image_at_twice_its_size(
    seed, monkeypatch
):
    """Modules of 3.3 px smeared over 6 px in dim light: deblurred, the finder patterns'
    one-module rings are two or three pixels thin, and their contours merge; at twice the
    size the locator finds them."""
    rng = np.random.default_rng(seed)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 3.3, 10, 0.2)
    frame, _, _ = motion(frame, rng, (6, 7))
    gray = cv2.cvtColor(noise(dim(frame, 0.22), 6, rng), cv2.COLOR_BGR2GRAY)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [
        (SAMPLE_PAYLOAD, "deblur-motion-located-enlarged")
    ]
    monkeypatch.setattr(QrPipeline, "LOCATED_ENLARGED", 0)
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def test_the_fit_judges_each_module_against_its_neighbours_under_a_glare_halo():
    """The bright halo around a glare spot lifts dark modules above the code's overall
    midpoint without saturating them: a right placement must still fit."""
    code = segno.make(SAMPLE_PAYLOAD, error="m", boost_error=False)
    grid = np.array([list(r) for r in code.matrix], np.uint8)
    size, m, border = grid.shape[0], 5, 40
    image = np.where(grid == 1, 30.0, 200.0)
    image = cv2.resize(image, (size * m, size * m), interpolation=cv2.INTER_NEAREST)
    image = cv2.copyMakeBorder(
        image, border, border, border, border, cv2.BORDER_CONSTANT, value=200.0
    )
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    halo = 170.0 * np.exp(
        -(((xx - border) ** 2 + (yy - image.shape[0] + border) ** 2) / (2 * 90.0**2))
    )
    image = np.clip(image + halo, 0, 240).astype(np.uint8)  # bright, never saturated
    quad = np.float64(
        [
            [border, border],
            [border + size * m, border],
            [border + size * m] * 2,
            [border, border + size * m],
        ]
    )
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
    assert qr_locator._fit(smooth, quad, qr_locator._pattern(code.version)) >= qr_locator.MIN_FIT


def test_a_large_image_of_noise_is_not_traced(monkeypatch):
    """A 24-megapixel photo of grain took 31 s in the contour tracer (found by feeding the
    scan command a huge noisy image): the specks are counted first, and such an image is
    left alone."""
    gray = np.random.default_rng(1).integers(0, 256, (4000, 6000)).astype(np.uint8)
    traced = []
    real = cv2.findContours
    monkeypatch.setattr(qr_locator.cv2, "findContours", lambda *a: traced.append(1) or real(*a))
    assert qr_locator.find_finders(gray) == []
    assert traced == []
