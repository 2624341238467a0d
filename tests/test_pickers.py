"""Touch pickers: a date in a few taps where impossible dates cannot be chosen; a place in
one tap from the kiosk's commune or the card's address."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt

from kiosk.services.i18n import Translator
from kiosk.services.places import Place, default_places
from kiosk.views.pickers import DatePicker, PlacePicker

LEFT = Qt.MouseButton.LeftButton
TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def tr():
    t = Translator.from_resources()
    return lambda key, **v: t.tr(key, "vi", **v)


@pytest.fixture
def picker(kiosk_qapp, qtbot, tr):
    p = DatePicker(tr, today=TODAY, max_today=True)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    return p


def test_this_months_day_is_one_tap(picker, qtbot):
    with qtbot.waitSignal(picker.chosen):
        qtbot.mouseClick(picker.tap("day", 3), LEFT)
    assert picker.text() == "03/12/2026"


def test_a_date_long_ago_in_four_taps(picker, qtbot):
    for part, value in (("decade", 1990), ("year", 1990), ("month", 5)):
        qtbot.mouseClick(picker.tap(part, value), LEFT)
    qtbot.mouseClick(picker.tap("day", 6), LEFT)
    assert picker.value() == date(1990, 5, 6)


def test_impossible_and_future_dates_cannot_be_chosen(picker, qtbot):
    qtbot.mouseClick(picker.tap("decade", 2020), LEFT)
    qtbot.mouseClick(picker.tap("year", 2025), LEFT)
    qtbot.mouseClick(picker.tap("month", 2), LEFT)
    assert sorted(picker.buttons["day"]) == list(range(1, 29))  # no 29, 30, 31 February 2025
    qtbot.mouseClick(picker.tap("year", 2024), LEFT)
    assert max(picker.buttons["day"]) == 29  # a leap year
    qtbot.mouseClick(picker.tap("year", 2026), LEFT)
    qtbot.mouseClick(picker.tap("month", 12), LEFT)
    assert picker.tap("day", 6).isEnabled() and not picker.tap("day", 7).isEnabled()
    assert picker.tap("month", 1).isEnabled()  # earlier months stay open
    assert 2027 not in picker.buttons["year"]


def test_a_chosen_day_that_no_longer_exists_is_dropped(picker, qtbot):
    qtbot.mouseClick(picker.tap("month", 10), LEFT)
    qtbot.mouseClick(picker.tap("day", 31), LEFT)
    qtbot.mouseClick(picker.tap("month", 11), LEFT)
    assert picker.value() is None and picker.text() == ""


def test_set_value_shows_it(picker):
    picker.set_value(date(2001, 9, 2))
    assert picker.text() == "02/09/2001"
    assert picker.tap("year", 2001).property("selected") is True


@pytest.fixture(scope="module")
def places():
    return default_places()


def test_place_in_one_tap(kiosk_qapp, qtbot, tr, places):
    home = places.home("UBND xã Minh Khai", "Tuyên Quang")
    card = places.from_address("Thôn Nà Pò, thị trấn Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang")
    picker = PlacePicker(tr, places, [home, card, home, None])
    qtbot.addWidget(picker)
    picker.show()
    assert [b.text() for b in picker.suggestion_buttons] == [
        "Xã Minh Khai, Tuyên Quang",
        "Xã Đồng Văn, Tuyên Quang",  # the town of before is in the commune of today
    ]
    with qtbot.waitSignal(picker.chosen):
        qtbot.mouseClick(picker.suggestion_buttons[1], LEFT)
    assert picker.text() == "Xã Đồng Văn, Tuyên Quang"


def _shown(picker) -> list[str]:
    return [b.text() for b in picker.commune_buttons.values() if b.isVisible()]


def test_place_elsewhere_by_province_then_commune_from_the_list(kiosk_qapp, qtbot, tr, places):
    picker = PlacePicker(tr, places, [])
    qtbot.addWidget(picker)
    picker.resize(1200, 800)
    picker.show()
    assert len(picker.province_buttons) == 34 and not picker.commune.isVisible()
    qtbot.mouseClick(picker.province_buttons["Lai Châu"], LEFT)
    # The province grid folds to one button; the province's communes are listed.
    assert not picker.province_box.isVisible() and picker.province_button.isVisible()
    assert picker.commune.isVisible() and picker.text() == ""
    assert len(_shown(picker)) == len(places.communes("Lai Châu")) > 30
    qtbot.keyClicks(picker.commune, "phong tho")  # no tones typed
    assert _shown(picker) == ["Xã Phong Thổ"]
    with qtbot.waitSignal(picker.chosen):
        qtbot.mouseClick(
            picker.commune_buttons[places.find_commune("Lai Châu", "Phong Thổ").code], LEFT
        )
    assert picker.text() == "Xã Phong Thổ, Lai Châu"


def test_the_search_ignores_tones_and_case_and_xong_takes_the_one_left(
    kiosk_qapp, qtbot, tr, places
):
    picker = PlacePicker(tr, places, [], province="Tuyên Quang")
    qtbot.addWidget(picker)
    picker.show()
    assert picker.province == "Tuyên Quang" and picker.commune.isVisible()
    for typed in ("lung cu", "LŨNG CÚ", "lungcu", "Lũng C"):
        picker.commune.setText(typed)
        assert _shown(picker) == ["Xã Lũng Cú"], typed
    picker.commune.setText("zzz")
    assert _shown(picker) == [] and picker.no_match.isVisible()
    picker.commune.setText("dong van")
    with qtbot.waitSignal(picker.chosen):
        picker.commune.returnPressed.emit()  # the keyboard's Xong
    assert picker.text() == "Xã Đồng Văn, Tuyên Quang"
    picker.commune.setText("xa")  # many left: Xong does not guess
    with qtbot.assertNotEmitted(picker.chosen):
        picker.commune.returnPressed.emit()


def test_changing_the_province_lists_its_communes(kiosk_qapp, qtbot, tr, places):
    picker = PlacePicker(tr, places, [], province="Tuyên Quang")
    qtbot.addWidget(picker)
    picker.show()
    qtbot.mouseClick(picker.province_button, LEFT)
    assert picker.province_box.isVisible()
    qtbot.mouseClick(picker.province_buttons["Cao Bằng"], LEFT)
    assert sorted(_shown(picker)) == sorted(c.name for c in places.communes("Cao Bằng"))


def test_an_answer_given_before_is_shown_again(kiosk_qapp, qtbot, tr, places):
    picker = PlacePicker(tr, places, [])
    qtbot.addWidget(picker)
    picker.set_text("Xã Bắc Hà, Lào Cai")
    assert picker.province == "Lào Cai" and picker.text() == "Xã Bắc Hà, Lào Cai"
    code = places.find_commune("Lào Cai", "Xã Bắc Hà").code
    assert picker.commune_buttons[code].property("selected") is True
    assert Place("Xã Bắc Hà", "Lào Cai").text() == picker.text()
