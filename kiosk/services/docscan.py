"""Document photos from the kiosk camera: find the page, flatten it, even out the light,
check it is usable, and encode it as an attachment for the portal.

No Qt here: frames are BGR numpy arrays as cv2 gives them.

- `find_page(frame)` -> the page's corners (tl, tr, br, bl) or None.
- `flatten(frame, quad)` -> the page as a rectangle with its true aspect ratio, estimated
  from the perspective (Zhang & He, "Whiteboard scanning and image enhancement", 2007).
- `correct_lighting(image)` -> white paper, dark ink, colours (red seals) kept.
- `process(frame)` -> DocResult with reasons a citizen can act on (`docscan.reason.*`).
- `LivePageTracker` -> cheap per-frame outline for the live preview, with a stable flag.
- `encode_attachment(images, document_key)` -> JPEG (one page) or PDF, under 10 MiB.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import cv2
import numpy as np

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10_485_760  # the portal answers 413 above this

REASONS = ("no_page", "cut_off", "too_far", "too_dark", "blurred", "glare")


def reason_key(code: str) -> str:
    return f"docscan.reason.{code}"


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Quad:
    """Four page corners in frame pixels, ordered tl, tr, br, bl (clockwise on screen)."""

    tl: tuple[float, float]
    tr: tuple[float, float]
    br: tuple[float, float]
    bl: tuple[float, float]

    @classmethod
    def from_points(cls, points: np.ndarray | Sequence[Sequence[float]]) -> Quad:
        pts = order_corners(np.asarray(points, np.float64).reshape(4, 2))
        return cls(*(tuple(float(v) for v in p) for p in pts))  # type: ignore[arg-type]

    def array(self) -> np.ndarray:
        return np.array([self.tl, self.tr, self.br, self.bl], np.float32)

    def scaled(self, factor: float) -> Quad:
        return Quad(*(tuple(v * factor for v in p) for p in (self.tl, self.tr, self.br, self.bl)))  # type: ignore[arg-type]

    def extent(self, frame_size: tuple[int, int]) -> float:
        """How much of the frame the page spans: the larger of its bounding box's width
        and height as fractions of the frame's (a long receipt spans the height)."""
        pts = self.array()
        span = pts.max(axis=0) - pts.min(axis=0)
        return float(max(span[0] / frame_size[0], span[1] / frame_size[1]))

    def area(self) -> float:
        return float(abs(cv2.contourArea(self.array())))

    def max_distance(self, other: Quad) -> float:
        return float(np.max(np.linalg.norm(self.array() - other.array(), axis=1)))


@dataclass(frozen=True)
class Reason:
    code: str  # one of REASONS
    key: str  # translation key, docscan.reason.<code>
    detail: str  # plain English for the clerk and the log: measured value vs threshold


@dataclass
class DocResult:
    """What `process` made of one frame. `reasons` is empty when ok; otherwise the most
    basic problem comes first (cut_off, too_far, too_dark, blurred, glare), so a screen
    that speaks only one reason should speak reasons[0]."""

    ok: bool
    reasons: list[Reason]
    image: np.ndarray | None  # flattened, lighting-corrected page (BGR), None without a page
    quad: Quad | None
    metrics: dict[str, float | str] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass(frozen=True)
class ScanParams:
    """Thresholds; the defaults were tuned on generated 720p/1080p scenes (see tests)."""

    work_long_side: int = 800  # detection runs on a frame downscaled to this
    min_page_fraction: float = 0.012  # smaller quadrilaterals are not taken for a page
    paper_check_fraction: float = 0.05  # smaller ones must also look like paper
    max_page_fraction: float = 0.985
    too_far_extent: float = 0.45  # page spans less of the frame's width and height: 'too_far'
    border_margin: float = 0.004  # of the short side: a corner this close is 'cut_off'
    min_edge_contrast: float = 14.0  # colour step across a page side (Lab units)...
    min_edge_support: float = 0.7  # ...at this fraction of the points along every side
    min_sharpness: float = 0.3  # see sharpness(); sharp pages score 0.7-1.3, sigma 3 blur < 0.21
    glare_min_fraction: float = 0.006  # largest blown-out blob / page area
    dark_page_level: float = 70.0  # paper brightness (90th percentile gray) below: dark
    dark_frame_level: float = 50.0  # frame 95th percentile below this: dark
    assumed_hfov_deg: float = 65.0  # camera field of view when the focal length is unknown
    max_output_long_side: int = 2400


DEFAULT_PARAMS = ScanParams()


# ---------------------------------------------------------------------------------------
# Geometry helpers


