"""Provinces since the 2025 merger, and addresses written before it."""

from __future__ import annotations

import json

import pytest

from kiosk.services.places import Place, Places, load_provinces
from kiosk.services.provinces import PROVINCE_CODES


@pytest.fixture(scope="module")
def places():
    return Places()


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
        ("Thôn Nà Pò, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang", ("Xã Đồng Văn", "Tuyên Quang")),
        ("xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai", ("Xã Bản Phố", "Lào Cai")),
        (
            "Tổ 3, phường Yên Thịnh, thành phố Yên Bái, tỉnh Yên Bái",
            ("Phường Yên Thịnh", "Lào Cai"),
        ),
        ("thị trấn Phong Thổ, Lai Châu", ("Thị trấn Phong Thổ", "Lai Châu")),
        ("12 Lê Lợi, Phường Vĩnh Ninh, Thừa Thiên Huế", ("Phường Vĩnh Ninh", "Huế")),
        ("Ấp 2, xã Long Hựu, huyện Cần Đước, tỉnh Long An", ("Xã Long Hựu", "Tây Ninh")),
        ("khu phố 1, TP Hồ Chí Minh", ("", "Hồ Chí Minh")),
    ],
)
def test_an_address_from_before_the_merger_reads_as_today(places, address, place):
    assert places.from_address(address) == Place(*place)


def test_an_address_without_a_province_is_not_guessed(places):
    assert places.from_address("Thôn Nà Pò, xã Đồng Văn") is None
    assert places.from_address("") is None


def test_the_kiosks_own_commune(places):
    assert places.home("UBND xã Minh Khai (bản thử)", "Hà Giang") == Place(
        "Xã Minh Khai", "Tuyên Quang"
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
