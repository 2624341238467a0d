import pytest

from kiosk.services.receipt_code import (
    ALPHABET,
    ReceiptCodeError,
    code_from_uri,
    make_code,
    parse_code,
    receipt_uri,
)


def test_round_trip_and_forgiving_typing():
    code = make_code("QN01", 123)
    assert code.startswith("QN01-000123-") and len(code) == 13
    for typed in (code, code.lower(), code.replace("-", ""), " qn01 ooo123 " + code[-1]):
        assert parse_code(typed).text == code
    assert parse_code(code).sequence == 123


def test_every_single_wrong_character_and_neighbour_swap_is_caught():
    code = make_code("QT02", 40517)
    compact = code.replace("-", "")
    missed = 0
    for i, ch in enumerate(compact):
        for other in ALPHABET:
            if other == ch:
                continue
            bad = compact[:i] + other + compact[i + 1 :]
            try:
                parse_code(bad)
                missed += 1
            except ReceiptCodeError:
                pass
    assert missed == 0
    swaps = [
        compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :]
        for i in range(len(compact) - 1)
        if compact[i] != compact[i + 1]
    ]
    caught = 0
    for bad in swaps:
        try:
            parse_code(bad)
        except ReceiptCodeError:
            caught += 1
    assert caught / len(swaps) >= 0.8


@pytest.mark.parametrize(
    "bad", ["", "QN01", "QN01-12345-X", "QN01-ABCDEF-1", "Q-000001-1", "hello world"]
)
def test_not_a_code(bad):
    with pytest.raises(ReceiptCodeError):
        parse_code(bad)


def test_uri_names_only_the_code():
    code = make_code("QN01", 7)
    uri = receipt_uri("https://portal.example.gov.vn/", code)
    assert uri == f"https://portal.example.gov.vn/r/{code}"
    assert code_from_uri(uri).text == code
    wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert code_from_uri(f"https://portal.example.gov.vn/r/{wrong_check}") is None
    assert code_from_uri("https://example.com/other") is None
    assert code_from_uri("001090012345|...") is None
