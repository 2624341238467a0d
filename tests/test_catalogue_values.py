"""validate_value: what a citizen types, checked and converted to the contract's types."""

from __future__ import annotations

from datetime import date

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES

from kiosk.services.catalogue import (
    Choice,
    Field,
    load_catalogue,
    prefill_text,
    to_raw_text,
    validate_value,
)
from kiosk.services.i18n import Translator

TODAY = date(2026, 11, 23)


def make(ftype: str, required: bool = True, **extra) -> Field:
    return Field(key="f", type=ftype, required=required, labels={"vi": "Ô", "en": "Box"}, **extra)


SEX = (Choice("male", {"vi": "Nam", "en": "Male"}), Choice("female", {"vi": "Nữ", "en": "Female"}))


def check(field: Field, raw: str, lang: str = "vi"):
    return validate_value(field, raw, lang, today=TODAY)


# ------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("05/09/2024", "2024-09-05"),
        ("5/9/2024", "2024-09-05"),
        ("29/02/2024", "2024-02-29"),  # leap year
        ("05-09-2024", "2024-09-05"),
        ("05.09.2024", "2024-09-05"),
        (" 05 / 09 / 2024 ", "2024-09-05"),
        ("23/11/2026", "2026-11-23"),  # today is not the future
    ],
)
def test_good_dates(raw, expected):
    assert check(make("date", max_today=True), raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    ["31/02/2024", "29/02/2023", "00/01/2024", "32/01/2024", "12/13/2024", "2024-09-05",
     "05/09/24", "5 tháng 9 2024", "ngày mai", "05/09/0999", "05/09/2024x"],
)  # fmt: skip
def test_bad_dates(raw):
    assert check(make("date"), raw) == (None, "catalogue.err.date_invalid")


def test_future_date_refused_only_where_the_field_says_so():
    assert check(make("date", max_today=True), "24/11/2026") == (None, "catalogue.err.date_future")
    assert check(make("date"), "24/11/2026") == ("2026-11-24", None)


def test_date_bounds():
    f = make("date", min="2026-01-01", max="today")
    assert check(f, "31/12/2025") == (None, "catalogue.err.date_too_early")
    assert check(f, "01/01/2026") == ("2026-01-01", None)
    assert check(f, "24/11/2026") == (None, "catalogue.err.date_too_late")


# ------------------------------------------------------------------ phone and id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0912345678", "0912345678"), ("091 234 5678", "0912345678"), ("091.234.5678", "0912345678"),
     ("+84912345678", "0912345678"), ("84912345678", "0912345678")],
)  # fmt: skip
def test_good_phones(raw, expected):
    assert check(make("phone"), raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "912345678",
        "09123456789",
        "1912345678",
        "09123a5678",
        "０９１２３４５６７８",
        "+1 202 555 0100",
    ],
)
def test_bad_phones(raw):
    assert check(make("phone"), raw) == (None, "catalogue.err.phone_invalid")


def test_id_number():
    f = make("id_number")
    assert check(f, "001203004567") == ("001203004567", None)
    assert check(f, "001 203 004 567") == ("001203004567", None)
    for bad in ("00120300456", "0012030045678", "00120300456a", "０01203004567"):
        assert check(f, bad) == (None, "catalogue.err.id_number_invalid"), bad


# ------------------------------------------------------------------------ number


def test_whole_numbers():
    f = make("number", min=1, max=500)
    assert check(f, "12") == (12, None)
    assert isinstance(check(f, "12")[0], int)
    assert check(f, "0") == (None, "catalogue.err.number_too_small")
    assert check(f, "501") == (None, "catalogue.err.number_too_large")
    assert check(make("number"), "1.000.000") == (1000000, None)  # Vietnamese grouping
    assert check(make("number"), "1 000 000") == (1000000, None)
    for bad in ("1,5", "12a", "mười", "1.00", "--1", "１２"):
        assert check(f, bad) == (None, "catalogue.err.number_invalid"), bad


def test_decimal_numbers():
    f = make("number", decimals=2)
    assert check(f, "1,5") == (1.5, None)
    assert check(f, "1.25") == (1.25, None)
    assert check(f, "3") == (3, None)
    assert check(f, "1.255") == (None, "catalogue.err.number_invalid")


# -------------------------------------------------------------- choice, checkbox


