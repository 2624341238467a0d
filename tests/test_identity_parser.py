"""The CCCD payload parser, its validations and variants, and classify()."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from identity_helpers import NAMES, SAMPLE_PAYLOAD, make_id

from kiosk.paths import resource
from kiosk.services.cccd import (
    WARN_NO_ISSUE_DATE,
    WARN_UNKNOWN_PLACE,
    CccdError,
    CitizenRecord,
    classify,
    interpret,
    parse,
)
from kiosk.services.provinces import PROVINCE_CODES, province_name
from kiosk.services.receipt_code import make_code, receipt_uri
from kiosk.services.text import nfc

TODAY = date(2025, 6, 1)
ADDRESS = "Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội"


def record(text: str) -> CitizenRecord:
    result = parse(text, TODAY)
    assert isinstance(result, CitizenRecord), result
    return result


def error(text: str) -> CccdError:
    result = parse(text, TODAY)
    assert isinstance(result, CccdError), result
    return result


def test_2021_card_payload():
    r = record(SAMPLE_PAYLOAD)
    assert r.id_number == "001190012345"
    assert r.old_id_number == "012345678"
    assert r.full_name == "Nguyễn Thị Hồng Nhung"
    assert r.date_of_birth == date(1990, 2, 1)
    assert r.sex == "female"
    assert r.address == ADDRESS
    assert r.issue_date == date(2021, 8, 15)
    assert r.raw == SAMPLE_PAYLOAD
    assert r.warnings == []


def test_empty_old_id():
    r = record(f"079085001234||Đặng Văn Quỳnh|05111985|Nam|{ADDRESS}|01032022")
    assert r.old_id_number is None
    assert r.sex == "male"
    assert r.full_name == "Đặng Văn Quỳnh"
    assert r.date_of_birth == date(1985, 11, 5)


def test_six_fields_without_old_id_field():
    r = record(f"079085001234|Đặng Văn Quỳnh|05111985|Nam|{ADDRESS}|01032022")
    assert r.old_id_number is None
    assert r.address == ADDRESS
    assert r.issue_date == date(2022, 3, 1)


def test_extra_trailing_fields_are_ignored_but_kept_in_raw():
    text = f"{SAMPLE_PAYLOAD}|Nguyễn Văn Bình|Trần Thị Cúc|"
    r = record(text)
    assert r.full_name == "Nguyễn Thị Hồng Nhung"
    assert r.address == ADDRESS
    assert r.raw == text


def test_fields_found_by_pattern_not_position():
    # A card layout whose order is not published: the same facts in another order.
    text = f"Nữ|{ADDRESS}|01021990|Nguyễn Thị Hồng Nhung|15082021|001190012345|012345678"
    r = record(text)
    assert (r.id_number, r.old_id_number, r.full_name, r.sex) == (
        "001190012345",
        "012345678",
        "Nguyễn Thị Hồng Nhung",
        "female",
    )
    assert r.date_of_birth == date(1990, 2, 1)
    assert r.issue_date == date(2021, 8, 15)
    assert r.address == ADDRESS


def test_address_is_the_field_with_commas_or_numbers():
    text = f"001190012345||Nguyễn Thị Hồng Nhung|01021990|Nữ|Hà Nội|{ADDRESS}|15082021"
    assert record(text).address == ADDRESS


def test_no_issue_date_is_flagged():
    r = record(f"001190012345||Nguyễn Thị Hồng Nhung|01021990|Nữ|{ADDRESS}")
    assert r.issue_date is None
    assert WARN_NO_ISSUE_DATE in r.warnings


def test_whitespace_bom_and_decomposed_text_are_normalised():
    decomposed = "\ufeff " + SAMPLE_PAYLOAD.replace("ễ", "e\u0302\u0303") + "\r\n"
    r = record(decomposed)
    assert r.full_name == "Nguyễn Thị Hồng Nhung" == nfc(r.full_name)
    assert r.raw == decomposed  # the raw payload is kept exactly


@pytest.mark.parametrize(
    ("digit", "year", "sex"),
    [
        ("0", 1990, "Nam"),
        ("1", 1990, "Nữ"),
        ("2", 2005, "Nam"),
        ("3", 2005, "Nữ"),
        ("8", 1899, "Nam"),
        ("9", 1899, "Nữ"),
    ],
)
def test_fourth_digit_encodes_sex_and_century(digit, year, sex):
    id_number = f"001{digit}{year % 100:02d}000001"
    r = record(
        f"{id_number}||Lê Văn Tám|01012000|{sex}|{ADDRESS}|01012024".replace(
            "01012000", f"0101{year}"
        )
    )
    assert r.sex == ("male" if sex == "Nam" else "female")
    assert r.date_of_birth.year == year


def test_2100s_and_2200s_are_future_births():
    assert error(f"001400000001||Lê Văn Tám|01012100|Nam|{ADDRESS}").key == "scan.cccd.bad_date"


def test_sex_mismatch_is_refused():
    e = error(f"001090012345||Nguyễn Thị Hồng Nhung|01021990|Nữ|{ADDRESS}|15082021")
    assert e.key == "scan.cccd.inconsistent"
    assert "sex" in e.detail
    assert "001090012345" not in e.detail  # no personal data in the clerk detail


def test_birth_year_mismatch_is_refused():
    e = error(f"001191012345||Nguyễn Thị Hồng Nhung|01021990|Nữ|{ADDRESS}|15082021")
    assert e.key == "scan.cccd.inconsistent"
    assert "birth year" in e.detail


def test_century_digit_must_match():
    # Digit 3 (female, 2000s) with a 1990 birth date.
    assert error(f"001390012345||Nguyễn Thị Hồng Nhung|01021990|Nữ|{ADDRESS}|15082021").key == (
        "scan.cccd.inconsistent"
    )


@pytest.mark.parametrize("bad", ["31021990", "00011990", "01131990", "01020000"])
def test_impossible_dates_are_refused(bad):
    text = SAMPLE_PAYLOAD.replace("01021990", bad)
    assert error(text).key == "scan.cccd.bad_date"


def test_issue_before_birth_is_refused():
    assert error(SAMPLE_PAYLOAD.replace("15082021", "15081989")).key == "scan.cccd.bad_date"


def test_issue_in_future_is_refused():
    assert error(SAMPLE_PAYLOAD.replace("15082021", "15082026")).key == "scan.cccd.bad_date"
    assert isinstance(
        parse(SAMPLE_PAYLOAD.replace("15082021", "15082026"), date(2027, 1, 1)), CitizenRecord
    )


def test_issue_on_birth_day_and_today_are_accepted():
    assert record(SAMPLE_PAYLOAD.replace("15082021", "01021990")).issue_date == date(1990, 2, 1)
    assert record(SAMPLE_PAYLOAD.replace("15082021", "01062025")).issue_date == TODAY


def test_unknown_place_code_is_flagged_not_refused():
    text = SAMPLE_PAYLOAD.replace("001190012345", "003190012345")  # 003 is not a province
    r = record(text)
    assert r.warnings == [WARN_UNKNOWN_PLACE]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "scan.cccd.not_cccd"),
        ("hello world", "scan.cccd.not_cccd"),
        ("a|b|c", "scan.cccd.not_cccd"),
        # Shaped like a card, but the ID number has the wrong length: a bad card.
        (
            "00119001234|012345678|Nguyễn Thị A|01021990|Nữ|Hà Nội, VN|15082021",
            "scan.cccd.bad_id",
        ),
        ("001190012345|Nguyễn Thị A|01021990|Hà Nội, VN|15082021", "scan.cccd.incomplete"),
        ("001190012345|01021990|Nữ|Số 1, Hà Nội|15082021", "scan.cccd.incomplete"),
        # The only date is taken as the birth date; its year contradicts the ID.
        ("001190012345|Nguyễn Thị A|Nữ|Số 1, Hà Nội|15082021", "scan.cccd.inconsistent"),
        ("001190012345|Nguyễn Thị A|Nữ|Số 1, Hà Nội", "scan.cccd.incomplete"),
        ("001190012345|Nguyễn Thị A|01021990|Nữ", "scan.cccd.incomplete"),
        ("００１１９００１２３４５|Nguyễn Thị A|01021990|Nữ|Số 1, Hà Nội", "scan.cccd.not_cccd"),
    ],
)
def test_errors(text, key):
    assert error(text).key == key


def test_name_with_digits_is_not_taken_as_name():
    e = error(f"001190012345||Nguyễn Thị 4|01021990|Nữ|{ADDRESS}|15082021")
    # The only letters-only field is missing, so no name: never a guessed one.
    assert e.key == "scan.cccd.incomplete"


@pytest.mark.parametrize("name", NAMES)
def test_every_vietnamese_name_survives(name):
    birth = date(1975, 4, 30)
    id_number = make_id("048", birth, True, 4321)
    r = record(f"{id_number}||{name}|30041975|Nữ|{ADDRESS}|01012022")
    assert r.full_name == name


def test_error_keys_have_vi_and_en_text():
    keys = {
        "scan.cccd.not_cccd",
        "scan.cccd.incomplete",
        "scan.cccd.bad_date",
        "scan.cccd.inconsistent",
        "scan.cccd.bad_id",
        WARN_UNKNOWN_PLACE,
        WARN_NO_ISSUE_DATE,
        "scan.no_camera",
        "scan.camera_failed",
        "scan.other_qr",
    }
    for lang in ("vi", "en"):
        catalogue: dict[str, str] = {}
        for path in resource("i18n", lang).glob("*.json"):
            catalogue.update(json.loads(path.read_text(encoding="utf-8")))
        assert keys <= set(catalogue), lang
    vi = json.loads(resource("i18n", "vi", "scan.json").read_text(encoding="utf-8"))
    assert "thẻ" in vi["scan.cccd.not_cccd"]


def test_province_codes_are_the_63_pre_2025_codes():
    assert len(PROVINCE_CODES) == 63
    assert all(len(c) == 3 and c.isdigit() and "001" <= c <= "096" for c in PROVINCE_CODES)
    assert province_name("001") == "Hà Nội"
    assert province_name("079") == "Hồ Chí Minh"
    assert province_name("096") == "Cà Mau"
    assert province_name("003") is None


# ---------------------------------------------------------------- classify


def test_classify_kinds():
    uri = receipt_uri("https://portal.example.gov.vn/r/", make_code("QN01", 123))
    assert classify(SAMPLE_PAYLOAD, TODAY) == "cccd"
    assert classify(uri, TODAY) == "receipt"
    assert interpret(uri, TODAY).receipt.text == make_code("QN01", 123)
    assert classify("https://example.com/hello", TODAY) == "other_qr"
    assert classify("WIFI:S:cafe;T:WPA;P:secret;;", TODAY) == "other_qr"
    assert classify(SAMPLE_PAYLOAD.replace("Nữ", "Nam"), TODAY) == "invalid_cccd"
    assert classify(SAMPLE_PAYLOAD.replace("01021990", "31021990"), TODAY) == "invalid_cccd"


CARD_10 = f"0011900123|012345678|Nguyễn Thị A|01021990|Nữ|{ADDRESS}|15082021"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        # A 10-digit "ID" in a payload shaped like a card: a bad card, not some other QR.
        (CARD_10, "the ID number has 10 digits, not 12"),
        (CARD_10.replace("|Nữ|", "||"), "the ID number has 10 digits, not 12"),
        (f"0011900123|Nguyễn Thị A|01021990|{ADDRESS}", "the ID number has 10 digits, not 12"),
        ("0011900123|Nguyễn Thị A|01021990|Nữ", "the ID number has 10 digits, not 12"),
        (
            f"00119001234567|Nguyễn Thị A|01021990|Nữ|{ADDRESS}",
            "the ID number has 14 digits, not 12",
        ),
        # Missing the sex or the address: a card with a field missing, with the reason.
        (SAMPLE_PAYLOAD.replace("|Nữ|", "||"), "no Nam/Nữ field"),
        (SAMPLE_PAYLOAD.replace("|Nữ|", "|"), "no Nam/Nữ field"),
        (SAMPLE_PAYLOAD.replace(ADDRESS, ""), "no address field"),
        (SAMPLE_PAYLOAD.replace(f"|{ADDRESS}", ""), "no address field"),
    ],
)
def test_card_shaped_payloads_are_invalid_cards_with_the_reason(text, detail):
    result = interpret(text, TODAY)
    assert result.kind == "invalid_cccd"
    assert result.error is not None and result.error.detail == detail
    assert result.citizen is None


@pytest.mark.parametrize(
    "text",
    [
        "a|b|c",
        "0123456789|hello",  # a number and a word: not shaped like a card
        "ORDER|0123456789|2",
        "tel|0912345678|Nguyễn Văn A",  # a phone number and a name, nothing more
    ],
)
def test_other_pipe_payloads_stay_other_qr(text):
    assert classify(text, TODAY) == "other_qr"


def test_payload_without_issue_date_is_accepted_with_a_warning():
    # The 2024 card's QR layout is not published (see kiosk/services/cccd.py): a payload
    # without an issue date is kept, and the clerk sees the warning.
    result = interpret(SAMPLE_PAYLOAD.replace("|15082021", ""), TODAY)
    assert result.kind == "cccd"
    assert result.citizen.issue_date is None
    assert result.citizen.warnings == [WARN_NO_ISSUE_DATE]


def test_receipt_uri_with_bad_check_character_is_other_qr():
    code = make_code("QN01", 123)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert classify(f"https://portal.example.gov.vn/r/{wrong}", TODAY) == "other_qr"


def test_interpret_carries_the_record_and_the_error():
    ok = interpret(SAMPLE_PAYLOAD, TODAY)
    assert ok.citizen is not None and ok.error is None
    bad = interpret(SAMPLE_PAYLOAD.replace("Nữ", "Nam"), TODAY)
    assert bad.citizen is None and bad.error.key == "scan.cccd.inconsistent"


# ---------------------------------------------------------------- any input at all

_field = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9]{8,12}", fullmatch=True),
    st.sampled_from(["Nam", "Nữ", "NỮ", "nu", "", " ", "Nguyễn Thị A", "Số 1, Hà Nội"]),
)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_never_raises_on_any_text(text):
    result = parse(text, TODAY)
    assert isinstance(result, (CitizenRecord, CccdError))
    assert classify(text, TODAY) in ("cccd", "receipt", "other_qr", "invalid_cccd")


@settings(max_examples=400, deadline=None)
@given(st.lists(_field, min_size=1, max_size=10))
def test_parse_never_raises_on_pipe_payloads(fields):
    text = "|".join(fields)
    result = parse(text, TODAY)
    assert isinstance(result, (CitizenRecord, CccdError))
    if isinstance(result, CitizenRecord):
        assert len(result.id_number) == 12 and result.id_number.isdigit()
        assert result.date_of_birth <= TODAY
        assert result.sex in ("male", "female")
        assert result.raw == text
