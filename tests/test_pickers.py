"""Touch pickers: a date in a few taps where impossible dates cannot be chosen; a place in
one tap from the kiosk's commune or the card's address."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt

from kiosk.services.i18n import Translator
from kiosk.services.places import Place, Places
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


def test_place_in_one_tap(kiosk_qapp, qtbot, tr):
    places = Places()
    home = places.home("UBND xã Minh Khai", "Tuyên Quang")
    card = places.from_address("Thôn Nà Pò, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang")
    picker = PlacePicker(tr, places, [home, card, home, None])
    qtbot.addWidget(picker)
    picker.show()
    assert [b.text() for b in picker.suggestion_buttons] == [
        "Xã Minh Khai, Tuyên Quang",
        "Xã Đồng Văn, Tuyên Quang",
    ]
    with qtbot.waitSignal(picker.chosen):
        qtbot.mouseClick(picker.suggestion_buttons[1], LEFT)
    assert picker.text() == "Xã Đồng Văn, Tuyên Quang"


def test_place_elsewhere_by_province_and_name(kiosk_qapp, qtbot, tr):
    picker = PlacePicker(tr, Places(), [])
    qtbot.addWidget(picker)
    picker.show()
    assert len(picker.province_buttons) == 34 and not picker.commune.isVisible()
    qtbot.mouseClick(picker.province_buttons["Lai Châu"], LEFT)
    assert picker.commune.isVisible() and picker.text() == "Lai Châu"
    picker.commune.setText("Xã Phong Thổ")
    with qtbot.waitSignal(picker.chosen):
        picker.commune.returnPressed.emit()
    assert picker.text() == "Xã Phong Thổ, Lai Châu"
    assert Place("Xã Phong Thổ", "Lai Châu").text() == picker.text()