def test_choice_key_or_label():
    f = make("choice", choices=SEX)
    assert check(f, "female") == ("female", None)
    assert check(f, "Nữ") == ("female", None)
    assert check(f, "nu") == ("female", None)
    assert check(f, "Male", "en") == ("male", None)
    assert check(f, "other") == (None, "catalogue.err.choice_invalid")


def test_checkbox():
    f = make("checkbox", required=False)
    assert check(f, "1") == (True, None)
    assert check(f, "có") == (True, None)
    assert check(f, "") == (False, None)
    assert check(f, "0") == (False, None)
    assert check(make("checkbox"), "0") == (None, "catalogue.err.must_check")
    assert check(f, "maybe") == (None, "catalogue.err.choice_invalid")


# --------------------------------------------------------------- text, required


def test_text_is_nfc_trimmed_and_limited():
    f = make("text", max_length=12)
    nfd = "Nguyễn  Văn\tA".replace("ễ", "e\u0302\u0303")
    assert check(f, nfd) == ("Nguyễn Văn A", None)
    assert check(f, "x" * 13) == (None, "catalogue.err.text_too_long")
    assert check(make("text"), "x" * 201) == (None, "catalogue.err.text_too_long")


@pytest.mark.parametrize("ftype", ["text", "date", "phone", "number", "id_number", "choice"])
def test_required_and_optional_empty(ftype):
    extra = {"choices": SEX} if ftype == "choice" else {}
    assert check(make(ftype, **extra), "   ") == (None, "catalogue.err.required")
    assert validate_value(make(ftype, required=False, **extra), None) == (None, None)


def test_every_error_key_has_vi_and_en_text():
    tr = Translator.from_resources()
    keys = [
        "required", "date_invalid", "date_future", "date_too_early", "date_too_late",
        "phone_invalid", "id_number_invalid", "number_invalid", "number_too_small",
        "number_too_large", "choice_invalid", "text_too_long", "must_check", "catalogue_broken",
    ]  # fmt: skip
    for key in keys:
        for lang in ("vi", "en"):
            assert tr.has(f"catalogue.err.{key}", lang), (key, lang)
    assert "ngày/tháng/năm" in tr.tr("catalogue.err.date_invalid", "vi")
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    for cat in catalogue.categories():
        assert tr.has(f"catalogue.category.{cat}", "vi") and tr.has(
            f"catalogue.category.{cat}", "en"
        )


# ------------------------------------------------------ round trip and prefill


def test_to_raw_text_round_trips():
    cases = [
        (make("date"), "2024-09-05", "05/09/2024"),
        (make("checkbox"), True, "1"),
        (make("number"), 12, "12"),
        (make("phone"), "0912345678", "0912345678"),
        (make("choice", choices=SEX), "male", "male"),
    ]
    for field, value, raw in cases:
        assert to_raw_text(field, value) == raw
        assert check(field, raw) == (value, None)
    assert to_raw_text(make("text"), None) == ""


def test_every_shipped_field_accepts_a_sample_value():
    samples = {"text": "Lò Văn Pợ", "date": "05/09/2024", "phone": "0912345678", "number": "3",
               "id_number": "001203004567", "checkbox": "1"}  # fmt: skip
    for proc in load_catalogue(PROCEDURES, PICTOGRAMS):
        for f in proc.fields:
            raw = f.choices[0].key if f.type == "choice" else samples[f.type]
            if f.type == "number" and f.min is not None:
                raw = str(int(f.min))
            value, error = check(f, raw)
            assert error is None, (proc.code, f.key, error)
            assert value is not None


def test_prefill_from_a_card():
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    proc = catalogue.get("1.001776")
    card = {
        "full_name": "Hoàng Thị Mai",
        "date_of_birth": date(1950, 3, 7),
        "address": "Thôn Nà Lừa",
    }
    name = proc.field("beneficiary_full_name")
    born = proc.field("beneficiary_date_of_birth")
    assert prefill_text(name, card) == "Hoàng Thị Mai"
    assert prefill_text(born, card) == "07/03/1950"
    assert prefill_text(born, {"date_of_birth": "1950-03-07"}) == "07/03/1950"
    assert prefill_text(born, {}) == ""
    assert prefill_text(proc.field("phone"), card) == ""
    assert check(born, prefill_text(born, card)) == ("1950-03-07", None)
