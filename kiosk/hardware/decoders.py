"""QR decoding for camera frames: raw decoders and the kiosk's decode pipeline.

Only QR codes are looked for: restricting the symbologies makes every decoder faster
and removes false reads from 1D barcodes. zxing-cpp is the primary decoder (fast,
returns UTF-8 text correctly); pyzbar is a second opinion with a repair for zbar's
Shift-JIS guess; OpenCV is kept as a raw decoder for the benchmark.

`QrPipeline.decode(frame)` runs a plain pass on the grayscale frame and, only when that
finds nothing, a short sequence of preprocessing passes (contrast, sharpening,
rescaling, glare handling, erasure decoding, zbar's own detector, deblurring), stopping
at the first pass
that reads a code or when the time budget of the frame is spent. All text is
NFC-normalised; control characters and GS1 separators come back as encoded.
Reading across several frames (glare that moves) is kiosk/hardware/fusion.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.services.text import nfc

log = logging.getLogger(__name__)

Point = tuple[int, int]


@dataclass(frozen=True)
class Decoded:
    text: str
    corners: tuple[Point, ...]  # in the coordinates of the frame given to decode()
    decoder: str  # "zxing" | "zbar" | "opencv"
    stage: str = "plain"  # the pipeline pass that read it


@dataclass
class Unread:
    """A symbol zxing-cpp located and identified but could not correct."""

    quad: np.ndarray  # its outer corners: top-left, top-right, bottom-right, bottom-left
    version: int
    level: str  # "L" | "M" | "Q" | "H"
    mask: int


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


# ---------------------------------------------------------------- raw decoders


def _zxing(
    gray: np.ndarray,
    binarizer: str = "local",
    try_downscale: bool = True,
    try_invert: bool = False,
    unread: list[Unread] | None = None,
) -> tuple[list[Decoded], list[np.ndarray]]:
    """Valid QR codes, and the corners of symbols that were found but failed their
    error correction (regions worth a closer look). Those of them whose version, level
    and mask were read are added to `unread` when given (for erasure decoding)."""
    import zxingcpp

    binarizers = {
        "local": zxingcpp.Binarizer.LocalAverage,
        "global": zxingcpp.Binarizer.GlobalHistogram,
    }
    results = zxingcpp.read_barcodes(
        np.ascontiguousarray(gray),
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_rotate=False,  # QR finder patterns are found at any angle without it
        try_downscale=try_downscale,
        try_invert=try_invert,
        binarizer=binarizers[binarizer],
        return_errors=True,
        # The payload as encoded (control characters, GS1 separators included), not a
        # "human readable" rendering of it: the card parser sees what the card holds.
        text_mode=zxingcpp.TextMode.Plain,
    )
    found, failed = [], []
    for r in results:
        p = r.position
        quad = [(q.x, q.y) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        if r.valid:
            found.append(Decoded(nfc(r.text), tuple((int(x), int(y)) for x, y in quad), "zxing"))
        else:
            failed.append(np.array(quad, np.float32))
            if unread is not None:
                extra = r.extra if isinstance(r.extra, dict) else {}
                try:
                    version, mask = int(extra.get("Version", 0)), int(extra.get("DataMask", -1))
                except (TypeError, ValueError):
                    continue
                if version >= 1 and 0 <= mask <= 7:
                    level = str(extra.get("ECLevel", ""))
                    unread.append(Unread(np.array(quad, np.float32), version, level, mask))
    return found, failed


def decode_zxing(
    gray: np.ndarray, binarizer: str = "local", try_downscale: bool = True, try_invert: bool = False
) -> list[Decoded]:
    return _zxing(gray, binarizer, try_downscale, try_invert)[0]


def zxing_available() -> bool:
    try:
        import zxingcpp  # noqa: F401
    except ImportError:
        return False
    return True


def repair_zbar_text(data: bytes) -> str:
    """zbar guesses Shift-JIS (or Latin-1) for UTF-8 byte-mode payloads without an ECI
    marker and hands back the UTF-8 of its guess: undo the guess where it round-trips."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")
    if text.isascii():
        return text
    for codec in ("shift_jis", "cp932", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def decode_zbar(gray: np.ndarray) -> list[Decoded]:
    from pyzbar import pyzbar

    out = []
    for r in pyzbar.decode(np.ascontiguousarray(gray), symbols=[pyzbar.ZBarSymbol.QRCODE]):
        corners = tuple((int(p.x), int(p.y)) for p in r.polygon)
        out.append(Decoded(nfc(repair_zbar_text(r.data)), corners, "zbar"))
    return out


def _zbar_read(gray: np.ndarray, **_: object) -> tuple[list[Decoded], list[np.ndarray]]:
    return decode_zbar(gray), []


class OpenCvDecoder:
    """cv2.QRCodeDetectorAruco (the faster of OpenCV's two QR detectors)."""

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetectorAruco()

    def __call__(self, gray: np.ndarray) -> list[Decoded]:
        try:
            ok, texts, points, _ = self._detector.detectAndDecodeMulti(gray)
        except (cv2.error, UnicodeDecodeError) as exc:  # seen on Kanji-mode codes
            log.debug("opencv decoder failed: %s", type(exc).__name__)
            return []
        if not ok or points is None:
            return []
        out = []
        for text, quad in zip(texts, points, strict=False):
            if text:
                corners = tuple((int(x), int(y)) for x, y in quad)
                out.append(Decoded(nfc(text), corners, "opencv"))
        return out


# ---------------------------------------------------------------- the pipeline


def _with(
    decoded: list[Decoded], stage: str, scale: float = 1.0, offset: tuple[int, int] = (0, 0)
) -> list[Decoded]:
    """Results of a pass on a crop/rescaled image, mapped back to frame coordinates."""
    ox, oy = offset
    return [
        Decoded(
            d.text,
            tuple((round(x / scale) + ox, round(y / scale) + oy) for x, y in d.corners),
            d.decoder,
            stage,
        )
        for d in decoded
    ]


def _resize(gray: np.ndarray, factor: float) -> np.ndarray:
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interp)


