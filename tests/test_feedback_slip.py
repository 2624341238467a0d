"""The feedback slip: a real PDF whose QR code decodes to the slip code, with the topic in
Vietnamese and the citizen's language, and nothing of the message or the sender on it."""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.services.feedback import make_slip_code
from kiosk.services.feedback_slip import SlipData, build_slip_pdf
from kiosk.services.i18n import Translator
from tests.receipt_helpers import decode_qr, flat, pdf_text, render_page


@pytest.mark.parametrize("size", ["80mm", "a5"])
def test_slip_qr_decodes_to_the_code(size):
    code = make_slip_code()
    data = SlipData(code, "water", datetime(2026, 12, 6, 9, 30), "UBND xã Hoành Mô", "en")
    pdf = build_slip_pdf(data, size, Translator.from_resources())
    assert pdf.startswith(b"%PDF")
    text = flat(pdf_text(pdf))
    assert code in text
    assert flat("Nước") in text and "Water" in text
    assert flat("Phiếu nhận phản ánh") in text
    assert decode_qr(render_page(pdf, dpi=200)) == [code]
