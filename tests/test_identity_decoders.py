"""QR decoding of real generated codes: Vietnamese text, and camera-like damage."""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np
import pytest
import segno
from identity_helpers import (
    NAMES,
    SAMPLE_PAYLOAD,
    card_scene,
    dim,
    gaussian_blur,
    glare,
    jpeg,
    make_id,
    noise,
    qr_gray,
    random_citizen,
)

from kiosk.hardware import decoders
from kiosk.hardware.decoders import QrPipeline, decode, decode_zbar, decode_zxing
from kiosk.paths import resource

TONED = {
    base: [unicodedata.normalize("NFC", base + mark) for mark in "\u0300\u0301\u0309\u0303\u0323"]
    for base in "aăâeêioôơuưy"
}


def payload_for(name: str) -> str:
    from datetime import date

    birth = date(1988, 7, 9)
    return f"{make_id('036', birth, True, 777)}||{name}|09071988|Nữ|Số 5, Xã Nghĩa Hưng, Nam Định|02022022"


def on_white(gray: np.ndarray, size: tuple[int, int] = (720, 1280), at=(120, 200)) -> np.ndarray:
    frame = np.full(size, 235, np.uint8)
    y, x = at
    frame[y : y + gray.shape[0], x : x + gray.shape[1]] = gray
    return frame


def test_test_names_cover_every_tone_on_every_vowel():
    letters = set("".join(NAMES).lower())
    missing = [ch for chars in TONED.values() for ch in chars if ch not in letters]
    assert not missing, missing


@pytest.mark.parametrize("name", NAMES)
def test_zxing_and_pipeline_return_exact_utf8(name):
    text = payload_for(name)
    frame = on_white(qr_gray(text, scale=4))
    assert [d.text for d in decode_zxing(frame)] == [text]
    assert [d.text for d in decode(frame)] == [text]


def test_every_toned_vowel_in_one_code():
    text = "|".join(" ".join(chars + [c.upper() for c in chars]) for chars in TONED.values())
    frame = on_white(qr_gray(text, scale=3))
    assert decoders.QrPipeline().texts(frame) == [text]


def test_zbar_repairs_its_shift_jis_guess():
    text = payload_for("Nguyễn Thị Hồng Nhung")
    raw = decode_zbar(on_white(qr_gray(text, scale=4)))
    assert [d.text for d in raw] == [text]
    # The guess itself, as zbar makes it for short Vietnamese text:
    guessed = "Căn cước công dân".encode().decode("shift_jis", errors="strict")
    assert decoders.repair_zbar_text(guessed.encode()) == "Căn cước công dân"
    for sample in ("Căn cước công dân", "Hà Nội", "abc|Nữ", "Đặng Văn Quỳnh"):
        found = decode_zbar(on_white(qr_gray(sample, scale=4)))
        assert [d.text for d in found] == [sample]


def test_latin1_encoded_code_reads_the_same():
    # segno writes Latin-1-encodable text as ISO-8859-1 unless told otherwise.
    code = segno.make("Hà Nội", micro=False)
    buf = __import__("io").BytesIO()
    code.save(buf, kind="png", scale=4, border=4)
    gray = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert decode(on_white(gray))[0].text == "Hà Nội"


def test_decoded_text_is_nfc():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    found = decode(on_white(qr_gray(decomposed, scale=4)))
    assert found[0].text == "Nguyễn Thị Hồng Nhung"
    assert found[0].text != decomposed


def test_opencv_raw_decoder_reads_a_clean_code():
    frame = on_white(qr_gray(SAMPLE_PAYLOAD, scale=4))
    assert [d.text for d in decoders.OpenCvDecoder()(frame)] == [SAMPLE_PAYLOAD]


def test_corners_are_in_frame_coordinates():
    gray = qr_gray(SAMPLE_PAYLOAD, scale=4, border=0)
    frame = on_white(gray, at=(100, 300))
    (found,) = decode(frame)
    xs = [x for x, _ in found.corners]
    ys = [y for _, y in found.corners]
    assert abs(min(xs) - 300) < 8 and abs(max(xs) - (300 + gray.shape[1])) < 8
    assert abs(min(ys) - 100) < 8 and abs(max(ys) - (100 + gray.shape[0])) < 8


def test_two_codes_in_view_are_both_returned():
    a, b = qr_gray("first code", scale=4), qr_gray("second code", scale=4)
    frame = np.full((720, 1280), 235, np.uint8)
    frame[100 : 100 + a.shape[0], 100 : 100 + a.shape[1]] = a
    frame[300 : 300 + b.shape[0], 700 : 700 + b.shape[1]] = b
    assert sorted(d.text for d in decode(frame)) == ["first code", "second code"]


# ---------------------------------------------------------------- damaged frames


