"""Finding and flattening a page photographed at an angle on a cluttered desk."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from docscan_helpers import (
    A4,
    LANDSCAPE_A4,
    RECEIPT,
    aspect_of,
    make_scene,
    project_page,
    random_scene,
)

from kiosk.services import docscan
from kiosk.services.docscan import Quad, estimate_aspect, find_page, flatten, order_corners


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def page_similarity(flat: np.ndarray, original: np.ndarray) -> float:
    """Correlation of the flattened page with the page as printed (both slightly blurred
    so that a pixel of misregistration does not count, but a wrong crop does)."""
    g = cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY)
    p = cv2.cvtColor(original, cv2.COLOR_BGR2GRAY)
    p = cv2.resize(p, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_AREA)
    return ncc(cv2.GaussianBlur(g, (0, 0), 2), cv2.GaussianBlur(p, (0, 0), 2))


def line_bands_found(flat: np.ndarray, bands: list[tuple[float, float]]) -> float:
    """Fraction of the known text lines seen as dark row bands at their relative height."""
    ink = 255.0 - cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY).astype(np.float64)
    prof = ink.mean(axis=1)
    h = len(prof)
    hits = 0
    for top, bottom in bands:
        ya, yb = int(top * h), int(bottom * h) + 1
        above = prof[max(0, ya - int(0.012 * h)) : max(1, ya - int(0.004 * h))]
        hits += prof[ya:yb].mean() > 2 * above.mean() + 3
    return hits / len(bands)


# --- corner order and the aspect-ratio estimate on exact corners -----------------------


def test_order_corners_is_clockwise_from_top_left_whatever_the_input_order():
    pts = np.array([[500, 400], [100, 90], [90, 420], [520, 60]], float)
    out = order_corners(pts)
    assert out.tolist() == [[100, 90], [520, 60], [500, 400], [90, 420]]
    q = Quad.from_points(pts[::-1])
    assert q.tl == (100.0, 90.0) and q.br == (500.0, 400.0)


@pytest.mark.parametrize("aspect", [A4, RECEIPT, LANDSCAPE_A4])
@pytest.mark.parametrize(("tilt", "yaw"), [(25, 15), (-20, 22), (10, -30)])
def test_aspect_from_perspective_with_unknown_focal_length(aspect, tilt, yaw):
    corners, f = project_page((1280, 720), aspect, tilt_deg=tilt, yaw_deg=yaw, roll_deg=7)
    est = estimate_aspect(Quad.from_points(corners), (1280, 720))
    assert est.method == "focal_estimated"
    assert est.focal_px == pytest.approx(f, rel=0.03)
    assert est.ratio == pytest.approx(aspect, rel=0.005)


def test_averaged_side_lengths_would_be_far_off_at_these_angles():
    # why the perspective-aware estimate is needed: the naive ratio misses by > 5 %
    corners, _ = project_page((1280, 720), A4, tilt_deg=30, yaw_deg=15)
    tl, tr, br, bl = Quad.from_points(corners).array()
    naive = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / (
        np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)
    )
    assert abs(naive / A4 - 1) > 0.05
    est = estimate_aspect(Quad.from_points(corners), (1280, 720))
    assert est.ratio == pytest.approx(A4, rel=0.005)


def test_pure_tilt_needs_the_focal_length_and_uses_it_when_given():
    # tilted about the horizontal axis only: the top and bottom edges stay parallel, one
    # vanishing point is at infinity and the image alone cannot give the focal length
    corners, f = project_page((1280, 720), A4, tilt_deg=30)
    quad = Quad.from_points(corners)
    given = estimate_aspect(quad, (1280, 720), focal_px=f)
    assert given.method == "focal_given"
    assert given.ratio == pytest.approx(A4, rel=0.002)
    assumed = estimate_aspect(quad, (1280, 720))
    assert assumed.method == "focal_assumed"
    assert assumed.ratio == pytest.approx(A4, rel=0.03)  # only as good as the assumed FOV


def test_square_on_page_falls_back_to_side_lengths():
    quad = Quad((100, 100), (500, 100), (500, 666), (100, 666))
    est = estimate_aspect(quad, (1280, 720))
    assert est.ratio == pytest.approx(400 / 566, rel=1e-6)


# --- detection and flattening on generated photos --------------------------------------


@pytest.mark.parametrize("seed", range(9))
def test_random_angled_scene_720p_is_found_flattened_and_legible(seed):
    scene = random_scene(seed)
    quad = find_page(scene.frame)
    assert quad is not None
    # sub-pixel refinement: corners within 1.5 px of the truth
    assert np.abs(quad.array() - order_corners(scene.corners)).max() < 1.5
    flat = flatten(scene.frame, quad)
    assert aspect_of(flat) == pytest.approx(scene.page.aspect, rel=0.02)
    result = docscan.process(scene.frame)
    assert result.ok, result.reasons
    assert result.image is not None
    assert aspect_of(result.image) == pytest.approx(scene.page.aspect, rel=0.02)
    assert page_similarity(result.image, scene.page.image) > 0.85
    assert line_bands_found(result.image, scene.page.line_bands) >= 0.75


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_random_angled_scene_1080p(seed):
    scene = random_scene(seed, (1920, 1080))
    result = docscan.process(scene.frame)
    assert result.ok, result.reasons
    assert aspect_of(result.image) == pytest.approx(scene.page.aspect, rel=0.02)
    assert page_similarity(result.image, scene.page.image) > 0.85


def test_known_focal_length_gives_the_aspect_even_for_pure_tilt():
    scene = make_scene(aspect=A4, tilt_deg=32, seed=7)
    quad = find_page(scene.frame)
    flat = flatten(scene.frame, quad, focal_px=scene.focal_px)
    assert aspect_of(flat) == pytest.approx(A4, rel=0.01)


def test_wrong_crop_does_not_look_like_the_page():
    # the similarity measure used above must fail for a quad that is a little off
    scene = random_scene(3)
    quad = find_page(scene.frame)
    shifted = Quad.from_points(quad.array() + np.float32([[25, 10]]))
    wrong = docscan.correct_lighting(flatten(scene.frame, shifted))
    assert page_similarity(wrong, scene.page.image) < 0.5


def test_printed_table_inside_the_page_is_not_taken_for_the_page():
    # the page fills most of the frame; its table is a big, high-contrast rectangle too
    scene = make_scene(aspect=LANDSCAPE_A4, tilt_deg=20, yaw_deg=12, fill=0.9, seed=4)
    quad = find_page(scene.frame)
    assert quad is not None
    assert np.abs(quad.array() - order_corners(scene.corners)).max() < 2


def test_output_is_capped_and_input_validated():
    scene = random_scene(0, (1920, 1080))
    quad = find_page(scene.frame)
    params = docscan.ScanParams(max_output_long_side=500)
    flat = flatten(scene.frame, quad, params=params)
    assert max(flat.shape[:2]) <= 500
    assert aspect_of(flat) == pytest.approx(scene.page.aspect, rel=0.02)
    with pytest.raises(ValueError):
        find_page(np.zeros((720, 1280, 3), np.float32))
    with pytest.raises(ValueError):
        find_page(np.zeros((10, 10, 3), np.uint8))
    assert find_page(cv2.cvtColor(scene.frame, cv2.COLOR_BGR2GRAY)) is not None


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_thumb_and_pen_over_the_edges_do_not_move_the_corners(seed):
    scene = random_scene(seed)
    frame = scene.frame.copy()
    c = scene.corners
    bottom, right = (c[2] + c[3]) / 2, (c[1] + c[2]) / 2
    cv2.ellipse(
        frame,
        (int(bottom[0]), int(bottom[1]) + 10),
        (28, 45),
        15,
        0,
        360,
        (120, 150, 205),
        -1,
        cv2.LINE_AA,
    )  # a thumb holding the page
    cv2.line(
        frame,
        (int(right[0]) - 90, int(right[1]) - 40),
        (int(right[0]) + 90, int(right[1]) + 60),
        (30, 30, 30),
        9,
        cv2.LINE_AA,
    )  # a pen
    result = docscan.process(frame)
    assert result.ok, result.reasons
    assert np.abs(result.quad.array() - order_corners(c)).max() < 1.5
    assert aspect_of(result.image) == pytest.approx(scene.page.aspect, rel=0.02)