def _sharpen(gray: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    # Unsharp mask: restores module edges softened by defocus.
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    return cv2.addWeighted(gray, 1 + amount, blurred, -amount, 0)


def _threshold(gray: np.ndarray, block: int) -> np.ndarray:
    # Local threshold over a few modules: keeps the code readable across a glare spot
    # or a shadow edge where zxing's own binariser is thrown by the bright area.
    return cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block | 1, 2
    )


def _motion_direction(gray: np.ndarray) -> float:
    """Angle (radians, image axes) along which the strong edges are weakest: the
    direction of a motion blur. From the structure tensor of the strongest gradients."""
    if gray.shape[1] > 800:  # the direction survives halving; the cost does not
        gray = cv2.pyrDown(gray)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    energy = gx * gx + gy * gy
    strong = energy > np.percentile(energy, 90)
    a, b, c = (gx * gx)[strong].sum(), (gy * gy)[strong].sum(), (gx * gy)[strong].sum()
    return float(0.5 * np.arctan2(2 * c, a - b) + np.pi / 2)


def _deblur_motion(gray: np.ndarray, length: int = 7, amount: float = 3.0) -> np.ndarray:
    # Unsharp mask with a line kernel along the estimated motion: restores edges across
    # the smear with less noise gain along it. At most 11×11: filter2D slows above.
    length = min(length | 1, 11)
    theta = _motion_direction(gray)
    kernel = np.zeros((length, length), np.float32)
    c = length // 2
    for t in np.linspace(-c, c, 4 * length):
        kernel[round(c + t * np.sin(theta)), round(c + t * np.cos(theta))] = 1
    blurred = cv2.filter2D(gray, -1, kernel / kernel.sum())
    return cv2.addWeighted(gray, 1 + amount, blurred, -amount, 0)


