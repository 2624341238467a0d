"""Provinces since the 2025 merger, and addresses written before it."""

from __future__ import annotations

import json

import pytest

from kiosk.services.places import Place, default_places, load_provinces
from kiosk.services.provinces import PROVINCE_CODES


@pytest.fixture(scope="module")
def places():
    return default_places()


def test_34_provinces_take_in_the_63_of_before():
    provinces = load_provinces()
    assert len(provinces) == 34
    old = sorted(c for p in provinces for c in p.merged_from)
    assert old == sorted(PROVINCE_CODES)


def test_a_province_missing_from_the_data_is_refused(tmp_path):
    from kiosk.paths import resource

    data = json.loads(resource("places", "provinces_2025.json").read_text("utf-8"))
    data["provinces"][2]["merged_from"].remove("002")  # Hà Giang lost
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError, match="exactly one"):
        load_provinces(bad)


@pytest.mark.parametrize(
    ("address", "place"),
    [
        # The town of Đồng Văn and its neighbours became the commune of Đồng Văn (Tuyên Quang).
        (
            "Thôn Nà Pò, thị trấn Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang",
            ("Xã Đồng Văn", "Tuyên Quang"),
        ),
        ("Thôn Sà Lủng, xã Tả Lủng, huyện Đồng Văn, tỉnh Hà Giang", ("Xã Đồng Văn", "Tuyên Quang")),
        ("xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai", ("Xã Bắc Hà", "Lào Cai")),
        ("thị trấn Phong Thổ, Lai Châu", ("Xã Phong Thổ", "Lai Châu")),  # no district named
        ("Ấp 2, xã Long Hựu, huyện Cần Đước, tỉnh Long An", ("Xã Long Hựu", "Tây Ninh")),
        # A card written without unit words: commune, district, province by position.
        ("Nà Pò, Tả Lủng, Đồng Văn, Hà Giang", ("Xã Đồng Văn", "Tuyên Quang")),
        # An address of today: the commune of today, as it is.
        ("Thôn Lũng Cú, Xã Lũng Cú, Tuyên Quang", ("Xã Lũng Cú", "Tuyên Quang")),
        ("khu phố 1, TP Hồ Chí Minh", ("", "Hồ Chí Minh")),
        # A commune that is in no list is not offered: the province alone.
        ("Thôn Nà Pò, xã Không Có, huyện Đồng Văn, tỉnh Hà Giang", ("", "Tuyên Quang")),
    ],
)
def test_an_address_from_before_the_merger_reads_as_today(places, address, place):
    assert places.from_address(address) == Place(*place)


def test_a_commune_of_today_carries_its_code(places):
    found = places.from_address("xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai")
    assert places.commune(found.code).name == "Xã Bắc Hà"


def test_3321_communes_in_the_34_provinces():
    from kiosk.services.places import load_before, load_communes

    provinces = load_provinces()
    communes = load_communes(provinces)
    assert sum(len(c) for c in communes.values()) == 3321
    assert {p.short for p in provinces} == set(communes)
    codes = {c.code for cs in communes.values() for c in cs}
    before = load_before()
    assert set(before) == set(PROVINCE_CODES)  # every old province has its communes
    targets = [
        code for d in before.values() for w in d.values() for cs in w.values() for code in cs
    ]
    assert len(targets) >= 10040 and set(targets) <= codes  # each goes to a commune of today


def test_commune_data_naming_an_unknown_province_is_refused(tmp_path):
    from kiosk.paths import resource
    from kiosk.services.places import load_communes

    data = json.loads(resource("places", "communes_2025.json").read_text("utf-8"))
    data["communes"]["99"] = data["communes"].pop("08")
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError, match="provinces"):
        load_communes(load_provinces(), bad)


def test_search_without_tones(places):
    names = [c.name for c in places.search("Tuyên Quang", "dong van")]
    assert names[0] == "Xã Đồng Văn"
    assert [c.name for c in places.search("Tuyên Quang", "Đồng Văn")][0] == "Xã Đồng Văn"
    assert places.search("Tuyên Quang", "") == places.communes("Tuyên Quang")
    assert places.search("Tuyên Quang", "qqq") == []


def test_an_address_without_a_province_is_not_guessed(places):
    assert places.from_address("Thôn Nà Pò, xã Đồng Văn") is None
    assert places.from_address("") is None


def test_the_kiosks_own_commune(places):
    assert places.home("UBND xã Minh Khai (bản thử)", "Hà Giang") == Place(
        "Xã Minh Khai", "Tuyên Quang"
    )  # not in the lists (a demo name): as configured
    assert (
        places.home("UBND xã Lũng Cú", "Tuyên Quang").code
        == places.find_commune("Tuyên Quang", "Lũng Cú").code
    )
    assert places.home("Trung tâm hành chính", "Tuyên Quang") is None
    assert Place("Xã Minh Khai", "Tuyên Quang").text() == "Xã Minh Khai, Tuyên Quang"


def test_a_place_question_is_declared_in_the_procedure_data():
    from kiosk.paths import resource
    from kiosk.services.catalogue import _Invalid, _parse_field, load_default_catalogue

    birth = load_default_catalogue().get("1.001193")
    assert next(f for f in birth.fields if f.key == "place_of_birth").input == "place"
    ok = {"key": "p", "type": "text", "label": {"vi": "Nơi sinh", "en": "Place"}, "input": "place"}
    assert _parse_field(ok, "f", strict=True).input == "place"
    for bad in ({**ok, "type": "date"}, {**ok, "input": "map"}):
        with pytest.raises(_Invalid, match="input"):
            _parse_field(bad, "f", strict=True)  # _Invalid: the loader names the file
    assert resource("choice_pictograms.json").exists()


def test_a_question_answered_from_another_persons_card_is_declared_in_the_data():
    from kiosk.services.catalogue import _Invalid, _parse_field, load_default_catalogue

    marriage = load_default_catalogue().get("1.000894")
    assert {f.key: f.prefill_other for f in marriage.fields if f.prefill_other} == {
        "partner_full_name": "full_name",
        "partner_date_of_birth": "date_of_birth",
        "partner_id_number": "id_number",
        "partner_residence": "address",
    }
    ok = {"key": "p", "type": "date", "label": {"vi": "Ngày", "en": "Date"}}
    assert _parse_field({**ok, "prefill_other": "date_of_birth"}, "f", strict=True).prefill_other
    for bad in ("full_name", "ethnicity", "anything"):  # a name is no date; the chip's: not
        with pytest.raises(_Invalid, match="prefill_other"):
            _parse_field({**ok, "prefill_other": bad}, "f", strict=True)
