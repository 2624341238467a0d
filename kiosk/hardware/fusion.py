"""Reading a QR code from several camera frames when no single frame can be read.

A ceiling light on a laminated card makes a glare spot that can wash out more of the
code than error correction recovers, and a shaking hand blurs it. But glare moves over
the card as the card moves, and the code does not: over a few frames every part of the
code is seen without glare in at least one of them.

`LiveQrDecoder.decode(gray)` runs the still pipeline (`QrPipeline`) on the frame; when
that reads nothing, the symbols it found but could not read (their four corners, in the
symbol's own order) are warped onto one square, so every module lands on the same pixel
whatever the card's position, rotation or tilt in each frame. The last few squares of a
steady card are kept, and their fusion is decoded:

- the per-pixel minimum: additive glare never darkens, so the darkest value of each
  pixel is the one least touched by glare;
- the median of each pixel over the frames where it is not saturated;
- an average of the frames, each with its local brightness removed and its contrast
  normalised, weighted by that contrast: washed-out (flat) areas count for little.

Where glare washes out one finder pattern, the symbol is put together from the two
finder patterns left (`_from_finders`). A frame where it is not found even so is
followed from where the symbol last was and lined up on the last kept square by its
modules' edges.
That alignment can lock a module or more off (the modules repeat and glare hides most
of them), and one such frame spoils every fusion; so it is kept only when it correlates
well, and the frames found whole (exact to a pixel or so) are fused first, then all.

A card that moves on (its size changes, or no symbol is found for a while) clears the
kept frames, so different cards are never fused. Fusion has its own processor-time
budget per frame, and what it does costs little however many frames are kept. No Qt
here: kiosk/hardware/camera.py's ScanWorker calls `decode`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.hardware.decoders import Decoded, QrPipeline, Unread, _glare, _zxing, to_gray
from kiosk.hardware.qr_erasure import read_with_erasures
from kiosk.services.text import nfc

log = logging.getLogger(__name__)

SIDE = 336  # px: the fused square (about 6 px per module for the card's QR versions)
MARGIN = 24  # px of quiet zone around it
SATURATED = 236  # grey level from which a pixel is taken as washed out by glare
# The share of the code saturated beyond which a single frame is not worth locating
# (error correction with erasures recovers about 30 % of the codewords at level M).
LOCATE_GLARE = 0.25
# The edge correlation below which a frame is not taken as lined up on the kept ones:
# measured on the video benchmark's frames, no alignment above it was a module off,
# and a frame smeared by a jerk of the hand (30 px) stays below it.
MIN_CORRELATION = 0.45


@dataclass
class _Patch:
    square: np.ndarray  # the symbol warped onto SIDE×SIDE (plus MARGIN), uint8
    quad: np.ndarray  # the symbol's corners in the frame
    size: float  # the symbol's side in the frame, px
    centre: np.ndarray  # the symbol's centre in the frame
    to_frame: np.ndarray | None = None  # 3×3: square coordinates to frame coordinates
    # The square normalised for the contrast-weighted fusion (weighted values, weights):
    # worked out once, the first time a fusion needs it, not again for every fusion.
    contrast: tuple[np.ndarray, np.ndarray] | None = None
    found: bool = True  # found whole by the decoder (else followed by alignment)


class LiveQrDecoder:
    """The live camera's decoder: one frame at a time, fusing recent frames when needed.

    `keep` frames are kept (the camera delivers several a second, so this is the last
    second or so); fusion is tried once at least `min_frames` are kept, within
    `fusion_budget_ms` of this thread's processor time. Before fusing, a frame whose
    glare leaves enough of the code is read by the two-finder locator on a window
    around the symbol, within `locate_budget_ms`: a card held still with the light's
    spot over one finder pattern, which fusion cannot help.
    """

    def __init__(
        self,
        pipeline: QrPipeline | None = None,
        keep: int = 8,
        min_frames: int = 3,
        fusion_budget_ms: float = 20.0,
        forget_after: int = 6,
        locate_budget_ms: float = 40.0,
    ) -> None:
        self.pipeline = pipeline or QrPipeline()
        self.keep = keep
        self.min_frames = min_frames
        self.fusion_budget_ms = fusion_budget_ms
        self.forget_after = forget_after
        self.locate_budget_ms = locate_budget_ms
        self._patches: deque[_Patch] = deque(maxlen=keep)
        self._misses = 0  # frames in a row without a symbol
        self._resume = 0  # which fusion to try first (see _fused)
        self.fused_reads = 0
        # What the last call did, for benchmarks and diagnostics: "read" (a single frame
        # was read), "none" (no symbol to keep), "skip" (the kept symbol was not followed
        # into the frame), "kept" (too few frames to fuse yet), "located" (read by the
        # two-finder locator around the kept symbol), "fused" (read from the fusion),
        # "unfused" (fusion tried, nothing read), "budget" (fusion cut short).
        self.last_step = ""

    def reset(self) -> None:
        self._patches.clear()
        self._misses = 0
        self._resume = 0

    def decode(self, frame: np.ndarray) -> list[Decoded]:
        gray = to_gray(frame)
        found, regions = self.pipeline.decode_regions(gray)
        if found:
            self.reset()  # the card is readable: nothing to fuse
            self.last_step = "read"
            return found
        quad = self._pick(regions)
        if quad is not None:
            self._add(gray, quad)
        elif not self._track(gray):
            # The kept symbol cannot be followed into this frame (a strong smear, say):
            # skip the frame and keep what was gathered. Start again only with another
            # whole symbol in view, or once the kept one is lost for several frames.
            self._misses += 1
            other = self._pick(regions, follow=False)
            if other is not None and self._patches:
                last = self._patches[-1]
                away = float(np.linalg.norm(other.mean(0) - last.centre))
                other = other if away > last.size else None  # elsewhere: another card
            other = other is not None
            if not self._patches or other or self._misses >= self.forget_after:
                if not self._restart(gray, regions):
                    self.reset()
                    self.last_step = "none"
                    if not _glare(gray) or self.locate_budget_ms <= 0:
                        return []
                    # Glare over a finder pattern can hide even the parts zxing-cpp
                    # reports: the locator looks at the most textured part of the frame.
                    found = self.pipeline.located_near(gray, None, self.locate_budget_ms)
                    if found:
                        self.last_step = "located"
                    return found
            else:
                self.last_step = "skip"
                return []
        self._misses = 0
        found = self._located_near(gray)
        if found:
            self.reset()
            self.last_step = "located"
            return found
        if len(self._patches) < self.min_frames:
            self.last_step = "kept"
            return []
        found = self._fused()
        if found:
            self.fused_reads += 1
        return found

    def texts(self, frame: np.ndarray) -> list[str]:
        return [d.text for d in self.decode(frame)]

    @property
    def kept(self) -> int:
        """How many frames of the current card are kept for fusion."""
        return len(self._patches)

    # ------------------------------------------------------------ internals

    def _located_near(self, gray: np.ndarray) -> list[Decoded]:
        """The frame just kept, read where its symbol is by the two-finder locator
        (kiosk/hardware/qr_locator.py) when its glare leaves enough of the code for error
        correction: glare over one finder pattern hides the symbol from zxing-cpp, and
        the locator needs only the other two. The single-frame pipeline has no time for
        it on the whole frame; around the symbol it costs a tenth of that."""
        last = self._patches[-1]
        code = last.square[MARGIN : MARGIN + SIDE, MARGIN : MARGIN + SIDE]
        # Washed out: where even the darkest pixel within two modules is near white (a
        # light module alone is as bright as that).
        washed = cv2.erode(code, np.ones((13, 13), np.uint8)) >= SATURATED
        if self.locate_budget_ms <= 0 or washed.mean() > LOCATE_GLARE:
            return []
        return self.pipeline.located_near(gray, last.quad, self.locate_budget_ms)

    def _pick(self, regions: list[np.ndarray], follow: bool = True) -> np.ndarray | None:
        """The whole symbol among the found-but-unread regions: a convex, nearly square
        quadrilateral (a lone finder pattern or a partial guess is smaller or skewed).
        While a symbol is kept (`follow`), only one of its size near where it was: else
        None, and the kept symbol is followed by alignment instead (see _track)."""
        good = []
        for quad in [*regions, *_from_finders(regions)]:
            quad = _image_order(np.asarray(quad, np.float32))
            sides = _sides(quad)
            if min(sides) < 24 or max(sides) > 1.5 * min(sides):
                continue
            if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
                continue
            good.append((quad, float(np.mean(sides))))
        if follow and self._patches:
            last = self._patches[-1]
            larger = [qs for qs in good if qs[1] > 1.25 * last.size]
            if larger:
                # A partial guess may have been kept; the whole symbol is larger.
                self._patches.clear()
                return max(larger, key=lambda qs: qs[1])[0]

            def distance(quad: np.ndarray) -> float:
                return float(np.linalg.norm(quad.mean(0) - last.centre))

            near = [
                quad
                for quad, size in good
                if abs(size - last.size) <= 0.2 * last.size and distance(quad) <= 0.75 * last.size
            ]
            return min(near, key=distance) if near else None
        return max(good, key=lambda qs: qs[1])[0] if good else None

    def _restart(self, gray: np.ndarray, regions: list[np.ndarray]) -> bool:
        """The kept symbol is lost (or none was kept): start from the largest in view."""
        self._patches.clear()
        quad = self._pick(regions, follow=False)
        if quad is None:
            return False
        self._add(gray, quad)
        return True

    def _add(self, gray: np.ndarray, quad: np.ndarray) -> None:
        """Keep the symbol found at `quad` (starting again if it is another card)."""
        size = float(np.mean(_sides(quad)))
        centre = quad.mean(0)
        if self._patches:
            last = self._patches[-1]
            moved = float(np.linalg.norm(centre - last.centre))
            if abs(size - last.size) > 0.2 * last.size or moved > 0.75 * last.size:
                self._patches.clear()  # another card, or the card moved on: start again
        # The corners of a symbol found whole are exact to a pixel or so: it is kept as
        # found (aligning it on the others by its content would do worse under glare).
        to_frame = np.linalg.inv(_homography(quad))
        self._patches.append(_Patch(_rectify(gray, quad), quad, size, centre, to_frame))

    def _track(self, gray: np.ndarray) -> bool:
        """Follow the kept symbol into a frame where it was not found whole (glare on a
        finder pattern, say): warp the frame where the symbol last was, then line it up
        on the kept frames."""
        if not self._patches:
            return False
        last = self._patches[-1]
        return self._append_aligned(_rectify(gray, last.quad), last.quad)

    def _append_aligned(self, square: np.ndarray, quad: np.ndarray) -> bool:
        """Keep `square` (the frame rectified through `quad`) once aligned on the last
        kept square (the nearest in time, so the least moved and the likeliest to share
        its glare-free parts). False when it does not align."""
        warp = _align(square, self._patches[-1].square)
        if warp is None:
            return False
        aligned = cv2.warpAffine(
            square,
            warp,
            square.shape[::-1],
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # Where the last square's canonical corners lie in this frame: through the affine
        # warp, then back through the rectifying homography.
        to_frame = np.linalg.inv(_homography(quad)) @ np.vstack([warp, [0, 0, 1]])
        found = cv2.perspectiveTransform(_CANON[None].astype(np.float64), to_frame)[0]
        found = found.astype(np.float32)
        size = float(np.mean(_sides(found)))
        self._patches.append(_Patch(aligned, found, size, found.mean(0), to_frame, found=False))
        return True

    def _fused(self) -> list[Decoded]:
        """Decode the fusions of the kept frames, cheapest first, within the budget.
        What each costs stays small however many frames are kept: the per-frame work of
        the contrast-weighted fusion is done once per frame (_Patch.contrast), and the
        median sorts by min/max over whole images, not pixel by pixel."""
        deadline = time.thread_time() + self.fusion_budget_ms / 1000
        self.last_step = "budget"
        everything = list(self._patches)
        # The frames whose symbol was found whole line up to a pixel or so; a frame
        # followed by alignment can be off by a module or more (the modules repeat, and
        # glare hides most of them), which spoils a fusion. Those first, then all, for each
        # composite.
        stacks = [everything]
        found = [p for p in everything if p.found]
        if 2 <= len(found) < len(everything):
            stacks.insert(0, found)
        corners = tuple((int(x), int(y)) for x, y in self._patches[-1].quad)
        tries = [(name, make, patches) for name, make in _COMPOSITES for patches in stacks]
        # The kept frames change by one from one call to the next: a fusion cut short by
        # its budget goes on where the last one stopped, so over a few frames every
        # composite is tried, not only the first ones on every frame.
        start = self._resume % len(tries)
        for step in range(len(tries)):
            index = (start + step) % len(tries)
            if time.thread_time() > deadline:
                self._resume = index
                return []
            name, make, patches = tries[index]
            result = self._read_fused(make(patches), name, corners, deadline)
            if result:
                self.last_step = "fused"
                self._resume = index  # the next frame tries what read first
                return result
            if result is None:
                self._resume = index  # cut short: tried again, first, on the next frame
                return []
        self._resume = 0
        self.last_step = "unfused" if time.thread_time() <= deadline else "budget"
        return []

    @staticmethod
    def _read_fused(
        image: np.ndarray, name: str, corners: tuple[tuple[int, int], ...], deadline: float
    ) -> list[Decoded] | None:
        """The code read from one fused square (as it is, then through a local
        threshold), or None when the budget ran out before every step was tried."""
        for k, variant in enumerate((image, _local_threshold(image))):
            if k and time.thread_time() > deadline:
                return None
            unread: list[Unread] = []
            found, _ = _zxing(variant, try_downscale=False, unread=unread)
            if found:
                return [Decoded(d.text, corners, d.decoder, name) for d in found]
            if unread and time.thread_time() > deadline:
                return None
            # Located but not corrected: where every frame was washed out, the fused
            # square is too; those modules are erasures, not errors.
            for symbol in unread[:1]:
                text = read_with_erasures(
                    image, symbol.quad, symbol.version, symbol.level, symbol.mask
                )
                if text is not None:
                    return [Decoded(nfc(text), corners, "zxing", name + "-erasures")]
        return []


def _sides(quad: np.ndarray) -> list[float]:
    """The lengths of a quadrilateral's four sides, px."""
    return [float(np.linalg.norm(quad[i] - quad[(i + 1) % 4])) for i in range(4)]


