"""Test cards for the chip tests: one PKI per test session (key generation takes time)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from kiosk.hardware.card_emulator import Person, TestPki, make_card  # noqa: F401

_PKI: dict[str, TestPki] = {}


def pki(name: str = "CSCA Test") -> TestPki:
    if name not in _PKI:
        _PKI[name] = TestPki(csca_name=name)
    return _PKI[name]


def big_jpeg(min_bytes: int = 40_000) -> bytes:
    """A noisy JPEG larger than 32 KB: its tail needs READ BINARY with odd INS."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (240, 180, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    data = out.getvalue()
    assert len(data) >= min_bytes
    return data
