"""Finding a QR symbol from two of its three finder patterns.

zxing-cpp and zbar locate a QR code by its three finder patterns (the big squares in
three corners). A glare spot from a ceiling light over one of them hides the code from
both, however little of the data it covers. This module finds the finder patterns that
are left (squares inside squares inside squares, in the image's own contours), makes
every symbol that two of them could belong to (which corners they are, which version
their distance gives), fits each to the image by the modules whose colour the standard
fixes (finders, separators, timing rows, alignment patterns, version information), and
keeps the ones that fit. The format information is then read from the grid itself, so
a misread format copy under the glare does not matter.

`locate(gray)` yields the candidates, the best first fit first, as (corners, version,
formats); qr_erasure.read_with_erasures reads each. The fit is strict (most fixed modules outside
the glare must agree), and what is read is still checked by error correction with
codewords to spare, so a wrong guess here costs time, never a wrong text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, permutations

import cv2
import numpy as np

SATURATED = 245.0  # grey level from which a module counts as washed out
MIN_FIT = 0.93  # share of the fixed modules outside the glare that must agree
MIN_SUPPORT = 0.5  # the same before refinement, modules without contrast counted against
MAX_FORMAT_DISTANCE = 3  # of the 15 format bits (the code's minimum distance is 7)
MAX_FINDERS = 6
NOISY = 5.0  # grey levels of noise (robust sigma) from which a frame is median-filtered
MAX_CONTOURS = 20000  # beyond this the frame is noise, not a scene with a code
MAX_REFINED = 6  # hypotheses refined per frame, best first
VERSION_SLACK = 1.6  # how far the version a finder pair's distance gives may be off


@dataclass(frozen=True)
class Finder:
    centre: np.ndarray  # (2,) image coordinates
    corners: np.ndarray  # (4, 2) the outer square's corners, any order
    module: float  # px


@dataclass(frozen=True)
class Located:
    quad: np.ndarray  # the symbol's outer corners: top-left, top-right, bottom-right, bottom-left
    version: int
    formats: tuple[tuple[str, int], ...]  # (level, mask) that the grid's format bits allow
    fit: float  # share of the fixed modules (outside the glare) that agree


# ---------------------------------------------------------------- finder patterns


def find_finders(gray: np.ndarray) -> list[Finder]:
    """Finder-pattern candidates: a dark square ring around a dark square core, with the
    area ratio of the standard's 7×7 to 3×3 modules (alignment patterns, 5×5 around 1×1,
    do not pass). A noisy frame is median-filtered first: sensor noise would split it
    into tens of thousands of specks."""
    quiet = cv2.medianBlur(gray, 3)
    noise = 1.48 * float(np.median(cv2.absdiff(gray[::4, ::4], quiet[::4, ::4])))
    found = _finders(quiet if noise > NOISY else gray)
    found.sort(key=lambda f: -f.module)
    return found[:MAX_FINDERS]


def _finders(gray: np.ndarray) -> list[Finder]:
    out: list[Finder] = []
    h, w = gray.shape
    for block in (51, 25):
        binary = cv2.adaptiveThreshold(
            gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 8
        )
        # Counting the dark specks is linear; tracing a tree of them is not (a large,
        # noisy image would take seconds).
        if cv2.connectedComponents(binary, connectivity=8)[0] > MAX_CONTOURS:
            continue
        contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        if hierarchy is None or len(contours) > MAX_CONTOURS:
            continue
        tree = hierarchy[0]
        for i, contour in enumerate(contours):
            hole = tree[i][2]
            if hole < 0:
                continue
            core = tree[hole][2]
            if core < 0:
                continue
            outer = cv2.contourArea(contour)
            if outer < 80 or outer > 0.05 * h * w:
                continue
            inner = cv2.contourArea(contours[core])
            if not 3.0 <= outer / max(inner, 1.0) <= 10.0:
                continue
            rect = cv2.minAreaRect(contour)
            rw, rh = rect[1]
            if min(rw, rh) < 0.6 * max(rw, rh) or outer < 0.75 * rw * rh:
                continue
            m_out, m_in = cv2.moments(contour), cv2.moments(contours[core])
            if m_out["m00"] <= 0 or m_in["m00"] <= 0:
                continue
            centre = np.array([m_out["m10"] / m_out["m00"], m_out["m01"] / m_out["m00"]])
            core_centre = np.array([m_in["m10"] / m_in["m00"], m_in["m01"] / m_in["m00"]])
            side = float(np.sqrt(outer))
            if np.linalg.norm(centre - core_centre) > 0.15 * side:
                continue
            approx = cv2.approxPolyDP(contour, 0.06 * cv2.arcLength(contour, True), True)
            corners = (
                approx.reshape(-1, 2).astype(np.float64)
                if len(approx) == 4
                else cv2.boxPoints(rect).astype(np.float64)
            )
            if any(np.linalg.norm(f.centre - centre) < 0.3 * side for f in out):
                continue
            out.append(Finder(centre, corners, side / 7.0))
    return out


# ---------------------------------------------------------------- the fixed modules


@dataclass(frozen=True)
class _Pattern:
    size: int
    rows: np.ndarray  # fixed modules
    cols: np.ndarray
    dark: np.ndarray  # their colour
    fmt_rows: np.ndarray  # the 30 format modules
    fmt_cols: np.ndarray
    formats: tuple[tuple[str, int], ...]  # (level, mask) of each row of fmt_bits
    fmt_bits: np.ndarray  # (32, 30) bool
    fmt_dark: np.ndarray  # (30, 4) the fixed dark modules nearest each format module
    fmt_light: np.ndarray  # (30, 4) the fixed light ones


_LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}  # segno's constants


@lru_cache(maxsize=16)
def _pattern(version: int) -> _Pattern:
    from segno import encoder

    size = 17 + 4 * version

    def base():
        matrix = encoder.make_matrix(size, size)
        encoder.add_finder_patterns(matrix, size, size)
        encoder.add_alignment_patterns(matrix, size, size)
        encoder.add_version_info(matrix, version)
        return matrix

    formats, grids = [], []
    for level, code in _LEVELS.items():
        for mask in range(8):
            matrix = base()
            encoder.add_format_info(matrix, version, code, mask)
            formats.append((level, mask))
            grids.append(np.array([list(r) for r in matrix], np.uint8))
    stack = np.stack(grids)
    varies = (stack != stack[0]).any(axis=0)
    fixed = (stack[0] != 2) & ~varies
    rows, cols = np.nonzero(fixed)
    fmt_rows, fmt_cols = np.nonzero(varies)
    dark = stack[0][rows, cols] == 1

    def nearest(colour: np.ndarray) -> np.ndarray:
        where = np.nonzero(colour)[0]
        gap = np.hypot(
            rows[where][None, :] - fmt_rows[:, None], cols[where][None, :] - fmt_cols[:, None]
        )
        return where[np.argsort(gap, axis=1, kind="stable")[:, :4]]

    return _Pattern(
        size,
        rows,
        cols,
        dark,
        fmt_rows,
        fmt_cols,
        tuple(formats),
        stack[:, fmt_rows, fmt_cols] == 1,
        nearest(dark),
        nearest(~dark),
    )


def _values(smooth: np.ndarray, quad: np.ndarray, size: int, rows, cols) -> np.ndarray:
    """Grey values at the centres of the modules (rows, cols) of the symbol at `quad`."""
    square = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    matrix = cv2.getPerspectiveTransform(square, np.asarray(quad, np.float32))
    points = np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float32)[None]
    where = cv2.perspectiveTransform(points, matrix)[0]
    map_x = where[:, 0].reshape(1, -1)
    map_y = where[:, 1].reshape(1, -1)
    sampled = cv2.remap(smooth, map_x, map_y, cv2.INTER_LINEAR, borderValue=255.0)
    return sampled[0]


def _contrast(values: np.ndarray, dark: np.ndarray) -> float:
    """How well the fixed modules' values separate into their colours (higher is better)."""
    keep = values < SATURATED
    d, light = values[keep & dark], values[keep & ~dark]
    if len(d) < 8 or len(light) < 8:
        return -1.0
    spread = np.sqrt((d.var() + light.var()) / 2.0) + 4.0
    return float((light.mean() - d.mean()) / spread)


