"""Erasure decoding: a code partly washed out by glare is read by declaring the washed-out
modules erased, and never read as other text."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from identity_helpers import SAMPLE_PAYLOAD, card_scene, noise

from kiosk.hardware import qr_erasure
from kiosk.hardware.decoders import QrPipeline, decode_zxing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_qr import glare_spot


def _glared(seed: int, spread: float) -> tuple[np.ndarray, float]:
    """The sample card with a saturating glare spot over the middle of its code."""
    rng = np.random.default_rng(seed)
    frame, quad = card_scene(SAMPLE_PAYLOAD, rng, 4.5, 5)
    side = float(np.linalg.norm(quad[1] - quad[0]))
    cx, cy = quad.mean(0)
    radii = (side * spread * 0.55, side * spread * 0.45)
    frame, share = glare_spot(frame, quad, (cx + 0.05 * side, cy + 0.1 * side), radii, 400)
    return noise(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 3, rng), share


def test_glare_beyond_error_correction_alone_is_read_with_erasures(monkeypatch):
    gray, share = _glared(0, 0.55)
    assert share > 0.10
    assert decode_zxing(gray) == []
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "erasures")]
    # No other pass reads this frame: without the erasures (on zxing-cpp's symbols or on
    # the symbols the two-finder locator finds) it stays unread.
    monkeypatch.setattr(QrPipeline, "_erasures", lambda *args: [])
    monkeypatch.setattr(QrPipeline, "_located", lambda *args, **kwargs: [])
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def test_glare_beyond_what_erasures_recover_reads_nothing():
    gray, share = _glared(0, 0.9)
    assert share > 0.3
    assert QrPipeline(budget_ms=1000.0).decode(gray) == []


def _codewords(text: str) -> tuple[segno.QRCode, list[int]]:
    """A real code's interleaved codewords, read back from segno's matrix through the
    kiosk's layout and mask tables (so both are checked against an independent encoder)."""
    code = segno.make(text, encoding="utf-8", error="m", micro=False, boost_error=False)
    grid = np.array([list(row) for row in code.matrix], bool)
    rows, cols = qr_erasure._layout(code.version)
    mask = np.array(
        [qr_erasure._MASKS[code.mask](int(i), int(j)) for i, j in zip(rows, cols, strict=True)]
    )
    bits = grid[rows, cols] ^ mask
    total = sum(t for t, _ in qr_erasure._blocks(code.version, "M"))
    return code, np.packbits(bits[: total * 8]).tolist()


