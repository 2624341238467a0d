"""Reading a QR code whose damage is visible: Reed-Solomon decoding with erasures.

A glare spot on a laminated card washes out a patch of the code. A decoder that does not
know where the damage is must find every wrong codeword itself, and Reed-Solomon code
finds at most half as many unknown errors as it has check codewords. But glare shows
where it is: modules that are saturated, or that have no contrast left around them,
can be declared *erased*, and an erased codeword costs one check codeword instead of
two. Level M then recovers close to twice the washed-out area.

`read_with_erasures(gray, quad, version, ec_level, mask)` samples the module grid inside
a symbol that zxing-cpp found but could not correct (it reports the corners, the version,
the level and the mask even then), marks the washed-out modules as erasures, corrects
every block with errors and erasures, and rebuilds a clean symbol that zxing-cpp then
decodes (modes, ECI and text as usual). It reads nothing unless every block corrects
with check codewords to spare (`SPARE`): what is left over is what tells a right
correction from a wrong one, so a damaged code is never turned into other text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

SPARE = 4  # check codewords per block left unused by a correction (misread guard)
S = 6  # px per module of the sampled grid

# ---------------------------------------------------------------- GF(256), x^8+x^4+x^3+x^2+1

_EXP = [0] * 512
_LOG = [0] * 256
_v = 1
for _i in range(255):
    _EXP[_i] = _v
    _LOG[_v] = _i
    _v <<= 1
    if _v & 0x100:
        _v ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[(_LOG[a] - _LOG[b]) % 255]


def _eval(poly: list[int], x: int) -> int:
    """A polynomial given lowest degree first, at x."""
    y = 0
    for c in reversed(poly):
        y = _mul(y, x) ^ c
    return y


def _pmul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        if a:
            for j, b in enumerate(q):
                out[i + j] ^= _mul(a, b)
    return out


def rs_correct(block: list[int], nsym: int, erasures: list[int], spare: int = SPARE) -> list[int]:
    """The corrected block (data and check codewords, first codeword = highest power), or
    ValueError. `erasures` are indices into the block. At most `nsym - spare` check
    codewords are spent: one per erasure, two per error found."""
    n = len(block)
    erasures = sorted(set(erasures))
    if len(erasures) > nsym - spare:
        raise ValueError("too many erasures")
    synd = [_eval(block[::-1], _EXP[i]) for i in range(nsym)]
    if not any(synd):
        return list(block)
    # The erasure locator: prod (1 - X x), X = alpha^(power of the codeword).
    gamma = [1]
    for idx in erasures:
        gamma = _pmul(gamma, [1, _EXP[n - 1 - idx]])
    # Forney syndromes: the erasures' part taken out, what is left is errors only.
    modified = _pmul(gamma, synd)[:nsym]
    seq = modified[len(erasures) :]
    # Berlekamp-Massey on them: the error locator.
    c, b, length, m, bb = [1], [1], 0, 1, 1
    for k, s_k in enumerate(seq):
        d = s_k
        for i in range(1, length + 1):
            if i < len(c):
                d ^= _mul(c[i], seq[k - i])
        if d == 0:
            m += 1
            continue
        coef = _div(d, bb)
        shifted = [0] * m + [_mul(coef, x) for x in b]
        new = [x ^ (shifted[i] if i < len(shifted) else 0) for i, x in enumerate(c)]
        new += shifted[len(c) :]
        if 2 * length <= k:
            b, bb, length, m = c, d, k + 1 - length, 1
        else:
            m += 1
        c = new
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    if len(erasures) + 2 * length > nsym - spare or len(c) - 1 != length:
        raise ValueError("too many errors")
    psi = _pmul(c, gamma)  # the errata locator
    while len(psi) > 1 and psi[-1] == 0:
        psi.pop()
    positions = [i for i in range(n) if _eval(psi, _EXP[(255 - (n - 1 - i)) % 255]) == 0]
    if len(positions) != len(psi) - 1:
        raise ValueError("errata not located")
    omega = _pmul(synd, psi)[:nsym]
    derivative = [psi[i] if i % 2 else 0 for i in range(1, len(psi))]
    out = list(block)
    for i in positions:
        x = _EXP[n - 1 - i]
        x_inv = _EXP[(255 - (n - 1 - i)) % 255]
        den = _eval(derivative, x_inv)
        if den == 0:
            raise ValueError("errata magnitude undefined")
        out[i] ^= _mul(x, _div(_eval(omega, x_inv), den))
    if any(_eval(out[::-1], _EXP[i]) for i in range(nsym)):
        raise ValueError("correction failed")
    return out


# ---------------------------------------------------------------- the symbol's layout


@lru_cache(maxsize=8)
def _layout(version: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the data modules in placement order (ISO/IEC 18004 7.7.3)."""
    from segno import encoder

    size = 17 + 4 * version
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    rows, cols = [], []
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        upwards = (right & 2) == 0
        for vertical in range(size):
            for z in (0, 1):
                j = right - z
                i = (size - 1 - vertical) if upwards ^ (j < 6) else vertical
                if matrix[i][j] == 0x2:
                    rows.append(i)
                    cols.append(j)
    return np.array(rows), np.array(cols)