def _sharpness(values: np.ndarray) -> float:
    """How far the modules outside the glare lie from their neighbourhood's midpoint: module
    centres sampled on the grid are clearly dark or light, points between modules are not."""
    local = cv2.blur(values, (5, 5), borderType=cv2.BORDER_REFLECT)
    spread = cv2.dilate(values, np.ones((5, 5), np.uint8)) - cv2.erode(
        values, np.ones((5, 5), np.uint8)
    )
    keep = (values < SATURATED) & (spread > 8.0)
    if keep.sum() < 16:
        return 0.0
    return float((np.abs(values - local)[keep] / spread[keep]).mean() * 4.0)


def _fit(smooth: np.ndarray, quad: np.ndarray, pattern: _Pattern) -> float:
    """The share of the fixed modules outside the glare whose colour agrees, each judged
    against the mean of the modules around it (glare brightens one side of the code more
    than the other)."""
    return _agreement(smooth, quad, pattern)[0]


def _support(smooth: np.ndarray, quad: np.ndarray, pattern: _Pattern) -> float:
    """How hypotheses are ranked: the agreeing fixed modules over all those outside the
    glare, so that modules without contrast count against a placement. One that strays
    off the code onto the blank card keeps only the finder patterns' own modules, which
    agree with any placement."""
    return _agreement(smooth, quad, pattern)[1]