@pytest.fixture(scope="module")
def scenes():
    """A few card scenes with a known payload, made once for the module."""
    rng = np.random.default_rng(42)
    citizen = random_citizen(rng)
    return citizen.payload(), rng


def _scene(scenes, module_px=3.5, angle=0.0, tilt=0.0):
    payload, rng = scenes
    frame, quad = card_scene(payload, rng, module_px, angle, tilt)
    return payload, frame, quad, rng


@pytest.mark.parametrize("angle", [37.0, 90.0, 163.0, 250.0])
def test_rotated(scenes, angle):
    payload, frame, _, _ = _scene(scenes, angle=angle)
    assert payload in QrPipeline().texts(frame)


def test_tilted(scenes):
    payload, frame, _, _ = _scene(scenes, angle=12.0, tilt=0.35)
    assert payload in QrPipeline().texts(frame)


def test_blurred(scenes):
    payload, frame, _, _ = _scene(scenes, module_px=4.0)
    assert payload in QrPipeline().texts(gaussian_blur(frame, 1.6))


def test_noisy(scenes):
    payload, frame, _, rng = _scene(scenes)
    assert payload in QrPipeline().texts(noise(frame, 35, rng))


def test_dim(scenes):
    payload, frame, _, rng = _scene(scenes)
    assert payload in QrPipeline().texts(noise(dim(frame, 0.1), 2, rng))


def test_small(scenes):
    payload, frame, _, rng = _scene(scenes, module_px=1.7)
    assert payload in QrPipeline().texts(noise(frame, 3, rng))


def test_glare(scenes):
    payload, frame, quad, rng = _scene(scenes, module_px=4.0)
    centre = tuple(quad.mean(0))
    side = float(np.linalg.norm(quad[1] - quad[0]))
    assert payload in QrPipeline().texts(glare(frame, rng, centre, side * 0.3, 260))


def test_jpeg(scenes):
    payload, frame, _, _ = _scene(scenes)
    assert payload in QrPipeline().texts(jpeg(frame, 10))


def test_preprocessing_reads_what_the_plain_pass_misses():
    # A small, soft code: zxing alone fails, the pipeline's region pass reads it.
    rng = np.random.default_rng(3)
    misses = 0
    for _ in range(12):
        citizen = random_citizen(rng)
        frame, _ = card_scene(citizen.payload(), rng, 1.5)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if decode_zxing(gray):
            continue
        misses += 1
        found = QrPipeline(budget_ms=1000).decode(gray)
        if found:
            assert found[0].text == citizen.payload()
            assert found[0].stage != "plain"
            return
    pytest.fail(f"no frame where preprocessing helped ({misses} plain misses)")


@pytest.mark.parametrize("kind", ["blank", "noise", "ean13", "datamatrix"])
def test_no_false_reads(kind):
    import zxingcpp

    rng = np.random.default_rng(9)
    frame = np.full((720, 1280), 128, np.uint8)
    if kind == "noise":
        frame = rng.integers(0, 256, frame.shape, dtype=np.uint8)
    elif kind in ("ean13", "datamatrix"):
        fmt = zxingcpp.BarcodeFormat.EAN13 if kind == "ean13" else zxingcpp.BarcodeFormat.DataMatrix
        content = "893604300001" if kind == "ean13" else SAMPLE_PAYLOAD
        img = np.asarray(zxingcpp.create_barcode(content, fmt).to_image(scale=4))
        frame[100 : 100 + img.shape[0], 100 : 100 + img.shape[1]] = img
    assert decode(frame) == []


def test_budget_bounds_the_time_on_a_frame_with_no_code():
    import time

    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280), dtype=np.uint8), (0, 0), 1.2)
    pipeline = QrPipeline(budget_ms=5)
    pipeline.decode(frame)  # warm up
    started = time.perf_counter()
    assert pipeline.decode(frame) == []
    # The passes in flight when the budget runs out finish; nothing after them runs.
    assert (time.perf_counter() - started) * 1000 < 200


def test_sample_image_decodes_to_the_sample_payload():
    image = cv2.imread(str(resource("samples", "cccd_sample.png")))
    assert image is not None and image.shape[:2] == (720, 1280)
    assert QrPipeline().texts(image) == [SAMPLE_PAYLOAD]


def test_decode_file(tmp_path):
    path = tmp_path / "ảnh thẻ.png"  # a non-ASCII path, as a clerk might name it
    cv2.imencode(".png", on_white(qr_gray(SAMPLE_PAYLOAD, scale=4)))[1].tofile(str(path))
    image, found = decoders.decode_file(str(path))
    assert image is not None and [d.text for d in found] == [SAMPLE_PAYLOAD]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert decoders.decode_file(str(tmp_path / "broken.png")) == (None, [])