def order_corners(pts: np.ndarray) -> np.ndarray:
    """tl, tr, br, bl: clockwise on screen, starting at the corner nearest the top-left."""
    pts = np.asarray(pts, np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # y points down, so increasing angle is clockwise
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _resize_long(img: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return img, 1.0
    out = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return out, scale


def _to_gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _percentiles_u8(img: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Percentiles of a uint8 image from its histogram (much faster than np.percentile)."""
    hist = cv2.calcHist([img], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    return [float(np.searchsorted(cdf, q / 100.0)) for q in qs]


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise ValueError("frame must be a uint8 BGR or grayscale numpy array")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if min(frame.shape[:2]) < 32:
        raise ValueError("frame too small")
    return frame


# ---------------------------------------------------------------------------------------
# Page detection


@dataclass
class _Detection:
    quad: Quad | None  # frame coordinates
    touches_border: bool
    paper_touches_border: bool  # a large paper-like region runs into the frame edge
    paper_fraction: float
    contrast: float
    frame_level: float  # 95th percentile of the frame's gray levels


def _canny_auto(gray: np.ndarray) -> np.ndarray:
    # thresholds around the median (the classic "auto Canny"), floored for flat scenes
    med = float(np.median(gray))
    lo = max(10.0, 0.66 * med)
    hi = max(30.0, min(255.0, 1.33 * med))
    return cv2.Canny(gray, lo, hi)


def _canny_otsu(gray: np.ndarray) -> np.ndarray:
    otsu, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return cv2.Canny(gray, 0.5 * otsu, otsu)


def _whiteness(bgr: np.ndarray) -> np.ndarray:
    # paper is bright and colourless: value minus saturation
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    return cv2.subtract(hsv[..., 2], hsv[..., 1])


def _paper_mask(bgr: np.ndarray) -> np.ndarray:
    white = cv2.GaussianBlur(_whiteness(bgr), (5, 5), 0)
    otsu, mask = cv2.threshold(white, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if otsu < 90:  # nothing really paper-coloured: Otsu split the background instead
        _, mask = cv2.threshold(white, 140, 255, cv2.THRESH_BINARY)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k, iterations=2)  # ink inside the page
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)


def _intersect(p1: np.ndarray, d1: np.ndarray, p2: np.ndarray, d2: np.ndarray) -> np.ndarray | None:
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) < 1e-9:
        return None
    s = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / den
    return p1 + s * d1


def _quads_from_polygon(poly: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Quadrilaterals made of four of the polygon's longest sides, extended to meet.

    A page outline often merges with something touching it (a bag, a hand, a text line
    close to the edge) and then has more than four vertices; its four longest sides are
    still the page's sides.
    """
    n = len(poly)
    if n == 4:
        return [order_corners(poly)] if cv2.isContourConvex(poly.astype(np.float32)) else []
    if n < 4 or n > 16:
        return []
    starts, ends = poly, np.roll(poly, -1, axis=0)
    lengths = np.linalg.norm(ends - starts, axis=1)
    longest = sorted(np.argsort(lengths)[::-1][:6])
    out = []
    for combo in combinations(longest, 4):
        corners = []
        for a, b in zip(combo, (*combo[1:], combo[0]), strict=True):
            p = _intersect(starts[a], ends[a] - starts[a], starts[b], ends[b] - starts[b])
            if p is None:
                break
            corners.append(p)
        if len(corners) != 4:
            continue
        quad = np.array(corners)
        if not cv2.isContourConvex(quad.astype(np.float32)):
            continue
        if abs(cv2.contourArea(quad.astype(np.float32))) < min_area:
            continue
        # each chosen segment must be a good part of the side it defines
        sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
        if np.all(lengths[list(combo)] >= 0.35 * sides[[3, 0, 1, 2]]):
            out.append(order_corners(quad))
    return out


def _quads_from_contours(contours: Sequence[np.ndarray], min_area: float) -> list[np.ndarray]:
    quads: list[np.ndarray] = []
    for c in contours:
        if abs(cv2.contourArea(c)) < min_area:
            continue
        peri = cv2.arcLength(c, True)
        fine = cv2.approxPolyDP(c, 0.01 * peri, True).reshape(-1, 2).astype(np.float64)
        if len(fine) > 16:
            fine = cv2.approxPolyDP(c, 0.02 * peri, True).reshape(-1, 2).astype(np.float64)
        quads += _quads_from_polygon(fine, min_area)
        # rounded or dog-eared corners: a coarser fit, and the hull for bites out of a side
        for src, eps in ((c, 0.04), (cv2.convexHull(c), 0.03)):
            approx = cv2.approxPolyDP(src, eps * peri, True).reshape(-1, 2).astype(np.float64)
            if len(approx) == 4:
                quads += _quads_from_polygon(approx, min_area)
    return quads


def _angles_ok(q: np.ndarray) -> bool:
    for i in range(4):
        a, b, c = q[i - 1], q[i], q[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cosang = float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9))
        if not -0.87 < cosang < 0.87:  # 30..150 degrees
            return False
    return True


def _edge_support(
    lab: np.ndarray, q: np.ndarray, offset: float, threshold: float
) -> tuple[float, float]:
    """(worst side's fraction of points with a colour step, median step over all sides).

    At points along each side, the colour just inside is compared with the colour just
    outside. A page edge is a step (paper inside, desk outside) along its whole length;
    a printed table rule or a line on the desk has the same colour on both sides, and a
    side made up from the page's edge extended over something else has no step where
    it runs over that thing. Points outside the frame are not counted (a side lying on
    the frame border passes).
    """
    h, w = lab.shape[:2]
    centre = q.mean(axis=0)
    t = np.linspace(0.08, 0.92, 24)
    worst, medians = 1.0, []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        d = b - a
        n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
        if np.dot(centre - a, n) < 0:
            n = -n  # inward
        pts = a[None, :] + t[:, None] * d[None, :]
        far_out = pts - n * 2 * offset
        ok = (
            (far_out[:, 0] >= 0)
            & (far_out[:, 0] <= w - 1)
            & (far_out[:, 1] >= 0)
            & (far_out[:, 1] <= h - 1)
        )
        if ok.sum() < 6:
            continue
        # a step shows at two distances; a line (or a side a little off a line) does not
        step = np.full(int(ok.sum()), np.inf, np.float32)
        for dist in (offset, 2 * offset):
            ii = np.clip(np.round(pts[ok] + n * dist).astype(int), 0, [w - 1, h - 1])
            oo = np.round(pts[ok] - n * dist).astype(int)
            diff = lab[ii[:, 1], ii[:, 0]].astype(np.float32) - lab[oo[:, 1], oo[:, 0]].astype(
                np.float32
            )
            step = np.minimum(step, np.linalg.norm(diff, axis=1))
        worst = min(worst, float(np.mean(step >= threshold)))
        medians.append(float(np.median(step)))
    return worst, (float(np.median(medians)) if medians else 0.0)


def _paper_like(hsv: np.ndarray, q: np.ndarray) -> bool:
    """Light and nearly colourless inside, brighter than just outside: a sheet of paper
    rather than a coloured card, a phone or a patch of desk."""
    h, w = hsv.shape[:2]
    u = np.linspace(0.15, 0.85, 8)
    uu, vv = np.meshgrid(u, u)
    uu, vv = uu.ravel()[:, None], vv.ravel()[:, None]
    tl, tr, br, bl = q
    pts = (1 - uu) * (1 - vv) * tl + uu * (1 - vv) * tr + uu * vv * br + (1 - uu) * vv * bl
    ij = np.clip(np.round(pts).astype(int), 0, [w - 1, h - 1])
    inner = hsv[ij[:, 1], ij[:, 0]].astype(np.float32)
    centre = q.mean(axis=0)
    ring = centre + (q - centre) * 1.25  # just beyond the corners
    ro = np.clip(np.round(ring).astype(int), 0, [w - 1, h - 1])
    outer_v = float(np.median(hsv[ro[:, 1], ro[:, 0], 2]))
    sat, val = float(np.median(inner[:, 1])), float(np.median(inner[:, 2]))
    return sat <= 60 and val >= 110 and val >= outer_v + 20


def _touches_border(q: np.ndarray, w: int, h: int, margin: float) -> bool:
    return bool(
        np.any(q[:, 0] <= margin)
        or np.any(q[:, 1] <= margin)
        or np.any(q[:, 0] >= w - 1 - margin)
        or np.any(q[:, 1] >= h - 1 - margin)
    )


def _detect(
    frame: np.ndarray,
    params: ScanParams,
    *,
    work_long_side: int | None = None,
    refine: bool = True,
    fast: bool = False,
) -> _Detection:
    small, scale = _resize_long(frame, work_long_side or params.work_long_side)
    h, w = small.shape[:2]
    gray = _to_gray(small)
    level = _percentiles_u8(gray, (95,))[0]
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    smooth = cv2.GaussianBlur(small, (5, 5), 0)
    lab = cv2.cvtColor(smooth, cv2.COLOR_BGR2Lab)
    hsv = cv2.cvtColor(smooth, cv2.COLOR_BGR2HSV)
    min_area = params.min_page_fraction * w * h
    max_area = params.max_page_fraction * w * h
    k3 = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    offset = max(3.0, 0.006 * max(w, h))
    margin = max(1.5, params.border_margin * min(w, h))

    def edge_variant(edges: np.ndarray) -> list[np.ndarray]:
        edges = cv2.dilate(edges, k3)
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        return _quads_from_contours(contours, min_area)

    paper = None

    def variants():
        yield lambda: edge_variant(_canny_auto(blurred))
        # closing erases ink (text, table rules) so the page is one flat bright area
        closed = cv2.morphologyEx(
            gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
        )
        yield lambda: edge_variant(_canny_otsu(cv2.GaussianBlur(closed, (5, 5), 0)))
        if fast:
            return

        def from_paper() -> list[np.ndarray]:
            nonlocal paper
            paper = _paper_mask(small)
            contours, _ = cv2.findContours(paper, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            return _quads_from_contours(contours, min_area)

        yield from_paper
        # saturation: a white page on a coloured desk even when brightness is similar
        yield lambda: edge_variant(_canny_otsu(hsv[..., 1]))

    # score = area x support^4: the largest page wins, but a quad whose side was extended
    # past the page (over desk with no edge) loses to the page itself
    best: tuple[float, float, np.ndarray, float, float] | None = None
    for variant in variants():
        for q in variant():
            if (
                q.min() < -margin
                or np.any(q[:, 0] > w - 1 + margin)
                or np.any(q[:, 1] > h - 1 + margin)
            ):
                continue  # no one can see a corner outside the frame
            area = abs(cv2.contourArea(q.astype(np.float32)))
            if area > max_area or not _angles_ok(q):
                continue
            support, contrast = _edge_support(lab, q, offset, params.min_edge_contrast)
            if support < params.min_edge_support:
                continue
            if area < params.paper_check_fraction * w * h and not _paper_like(hsv, q):
                continue  # small: could be a card or a phone on the desk
            score = area * support**4
            if best is None or score > best[0] * 1.02:
                best = (score, area, q, contrast, support)
        # a large page with clear edges all round from a cheap variant needs no other
        if (
            best is not None
            and best[1] >= 0.15 * w * h
            and best[4] >= 0.95
            and best[3] >= 2 * params.min_edge_contrast
        ):
            break

    if best is None:
        if paper is None:
            paper = _paper_mask(small)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(paper)
        frac, touches = 0.0, False
        if n > 1:
            i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            frac = stats[i, cv2.CC_STAT_AREA] / (w * h)
            x, y, bw, bh = stats[i, :4]
            touches = bool(x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1)
        return _Detection(None, False, touches and frac >= 0.08, float(frac), 0.0, level)

    _, _, q, contrast, _ = best
    touches = _touches_border(q, w, h, margin)
    full = q / scale
    if refine:
        # coarse corners are a few work pixels off (dilated edges, polygon fit): search
        # wide first, then once more around the snapped lines; only the page's
        # surroundings are needed at full resolution
        search = 2.0 + 4.0 / scale
        pad = int(3 * search) + 4
        fh, fw = frame.shape[:2]
        x0, y0 = (max(0, int(v) - pad) for v in full.min(axis=0))
        x1, y1 = (int(v) + pad for v in full.max(axis=0))
        x1, y1 = min(fw, x1), min(fh, y1)
        roi = cv2.GaussianBlur(_to_gray(frame[y0:y1, x0:x1]), (0, 0), 1.0).astype(np.float32)
        origin = np.array([x0, y0], np.float64)
        local = _refine_corners(roi, full - origin, search=search)
        full = _refine_corners(roi, local, search=3.0) + origin
    return _Detection(Quad.from_points(full), touches, False, 0.0, contrast, level)


def _refine_corners(g: np.ndarray, q: np.ndarray, search: float) -> np.ndarray:
    """Snap each side to the strongest step edge near it in the full-resolution smoothed
    gray image `g` (sub-pixel, robust line fit), then intersect neighbouring sides."""
    h, w = g.shape[:2]
    centre = q.mean(axis=0)
    offsets = np.arange(-search, search + 0.5, 0.5, dtype=np.float32)
    t = np.linspace(0.06, 0.94, 48, dtype=np.float32)
    lines = []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        d = b - a
        n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
        if np.dot(centre - a, n) < 0:
            n = -n
        base = a[None, :] + t[:, None] * d[None, :]
        xs = (base[:, 0:1] + n[0] * offsets[None, :]).astype(np.float32)
        ys = (base[:, 1:2] + n[1] * offsets[None, :]).astype(np.float32)
        prof = cv2.remap(g, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        deriv = np.diff(prof, axis=1)
        # the page side of the step is inside; pick the polarity most of the side agrees on
        sign = 1.0 if np.median(prof[:, -1] - prof[:, 0]) >= 0 else -1.0
        dv = deriv * sign
        j = np.argmax(dv, axis=1)
        peak = dv[np.arange(len(j)), j]
        inb = (base[:, 0] > 1) & (base[:, 0] < w - 2) & (base[:, 1] > 1) & (base[:, 1] < h - 2)
        good = (peak > 4.0) & (j > 0) & (j < dv.shape[1] - 1) & inb
        if good.sum() < len(t) // 3:
            lines.append((a, d / (np.linalg.norm(d) + 1e-9)))
            continue
        jj = j[good]
        rows = np.arange(len(j))[good]
        y0, y1, y2 = dv[rows, jj - 1], dv[rows, jj], dv[rows, jj + 1]
        den = y0 - 2 * y1 + y2
        sub = np.where(np.abs(den) > 1e-6, 0.5 * (y0 - y2) / den, 0.0).clip(-0.5, 0.5)
        # derivative sample k sits between offsets k and k+1
        pos = offsets[0] + (jj + sub + 0.5) * 0.5
        pts = base[good] + n[None, :] * pos[:, None]
        vx, vy, x0, y0_ = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0_], np.float64), np.array([vx, vy], np.float64)))
    out = np.empty((4, 2))
    for i in range(4):
        p1, d1 = lines[i - 1]
        p2, d2 = lines[i]
        den = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(den) < 1e-6:
            return q
        s = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / den
        out[i] = p1 + s * d1
    if np.max(np.linalg.norm(out - q, axis=1)) > 3 * search:
        return q  # refinement locked onto something else: keep the coarse corners
    return out