def _code_window(gray: np.ndarray, side: int = 440) -> tuple[int, int, int, int]:
    """A square around the most textured part of the frame, where a code too blurred
    to be found is most likely to be: (x0, y0, x1, y1)."""
    small = cv2.pyrDown(cv2.pyrDown(gray))
    energy = cv2.magnitude(
        cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    )
    energy = cv2.boxFilter(energy, -1, (side // 8, side // 8))
    _, _, _, (mx, my) = cv2.minMaxLoc(energy)
    h, w = gray.shape
    half = side // 2
    cx, cy = (
        min(max(mx * 4, half), max(half, w - half)),
        min(max(my * 4, half), max(half, h - half)),
    )
    return max(0, cx - half), max(0, cy - half), min(w, cx + half), min(h, cy + half)


def _window_around(gray: np.ndarray, quad: np.ndarray) -> tuple[int, int, int, int]:
    """The box around a symbol's corners with a margin of a tenth of its size (the blur
    spreads it), within the frame: (x0, y0, x1, y1)."""
    h, w = gray.shape
    (qx0, qy0), (qx1, qy1) = quad.min(0), quad.max(0)
    margin = 0.1 * max(qx1 - qx0, qy1 - qy0) + 8
    return (
        max(0, int(qx0 - margin)),
        max(0, int(qy0 - margin)),
        min(w, int(qx1 + margin) + 1),
        min(h, int(qy1 + margin) + 1),
    )


def _line_psf(length: float, theta: float, shape: tuple[int, int]) -> np.ndarray:
    """A motion-blur kernel (a line of `length` px at angle `theta`, image axes),
    anti-aliased (each point of the line shared among its four pixels, so a fractional
    length or an oblique angle is drawn as it is) and wrapped around the origin of an
    array of `shape` for the DFT."""
    psf = np.zeros(shape, np.float32)
    t = np.linspace(-(length - 1) / 2, (length - 1) / 2, max(2, int(4 * length)))
    xs, ys = t * np.cos(theta), t * np.sin(theta)
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = xs - x0, ys - y0
    for dx, dy, weight in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        rows, cols = (y0 + dy).astype(int) % shape[0], (x0 + dx).astype(int) % shape[1]
        np.add.at(psf, (rows, cols), weight.astype(np.float32))
    return psf / psf.sum()


def _noise_sigma(gray: np.ndarray) -> float:
    """The standard deviation of the sensor noise of an image (Immerkaer's estimate:
    a Laplacian difference that cancels smooth shading and edges to first order)."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    residue = cv2.filter2D(gray.astype(np.float32), -1, kernel)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(residue).mean() / 6)


def _motion_candidates(gray: np.ndarray, count: int = 3) -> list[tuple[float, float]]:
    """Motion blurs (length px, angle rad) that may have smeared `gray`, most likely
    first, from its cepstrum: a line blur of length L puts zeros every 1/L along its
    direction in the spectrum, so the log-spectrum is periodic there and its inverse
    transform has a deep negative peak at distance L in that direction. The modules of
    a code make weaker peaks of their own (at the module size, along the code's axes):
    hence a few candidates, not one."""
    h, w = gray.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    image = (gray.astype(np.float32) - float(gray.mean())) * window
    spectrum = cv2.dft(image, flags=cv2.DFT_COMPLEX_OUTPUT)
    magnitude = cv2.magnitude(spectrum[..., 0], spectrum[..., 1])
    if not magnitude.max() > 0:  # a flat window: no blur to measure
        return []
    log_spectrum = np.log(magnitude + 1e-3 * float(magnitude.max()))
    # The log-spectrum is even, so its transform is real (the cepstrum, up to scale).
    cepstrum = np.fft.fftshift(cv2.dft(log_spectrum, flags=cv2.DFT_COMPLEX_OUTPUT)[..., 0])
    r = min(24, min(h, w) // 2 - 1)  # the longest blur looked for, px
    if r < 4:
        return []
    near = cepstrum[h // 2 - r : h // 2 + r + 1, w // 2 - r : w // 2 + r + 1].copy()
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    # One half-plane (the cepstrum is symmetric), beyond the origin's own peak.
    near[(np.hypot(xx, yy) < 3) | (np.hypot(xx, yy) > r) | (yy < 0) | ((yy == 0) & (xx < 0))] = 0
    found = []
    for _ in range(count):
        iy, ix = np.unravel_index(int(np.argmin(near)), near.shape)
        if near[iy, ix] >= 0:
            break
        # Sub-pixel position: the centroid of the peak's depth around its deepest pixel.
        ys, xs = (
            slice(max(iy - 1, 0), min(iy + 2, 2 * r + 1)),
            slice(max(ix - 1, 0), min(ix + 2, 2 * r + 1)),
        )
        depth = np.clip(-near[ys, xs], 0, None)
        py, px = np.mgrid[ys, xs]
        cy, cx = (depth * py).sum() / depth.sum() - r, (depth * px).sum() / depth.sum() - r
        found.append((float(np.hypot(cx, cy)), float(np.arctan2(cy, cx))))
        near[max(iy - 2, 0) : iy + 3, max(ix - 2, 0) : ix + 3] = 0
    return found


def _gauss_psf(sigma: float, shape: tuple[int, int]) -> np.ndarray:
    r = int(3 * sigma) + 1
    k = cv2.getGaussianKernel(2 * r + 1, sigma)
    kernel = (k @ k.T).astype(np.float32)
    psf = np.zeros(shape, np.float32)
    psf[: 2 * r + 1, : 2 * r + 1] = kernel
    return np.roll(psf, (-r, -r), axis=(0, 1))


def _wiener(spectrum: np.ndarray, psf: np.ndarray, k: float = 0.01) -> np.ndarray:
    """Wiener deconvolution of an image given by its DFT (`spectrum`, complex output of
    cv2.dft) by `psf` (same shape, centred on the origin)."""
    h = cv2.dft(psf, flags=cv2.DFT_COMPLEX_OUTPUT)
    hr, hi = h[..., 0], h[..., 1]
    gr, gi = spectrum[..., 0], spectrum[..., 1]
    den = hr * hr + hi * hi + k
    restored = np.dstack([(gr * hr + gi * hi) / den, (gi * hr - gr * hi) / den])
    out = cv2.idft(restored, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    return np.clip(out, 0, 255).astype(np.uint8)


class Deblurrer:
    """Wiener deconvolution of the most textured window of a frame, for motion blur and
    defocus: what the pipeline tries last on a frame where nothing was read. Motion
    blurs are first those the window's cepstrum points at (length and angle), then a
    sweep of lengths along the direction the edges are weakest; defocus is a few
    Gaussian widths. The regularisation follows the noise measured in the window.
    Yields (name, image, (x0, y0)) lazily, so a time budget stops it between variants."""

    LENGTHS = (7, 11, 15, 9, 13, 17, 5)
    SIGMAS = (1.6, 2.4, 3.2)

    def variants(self, gray: np.ndarray, around: np.ndarray | None = None):
        x0, y0, x1, y1 = _code_window(gray) if around is None else _window_around(gray, around)
        crop = gray[y0:y1, x0:x1]
        h, w = crop.shape
        # The window's contrast stretched to the full range: a dim frame is restored
        # with the precision and the regularisation of a bright one.
        low, high = np.percentile(crop, (1, 99))
        gain = 255.0 / max(float(high - low), 16.0)
        stretched = (crop.astype(np.float32) - float(low)) * gain
        # Reflected borders against ringing, up to a size the DFT is fast for.
        ph, pw = cv2.getOptimalDFTSize(h + 32), cv2.getOptimalDFTSize(w + 32)
        top, left = (ph - h) // 2, (pw - w) // 2
        padded = cv2.copyMakeBorder(
            stretched, top, ph - h - top, left, pw - w - left, cv2.BORDER_REFLECT
        )
        spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
        shape = padded.shape
        # Noise-to-signal ratio for the Wiener filter, from the sensor grain measured in
        # the window and magnified by the stretch: a noisy frame is restored less
        # sharply rather than drowned in amplified grain. Stronger regularisations come
        # later, for the noise this measure misses (JPEG blocks: smooth within, steps
        # between).
        nsr = max(0.003, 1e-4 * (_noise_sigma(crop) * gain) ** 2)

        def cut(image: np.ndarray) -> np.ndarray:
            return image[top : top + h, left : left + w]

        # The window itself first, stretched: dim, grainy small modules that only
        # needed their contrast and an enlarged, smoothed read.
        yield "window", np.clip(stretched, 0, 255).astype(np.uint8), (x0, y0)
        candidates = _motion_candidates(crop)
        for length, angle in candidates:
            psf = _line_psf(length, angle, shape)
            yield "deblur-motion", cut(_wiener(spectrum, psf, nsr)), (x0, y0)
        # Mild defocus with strong regularisation: sharpening and denoising at once,
        # what reads small modules under heavy grain or in dim light.
        for sigma, k in ((1.4, 0.03), (1.0, 0.1)):
            yield "deblur-focus", cut(_wiener(spectrum, _gauss_psf(sigma, shape), k)), (x0, y0)
        for k in (4 * nsr, max(12 * nsr, 0.03), max(40 * nsr, 0.1)):
            for length, angle in candidates:
                psf = _line_psf(length, angle, shape)
                yield "deblur-motion", cut(_wiener(spectrum, psf, k)), (x0, y0)
        theta = _motion_direction(crop)
        for length in self.LENGTHS:
            for dt in (0.0, -0.1, 0.1):
                psf = _line_psf(length, theta + dt, shape)
                yield "deblur-motion", cut(_wiener(spectrum, psf, nsr)), (x0, y0)
            if length == 11:
                for sigma in self.SIGMAS:
                    psf = _gauss_psf(sigma, shape)
                    yield "deblur-focus", cut(_wiener(spectrum, psf, nsr / 2)), (x0, y0)


def _enlarge(gray: np.ndarray) -> np.ndarray:
    """Twice the size, smoothed first: deconvolved modules of 3-4 px, with their grain
    and ringing, are read by zxing at 6-8 px where they are not at their own size."""
    return _resize(cv2.GaussianBlur(gray, (0, 0), 1.0), 2.0)


class QrPipeline:
    """The kiosk's decoder: fast plain pass, then targeted and whole-frame passes.

    1. zxing-cpp on the grayscale frame (it also tries downscaled copies itself).
       A symbol it locates and identifies (version, level, mask) but cannot correct
       is sampled again and corrected with its washed-out modules taken as erasures
       (kiosk/hardware/qr_erasure.py), after this pass and after each of step 3.
    2. Regions where zxing found a symbol that failed error correction are cropped,
       enlarged to about 6 px per module (tiny codes) and retried with sharpening,
       a local threshold, a median filter and zbar: cheap, because the crop is small.
    3. Whole-frame passes, each only when everything before found nothing: sharpen
       (defocus), median (noise), local threshold (glare, shadow), 1.5× upscale
       (small codes), motion-direction sharpening, strong sharpening, sharpening then
       threshold (heavy blur), contrast equalisation (dim); regions they reveal go
       through step 2. Large codes and speed are covered by zxing's own downscaling.
    4. zbar's detector on the whole frame (ASCII text only: zbar guesses charsets).
    4a. The two-finder locator (kiosk/hardware/qr_locator.py): a symbol placed from two
       finder patterns and its alignment patterns, its format read from the grid, and
       read with erasures. On a frame with a glare spot (one may hide a finder pattern)
       it runs right after step 1 instead.
    5. Deblurring (`Deblurrer`), on a window with its contrast stretched: around the
       first symbol placed but not read (by zxing-cpp or the locator), else the most
       textured part of the frame. The window as it is, then Wiener deconvolutions for
       the motion blurs its cepstrum measures (length and angle), for mild defocus, for
       the measured blurs again with stronger regularisation, and a sweep of lengths
       along the direction the edges are weakest. Each result is read as it is, through
       a local threshold (ringing) and smoothed at twice the size (small, grainy
       modules); then with erasures at the places of the symbols placed but not read
       (their format is known, their blur is gone); then by the locator, at the image's
       size and at twice it (small modules' finder rings).

    `budget_ms` bounds the processor time spent on a frame: a live camera offers a
    fresh frame a few tens of milliseconds later, so a slow last resort is worth less
    than a new try. It is counted in this thread's CPU time, so which passes run on a
    frame does not depend on what else the machine is doing; the passes themselves
    then decide the latency (see benchmarks/bench_qr.py).
    """

    REGION_SIDE = 300  # px: crops are scaled so the code is about this wide
    LOCATE_MS = 40.0  # the two-finder locator's usual cost: run only with this much left
    LOCATED_ENLARGED = 4  # deblurred images per frame the locator also tries at twice the size
    LOCATE_DEBLURRED = True  # the locator also tries each deblurred image, budget allowing
    NEAR_HALF = 240  # px: half the side of the window `located_near` searches at least
    MAX_PLACED = 2  # symbols placed on the frame but not read, read again on deblurred images
    MAX_REGIONS = 3
    # How each deconvolved image is read: (stage suffix, preparation, its scale).
    DEBLURRED_READS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray], float], ...] = (
        ("", lambda g: g, 1.0),
        ("-threshold", lambda g: _threshold(g, 21), 1.0),
        ("-enlarged", _enlarge, 2.0),
    )

    def __init__(self, budget_ms: float = 25.0, use_zbar: bool = True) -> None:
        self.budget_ms = budget_ms
        self.use_zbar = use_zbar
        self._read: Callable[..., tuple[list[Decoded], list[np.ndarray]]] = _zxing
        if not zxing_available():
            # A broken install should degrade the scanner, not stop it.
            log.warning("zxing-cpp is not available: decoding QR codes with zbar only")
            self._read = _zbar_read
            self.use_zbar = False
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._deblurrer = Deblurrer()
        # Ordered by reads per millisecond on the benchmark corpus.
        self._frame_passes: list[tuple[str, Callable[[np.ndarray], np.ndarray], float]] = [
            ("sharpen", lambda g: _sharpen(g, 1.0, 1.0), 1.0),
            ("denoise", lambda g: cv2.medianBlur(g, 3), 1.0),
            ("threshold", lambda g: _threshold(g, 21), 1.0),
            ("upscale", lambda g: _sharpen(_resize(g, 1.5), 2.0, 1.0), 1.5),
            ("motion", _deblur_motion, 1.0),
            ("sharpen-strong", lambda g: _sharpen(g, 3.0, 1.5), 1.0),
            ("sharpen-threshold", lambda g: _threshold(_sharpen(g, 2.0, 2.0), 21), 1.0),
            ("contrast", self._clahe.apply, 1.0),
        ]

    def decode(self, frame: np.ndarray) -> list[Decoded]:
        return self.decode_regions(frame)[0]

    def decode_regions(self, frame: np.ndarray) -> tuple[list[Decoded], list[np.ndarray]]:
        """The codes read, and the corners (frame coordinates, 4×2, in the symbol's own
        order: top-left, top-right, bottom-right, bottom-left) of symbols that were found
        but could not be read: what multi-frame fusion aligns on."""
        gray = to_gray(frame)
        deadline = time.thread_time() + self.budget_ms / 1000
        unread: list[Unread] = []
        # Light on dark is tried only when nothing else is read.
        found, failed = self._read(gray, try_invert=True, unread=unread)
        if found:
            return _dedupe(_with(found, "plain")), []
        regions: list[np.ndarray] = []
        tried: list[Unread] = []
        glare = _glare(gray)  # then the two-finder locator runs early, else as a late pass
        for name, prepare, scale in [("", None, 1.0), *self._frame_passes]:
            if prepare is not None:
                if time.thread_time() > deadline:
                    return [], regions
                unread = []
                found, failed = self._read(prepare(gray), try_downscale=scale == 1.0, unread=unread)
                if found:
                    return _dedupe(_with(found, name, scale)), []
            found = self._erasures(gray, unread, scale, tried, deadline)
            if not found and prepare is None and glare:
                found = self._located(gray, deadline, tried)
            if found:
                return found, []
            for quad in failed:
                quad = quad / scale
                if len(regions) >= self.MAX_REGIONS or any(_overlaps(quad, r) for r in regions):
                    continue
                regions.append(quad)
                found = self._region(gray, quad, deadline)
                if found:
                    return _dedupe(found), []
        if self.use_zbar and time.thread_time() < deadline:
            # zbar's own detector on the whole frame finds some damaged codes zxing does
            # not; its text is trusted only in ASCII (it guesses non-UTF-8 charsets).
            found = [d for d in decode_zbar(gray) if d.text.isascii()]
            if found:
                return _dedupe(_with(found, "zbar")), []
        if not glare and time.thread_time() < deadline:
            found = self._located(gray, deadline, tried)
            if found:
                return found, []
        # A symbol found but not read is where the deblurring looks; else the most
        # textured part of the frame.
        around = tried[0].quad if tried else None
        enlarged = 0  # deblurred images located at twice their size
        from kiosk.hardware.qr_locator import find_finders

        for name, image, offset in self._deblurrer.variants(gray, around):
            # Deconvolution leaves ringing and uneven contrast that zxing's binariser
            # reads wrong where a local threshold does not, and grain that small
            # modules drown in unless enlarged.
            for suffix, prepare, scale in self.DEBLURRED_READS:
                if time.thread_time() > deadline:
                    return [], regions
                found, _ = self._read(prepare(image), try_downscale=False)
                if found:
                    return _dedupe(_with(found, name + suffix, scale, offset)), []
            found = self._placed(image, offset, tried, deadline)
            if found:
                return _with(found, name + "-placed", 1.0, offset), []
            if self.LOCATE_DEBLURRED:
                # Sharp again, but a finder pattern may still be under glare or too
                # faint for zxing-cpp: the locator needs only two.
                image = np.clip(image, 0, 255).astype(np.uint8)
                scale, finders = 1.0, find_finders(image)
                if len(finders) < 2 and enlarged < self.LOCATED_ENLARGED:
                    # Small modules (under 3.5 px): their finder patterns' thin rings
                    # show only at twice the size.
                    enlarged += 1
                    scale, image, finders = 2.0, _resize(image, 2.0), None
                found = self._located(image, deadline, [], finders=finders)
                if found:
                    suffix = "-located" if scale == 1.0 else "-located-enlarged"
                    return _with(found, name + suffix, scale, offset), []
        return [], regions

    def texts(self, frame: np.ndarray) -> list[str]:
        return [d.text for d in self.decode(frame)]

    def _erasures(
        self,
        gray: np.ndarray,
        unread: list[Unread],
        scale: float,
        tried: list[Unread],
        deadline: float,
    ) -> list[Decoded]:
        """Symbols located and identified but not corrected: sampled on the frame and
        corrected with their washed-out modules as erasures (kiosk/hardware/qr_erasure.py).
        Each place and version is tried once per frame."""
        for symbol in unread:
            quad = symbol.quad / scale
            if any(
                (t.version, t.level, t.mask) == (symbol.version, symbol.level, symbol.mask)
                and np.abs(t.quad - quad).max() < 1.5
                for t in tried
            ):
                continue
            if time.thread_time() > deadline:
                return []
            tried.append(Unread(quad, symbol.version, symbol.level, symbol.mask))
            found = _read_at(gray, tried[-1], "erasures")
            if found:
                return found
        return []

    def _located(
        self,
        gray: np.ndarray,
        deadline: float,
        placed: list[Unread],
        need_ms: float | None = None,
        finders: list | None = None,
    ) -> list[Decoded]:
        """A symbol zxing-cpp cannot find, because glare hides one of its finder patterns
        or noise blurs their edges: located from two finder patterns and its alignment
        patterns (kiosk/hardware/qr_locator.py), then read with its washed-out modules as
        erasures. Symbols placed but not read are added to `placed`. Runs only with
        `need_ms` (LOCATE_MS) of the budget left; `finders`, if already found, are
        not looked for again."""
        from kiosk.hardware.qr_locator import locate

        need = self.LOCATE_MS if need_ms is None else need_ms
        if deadline - time.thread_time() < need / 1000:
            # A live camera's next frame (and the fusion of frames) is worth more.
            return []
        if finders is not None and len(finders) < 2:
            return []
        for symbol in locate(gray, finders, deadline=deadline):
            for level, mask in symbol.formats:
                if time.thread_time() > deadline:
                    return []
                place = Unread(symbol.quad, symbol.version, level, mask)
                found = _read_at(gray, place, "located")
                if found:
                    return found
                placed.append(place)
        return []

    def located_near(
        self, gray: np.ndarray, quad: np.ndarray | None, budget_ms: float
    ) -> list[Decoded]:
        """The two-finder locator on the part of the frame around `quad` (where a symbol,
        or only a finder pattern of it, was seen or followed; None: the most textured
        part of the frame), within `budget_ms` of this thread's processor time: what the
        live decoder does on a frame with a little glare over a finder pattern, which the
        single-frame passes have no time for. A window costs a fraction of the frame."""
        h, w = gray.shape
        if quad is None:
            x0, y0, x1, y1 = _code_window(gray, 2 * self.NEAR_HALF)
        else:
            cx, cy = quad.mean(0)
            side = float(max(np.ptp(quad[:, 0]), np.ptp(quad[:, 1])))
            half = max(self.NEAR_HALF, 0.6 * side)
            x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
            x1, y1 = min(w, int(cx + half)), min(h, int(cy + half))
        if x1 - x0 < 32 or y1 - y0 < 32:
            return []
        deadline = time.thread_time() + budget_ms / 1000
        found = self._located(gray[y0:y1, x0:x1], deadline, [], need_ms=0.0)
        return _with(found, "located-near", 1.0, (x0, y0))

    def _placed(
        self, image: np.ndarray, offset: tuple[int, int], placed: list[Unread], deadline: float
    ) -> list[Decoded]:
        """A deblurred window read at the places of symbols found on the frame but not
        read there (by zxing-cpp or the locator): the blur that spoilt the modules is gone,
        the symbol's place and format are still known. Corners are in `image`'s own
        coordinates."""
        h, w = image.shape
        shift = np.array(offset, np.float64)
        for symbol in placed[: self.MAX_PLACED]:
            quad = symbol.quad - shift
            if (quad < -2).any() or (quad[:, 0] > w + 2).any() or (quad[:, 1] > h + 2).any():
                continue
            if time.thread_time() > deadline:
                return []
            found = _read_at(image, Unread(quad, symbol.version, symbol.level, symbol.mask))
            if found:
                return found
        return []

    def _region(self, gray: np.ndarray, quad: np.ndarray, deadline: float) -> list[Decoded]:
        side = float(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[3] - quad[0]), 8))
        margin = side * 0.2 + 8
        h, w = gray.shape
        x0, y0 = (max(0, int(v)) for v in quad.min(0) - margin)
        x1, y1 = min(w, int(quad[:, 0].max() + margin)), min(h, int(quad[:, 1].max() + margin))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        crop = gray[y0:y1, x0:x1]
        scale = float(np.clip(self.REGION_SIDE / side, 1.0, 3.0))
        if scale > 1.05:
            crop = _resize(crop, scale)
        else:
            scale = 1.0
        variants: list[tuple[str, Callable[[], np.ndarray]]] = [
            ("region", lambda: crop),
            ("region-sharpen", lambda: _sharpen(crop, scale, 1.0)),
            ("region-threshold", lambda: _threshold(crop, int(10 * scale) * 2 + 1)),
            ("region-denoise", lambda: cv2.medianBlur(crop, 3)),
        ]
        for name, prepare in variants:
            if time.thread_time() > deadline:
                return []
            found, _ = self._read(prepare(), try_downscale=False)
            if found:
                return _with(found, name, scale, (x0, y0))
        if self.use_zbar and time.thread_time() < deadline:
            # A second, independent detector on the enlarged crop.
            return _with(decode_zbar(crop), "region-zbar", scale, (x0, y0))
        return []


def _read_at(gray: np.ndarray, symbol: Unread, stage: str = "erasures") -> list[Decoded]:
    """The symbol whose place, version and format are known, read with its washed-out
    modules as erasures (kiosk/hardware/qr_erasure.py); [] when it does not correct."""
    from kiosk.hardware.qr_erasure import read_with_erasures

    text = read_with_erasures(gray, symbol.quad, symbol.version, symbol.level, symbol.mask)
    if text is None:
        return []
    corners = tuple((round(float(x)), round(float(y))) for x, y in symbol.quad)
    return [Decoded(nfc(text), corners, "zxing", stage)]


def _glare(gray: np.ndarray) -> bool:
    """Whether a specular spot saturates part of the frame (a few hundred pixels)."""
    return int(np.count_nonzero(gray[::2, ::2] >= 250)) >= 60


def _overlaps(a: np.ndarray, b: np.ndarray, share: float = 0.5) -> bool:
    (ax0, ay0), (ax1, ay1) = a.min(0), a.max(0)
    (bx0, by0), (bx1, by1) = b.min(0), b.max(0)
    ix = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    iy = max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return smaller > 0 and ix * iy > share * smaller


def _dedupe(decoded: Sequence[Decoded]) -> list[Decoded]:
    seen: set[str] = set()
    out = []
    for d in decoded:
        if d.text not in seen:
            seen.add(d.text)
            out.append(d)
    return out


def decode(frame: np.ndarray, pipeline: QrPipeline | None = None) -> list[Decoded]:
    """Decode the QR codes in a BGR or grayscale frame with the kiosk pipeline."""
    return (pipeline or QrPipeline()).decode(frame)


def decode_file(path: str) -> tuple[np.ndarray | None, list[Decoded]]:
    """Read an image file and decode it; (None, []) when the file is not an image."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None, []
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        return None, []
    return image, decode(image)


def warm_up() -> None:
    """Load OpenCV, numpy and zxing-cpp and run each pass once on a small frame, so the
    citizen's first scan is not slowed by first-call costs. The kiosk calls this in the
    background right after the home screen is painted."""
    from kiosk.hardware.fusion import LiveQrDecoder

    frame = np.full((120, 160), 235, np.uint8)
    cv2.rectangle(frame, (40, 30), (100, 90), 20, -1)
    pipeline = QrPipeline(budget_ms=50.0)
    pipeline.decode(frame)
    LiveQrDecoder(pipeline).decode(frame)
    from kiosk.hardware.qr_erasure import warm_up as warm_erasures

    warm_erasures()