_MASKS = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}  # segno's constants


def _blocks(version: int, level: str) -> list[tuple[int, int]]:
    """(total, data) codewords of each block, in order."""
    from segno import consts

    out = []
    for info in consts.ECC[version][_LEVELS[level]]:
        out += [(info.num_total, info.num_data)] * info.num_blocks
    return out


def _clean_symbol(bits: np.ndarray, version: int, level: str, mask: int) -> np.ndarray:
    """A crisp image of the symbol: function patterns drawn, `bits` (masked data
    modules, placement order) placed, 6 px per module with a quiet zone."""
    from segno import encoder

    size = 17 + 4 * version
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    encoder.add_format_info(matrix, version, _LEVELS[level], mask)
    encoder.add_version_info(matrix, version)
    grid = np.array([list(row) for row in matrix], np.uint8)
    rows, cols = _layout(version)
    grid[rows, cols] = bits[: len(rows)]
    image = np.where(grid == 1, 0, 255).astype(np.uint8)
    image = cv2.resize(image, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    return cv2.copyMakeBorder(image, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=255)


# ---------------------------------------------------------------- sampling


def sample(gray: np.ndarray, quad: np.ndarray, size: int, reach: int = 1) -> np.ndarray:
    """Mean grey value at the centre of each module (size×size, float32), over the middle
    third of the module (`reach` 1) or its middle two thirds (2: more sensor noise
    averaged out). `quad`: the symbol's outer corners, top-left, top-right, bottom-right,
    bottom-left."""
    side = size * S
    target = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    matrix = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), target)
    square = cv2.warpPerspective(
        gray, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    lo, hi = S // 2 - reach, S // 2 + reach
    return square.reshape(size, S, size, S)[:, lo:hi, :, lo:hi].mean(axis=(1, 3))


def _decisions(values: np.ndarray, saturated: float, flat: float) -> tuple[np.ndarray, np.ndarray]:
    """Dark modules (bool) and erased modules (bool) from the sampled values: a local
    threshold over about 7 modules (glare brightens a region smoothly), erasures where
    even the darkest module around is near white, or the neighbourhood has lost most of
    its contrast."""
    spread = float(np.percentile(values, 90) - np.percentile(values, 10))
    local_mean = cv2.blur(values, (7, 7), borderType=cv2.BORDER_REFLECT)
    local_max = cv2.dilate(values, np.ones((5, 5), np.uint8))
    local_min = cv2.erode(values, np.ones((5, 5), np.uint8))
    dark = values < local_mean
    erased = (local_min >= saturated) | (local_max - local_min < flat * spread)
    return dark, erased


@dataclass(frozen=True)
class _Symbol:
    """What the format says about a symbol: where its data modules are, how they are
    masked and how its codewords form blocks."""

    version: int
    level: str
    mask: int
    rows: np.ndarray
    cols: np.ndarray
    flip: np.ndarray
    blocks: list[tuple[int, int]]

    @classmethod
    def of(cls, version: int, level: str, mask: int) -> _Symbol:
        rows, cols = _layout(version)
        flip = np.array([_MASKS[mask](int(i), int(j)) for i, j in zip(rows, cols, strict=True)])
        return cls(version, level, mask, rows, cols, flip, _blocks(version, level))

    @property
    def bits(self) -> int:
        return 8 * sum(total for total, _ in self.blocks)


def read_with_erasures(
    gray: np.ndarray, quad: np.ndarray, version: int, level: str, mask: int
) -> str | None:
    """The text of the symbol at `quad`, corrected with its washed-out modules taken as
    erasures; None when it cannot be corrected with codewords to spare. Module centres
    are sampled over a third of the module, then over two thirds (a dim, noisy frame)."""
    if not 1 <= version <= 40 or level not in _LEVELS or not 0 <= mask <= 7:
        return None
    symbol = _Symbol.of(version, level, mask)
    tried: set[bytes] = set()
    for reach in (1, 2):
        text = _read(sample(gray, quad, 17 + 4 * version, reach), symbol, tried)
        if text is not None:
            return text
    return None


def _read(values: np.ndarray, symbol: _Symbol, tried: set[bytes]) -> str | None:
    import zxingcpp

    rows, cols, flip, n = symbol.rows, symbol.cols, symbol.flip, symbol.bits
    doubt = _doubt(values)[rows, cols][:n].reshape(-1, 8).max(axis=1)
    for saturated, flat in ((240.0, 0.15), (225.0, 0.3), (210.0, 0.45)):
        dark, erased = _decisions(values, saturated, flat)
        bits = dark[rows, cols][:n]
        gone = erased[rows, cols][:n]
        key = np.packbits(bits).tobytes() + np.packbits(gone).tobytes()
        if key in tried:
            continue
        tried.add(key)
        data = np.packbits(bits ^ flip[:n]).tolist()
        lost = gone.reshape(-1, 8).any(axis=1)
        corrected = _correct(data, lost, symbol.blocks, doubt)
        if corrected is None:
            continue
        stream = np.unpackbits(np.array(corrected, np.uint8)).astype(bool)
        masked = np.zeros(len(rows), bool)
        masked[: len(stream)] = stream
        masked ^= flip
        image = _clean_symbol(masked.astype(np.uint8), symbol.version, symbol.level, symbol.mask)
        results = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain
        )
        for r in results:
            if r.valid:
                return r.text
    return None


