"""Refusals with reasons (blurred, cut off, glare, no page, too dark, too far), the
lighting correction, the reason texts, and the live-preview tracker."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from docscan_helpers import (
    A4,
    LANDSCAPE_A4,
    RECEIPT,
    add_glare,
    empty_scene,
    make_scene,
    random_scene,
)

from kiosk.paths import resource
from kiosk.services import docscan
from kiosk.services.docscan import REASONS, LivePageTracker, process


def motion_blur(frame: np.ndarray, length: int, angle: float) -> np.ndarray:
    """The smear of a camera or document moving `length` px at `angle` degrees."""
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(np.radians(angle)) * c, np.sin(np.radians(angle)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return cv2.filter2D(frame, -1, k / k.sum(), borderType=cv2.BORDER_REPLICATE)


# --- blur ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_out_of_focus_frame_is_refused_as_blurred(seed):
    scene = random_scene(seed)
    assert process(scene.frame).ok
    result = process(cv2.GaussianBlur(scene.frame, (0, 0), 3.0))
    assert not result.ok
    assert "blurred" in result.codes
    reason = next(r for r in result.reasons if r.code == "blurred")
    assert reason.key == "docscan.reason.blurred"
    assert "sharpness" in reason.detail and "<" in reason.detail


@pytest.mark.parametrize(("seed", "angle"), [(3, 0), (4, 60), (5, 120)])
def test_motion_blur_in_any_direction_is_refused(seed, angle):
    # a smear leaves edges along the motion sharp: the blurriest direction must count
    scene = random_scene(seed)
    result = process(motion_blur(scene.frame, 15, angle))
    assert "blurred" in result.codes


def test_sharpness_is_comparable_between_720p_and_1080p():
    sharp = [
        process(random_scene(s, size).frame).metrics["sharpness"]
        for s, size in ((6, (1280, 720)), (6, (1920, 1080)))
    ]
    assert min(sharp) > 2 * docscan.DEFAULT_PARAMS.min_sharpness
    assert max(sharp) / min(sharp) < 2


# --- cut off, no page, too far, too dark, glare ----------------------------------------


@pytest.mark.parametrize("aspect", [A4, RECEIPT, LANDSCAPE_A4])
def test_page_running_off_the_side_is_cut_off(aspect):
    scene = make_scene(aspect=aspect, tilt_deg=25, yaw_deg=10, fill=0.8, offset=(0.35, 0), seed=2)
    result = process(scene.frame)
    assert result.codes == ["cut_off"] or "cut_off" in result.codes
    assert not result.ok


def test_page_larger_than_the_frame_is_cut_off():
    scene = make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=1.3, offset=(0, 0.1), seed=5)
    result = process(scene.frame)
    assert "cut_off" in result.codes
    assert result.reasons[0].detail


@pytest.mark.parametrize("seed", range(8))
def test_cluttered_desk_without_a_page_is_no_page(seed):
    result = process(empty_scene(seed))
    assert result.codes == ["no_page"]
    assert result.image is None and result.quad is None


@pytest.mark.parametrize("aspect", [A4, RECEIPT])
def test_small_page_far_from_the_camera_is_too_far(aspect):
    scene = make_scene(aspect=aspect, tilt_deg=25, yaw_deg=10, fill=0.3, seed=1)
    result = process(scene.frame)
    assert "too_far" in result.codes
    assert result.metrics["page_extent"] < docscan.DEFAULT_PARAMS.too_far_extent


def test_dim_page_is_too_dark_and_a_black_frame_too():
    dim = make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=0.7, seed=3, dim=0.25)
    result = process(dim.frame)
    assert "too_dark" in result.codes
    assert result.quad is not None  # found, but too dark to read well
    black = (dim.frame // 8).astype(np.uint8)
    assert process(black).codes == ["too_dark"]
    # moderately dim is fine: the lighting correction copes
    ok = make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=0.7, seed=3, dim=0.6)
    assert process(ok.frame).ok


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_specular_glare_on_the_page_is_refused(seed):
    scene = random_scene(seed)
    centre = scene.corners.mean(axis=0)
    frame = add_glare(scene.frame, (centre[0] + 20, centre[1] - 30), 45)
    result = process(frame)
    assert "glare" in result.codes
    assert result.metrics["glare_fraction"] >= docscan.DEFAULT_PARAMS.glare_min_fraction


def test_bright_evenly_lit_page_is_not_glare():
    # a page exposed close to white everywhere is bright, not glare
    scene = random_scene(7)
    bright = cv2.convertScaleAbs(scene.frame, alpha=1.25, beta=10)
    result = process(bright)
    assert "glare" not in result.codes


# --- lighting correction ---------------------------------------------------------------


def test_lighting_correction_makes_the_paper_evenly_white():
    scene = random_scene(2)
    quad = docscan.find_page(scene.frame)
    raw = docscan.flatten(scene.frame, quad)
    clean = docscan.correct_lighting(raw)
    # paper = where the printed page has no ink nearby
    page = cv2.resize(scene.page.image, (raw.shape[1], raw.shape[0]), interpolation=cv2.INTER_AREA)
    ink = cv2.dilate((page.min(axis=2) < 200).astype(np.uint8), np.ones((9, 9), np.uint8))
    margin = 8  # stay clear of the page edge
    paper = np.zeros_like(ink, bool)
    paper[margin:-margin, margin:-margin] = ink[margin:-margin, margin:-margin] == 0
    raw_gray = cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY)[paper]
    clean_gray = cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY)[paper]
    assert np.percentile(raw_gray, 95) - np.percentile(raw_gray, 5) > 15  # uneven light
    assert np.percentile(clean_gray, 5) >= 235  # now white all over
    # and the red seal stays red
    seal = (page[..., 2] > 150) & (page[..., 0] < 100)
    b, g, r = (clean[seal].astype(int)[:, i].mean() for i in range(3))
    assert r > b + 60 and r > g + 60


def test_grayscale_output_option():
    result = process(random_scene(0).frame, grayscale=True)
    img = result.image
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


# --- reason texts ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_reason_and_hint_has_a_text(lang):
    data = json.loads(resource("i18n", lang, "docscan.json").read_text(encoding="utf-8"))
    keys = [docscan.reason_key(c) for c in REASONS]
    keys += [f"docscan.hint.{h}" for h in ("no_page", "cut_off", "too_far", "hold_still", "ready")]
    keys.append(docscan.AttachmentTooLarge.key)
    for key in keys:
        assert data.get(key, "").strip(), f"{lang}: {key}"
    assert all(k.startswith("docscan.") or k.startswith("_") for k in data)
    if lang == "vi":
        assert "mờ" in data["docscan.reason.blurred"]


# --- live preview ----------------------------------------------------------------------


def jitter(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = frame.astype(np.int16) + rng.integers(-4, 5, frame.shape, dtype=np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_tracker_becomes_stable_after_n_steady_frames_and_resets_on_movement():
    rng = np.random.default_rng(0)
    still = random_scene(1)
    moved = random_scene(4)
    tracker = LivePageTracker(stable_frames=5)
    states = [tracker.update(jitter(still.frame, rng)) for _ in range(5)]
    assert [s.stable for s in states] == [False, False, False, False, True]
    assert [s.hint for s in states] == ["hold_still"] * 4 + ["ready"]
    assert states[-1].hint_key == "docscan.hint.ready"
    # the outline is good enough to draw: within ~1 % of the frame diagonal
    err = np.abs(states[-1].quad.array() - docscan.order_corners(still.corners)).max()
    assert err < 0.01 * np.hypot(1280, 720)
    state = tracker.update(moved.frame)
    assert not state.stable and state.steady_frames == 1
    empty = tracker.update(empty_scene(0))
    assert empty.quad is None and empty.hint == "no_page" and not empty.stable


def test_tracker_hints_cut_off_and_too_far():
    tracker = LivePageTracker(stable_frames=2)
    cut = make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=0.8, offset=(0.35, 0), seed=2)
    far = make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=0.3, seed=1)
    for _ in range(3):
        state = tracker.update(cut.frame)
    assert state.hint == "cut_off" and not state.stable
    tracker.reset()
    for _ in range(3):
        state = tracker.update(far.frame)
    assert state.hint == "too_far" and not state.stable