def _agreement(smooth: np.ndarray, quad: np.ndarray, pattern: _Pattern) -> tuple[float, float]:
    size = pattern.size
    rows, cols = np.divmod(np.arange(size * size), size)
    grid = _values(smooth, quad, size, rows, cols).reshape(size, size)
    local = cv2.blur(grid, (7, 7), borderType=cv2.BORDER_REFLECT)
    box = np.ones((5, 5), np.uint8)
    contrast = cv2.dilate(grid, box) - cv2.erode(grid, box)
    values, mean = grid[pattern.rows, pattern.cols], local[pattern.rows, pattern.cols]
    seen = values < SATURATED
    keep = seen & (contrast[pattern.rows, pattern.cols] > 16.0)
    if keep.sum() < 0.4 * len(values):
        return 0.0, 0.0
    agree = ((values < mean) == pattern.dark)[keep]
    return float(agree.mean()), float(agree.sum() / seen.sum())


def _refine(smooth: np.ndarray, quad: np.ndarray, pattern: _Pattern, module: float) -> np.ndarray:
    """Move each corner in steps of a half, a quarter and an eighth of a module while the
    fixed modules' contrast and the sharpness of all module centres improve."""
    quad = np.array(quad, np.float64)

    size = pattern.size
    rows, cols = np.divmod(np.arange(size * size), size)

    def score(q: np.ndarray) -> float:
        values = _values(smooth, q, size, rows, cols).reshape(size, size)
        fixed = _contrast(values[pattern.rows, pattern.cols], pattern.dark)
        return fixed + _sharpness(values)

    best = score(quad)
    for step in (0.5 * module, 0.25 * module, 0.125 * module):
        for _ in range(4):
            moved = False
            for corner in range(4):
                for axis in (0, 1):
                    for sign in (1.0, -1.0):
                        trial = quad.copy()
                        trial[corner, axis] += sign * step
                        s = score(trial)
                        if s > best:
                            best, quad, moved = s, trial, True
                            break
            if not moved:
                break
    return quad


