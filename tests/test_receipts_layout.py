"""Receipt and ticket PDFs: text (every tone mark), masking, QR, page sizes, layout."""

from __future__ import annotations

import unicodedata
from datetime import date

import numpy as np
import pytest

from kiosk.services.i18n import Translator
from kiosk.services.receipts import (
    ROLL_PRINTABLE,
    build_receipt_pdf,
    build_ticket_pdf,
    format_vnd,
    mask_id,
)
from tests.receipt_helpers import (
    REAL_NAMES,
    decode_qr,
    flat,
    page_sizes_pt,
    pdf_fonts,
    pdf_text,
    render_page,
    sample_data,
    sample_ticket_data,
    tone_names,
)

MM = 72 / 25.4
WIDTHS_MM = {"80mm": 80.0, "a5": 148.0, "a4": 210.0}


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translator.from_resources()


@pytest.mark.parametrize("name", [*REAL_NAMES, *tone_names()])
def test_name_text_round_trips_with_every_tone_mark(tr, name):
    pdf = build_receipt_pdf(sample_data(applicant_name=name), "80mm", tr)
    text = flat(pdf_text(pdf))
    assert unicodedata.normalize("NFC", name) in text


def test_decomposed_input_is_printed_composed(tr):
    name = "Nguyễn Thị Hồng Nhung"
    pdf = build_receipt_pdf(
        sample_data(applicant_name=unicodedata.normalize("NFD", name)), "a5", tr
    )
    assert name in flat(pdf_text(pdf))


def test_every_tone_in_labels_and_titles_extracts(tr):
    pdf = build_receipt_pdf(sample_data(lang="en"), "a4", tr)
    text = flat(pdf_text(pdf))
    for expected in (
        "Mã biên nhận / Receipt code",
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        "Đăng ký khai sinh",
        "Birth registration",
        "Tờ khai đăng ký khai sinh",
        "UBND xã Hòa Tiến",
    ):
        assert expected in text


def test_only_the_shipped_fonts_are_used(tr):
    fonts = pdf_fonts(build_receipt_pdf(sample_data(), "80mm", tr))
    assert "NotoSans" in fonts
    assert "Helvetica" not in fonts and "Times" not in fonts


@pytest.mark.parametrize("size", ["80mm", "a5", "a4"])
def test_full_id_number_never_in_text_only_masked(tr, size):
    data = sample_data(id_number="051190004321", lang="en")
    pdf = build_receipt_pdf(data, size, tr)
    text = pdf_text(pdf)
    compact = "".join(text.split())
    assert "051190004321" not in compact
    assert "05119000" not in compact
    assert "••••••••4321" in text
    assert b"051190004321" not in pdf


def test_mask_id():
    assert mask_id("051190004321") == "••••••••4321"
    assert mask_id(" 0511 9000 4321 ") == "••••••••4321"
    assert mask_id("C1234567") == "••••4567"
    assert mask_id("1234567") == "•••••••"  # too short to show any of it
    assert mask_id("") == ""


@pytest.mark.parametrize("size,lang", [("80mm", "vi"), ("a5", "en"), ("a4", "tyz")])
def test_qr_on_rendered_page_decodes_to_status_url(tr, size, lang):
    data = sample_data(lang=lang)
    pdf = build_receipt_pdf(data, size, tr)
    assert decode_qr(render_page(pdf, dpi=150)) == [data.status_url]


def test_qr_still_decodes_at_thermal_resolution(tr):
    data = sample_data()
    pdf = build_receipt_pdf(data, "80mm", tr)
    # 203 dpi is what the thermal head prints.
    assert decode_qr(render_page(pdf, dpi=203)) == [data.status_url]


@pytest.mark.parametrize("size", ["80mm", "a5", "a4"])
def test_page_width(tr, size):
    for pdf in (
        build_receipt_pdf(sample_data(), size, tr),
        build_ticket_pdf(sample_ticket_data(), size, tr),
    ):
        width, height = page_sizes_pt(pdf)[0]
        assert width == pytest.approx(WIDTHS_MM[size] * MM, abs=0.5)
        if size != "80mm":
            assert height == pytest.approx({"a5": 210, "a4": 297}[size] * MM, abs=0.5)
            assert len(page_sizes_pt(pdf)) == 1


def _ink_rows(image) -> np.ndarray:
    return np.where((np.asarray(image) < 128).any(axis=1))[0]


def test_roll_height_is_fitted_to_content(tr):
    short = build_receipt_pdf(sample_data(documents=[]), "80mm", tr)
    many = [{"vi": f"Giấy tờ số {i}"} for i in range(12)]
    long = build_receipt_pdf(sample_data(documents=many), "80mm", tr)
    h_short = page_sizes_pt(short)[0][1]
    h_long = page_sizes_pt(long)[0][1]
    assert h_long > h_short + 11 * 8  # every extra line made the page longer
    for pdf in (short, long):
        image = render_page(pdf, dpi=100)
        rows = _ink_rows(image)
        px_per_mm = 100 / 25.4
        blank_bottom_mm = (image.height - 1 - rows[-1]) / px_per_mm
        blank_top_mm = rows[0] / px_per_mm
        assert 2 <= blank_bottom_mm <= 10, blank_bottom_mm
        assert blank_top_mm <= 6


