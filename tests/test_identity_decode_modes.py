"""Codes printed light on dark, and payloads with control characters, read exactly."""

from __future__ import annotations

import numpy as np
from identity_helpers import SAMPLE_PAYLOAD, qr_gray

from kiosk.hardware.decoders import QrPipeline


def on_grey(code: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640), 128, np.uint8)
    frame[60 : 60 + code.shape[0], 80 : 80 + code.shape[1]] = code
    return frame


def test_a_light_on_dark_code_is_read():
    inverted = 255 - qr_gray(SAMPLE_PAYLOAD, scale=4)
    assert [d.text for d in QrPipeline().decode(on_grey(inverted))] == [SAMPLE_PAYLOAD]


def test_control_characters_come_back_as_encoded_not_as_names():
    payload = "\x01\x10AD:SUB:x;;\x1d42"
    found = QrPipeline().decode(on_grey(qr_gray(payload, scale=4)))
    assert [d.text for d in found] == [payload]  # not "<SOH><DLE>AD..."