def _image_order(quad: np.ndarray) -> np.ndarray:
    """The corners clockwise on screen from the top-left one. Symbols found whole come in
    their own order and symbols put together from finder patterns (_from_finders) cannot
    know it: the kept squares must all be in one order, and zxing reads a fused square
    in any orientation."""
    centre = quad.mean(0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    quad = quad[np.argsort(angles)]  # clockwise on screen (y down)
    return np.roll(quad, -int(np.argmin(quad.sum(1))), axis=0)


def _from_finders(regions: list[np.ndarray]) -> list[np.ndarray]:
    """Whole symbols put together from two partial regions. Where glare washes out one
    finder pattern, zxing reports small regions around the other two, each with its first
    corner on the symbol's outer corner and its diagonal pointing into the symbol. Two of
    a size, far apart, whose diagonals point at each other are opposite corners (the
    symbol is the square on that diagonal); whose diagonals are at 45° to the line
    between them, on one side, are neighbouring corners (the square on that side)."""
    quads = [np.asarray(q, np.float64) for q in regions]
    out = []
    for i, a in enumerate(quads):
        for b in quads[i + 1 :]:
            size_a = float(np.linalg.norm(a[1] - a[0]))
            size_b = float(np.linalg.norm(b[1] - b[0]))
            if min(size_a, size_b) < 12 or max(size_a, size_b) > 1.3 * min(size_a, size_b):
                continue
            pa, pb = a[0], b[0]
            v = pb - pa
            length = float(np.linalg.norm(v))
            if not 1.8 * size_a <= length <= 8 * size_a:
                continue
            da, db = a[2] - a[0], b[2] - b[0]
            cos_a = float(da @ v) / (float(np.linalg.norm(da)) * length + 1e-9)
            cos_b = float(db @ -v) / (float(np.linalg.norm(db)) * length + 1e-9)
            normal = np.array([-v[1], v[0]]) / length
            if cos_a > 0.94 and cos_b > 0.94:
                half = normal * length / 2
                middle = (pa + pb) / 2
                out.append(np.array([pa, middle + half, pb, middle - half], np.float32))
            elif 0.55 < cos_a < 0.85 and 0.55 < cos_b < 0.85:
                side_a, side_b = float(da @ normal), float(db @ normal)
                if side_a * side_b <= 0:
                    continue
                step = normal * length * np.sign(side_a)
                out.append(np.array([pa, pb, pb + step, pa + step], np.float32))
    return out


_CANON = np.float32(
    [
        [MARGIN, MARGIN],
        [MARGIN + SIDE, MARGIN],
        [MARGIN + SIDE, MARGIN + SIDE],
        [MARGIN, MARGIN + SIDE],
    ]
)


def _homography(quad: np.ndarray) -> np.ndarray:
    return cv2.getPerspectiveTransform(np.asarray(quad, np.float32), _CANON)


def _align(square: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """The rigid warp (2×3, reference coordinates to `square` coordinates) that lines
    `square` up with `reference`: a shift by phase correlation, refined by ECC (rotation
    and shift, saturated pixels ignored; an affine warp locks a module off twice as
    often under glare), at half size. None when it does not converge, correlates too
    little, or moves too far to be the same symbol."""
    small, ref = cv2.pyrDown(square), cv2.pyrDown(reference)
    mask = ((small < SATURATED) & (ref < SATURATED)).astype(np.uint8)
    # On the modules' edges only: the glare spot is the brightest, largest thing in
    # both images and would otherwise be what gets aligned.
    small, ref = _edges(small), _edges(ref)
    (dx, dy), _ = cv2.phaseCorrelate(ref, small, _window(small.shape))
    warp = np.float32([[1, 0, dx], [0, 1, dy]])
    try:
        cc, warp = cv2.findTransformECC(
            ref,
            small,
            warp,
            cv2.MOTION_EUCLIDEAN,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4),
            mask,
            3,
        )
    except cv2.error:
        return None
    warp[:, 2] *= 2
    if cc < MIN_CORRELATION or np.abs(warp[:, 2]).max() > SIDE * 0.3:
        return None
    return warp


def _edges(image: np.ndarray) -> np.ndarray:
    """High-pass, saturation-free version of a square for alignment."""
    f = image.astype(np.float32)
    high = f - cv2.GaussianBlur(f, (0, 0), 4.0)
    high[image >= SATURATED] = 0.0
    return high


_WINDOWS: dict[tuple[int, ...], np.ndarray] = {}


def _window(shape: tuple[int, ...]) -> np.ndarray:
    if shape not in _WINDOWS:
        _WINDOWS[shape] = cv2.createHanningWindow(shape[::-1], cv2.CV_32F)
    return _WINDOWS[shape]


def _rectify(gray: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The symbol inside `quad` warped onto a square with a quiet-zone margin."""
    matrix = _homography(quad)
    full = SIDE + 2 * MARGIN
    return cv2.warpPerspective(
        gray, matrix, (full, full), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _sorted(squares: list[np.ndarray]) -> np.ndarray:
    """The squares sorted pixel by pixel (a sorting network of per-image minima and
    maxima: a few milliseconds for 8 squares, where np.sort over the stack takes 10)."""
    rows = list(squares)
    for end in range(len(rows) - 1, 0, -1):
        for j in range(end):
            low = np.minimum(rows[j], rows[j + 1])
            rows[j + 1] = np.maximum(rows[j], rows[j + 1])
            rows[j] = low
    return np.stack(rows)


def _median_unsaturated(patches: list[_Patch]) -> np.ndarray:
    """Per pixel, the median of the values below SATURATED (the lowest when all are)."""
    ordered = _sorted([p.square for p in patches])
    n_ok = (ordered < SATURATED).sum(axis=0)
    index = np.maximum(n_ok - 1, 0) // 2
    return np.take_along_axis(ordered, index[None], axis=0)[0]


def _normalised(square: np.ndarray, sigma: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """A square with its local brightness taken away and its local contrast brought to
    one, times its weight (that contrast, none where saturated), and the weight."""
    f = square.astype(np.float32)
    # The local mean and variance vary slowly: worked out at a quarter of the pixels.
    small = cv2.pyrDown(f)
    mean = cv2.GaussianBlur(small, (0, 0), sigma / 2)
    var = np.maximum(cv2.GaussianBlur(small * small, (0, 0), sigma / 2) - mean * mean, 0.0)
    mean = cv2.resize(mean, f.shape[::-1], interpolation=cv2.INTER_LINEAR)
    var = cv2.resize(var, f.shape[::-1], interpolation=cv2.INTER_LINEAR)
    weight = var * (square < SATURATED)
    return weight * (f - mean) / np.sqrt(var + 1.0), weight


def _contrast_weighted(patches: list[_Patch]) -> np.ndarray:
    """Each frame with its local brightness taken away and its local contrast brought to
    one, then averaged with weights by that contrast: where glare washes a frame out
    (bright, flat) it counts for little, where the modules stand out it counts most,
    and averaging the good frames also averages their noise away."""
    total = np.zeros(patches[0].square.shape, np.float32)
    weights = np.full(patches[0].square.shape, 1e-3, np.float32)
    for patch in patches:
        if patch.contrast is None:
            patch.contrast = _normalised(patch.square)
        weighted, weight = patch.contrast
        total += weighted
        weights += weight
    return np.clip(128.0 + 60.0 * total / weights, 0, 255).astype(np.uint8)


def _minimum(patches: list[_Patch]) -> np.ndarray:
    return np.minimum.reduce([p.square for p in patches])


# The minimum first: the cheapest and, glare being additive, the one that reads most often.
_COMPOSITES = (
    ("fused-min", _minimum),
    ("fused-median", _median_unsaturated),
    ("fused-contrast", _contrast_weighted),
)


def _local_threshold(image: np.ndarray) -> np.ndarray:
    return cv2.adaptiveThreshold(
        image, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 41, 2
    )