def test_roll_ink_stays_in_printable_column(tr):
    long_name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Huỳnh Bảo Châu " * 3
    data = sample_data(
        applicant_name=long_name.strip(),
        commune_name="Ủy ban nhân dân xã Quảng Phú Cầu Thượng Nguyên Đông Hải " * 2,
        procedure_title={"vi": "Đăng ký khai sinh kết hợp đăng ký thường trú " * 3},
        lang="en",
    )
    pdf = build_receipt_pdf(data, "80mm", tr)
    image = render_page(pdf, dpi=200)
    ink_cols = np.where((np.asarray(image) < 128).any(axis=0))[0]
    px_per_pt = 200 / 72
    margin = (80 * MM - ROLL_PRINTABLE) / 2 * px_per_pt
    assert ink_cols[0] >= margin - 2
    assert ink_cols[-1] <= image.width - margin + 2
    # Wrapped, not cut: every word of the long name is there, in order.
    assert flat(long_name) in flat(pdf_text(pdf))


def test_long_content_on_a5_flows_onto_a_second_page(tr):
    many = [{"vi": f"Bản sao giấy tờ chứng minh nơi cư trú số {i}"} for i in range(40)]
    pdf = build_receipt_pdf(sample_data(documents=many), "a5", tr)
    sizes = page_sizes_pt(pdf)
    assert len(sizes) >= 2
    text = flat(pdf_text(pdf))
    assert "nơi cư trú số 39" in text


def test_bilingual_labels_only_when_language_differs(tr):
    vi = flat(pdf_text(build_receipt_pdf(sample_data(lang="vi"), "80mm", tr)))
    en = flat(pdf_text(build_receipt_pdf(sample_data(lang="en"), "80mm", tr)))
    assert "Mã biên nhận" in vi and "Receipt code" not in vi
    assert "Mã biên nhận / Receipt code" in en
    assert "Birth registration" in en and "Birth registration" not in vi
    assert "Certificate of birth" in en


def test_language_without_translations_falls_back_to_vietnamese_only(tr):
    text = flat(pdf_text(build_receipt_pdf(sample_data(lang="bru"), "a5", tr)))
    assert "Mã biên nhận" in text
    assert "Mã biên nhận / Mã biên nhận" not in text
    assert "receipt.code" not in text  # no raw keys


def test_fee_date_and_dossier_code(tr):
    data = sample_data(fee_vnd=1_250_000, dossier_code=None, lang="en")
    text = flat(pdf_text(build_receipt_pdf(data, "a5", tr)))
    assert "1.250.000 ₫" in text
    assert "19/03/2025" in text  # expected date
    assert "14/03/2025 09:26" in text or "14/03/2025" in text
    assert "Đang chờ cấp / pending" in text

    free = sample_data(
        fee_vnd=0, dossier_code="000.00.12.H45-250314-0007", lang="en", expected_date=None
    )
    text = flat(pdf_text(build_receipt_pdf(free, "80mm", tr)))
    assert "Miễn phí / Free" in text
    assert "000.00.12.H45-250314-0007" in text
    assert "pending" not in text
    assert "Sẽ thông báo sau / To be announced" in text


def test_format_vnd():
    assert format_vnd(50_000) == "50.000 ₫"
    assert format_vnd(0) == "0 ₫"
    with pytest.raises(ValueError):
        format_vnd(-1)


def test_naive_time_is_printed_as_given(tr):
    from datetime import datetime

    data = sample_data(confirmed_at=datetime(2025, 12, 31, 23, 59))
    assert "31/12/2025 23:59" in pdf_text(build_receipt_pdf(data, "80mm", tr))


def test_demo_mark_and_not_final_note(tr):
    plain = flat(pdf_text(build_receipt_pdf(sample_data(), "80mm", tr)))
    assert "BẢN THỬ" not in plain
    demo = sample_data(demo=True, receipt_not_final=True, lang="en")
    for size in ("80mm", "a5"):
        text = flat(pdf_text(build_receipt_pdf(demo, size, tr)))
        assert "BẢN THỬ" in text and "DEMO" in text
        assert "Mã hồ sơ chính thức sẽ được cấp sau" in text


def test_demo_band_is_really_black_on_the_roll(tr):
    pdf = build_receipt_pdf(sample_data(demo=True), "80mm", tr)
    image = np.asarray(render_page(pdf, dpi=100))
    # The top band is solid black with white text: a row mostly dark near the top.
    top = image[: int(15 / 25.4 * 100)]
    assert ((top < 64).mean(axis=1) > 0.6).any()


def test_unknown_size_is_refused(tr):
    with pytest.raises(ValueError, match="size"):
        build_receipt_pdf(sample_data(), "letter", tr)


def test_special_characters_are_text_not_markup(tr):
    data = sample_data(applicant_name="Trần <b>Bé</b> & Co", commune_name="Xã A & B")
    text = flat(pdf_text(build_receipt_pdf(data, "80mm", tr)))
    assert "Trần <b>Bé</b> & Co" in text and "Xã A & B" in text


def test_expected_date_and_documents_none(tr):
    data = sample_data(documents=[], expected_date=date(2025, 4, 1), lang="en")
    text = flat(pdf_text(build_receipt_pdf(data, "a4", tr)))
    assert "Không có / None" in text and "01/04/2025" in text


# --- tickets -------------------------------------------------------------------


def test_ticket_content(tr):
    data = sample_ticket_data(number="B007", waiting_ahead=5, priority=True, lang="en")
    pdf = build_ticket_pdf(data, "80mm", tr)
    text = flat(pdf_text(pdf))
    assert "B007" in text
    assert "Hộ tịch" in text and "Civil status" in text
    assert "Số người đang chờ trước bạn: 5" in text
    assert "People waiting ahead of you: 5" in text
    assert "ƯU TIÊN" in text and "PRIORITY" in text
    assert "14/03/2025 08:05" in text
    assert page_sizes_pt(pdf)[0][1] < 120 * MM  # a short slip, not a page


def test_ticket_without_priority_has_no_priority_mark(tr):
    text = pdf_text(build_ticket_pdf(sample_ticket_data(), "80mm", tr))
    assert "ƯU TIÊN" not in text