def test_codewords_of_a_real_code_are_a_valid_reed_solomon_code_and_corrected():
    code, words = _codewords(SAMPLE_PAYLOAD)
    blocks = qr_erasure._blocks(code.version, "M")
    lost = np.zeros(len(words), bool)
    assert qr_erasure._correct(words, lost, blocks) == words
    rng = random.Random(3)
    damaged = list(words)
    erased = rng.sample(range(len(words)), len(words) // 4)  # a quarter: twice level M
    for p in erased:
        damaged[p] = rng.randrange(256)
    lost[erased] = True
    assert qr_erasure._correct(damaged, lost, blocks) == words
    # The same damage without knowing where it is: beyond what the code corrects.
    assert qr_erasure._correct(damaged, np.zeros(len(words), bool), blocks) is None


@pytest.mark.parametrize("seed", range(5))
def test_reed_solomon_corrects_errors_and_erasures_within_capacity_only(seed):
    code, words = _codewords(f"{seed}|" + SAMPLE_PAYLOAD)
    blocks = qr_erasure._blocks(code.version, "M")
    total, data = blocks[0]  # the first block has the fewest data codewords
    nsym, n_blocks, all_data = total - data, len(blocks), sum(d for _, d in blocks)
    block = words[: data * n_blocks : n_blocks] + words[all_data::n_blocks][:nsym]
    rng = random.Random(seed)
    for erasures in range(0, nsym - qr_erasure.SPARE + 1, 3):
        errors = (nsym - qr_erasure.SPARE - erasures) // 2
        where = rng.sample(range(total), erasures + errors)
        damaged = list(block)
        for p in where:
            damaged[p] ^= rng.randrange(1, 256)
        assert qr_erasure.rs_correct(damaged, nsym, where[:erasures]) == block
        # One more error than the spare check codewords allow: refused, not guessed.
        extra = rng.choice([p for p in range(total) if p not in where])
        damaged[extra] ^= rng.randrange(1, 256)
        with pytest.raises(ValueError):
            qr_erasure.rs_correct(damaged, nsym, where[:erasures])


@pytest.mark.parametrize("seed", range(3))
def test_errors_among_the_least_certain_modules_are_corrected_by_erasing_them_too(seed):
    """Generalised minimum-distance decoding: errors beyond what the washed-out erasures
    leave room for are found when they sit in the codewords sampled with the least
    certainty, and a block whose errors are elsewhere is still refused."""
    code, words = _codewords(f"{seed}|" + SAMPLE_PAYLOAD)
    blocks = qr_erasure._blocks(code.version, "M")
    nsym = blocks[0][0] - blocks[0][1]
    rng = random.Random(seed)
    n_blocks = len(blocks)
    # Every block: half its check codewords washed out, and errors in 5 codewords more.
    erased, wrong = [], []
    owner = []  # the block of each codeword in the interleaved stream (ISO/IEC 18004 7.6)
    for k in range(max(d for _, d in blocks)):
        owner += [b for b, (_, d) in enumerate(blocks) if k < d]
    owner += list(range(n_blocks)) * nsym
    for b in range(n_blocks):
        mine = [p for p, o in enumerate(owner) if o == b]
        picked = rng.sample(mine, nsym // 2 + 5)
        erased += picked[: nsym // 2]
        wrong += picked[nsym // 2 :]
    damaged = list(words)
    for p in erased + wrong:
        damaged[p] ^= rng.randrange(1, 256)
    lost = np.zeros(len(words), bool)
    lost[erased] = True
    assert qr_erasure._correct(damaged, lost, blocks) is None  # erasures alone: too many errors
    doubt = np.full(len(words), 0.1)
    doubt[wrong] = 0.9  # the wrong codewords were the least certain samples
    assert qr_erasure._correct(damaged, lost, blocks, doubt) == words
    # The same errors, but the doubt points elsewhere: refused, not guessed.
    misled = np.full(len(words), 0.1)
    misled[rng.sample([p for p in range(len(words)) if p not in wrong + erased], 40)] = 0.9
    assert qr_erasure._correct(damaged, lost, blocks, misled) is None


def test_a_dim_noisy_code_is_sampled_over_more_of_each_module():
    """At 29 % light with heavy sensor noise, sampling the middle third of each module
    leaves too many wrong modules; the middle two thirds average the noise out."""
    code = segno.make(SAMPLE_PAYLOAD, encoding="utf-8", error="m", micro=False, boost_error=False)
    grid = np.array([list(r) for r in code.matrix], np.uint8)
    size, m = grid.shape[0], 3.6
    quad = np.array(
        [[20, 20], [20 + size * m, 20], [20 + size * m, 20 + size * m], [20, 20 + size * m]]
    )
    narrow = qr_erasure.sample
    reads = {"narrow": 0, "both": 0}
    for seed in range(10):
        image = cv2.resize(
            np.where(grid == 1, 30, 220).astype(np.uint8),
            (int(size * m),) * 2,
            interpolation=cv2.INTER_AREA,
        )
        image = cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=220)
        image = noise((image * 0.29).astype(np.uint8), 30, np.random.default_rng(seed))
        reads["both"] += (
            qr_erasure.read_with_erasures(image, quad, code.version, "M", code.mask)
            == SAMPLE_PAYLOAD
        )
        qr_erasure.sample = lambda gray, q, s, reach=1: narrow(gray, q, s, 1)
        try:
            reads["narrow"] += (
                qr_erasure.read_with_erasures(image, quad, code.version, "M", code.mask)
                == SAMPLE_PAYLOAD
            )
        finally:
            qr_erasure.sample = narrow
    assert reads["narrow"] == 0
    assert reads["both"] >= 3
