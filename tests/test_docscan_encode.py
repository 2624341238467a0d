"""Encoding scanned pages as a portal attachment: JPEG for one page, PDF for several,
content-addressed by sha256 and always under the portal's 10 MiB limit."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from docscan_helpers import random_scene

from kiosk.services import docscan
from kiosk.services.docscan import (
    MAX_ATTACHMENT_BYTES,
    AttachmentTooLarge,
    encode_attachment,
)


@pytest.fixture(scope="module")
def pages() -> list[np.ndarray]:
    return [docscan.process(random_scene(i, (1920, 1080)).frame).image for i in range(3)]


def noise_page(seed: int, h: int = 3000, w: int = 2200) -> np.ndarray:
    # random pixels do not compress: the worst case for the size limit
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_one_page_is_a_jpeg_with_its_hash(pages):
    att = encode_attachment(pages[:1], "cccd_front")
    assert att.content_type == "image/jpeg"
    assert att.data[:3] == b"\xff\xd8\xff"
    assert att.size == len(att.data) < MAX_ATTACHMENT_BYTES
    assert att.sha256 == hashlib.sha256(att.data).hexdigest()
    assert len(att.sha256) == 64 and att.sha256 == att.sha256.lower()
    assert att.pages == 1
    assert att.reference() == {
        "sha256": att.sha256,
        "content_type": "image/jpeg",
        "size": att.size,
        "document_key": "cccd_front",
    }
    decoded = cv2.imdecode(np.frombuffer(att.data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == pages[0].shape  # already under 2000 px: not resized
    diff = np.abs(decoded.astype(int) - pages[0].astype(int)).mean()
    assert diff < 6


def test_several_pages_make_a_pdf_that_opens_with_every_page(pages):
    gray = cv2.cvtColor(pages[0], cv2.COLOR_BGR2GRAY)
    att = encode_attachment([*pages, gray], "don_de_nghi")
    assert att.content_type == "application/pdf" and att.data.startswith(b"%PDF-")
    assert att.sha256 == hashlib.sha256(att.data).hexdigest()
    assert att.pages == 4
    pdf = pdfium.PdfDocument(att.data)
    try:
        assert len(pdf) == 4
        for i, src in enumerate([*pages, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)]):
            page = pdf[i]
            w, h = page.get_size()
            assert w / h == pytest.approx(src.shape[1] / src.shape[0], rel=0.01)
            rendered = page.render(scale=src.shape[1] / w).to_numpy()[..., :3]
            rendered = cv2.resize(rendered, (src.shape[1], src.shape[0]))
            # pdfium renders RGB(A); the page must be the same picture
            a = cv2.cvtColor(rendered, cv2.COLOR_RGB2GRAY).astype(float)
            b = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY).astype(float)
            a, b = a - a.mean(), b - b.mean()
            assert (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()) > 0.95
            if i == 3:  # a gray page stays gray
                assert np.array_equal(rendered[..., 0], rendered[..., 1])
    finally:
        pdf.close()


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils not installed")
def test_pdf_is_valid_for_poppler_too(pages, tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(encode_attachment(pages, "x").data)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "Pages:           3" in out.stdout
    assert out.stderr == ""  # poppler reports xref or syntax problems on stderr


def test_same_pages_give_the_same_bytes(pages):
    # content addressing: re-encoding an unchanged capture must not create a new upload
    assert encode_attachment(pages, "x").sha256 == encode_attachment(pages, "x").sha256
    assert encode_attachment(pages[:1], "x").sha256 == encode_attachment(pages[:1], "x").sha256


def test_large_page_is_scaled_to_2000_px():
    big = cv2.resize(random_scene(0, (1920, 1080)).frame, (3600, 2025))
    att = encode_attachment([big], "x")
    decoded = cv2.imdecode(np.frombuffer(att.data, np.uint8), cv2.IMREAD_COLOR)
    assert max(decoded.shape[:2]) == 2000


def test_lowers_quality_until_it_fits():
    page = noise_page(1)
    limit = 1_500_000
    first = encode_attachment([page], "x", max_bytes=50_000_000)
    assert first.size > limit  # at full quality it would not fit
    att = encode_attachment([page], "x", max_bytes=limit)
    assert att.size < limit
    assert att.sha256 == hashlib.sha256(att.data).hexdigest()


def test_many_incompressible_pages_still_fit_under_10_mib():
    att = encode_attachment([noise_page(i, 2400, 1800) for i in range(6)], "x")
    assert att.content_type == "application/pdf"
    assert att.size < MAX_ATTACHMENT_BYTES
    assert len(pdfium.PdfDocument(att.data)) == 6


def test_impossible_size_raises_a_typed_error():
    with pytest.raises(AttachmentTooLarge) as info:
        encode_attachment([noise_page(2, 1200, 900)] * 3, "x", max_bytes=50_000)
    assert info.value.key == "docscan.error.too_large"
    assert "50000" in info.value.detail


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        encode_attachment([], "x")
    with pytest.raises(ValueError):
        encode_attachment([np.zeros((100, 100, 3), np.float64)], "x")
