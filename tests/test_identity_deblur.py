"""Deblurring: a code smeared by a moving hand or out of focus is restored and read."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from identity_helpers import SAMPLE_PAYLOAD, card_scene, gaussian_blur, motion_blur, noise

from kiosk.hardware.decoders import Deblurrer, QrPipeline, decode_zxing


@pytest.mark.parametrize("angle", [0, 30, 100])
def test_motion_blur_beyond_the_sharpening_passes_is_read_by_deconvolution(angle):
    rng = np.random.default_rng(2)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 4.5, 3)
    gray = noise(motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 13, angle), 2, rng)
    assert decode_zxing(gray) == []
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [d.text for d in found] == [SAMPLE_PAYLOAD]
    assert found[0].stage == "deblur-motion"


def test_no_deblurred_text_from_a_frame_without_a_code():
    rng = np.random.default_rng(4)
    frame = gaussian_blur(rng.integers(0, 256, (720, 1280), dtype=np.uint8), 1.5)
    assert QrPipeline(budget_ms=1000.0).decode(frame) == []


def test_a_deconvolved_code_with_ringing_is_read_through_a_local_threshold():
    rng = np.random.default_rng(0)
    frame, _ = card_scene(SAMPLE_PAYLOAD, rng, 3.9, 8)
    gray = noise(motion_blur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 15, 100), 2, rng)
    found = QrPipeline(budget_ms=1000.0).decode(gray)
    assert [(d.text, d.stage) for d in found] == [(SAMPLE_PAYLOAD, "deblur-motion-threshold")]
    # No deconvolved variant is read as it is: the threshold is what reads it.
    for _, image, _ in Deblurrer().variants(gray):
        assert decode_zxing(image, try_downscale=False) == []