def _doubt(values: np.ndarray) -> np.ndarray:
    """How unsure each module's dark/light decision is (0 sure, 1 a coin toss): its
    distance from the local threshold against the contrast around it."""
    local_mean = cv2.blur(values, (7, 7), borderType=cv2.BORDER_REFLECT)
    local_max = cv2.dilate(values, np.ones((5, 5), np.uint8))
    local_min = cv2.erode(values, np.ones((5, 5), np.uint8))
    margin = np.abs(values - local_mean) / (local_max - local_min + 8.0)
    return np.clip(1.0 - 2.0 * margin, 0.0, 1.0)


def _correct(
    data: list[int],
    lost: np.ndarray,
    blocks: list[tuple[int, int]],
    doubt: np.ndarray | None = None,
) -> list[int] | None:
    """The interleaved codeword stream corrected block by block, or None. A block that
    does not correct with its washed-out codewords erased is tried again with its least
    certain codewords (`doubt`) erased as well, two more at a time (generalised
    minimum-distance decoding), always with SPARE check codewords left over."""
    n_blocks = len(blocks)
    index: list[list[int]] = [[] for _ in blocks]
    pos = 0
    for k in range(max(d for _, d in blocks)):  # data codewords, interleaved
        for b, (_, d) in enumerate(blocks):
            if k < d:
                index[b].append(pos)
                pos += 1
    for _ in range(blocks[0][0] - blocks[0][1]):  # check codewords, interleaved
        for b in range(n_blocks):
            index[b].append(pos)
            pos += 1
    out = list(data)
    for b, (total, d) in enumerate(blocks):
        where = index[b]
        block = [data[p] for p in where]
        erasures = [i for i, p in enumerate(where) if lost[p]]
        fixed = _gmd(block, total - d, erasures, None if doubt is None else doubt[where])
        if fixed is None:
            return None
        for p, value in zip(where, fixed, strict=True):
            out[p] = value
    return out


def _gmd(
    block: list[int], nsym: int, erasures: list[int], doubt: np.ndarray | None
) -> list[int] | None:
    try:
        return rs_correct(block, nsym, erasures)
    except ValueError:
        if doubt is None:
            return None
    order = [i for i in np.argsort(-doubt, kind="stable").tolist() if i not in set(erasures)]
    for extra in range(2, nsym - SPARE - len(erasures) + 1, 2):
        try:
            return rs_correct(block, nsym, erasures + order[:extra])
        except ValueError:
            continue
    return None


def warm_up() -> None:
    """Build the layouts of the card codes' versions ahead of the first damaged code."""
    for version in range(6, 12):
        _layout(version)