def find_page(frame_bgr: np.ndarray, params: ScanParams = DEFAULT_PARAMS) -> Quad | None:
    """The page's corners in frame pixels (tl, tr, br, bl), or None if no page is seen."""
    return _detect(_check_frame(frame_bgr), params).quad


# ---------------------------------------------------------------------------------------
# Flattening


@dataclass(frozen=True)
class AspectEstimate:
    ratio: float  # width / height of the real page
    method: str  # 'focal_given', 'focal_estimated', 'focal_assumed', 'side_lengths'
    focal_px: float | None


def _side_lengths(q: np.ndarray) -> tuple[float, float]:
    tl, tr, br, bl = q
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    return float(width), float(height)


def _zhang_terms(q: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """n2, n3 of Zhang & He for corner arrays q (..., 4, 2) in tl, tr, br, bl order;
    NaN where the corners are degenerate."""
    c = q - centre
    ones = np.ones(c.shape[:-1] + (1,))
    m = np.concatenate([c, ones], axis=-1)
    m1, m2, m4, m3 = m[..., 0, :], m[..., 1, :], m[..., 2, :], m[..., 3, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        k2 = np.sum(np.cross(m1, m4) * m3, -1) / np.sum(np.cross(m2, m4) * m3, -1)
        k3 = np.sum(np.cross(m1, m4) * m2, -1) / np.sum(np.cross(m3, m4) * m2, -1)
    return k2[..., None] * m2 - m1, k3[..., None] * m3 - m1


def _focal_from(n2: np.ndarray, n3: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        f2 = -(n2[..., 0] * n3[..., 0] + n2[..., 1] * n3[..., 1]) / (n2[..., 2] * n3[..., 2])
        return np.where(f2 > 0, np.sqrt(np.abs(f2)), np.nan)


def estimate_aspect(
    quad: Quad,
    frame_size: tuple[int, int],
    *,
    focal_px: float | None = None,
    assumed_hfov_deg: float = DEFAULT_PARAMS.assumed_hfov_deg,
    corner_sigma_px: float | None = None,
) -> AspectEstimate:
    """Width/height of the real rectangle behind `quad` (Zhang & He 2007).

    The principal point is taken as the frame centre, so `quad` must be in the
    coordinates of the full, uncropped camera frame. With `focal_px` (a calibrated
    camera) that focal length is used. Otherwise the focal length is estimated from the
    two vanishing points and combined with a prior from `assumed_hfov_deg`, each weighted
    by its uncertainty: the estimate's spread is measured by re-running it with the
    corners jittered by `corner_sigma_px`. When the page is seen square-on in one
    direction a vanishing point is near infinity, the estimate is noise and the prior
    wins; with clear perspective in both directions the estimate wins.
    """
    w, h = frame_size
    q = quad.array().astype(np.float64)
    side_w, side_h = _side_lengths(q)
    fallback = AspectEstimate(side_w / side_h, "side_lengths", None)
    centre = np.array([w / 2.0, h / 2.0])
    n2, n3 = _zhang_terms(q, centre)
    if not (np.all(np.isfinite(n2)) and np.all(np.isfinite(n3))):
        return fallback

    if focal_px is not None:
        f, method = float(focal_px), "focal_given"
    else:
        f0 = w / (2 * math.tan(math.radians(assumed_hfov_deg) / 2))
        sigma0 = 0.3 * f0  # webcams span roughly 55-80 degrees
        # refined corners are typically within half a pixel at 720p (see the benchmark)
        sigma_c = (
            corner_sigma_px if corner_sigma_px is not None else max(0.3, 0.5 * max(w, h) / 1280)
        )
        # a fixed seed: the same quad always gives the same answer
        jitter = np.random.default_rng(12345).normal(0, sigma_c, (64, 4, 2))
        fs = _focal_from(*_zhang_terms(q[None] + jitter, centre))
        f_point = float(_focal_from(n2, n3))
        valid = np.isfinite(fs) & (fs < 6 * max(w, h))
        f, method = f0, "focal_assumed"
        if valid.mean() >= 0.8 and math.isfinite(f_point):
            lo, hi = np.percentile(fs[valid], [16, 84])
            sigma_e = max(float(hi - lo) / 2, 1e-6)
            w_e, w_0 = 1 / sigma_e**2, 1 / sigma0**2
            f = (f_point * w_e + f0 * w_0) / (w_e + w_0)
            if w_e > w_0:
                method = "focal_estimated"
    num = n2[0] ** 2 + n2[1] ** 2 + f * f * n2[2] ** 2
    den = n3[0] ** 2 + n3[1] ** 2 + f * f * n3[2] ** 2
    if not (num > 0 and den > 0):
        return fallback
    ratio = math.sqrt(num / den)
    if not math.isfinite(ratio) or not 0.1 < ratio < 10:
        return fallback
    return AspectEstimate(ratio, method, float(f))


def flatten(
    frame: np.ndarray,
    quad: Quad,
    *,
    focal_px: float | None = None,
    params: ScanParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """The page warped to a rectangle of its true aspect ratio, at the resolution the
    camera saw it (no upscaling beyond the longest side), capped in size."""
    return _flatten(frame, quad, focal_px=focal_px, params=params)[0]


def _flatten(
    frame: np.ndarray, quad: Quad, *, focal_px: float | None, params: ScanParams
) -> tuple[np.ndarray, AspectEstimate]:
    h, w = frame.shape[:2]
    est = estimate_aspect(quad, (w, h), focal_px=focal_px, assumed_hfov_deg=params.assumed_hfov_deg)
    q = quad.array()
    tl, tr, br, bl = q.astype(np.float64)
    out_w = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    out_h = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    if out_w / out_h < est.ratio:
        out_w = out_h * est.ratio
    else:
        out_h = out_w / est.ratio
    cap = params.max_output_long_side / max(out_w, out_h)
    if cap < 1:
        out_w, out_h = out_w * cap, out_h * cap
    ow, oh = max(1, round(out_w)), max(1, round(out_h))
    # map the page a hair larger than the output so the anti-aliased rim with a sliver
    # of desk falls outside; the same fraction on both axes keeps the aspect ratio
    eps = max(0.004, 1.5 / min(ow, oh))
    bx, by = eps * ow, eps * oh
    dst = np.float32([[-bx, -by], [ow + bx, -by], [ow + bx, oh + by], [-bx, oh + by]])
    hom = cv2.getPerspectiveTransform(q, dst)
    page = cv2.warpPerspective(
        frame, hom, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return page, est


# ---------------------------------------------------------------------------------------
# Lighting


def _background(img: np.ndarray) -> np.ndarray:
    """Paper brightness everywhere: ink removed by a grey-level closing on a small copy,
    smoothed, brought back to full size."""
    small, scale = _resize_long(img, 320)
    k = max(5, round(min(small.shape[:2]) * 0.035)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    bg = cv2.GaussianBlur(bg, (0, 0), k / 2)
    if scale < 1:
        bg = cv2.resize(bg, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    return bg


def correct_lighting(image: np.ndarray, *, grayscale: bool = False) -> np.ndarray:
    """Divide out the uneven light so paper is white and ink is dark; colour is kept
    (per channel, which also removes a colour cast) unless `grayscale`."""
    img = _to_gray(image) if grayscale else image
    white = 0.95  # paper within 5 % of its local level (texture, noise) becomes white
    # a light denoise first, or the contrast stretch below turns sensor noise into grit
    src = cv2.GaussianBlur(img, (0, 0), 0.6)
    # v = 255/white * img/background, in uint8 (paper saturates at 255)
    v = cv2.divide(src, np.maximum(_background(img), 1), scale=255.0 / white)
    black = min(_percentiles_u8(_to_gray(v), (0.5,))[0], 255 * 0.7)
    lut = np.clip((np.arange(256) - black) / (255 - black) * 255, 0, 255) + 0.5
    return cv2.LUT(v, lut.astype(np.uint8))


# ---------------------------------------------------------------------------------------
# Quality


_DXX = np.array([[1, -2, 1]], np.float32)
_DYY = _DXX.T.copy()
_DXY = np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], np.float32) / 4
_ANGLES = np.radians(np.arange(0, 180, 7.5))


def sharpness(page_gray: np.ndarray) -> float | None:
    """Variance of the second derivative of the page in its blurriest direction,
    divided by the squared ink contrast (0.5th to 99.5th percentile), times 1000.

    It is the variance-of-the-Laplacian measure taken per direction, so that motion
    blur, which leaves edges along the motion sharp, is caught whatever its direction:
    the second derivative along angle t is c^2 Ixx + 2cs Ixy + s^2 Iyy, so its variance
    for every angle follows from the second moments of Ixx, Ixy and Iyy. The page is
    scaled down to 1000 px on its long side so 720p and 1080p frames compare (small
    pages are not scaled up: a sharp but small page is 'too_far', not 'blurred'), and
    dividing by the contrast removes ink darkness and lighting. None when there is too
    little ink to judge.
    """
    g, _ = _resize_long(page_gray, 1000)
    lo, hi = _percentiles_u8(g, (0.5, 99.5))
    if hi - lo < 40:
        return None
    f = cv2.GaussianBlur(g.astype(np.float32), (0, 0), 0.8)  # keep sensor noise out
    d = [cv2.filter2D(f, cv2.CV_32F, k) for k in (_DXX, _DXY, _DYY)]
    moments = np.empty((3, 3))  # E[Ixx^2], E[Ixx Ixy], ...
    for i in range(3):
        for j in range(i, 3):
            moments[i, j] = moments[j, i] = cv2.mean(cv2.multiply(d[i], d[j]))[0]
    c, s = np.cos(_ANGLES), np.sin(_ANGLES)
    w = np.stack([c * c, 2 * c * s, s * s])  # one column per direction
    per_angle = np.einsum("ia,ij,ja->a", w, moments, w)
    return float(per_angle.min()) / float(hi - lo) ** 2 * 1000


def glare_fraction(page_bgr: np.ndarray) -> float:
    """Area of the largest specular highlight on the page, as a fraction of the page.

    A highlight is a blob where every channel is blown out (>= 248) and which stands out
    from the paper right around it (the paper a little way outside the blob, at its 75th
    percentile so ink does not count, is at most 235). A page that is merely exposed
    bright, white to the edge of clipping over a wide area, is therefore not glare.
    """
    small, _ = _resize_long(page_bgr, 600)
    gray = _to_gray(small)
    b, g, r = cv2.split(small)
    clipped = (cv2.min(cv2.min(b, g), r) >= 248).astype(np.uint8)
    clipped = cv2.morphologyEx(clipped, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(clipped)
    if n <= 1:
        return 0.0
    d = max(4, round(0.03 * max(gray.shape)))
    near = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d + 1, d + 1))
    far = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * d + 1, 2 * d + 1))
    largest = 0
    for i in 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][:3]:
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area <= largest:
            continue
        blob = (labels == i).astype(np.uint8)
        ring = (cv2.dilate(blob, far) > 0) & (cv2.dilate(blob, near) == 0)
        if ring.sum() < 20:
            continue  # the blob covers the page: exposure, not a highlight
        if np.percentile(gray[ring], 75) <= 235:
            largest = area
    return largest / gray.size


# ---------------------------------------------------------------------------------------
# The whole capture


def process(
    frame: np.ndarray,
    params: ScanParams = DEFAULT_PARAMS,
    *,
    focal_px: float | None = None,
    grayscale: bool = False,
) -> DocResult:
    """Find, flatten and clean the page in one captured frame, and say whether it is
    usable. A refused capture still carries the page image when one was found, so a clerk
    can look at it."""
    frame = _check_frame(frame)
    fh, fw = frame.shape[:2]
    reasons: list[Reason] = []
    metrics: dict[str, float | str] = {}

    def refuse(code: str, detail: str) -> None:
        reasons.append(Reason(code, reason_key(code), detail))

    det = _detect(frame, params)
    frame_level = det.frame_level
    metrics["frame_level"] = round(frame_level, 1)
    if det.quad is None:
        if frame_level < params.dark_frame_level:
            refuse(
                "too_dark",
                f"frame 95th-percentile brightness {frame_level:.0f} "
                f"< {params.dark_frame_level:.0f}",
            )
        elif det.paper_touches_border:
            refuse(
                "cut_off",
                f"no page outline; a paper-like region of "
                f"{det.paper_fraction:.0%} of the frame runs into its edge",
            )
        else:
            refuse(
                "no_page",
                "no four-sided page outline found"
                + (
                    f" (largest paper-like region {det.paper_fraction:.0%} of the frame)"
                    if det.paper_fraction >= 0.02
                    else ""
                ),
            )
        return DocResult(False, reasons, None, None, metrics)

    quad = det.quad
    page_fraction = quad.area() / (fw * fh)
    metrics["page_fraction"] = round(page_fraction, 4)
    metrics["edge_contrast"] = round(det.contrast, 1)
    if det.touches_border:
        refuse("cut_off", "the page outline touches the frame edge")
    extent = quad.extent((fw, fh))
    metrics["page_extent"] = round(extent, 3)
    if extent < params.too_far_extent:
        refuse("too_far", f"page spans {extent:.0%} of the frame (min {params.too_far_extent:.0%})")

    raw, est = _flatten(frame, quad, focal_px=focal_px, params=params)
    metrics["aspect"] = round(est.ratio, 4)
    metrics["aspect_method"] = est.method
    if est.focal_px is not None:
        metrics["focal_px"] = round(est.focal_px, 1)

    gray = _to_gray(raw)
    page_level = _percentiles_u8(gray, (90,))[0]
    metrics["page_level"] = round(page_level, 1)
    if page_level < params.dark_page_level:
        refuse("too_dark", f"paper brightness {page_level:.0f} < {params.dark_page_level:.0f}")
    sharp = sharpness(gray)
    if sharp is not None:
        metrics["sharpness"] = round(sharp, 3)
        if sharp < params.min_sharpness:
            refuse(
                "blurred",
                f"sharpness {sharp:.2f} < {params.min_sharpness:.2f} "
                "(normalised Laplacian variance)",
            )
    glare = glare_fraction(raw)
    metrics["glare_fraction"] = round(glare, 4)
    if glare >= params.glare_min_fraction:
        refuse(
            "glare",
            f"blown-out highlight covers {glare:.1%} of the page "
            f"(max {params.glare_min_fraction:.1%})",
        )

    image = correct_lighting(raw, grayscale=grayscale)
    if grayscale:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if reasons:
        log.info("document capture refused: %s", ", ".join(r.code for r in reasons))
    return DocResult(not reasons, reasons, image, quad, metrics)


# ---------------------------------------------------------------------------------------
# Live preview


@dataclass(frozen=True)
class TrackState:
    quad: Quad | None  # frame coordinates, to outline on the preview
    stable: bool  # steady long enough to capture
    steady_frames: int  # consecutive frames the outline has stayed put (this one included)
    hint: str  # 'no_page', 'cut_off', 'too_far', 'hold_still' or 'ready'

    @property
    def hint_key(self) -> str:
        return f"docscan.hint.{self.hint}"


class LivePageTracker:
    """Per-frame page outline for the live preview, computed on a small copy of the
    frame (no corner refinement). `stable` once the corners have stayed within
    `tolerance` (a fraction of the frame diagonal) for `stable_frames` consecutive frames
    and the page is whole and close enough, so the screen can auto-capture or enable its
    capture button. Keeps per-instance state only: use one tracker per camera view."""

    def __init__(
        self,
        *,
        stable_frames: int = 8,
        tolerance: float = 0.012,
        work_long_side: int = 480,
        params: ScanParams = DEFAULT_PARAMS,
    ) -> None:
        self.stable_frames = stable_frames
        self.tolerance = tolerance
        self.work_long_side = work_long_side
        self.params = params
        self._last: Quad | None = None
        self._steady = 0

    def reset(self) -> None:
        self._last = None
        self._steady = 0

    def update(self, frame: np.ndarray) -> TrackState:
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        det = _detect(
            frame, self.params, work_long_side=self.work_long_side, refine=False, fast=True
        )
        quad = det.quad
        if quad is None:
            self.reset()
            return TrackState(None, False, 0, "cut_off" if det.paper_touches_border else "no_page")
        moved = self._last is None or quad.max_distance(self._last) > self.tolerance * math.hypot(
            w, h
        )
        self._steady = 1 if moved else self._steady + 1
        self._last = quad
        if det.touches_border:
            return TrackState(quad, False, self._steady, "cut_off")
        if quad.extent((w, h)) < self.params.too_far_extent:
            return TrackState(quad, False, self._steady, "too_far")
        stable = self._steady >= self.stable_frames
        return TrackState(quad, stable, self._steady, "ready" if stable else "hold_still")


# ---------------------------------------------------------------------------------------
# Encoding


class AttachmentTooLarge(Exception):
    key = "docscan.error.too_large"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class EncodedDocument:
    """A document photo encoded for a dossier (before it is saved as an `Attachment` row)."""

    document_key: str
    content_type: str  # image/jpeg or application/pdf
    data: bytes
    size: int
    sha256: str  # lower-case hex of data, the portal's content address
    pages: int

    def reference(self) -> dict[str, object]:
        """The entry for a dossier's `attachments` list."""
        return {
            "sha256": self.sha256,
            "content_type": self.content_type,
            "size": self.size,
            "document_key": self.document_key,
        }


# (JPEG quality, long side) tried in order until the result fits
_LADDER: tuple[tuple[int, int], ...] = (
    (85, 2000),
    (75, 2000),
    (65, 1800),
    (55, 1600),
    (50, 1400),
    (45, 1200),
    (40, 1000),
)


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def _pdf(pages: Sequence[tuple[bytes, int, int, bool]]) -> bytes:
    """A PDF with one JPEG (data, width, height, is_colour) per page, embedded as is.

    Written directly rather than with reportlab's drawImage: reportlab wraps every image
    stream in ASCII85 unless a process-wide switch is changed, which adds 25 % to the
    size and, in pure Python, about half a second per megabyte. The output has no date
    or random id, so the same pages always give the same bytes (and sha256). Each page
    is A4-sized on its long side and keeps the image's aspect ratio.
    """
    n = len(pages)
    # objects: 1 catalog, 2 page tree, then per page: page, its drawing, its image
    kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(n))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
    ]
    for i, (data, w, h, colour) in enumerate(pages):
        content, image = 4 + 3 * i, 5 + 3 * i
        s = 842.0 / max(w, h)
        pw, ph = w * s, h * s
        objs.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] "
                f"/Resources << /XObject << /Im0 {image} 0 R >> >> "
                f"/Contents {content} 0 R >>"
            ).encode()
        )
        draw = f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im0 Do Q".encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
        cs = "/DeviceRGB" if colour else "/DeviceGray"
        objs.append(
            (
                f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} "
                f"/ColorSpace {cs} /BitsPerComponent 8 /Filter /DCTDecode "
                f"/Length {len(data)} >>\nstream\n"
            ).encode()
            + data
            + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def encode_attachment(
    images: Sequence[np.ndarray],
    document_key: str,
    *,
    max_bytes: int = MAX_ATTACHMENT_BYTES,
) -> EncodedDocument:
    """One page -> JPEG, several -> PDF (one JPEG per page), lowering quality and size
    until the file is under `max_bytes`; AttachmentTooLarge if even the smallest is not.
    Pages may be BGR or grayscale (kept gray, which is smaller)."""
    if not images:
        raise ValueError("no pages to encode")
    pages = [
        img if img.ndim == 2 and img.dtype == np.uint8 else _check_frame(img) for img in images
    ]
    size = 0
    for quality, long_side in _LADDER:
        parts: list[tuple[bytes, int, int, bool]] = []
        total = 0
        for page in pages:
            small, _ = _resize_long(page, long_side)
            data = _jpeg(small, quality)
            parts.append((data, small.shape[1], small.shape[0], small.ndim == 3))
            total += len(data)
            if total >= max_bytes:
                break  # this rung cannot fit: no need to encode the remaining pages
        if total < max_bytes:
            if len(pages) == 1:
                data, ctype = parts[0][0], "image/jpeg"
            else:
                data, ctype = _pdf(parts), "application/pdf"
            size = len(data)
            if size < max_bytes:
                return EncodedDocument(
                    document_key, ctype, data, size, hashlib.sha256(data).hexdigest(), len(pages)
                )
        else:
            size = total
        log.info(
            "attachment %s: over %d bytes at quality %d / %d px, trying smaller",
            document_key,
            max_bytes,
            quality,
            long_side,
        )
    raise AttachmentTooLarge(
        f"{len(pages)} page(s): still {size} bytes or more at JPEG quality {_LADDER[-1][0]}, "
        f"{_LADDER[-1][1]} px; the limit is {max_bytes}"
    )
