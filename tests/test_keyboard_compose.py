"""Vietnamese composition of the on-screen keyboard: tone placement and Telex, as text."""

from __future__ import annotations

import unicodedata

import pytest

from kiosk.views.keyboard import apply_tone_key, set_tone, telex, tone_target


def type_telex(keys: str) -> str:
    """What Telex makes of a key sequence, word by word, as the keyboard does it."""
    text = ""
    for key in keys:
        start = len(text)
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        composed = telex(text[start:], key) if key.isalpha() else None
        text = text[:start] + composed if composed is not None else text + key
    return text


@pytest.mark.parametrize(
    "plain, tone, expected",
    [
        ("Nguyên", "tilde", "Nguyễn"),
        ("Thi", "dot", "Thị"),
        ("Hông", "grave", "Hồng"),
        ("hoa", "grave", "hoà"),  # modern: oa, oe, uy open syllables take it on the 2nd vowel
        ("khoe", "hook", "khoẻ"),
        ("Thuy", "hook", "Thuỷ"),
        ("toan", "acute", "toán"),  # closed syllable: 2nd vowel
        ("mua", "acute", "múa"),  # open ua: 1st vowel
        ("mưa", "dot", "mựa"),
        ("quôc", "acute", "quốc"),  # qu-: the u is a consonant
        ("quy", "acute", "quý"),
        ("giương", "grave", "giường"),  # gi-: the i is a consonant, ươ: on ơ
        ("gin", "grave", "gìn"),  # but gi alone is a vowel
        ("khuyu", "hook", "khuỷu"),  # three vowels: the middle
        ("ngoai", "dot", "ngoại"),
        ("thuân", "dot", "thuận"),
        ("cưu", "acute", "cứu"),
        ("HOA", "grave", "HOÀ"),
    ],
)
def test_tone_goes_on_the_right_vowel(plain, tone, expected):
    assert set_tone(plain, tone) == expected
    assert unicodedata.is_normalized("NFC", set_tone(plain, tone))


def test_tone_key_moves_replaces_and_toggles_the_tone():
    assert apply_tone_key("hoà", "acute") == "hoá"
    assert apply_tone_key("hoá", "acute") == "hoa"  # same tone again takes it off
    assert apply_tone_key("Nguyễn", "tilde") == "Nguyên"
    assert apply_tone_key("nh", "acute") is None  # nothing to put it on
    assert tone_target("xyz") == 1


@pytest.mark.parametrize(
    "keys, expected",
    [
        ("Nguyeenx Thij Hoongf Nhung", "Nguyễn Thị Hồng Nhung"),
        ("dduwowngf", "đường"),
        ("huowngs", "hướng"),
        ("muaw", "mưa"),
        ("cuwus", "cứu"),
        ("quaw", "quă"),
        ("hoawngf", "hoằng"),
        ("Vieejt Nam", "Việt Nam"),
        ("tieengs", "tiếng"),
        ("xin chaof", "xin chào"),
        ("ass", "as"),  # a tone key twice: the letter was meant
        ("aaa", "aa"),
        ("ddd", "dd"),
        ("uww", "uw"),
        ("uowf", "ườ"),
        ("uowwf", "uòw"),
        ("asz", "a"),  # z takes the tone off
        ("zoo", "zô"),
        ("sao", "sao"),  # a tone letter with no vowel before it is a letter
        ("DDAWNGF", "ĐẰNG"),
    ],
)
def test_telex(keys, expected):
    assert type_telex(keys) == expected
    assert unicodedata.is_normalized("NFC", type_telex(keys))


def test_modifier_after_the_tone_moves_the_tone():
    # The tone typed before the w still ends up on the ơ.
    assert type_telex("huosngw") == "hướng"