def _formats(smooth: np.ndarray, quad: np.ndarray, pattern: _Pattern) -> tuple:
    """(level, mask) pairs whose format bits are within MAX_FORMAT_DISTANCE of the grid's,
    nearest first; washed-out format modules are not counted."""
    values = _values(smooth, quad, pattern.size, pattern.fmt_rows, pattern.fmt_cols)
    fixed = _values(smooth, quad, pattern.size, pattern.rows, pattern.cols)
    # Each format module against the fixed dark and light modules nearest to it: glare
    # brightens one side of a finder pattern more than the other.
    usable = fixed < SATURATED

    def level(near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = usable[near].sum(axis=1)
        total = np.where(usable[near], fixed[near], 0.0).sum(axis=1)
        return total / np.maximum(count, 1), count > 0

    near_dark, has_dark = level(pattern.fmt_dark)
    near_light, has_light = level(pattern.fmt_light)
    near_light[~has_light] = SATURATED  # light neighbours washed out: they are that bright
    seen = (values < SATURATED) & has_dark
    dark = values < (near_dark + near_light) / 2.0
    wrong = pattern.fmt_bits != dark  # (32, 30)
    # The two copies (beside the top-left finder; split between the other two) are judged
    # apart: glare over one finder spoils its copy without saturating all of it.
    first = (pattern.fmt_rows <= 8) & (pattern.fmt_cols <= 8)
    parts = [part for part in (first, ~first, first | ~first) if (seen & part).sum() >= 10]
    distances = [wrong[:, seen & part].sum(axis=1) for part in parts]
    if not distances:
        return ()
    distance = np.min(distances, axis=0)
    order = np.argsort(distance, kind="stable")
    return tuple(pattern.formats[i] for i in order if distance[i] <= MAX_FORMAT_DISTANCE)[:2]


# ---------------------------------------------------------------- hypotheses

# The centre of each finder in module coordinates, from the symbol's size.
_SLOTS = {"TL": (3.5, 3.5), "TR": (-3.5, 3.5), "BL": (3.5, -3.5)}


def _slot(name: str, size: int) -> complex:
    x, y = _SLOTS[name]
    return complex(x if x > 0 else size + x, y if y > 0 else size + y)


def _hypotheses(a: Finder, b: Finder, shape: tuple[int, int]):
    """(module points, image points, version) of each symbol finders `a` and `b` can belong
    to: their centres and their squares' corners, in the symbol's module coordinates."""
    if not 0.6 <= a.module / b.module <= 1.6:
        return
    module = (a.module + b.module) / 2.0
    za, zb = complex(*a.centre), complex(*b.centre)
    distance = abs(zb - za)
    for sa, sb in permutations(_SLOTS, 2):
        diagonal = {sa, sb} == {"TR", "BL"}
        size_est = distance / module / (np.sqrt(2.0) if diagonal else 1.0) + 7.0
        v_est = (size_est - 17.0) / 4.0
        # A finder's module size is measured on its ring, which a dim or blurred frame
        # thins or thickens, and a tilted card has larger modules on its near side:
        # versions up to VERSION_SLACK either side of the estimate are tried too.
        low, high = np.floor(v_est - VERSION_SLACK) + 1, np.floor(v_est + VERSION_SLACK) + 1
        for version in range(int(low), int(high)):
            if not 1 <= version <= 40:
                continue
            size = 17 + 4 * version
            wa, wb = _slot(sa, size), _slot(sb, size)
            scale = (zb - za) / (wb - wa)
            shift = za - scale * wa
            # Each finder's detected corners, matched to the corners of its square.
            src, dst = [wa, wb], [za, zb]
            for finder, w_centre in ((a, wa), (b, wb)):
                for corner in finder.corners:
                    w_point = (complex(*corner) - shift) / scale
                    rel = w_point - w_centre
                    snapped = complex(3.5 * np.sign(rel.real), 3.5 * np.sign(rel.imag))
                    if abs(rel - snapped) < 2.0:
                        src.append(w_centre + snapped)
                        dst.append(complex(*corner))
            yield (
                np.array([[p.real, p.imag] for p in src]),
                np.array([[p.real, p.imag] for p in dst]),
                version,
            )


def _affine_quad(src: np.ndarray, dst: np.ndarray, size: int) -> np.ndarray:
    design = np.hstack([src, np.ones((len(src), 1))])
    affine, *_ = np.linalg.lstsq(design, dst, rcond=None)
    return np.array([[0, 0, 1], [size, 0, 1], [size, size, 1], [0, size, 1]]) @ affine


def _inside(quad: np.ndarray, shape: tuple[int, int], margin: float) -> bool:
    h, w = shape
    return bool(
        (quad[:, 0] > -margin).all()
        and (quad[:, 0] < w + margin).all()
        and (quad[:, 1] > -margin).all()
        and (quad[:, 1] < h + margin).all()
    )


_ALIGNMENT = np.full((5, 5), 1.0)
_ALIGNMENT[1:4, 1:4] = 0.0
_ALIGNMENT[2, 2] = 1.0
PX = 8  # px per module of the rectified patches alignment patterns are searched in


def _alignment_points(smooth: np.ndarray, quad: np.ndarray, version: int, reach: float):
    """(module points, image points) of the alignment patterns found within `reach`
    modules of where the symbol at `quad` puts them (none under the glare)."""
    from segno import consts

    size = 17 + 4 * version
    if version < 2:
        return [], []
    positions = consts.ALIGNMENT_POS[version - 2]  # from version 2
    last = positions[-1]
    square = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    to_image = cv2.getPerspectiveTransform(square, np.asarray(quad, np.float32))
    template = cv2.resize(
        (255 * (1 - _ALIGNMENT)).astype(np.float32),
        None,
        fx=PX,
        fy=PX,
        interpolation=cv2.INTER_NEAREST,
    )
    half = 2.5 + reach
    side = int(round(2 * half * PX))
    src, dst = [], []
    for r in positions:
        for c in positions:
            if (r, c) in ((6, 6), (6, last), (last, 6)):
                continue
            cx, cy = c + 0.5, r + 0.5
            # Patch coordinates -> module coordinates -> image.
            to_module = np.array(
                [[1 / PX, 0, cx - half], [0, 1 / PX, cy - half], [0, 0, 1]], np.float64
            )
            patch = cv2.warpPerspective(
                smooth,
                to_image @ to_module,
                (side, side),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderValue=255.0,
            )
            if (patch >= SATURATED).mean() > 0.15:
                continue
            match = cv2.matchTemplate(patch, template, cv2.TM_CCOEFF_NORMED)
            _, best, _, (mx, my) = cv2.minMaxLoc(match)
            if best < 0.6:
                continue
            found = (cx - half + (mx + 2.5 * PX) / PX, cy - half + (my + 2.5 * PX) / PX)
            image = cv2.perspectiveTransform(np.float32([[found]]), to_image)[0, 0]
            src.append((cx, cy))
            dst.append((float(image[0]), float(image[1])))
    return src, dst


def _homography_quad(src: np.ndarray, dst: np.ndarray, size: int) -> np.ndarray | None:
    if len(src) < 5:
        return None
    matrix, _ = cv2.findHomography(np.float32(src), np.float32(dst), 0)
    if matrix is None:
        return None
    square = np.float32([[[0, 0], [size, 0], [size, size], [0, size]]])
    return cv2.perspectiveTransform(square, matrix)[0].astype(np.float64)


def locate(
    gray: np.ndarray, finders: list[Finder] | None = None, deadline: float | None = None
) -> Iterator[Located]:
    """Symbols that two finder patterns in `gray` belong to, the best first fit first.
    Lazy: each is fitted only when the one before it was not what the caller wanted.
    No hypothesis is fitted after `deadline` (this thread's processor time)."""
    finders = find_finders(gray) if finders is None else finders
    if len(finders) < 2:
        return
    module = float(np.median([f.module for f in finders]))
    smooth = cv2.GaussianBlur(gray, (0, 0), max(0.5, module / 4.0)).astype(np.float32)
    scored = []
    for a, b in combinations(finders, 2):
        for src, dst, version in _hypotheses(a, b, gray.shape):
            size = 17 + 4 * version
            quad = _affine_quad(src, dst, size)
            if _inside(quad, gray.shape, 2 * module):
                scored.append((_support(smooth, quad, _pattern(version)), quad, src, dst, version))
    scored.sort(key=lambda s: -s[0])
    given: list[Located] = []
    for support, quad, src, dst, version in scored[:MAX_REFINED]:
        if support < MIN_SUPPORT or (deadline is not None and time.thread_time() > deadline):
            return
        pattern = _pattern(version)
        for reach in (3.0, 1.5):
            a_src, a_dst = _alignment_points(smooth, quad, version, reach)
            better = _homography_quad(
                np.vstack([src, *([a_src] if a_src else [])]),
                np.vstack([dst, *([a_dst] if a_dst else [])]),
                pattern.size,
            )
            if better is not None and _inside(better, gray.shape, 2 * module):
                quad = better
        quad = _refine(smooth, quad, pattern, module)
        fit = _fit(smooth, quad, pattern)
        if fit < MIN_FIT:
            continue
        if any(g.version == version and np.abs(g.quad - quad).max() < 2 * module for g in given):
            continue
        formats = _formats(smooth, quad, pattern)
        if formats:
            given.append(Located(quad, version, formats, fit))
            yield given[-1]
