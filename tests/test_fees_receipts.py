"""Fees on receipts: the amount, the exemption ground, the VietQR code to pay later (80 mm
and A5), the clerk's payment note, and every PDF embedding only the shipped fonts."""

from __future__ import annotations

import os
import subprocess
import sys

import pypdfium2 as pdfium
import pytest
from receipt_helpers import decode_qr, flat, pdf_fonts, pdf_text, render_page
from vietqr_emvco import VietQRParser

from kiosk.services.banks import demo_fee_account
from kiosk.services.i18n import Translator
from kiosk.services.payments import CASH, EXEMPT, TRANSFER
from kiosk.services.receipts import (
    build_receipt_pdf,
    build_ticket_pdf,
    sample_receipt,
    sample_ticket,
)
from kiosk.services.vietqr import parse_payload
from tests.store_helpers import draft

SHIPPED = {"NotoSans-Regular", "NotoSans-Bold"}


def embedded_fonts(pdf: bytes) -> list[tuple[str, str]]:
    """(font name without its subset prefix, emb) for every font the PDF references."""
    rows = pdf_fonts(pdf).splitlines()[2:]
    out = []
    for row in rows:
        cells = row.split()
        name = cells[0].split("+", 1)[-1]
        emb = cells[-5]
        out.append((name, emb))
    return out


def only_shipped(pdf: bytes) -> None:
    fonts = embedded_fonts(pdf)
    assert fonts, "no font at all?"
    assert {n for n, _ in fonts} <= SHIPPED, fonts
    assert all(emb == "yes" for _, emb in fonts), fonts


def vietqr_codes(pdf: bytes, pages: int = 1) -> list[str]:
    found = []
    for page in range(pages):
        found += [t for t in decode_qr(render_page(pdf, 200, page)) if t.startswith("000201")]
    return found


@pytest.fixture(scope="module")
def tr():
    return Translator.from_resources()


@pytest.mark.parametrize("size", ["80mm", "a5", "a4"])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_receipt_ticket_and_note_embeds_only_the_shipped_fonts(tr, size, lang):
    only_shipped(build_receipt_pdf(sample_receipt(lang), size, tr))
    only_shipped(build_receipt_pdf(sample_receipt(lang, procedure="1.001612"), size, tr))
    only_shipped(build_ticket_pdf(sample_ticket(lang), size, tr))


def test_sample_command_carries_a_vietqr_code_with_the_fee(tmp_path):
    out = tmp_path / "r.pdf"
    env = dict(os.environ, HOME=str(tmp_path), KIOSK_CONFIG=str(tmp_path / "none.toml"))
    env.pop("XDG_CONFIG_HOME", None)
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "receipt", "--sample", "--procedure", "1.001612",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pdf = out.read_bytes()
    only_shipped(pdf)
    [payload] = vietqr_codes(pdf)
    parsed = parse_payload(payload)  # the CRC is checked
    account = demo_fee_account()
    assert (parsed.bank_bin, parsed.account) == (account.bank.bin, account.account)
    assert parsed.amount == 100000  # household business registration's fee
    assert parsed.purpose == "QN01-000123-J" and parsed.currency == "704"
    assert VietQRParser.verify_checksum(payload)
    assert "100.000 ₫" in pdf_text(pdf)


def test_sample_command_refuses_an_unknown_procedure(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "receipt", "--sample", "--procedure", "9.999999",
         "--out", str(tmp_path / "x.pdf")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "9.999999" in result.stderr


@pytest.fixture
def ctx(app_ctx):
    app_ctx.receipts.fee_account = demo_fee_account()
    return app_ctx


def _dossier(ctx):
    return ctx.dossiers.confirm(draft(with_file=False, code="1.001612"))


@pytest.mark.parametrize("size", ["80mm", "a5"])
def test_a_dossier_awaiting_its_fee_gets_the_payment_qr(ctx, size):
    d = _dossier(ctx)
    ctx.payments.fee_due(d.id, TRANSFER, 100000)
    ctx.receipts.paper = size
    pdf = ctx.receipts.pdf(ctx.dossiers.get(d.id))
    only_shipped(pdf)
    [payload] = vietqr_codes(pdf, pages=len(pdfium.PdfDocument(pdf)))
    parsed = parse_payload(payload)
    assert parsed.amount == 100000 and parsed.purpose == d.receipt_code
    text = flat(pdf_text(pdf))
    assert "Chưa nộp: chờ cán bộ xác nhận" in text  # never claims the payment
    assert "Agribank · 3500205000123" in text


def test_once_recorded_the_receipt_says_paid_and_has_no_payment_qr(ctx):
    d = _dossier(ctx)
    ctx.payments.fee_due(d.id, TRANSFER, 100000)
    ctx.payments.record(d.id, CASH, None)
    pdf = ctx.receipts.pdf(ctx.dossiers.get(d.id))
    assert vietqr_codes(pdf) == []
    assert "Đã nộp lệ phí" in flat(pdf_text(pdf))


def test_a_claimed_exemption_is_printed_as_claimed_then_as_granted(ctx):
    d = _dossier(ctx)
    ctx.payments.fee_due(d.id, EXEMPT, 100000, ground="poor_household")
    text = flat(pdf_text(ctx.receipts.pdf(ctx.dossiers.get(d.id), "en")))
    assert "Xin miễn lệ phí: Thuộc hộ nghèo (chờ cán bộ xem giấy tờ)" in text
    assert "Exemption claimed: Member of a poor household" in text
    assert vietqr_codes(ctx.receipts.pdf(ctx.dossiers.get(d.id))) == []
    ctx.payments.record(d.id, EXEMPT, None, ground="poor_household")
    text = flat(pdf_text(ctx.receipts.pdf(ctx.dossiers.get(d.id))))
    assert "Được miễn lệ phí: Thuộc hộ nghèo" in text


@pytest.mark.parametrize("size", ["80mm", "a5"])
def test_payment_note_with_the_e_receipt_number(ctx, size):
    d = _dossier(ctx)
    ctx.payments.fee_due(d.id, CASH, 100000)
    rec = ctx.payments.record(d.id, CASH, None, e_receipt_number="BLĐT-2026-000451")
    ctx.receipts.paper = size
    pdf = ctx.receipts.payment_note_pdf(rec.id, "Lò Thị Mai")
    only_shipped(pdf)
    text = flat(pdf_text(pdf))
    for expected in ("GIẤY GHI NHẬN NỘP LỆ PHÍ", d.receipt_code, "100.000 ₫", "Tiền mặt",
                     "BLĐT-2026-000451", "Lò Thị Mai", "123/2020/NĐ-CP"):  # fmt: skip
        assert expected in text
