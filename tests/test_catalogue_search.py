"""Search ignores diacritics and case, works in English, ranks title matches first."""

from __future__ import annotations

import unicodedata

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES

from kiosk.services.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(PROCEDURES, PICTOGRAMS)


def codes(procs) -> list[str]:
    return [p.code for p in procs]


@pytest.mark.parametrize(
    "query",
    ["dang ky khai sinh", "Đăng ký khai sinh", "ĐĂNG KÝ KHAI SINH", "khai sinh", "  KHAI   sinh "],
)
def test_folded_query_finds_birth_registration_first(catalogue, query):
    assert codes(catalogue.search(query, "vi"))[0] == "1.001193"


def test_decomposed_input_is_normalised(catalogue):
    nfd = unicodedata.normalize("NFD", "Đăng ký khai sinh")
    assert nfd != "Đăng ký khai sinh"
    assert codes(catalogue.search(nfd))[0] == "1.001193"


def test_english_search(catalogue):
    assert codes(catalogue.search("birth registration", "en"))[0] == "1.001193"
    assert codes(catalogue.search("signature", "en")) == ["2.000884"]
    # an English query in a Vietnamese session finds nothing English...
    assert "2.000884" not in codes(catalogue.search("signature", "vi"))
    # ...but Vietnamese typed in an English session still works
    assert codes(catalogue.search("chung thuc chu ky", "en"))[0] == "2.000884"


def test_word_prefixes_match(catalogue):
    assert codes(catalogue.search("ket ho", "vi"))[0] == "1.000894"


def test_title_matches_rank_before_summary_matches(catalogue):
    result = codes(catalogue.search("tu ban chinh", "vi"))
    assert result[0] == "2.000815"
    # "khai sinh" is in the title of birth registration and only in the summary or
    # keywords of the civil record copy: the title match comes first
    result = codes(catalogue.search("khai sinh", "vi"))
    assert result.index("1.001193") < result.index("2.000635")
    copy = catalogue.get("2.000635")
    assert "khai sinh" not in copy.title("vi").lower()


def test_keywords_find_everyday_words(catalogue):
    assert codes(catalogue.search("giay doc than", "vi")) == ["1.004873"]
    assert "1.000894" in codes(catalogue.search("wedding", "en"))


def test_all_words_must_match(catalogue):
    assert catalogue.search("khai sinh xyzzy", "vi") == []
    assert catalogue.search("qqq", "en") == []


def test_empty_query_lists_everything_offered(catalogue):
    assert codes(catalogue.search("", "vi")) == codes(catalogue.visible())
    assert codes(catalogue.search("  ", "vi")) == codes(catalogue.visible())


def test_withdrawn_procedures_are_not_found(catalogue):
    raw = {
        "code": "1.001193",
        "version": 5,
        "title": {"vi": "Đăng ký khai sinh"},
        "fields": [],
        "withdrawn": True,
    }
    merged = catalogue.merge_remote([raw], "2026-11-23T00:00:00Z")
    assert "1.001193" not in codes(merged.search("khai sinh", "vi"))
    assert "1.001193" in codes(catalogue.search("khai sinh", "vi"))  # the original is unchanged


def test_visible_order_and_categories(catalogue):
    visible = catalogue.visible()
    cats = [p.category for p in visible]
    assert cats == sorted(cats, key=catalogue.categories().index)
    assert visible[0].code == "1.001193"
    assert catalogue.categories() == [
        "civil_status",
        "certification",
        "business",
        "social",
        "agriculture",
    ]
    assert codes(catalogue.visible("certification")) == ["2.000815", "2.000884"]


def test_a_fragment_inside_a_word_does_not_match(catalogue):
    # "inh" is inside "sinh" but starts no word
    assert catalogue.search("inh", "vi") == []
