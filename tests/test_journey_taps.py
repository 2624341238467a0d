"""Few taps: a date is tapped on a picker, a place is one tap, a phone gets a pad without
"/", the card that will not scan gets help, and the done screen is honest about sending."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt import stage
from kiosk.qt.tasks import TaskRunner
from kiosk.services.dossiers import Applicant

ROOT = Path(__file__).resolve().parent.parent
LEFT = Qt.MouseButton.LeftButton
BIRTH = "1.001193"


@pytest.fixture
def win(kiosk_qapp, data_dir):
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    window = stage.build_window(ctx, tasks, 1280, 800)
    yield window
    window.close()
    window.deleteLater()
    stage.settle()
    ctx.close()


def _form_at(
    win, key: str, address: str = "Thôn Nà Pò, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang"
):
    """The birth registration's question `key`, the card read, everything before given."""
    from kiosk.services.flow import Step
    from kiosk.services.journey import QUESTION

    journey = win.vc.app.journey
    journey.choose(BIRTH)
    journey.consent(datetime.now(UTC))
    journey.identified(
        Applicant(
            "001190012345",
            "Nguyễn Thị Hồng Nhung",
            date(1990, 5, 6),
            "female",
            address,
        )
    )
    step = journey.flow.jump(Step(QUESTION, key))
    win.nav.history = [("home", {})]
    win.nav.go("form", step=step)
    stage.settle()
    return win.current_screen()


def _answers(win) -> dict:
    return win.vc.app.journey.session.raw


def test_a_date_is_one_tap_on_the_picker_and_moves_on(win, qtbot):
    form = _form_at(win, "child_date_of_birth")
    assert form.date_picker is not None and form.edit is None
    assert not win.keyboard.isVisible()  # nothing to type
    today = date.today()
    qtbot.mouseClick(form.date_picker.tap("day", 1), LEFT)
    stage.settle()
    assert _answers(win)["child_date_of_birth"] == date(today.year, today.month, 1).strftime(
        "%d/%m/%Y"
    )
    assert win.current_screen().field.key == "child_sex"


def test_a_place_is_one_tap_from_the_kiosk_or_the_card(win, qtbot):
    form = _form_at(win, "place_of_birth")
    picker = form.place_picker
    assert picker is not None
    texts = [b.text() for b in picker.suggestion_buttons]
    assert texts == ["Xã Minh Khai, Tuyên Quang", "Xã Đồng Văn, Tuyên Quang"]
    qtbot.mouseClick(picker.suggestion_buttons[1], LEFT)
    stage.settle()
    assert _answers(win)["place_of_birth"] == "Xã Đồng Văn, Tuyên Quang"
    assert win.current_screen().field.key == "applicant_relationship"


def test_a_card_from_before_the_merger_offers_the_commune_of_today(win, qtbot):
    form = _form_at(win, "place_of_birth", "Bản Pắc Ngà, xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai")
    texts = [b.text() for b in form.place_picker.suggestion_buttons]
    assert texts == ["Xã Minh Khai, Tuyên Quang", "Xã Bắc Hà, Lào Cai"]
    qtbot.mouseClick(form.place_picker.suggestion_buttons[1], LEFT)
    stage.settle()
    assert _answers(win)["place_of_birth"] == "Xã Bắc Hà, Lào Cai"


def test_a_card_commune_not_in_the_lists_opens_its_province_and_a_typed_search_finds(win, qtbot):
    form = _form_at(win, "place_of_birth", "Thôn Nà Pò, xã Không Có, tỉnh Lai Châu")
    picker = form.place_picker
    assert [b.text() for b in picker.suggestion_buttons] == ["Xã Minh Khai, Tuyên Quang"]
    assert picker.province == "Lai Châu" and picker.commune.isVisible()
    # One scroll area on the screen: the list is in the question's page.
    from PySide6.QtWidgets import QScrollArea

    assert form.findChildren(QScrollArea) == [form.area]
    win.keyboard_ctl.follow(picker.commune)
    stage.settle()
    kb = win.keyboard
    for key in "sinh":  # Sìn Hồ, typed without its tones or its space
        qtbot.mouseClick(kb.button(key), LEFT)
    shown = [b for b in picker.commune_buttons.values() if b.isVisible()]
    assert [b.text() for b in shown] == ["Xã Sìn Hồ"]
    qtbot.mouseClick(shown[0], LEFT)
    stage.settle()
    assert _answers(win)["place_of_birth"] == "Xã Sìn Hồ, Lai Châu"
    assert win.current_screen().field.key == "applicant_relationship"


def test_choices_with_a_meaning_have_pictograms(win):
    form = _form_at(win, "applicant_relationship")
    assert all(not b.icon().isNull() for b in form.choice_buttons.values())


def test_a_phone_gets_a_pad_without_slash_and_xong_moves_on(win, qtbot):
    form = _form_at(win, "phone")
    win.keyboard_ctl.follow(form.edit)
    kb = win.keyboard
    assert kb.isVisible() and kb.mode == "numeric" and not kb.button("/").isVisible()
    for key in "0912345678":
        qtbot.mouseClick(kb.button(key), LEFT)
    qtbot.mouseClick(kb.button("done"), LEFT)
    stage.settle()
    assert _answers(win)["phone"] == "0912345678"
    assert win.nav.current != "form" or win.current_screen().field.key != "phone"


def test_a_name_starts_each_word_with_a_capital(win, qtbot):
    form = _form_at(win, "child_full_name")
    assert form.edit.property("keyboard") == "name"


def test_done_screen_says_when_the_dossier_is_not_sent_yet(win):
    win.nav.history = [("done", {"receipt_code": "QN01-000001-A", "printed": True})]
    win.nav.changed.emit("done")
    stage.settle()
    done = win.current_screen()
    assert done.sending.text() == win.vc.tr("screens.done.not_sent")
    win.nav.history = [("done", {"receipt_code": "QN01-000001-A", "sent": True})]
    win.nav.changed.emit("done")
    assert done.sending.text() == win.vc.tr("screens.done.sent")


def test_a_card_that_will_not_scan_gets_help_then_typing_comes_first(win):
    win.nav.history = [("home", {})]
    win.nav.go("identify")
    stage.settle()
    screen = win.current_screen()
    assert screen.hint_timer.interval() == 8000 and screen.hint_timer.isActive()
    assert screen.manual_timer.interval() == 20000 and screen.manual_timer.isActive()
    assert not screen.tips.isVisible()
    screen.hint_timer.timeout.emit()
    assert screen.tips.isVisible() and screen.clerk_button.isVisible()
    assert screen.tips.text() == win.vc.tr("screens.identify.tips")
    small = screen.manual_button.height()
    screen.manual_timer.timeout.emit()
    stage.settle()
    assert screen.manual_button.objectName() == "primary"
    assert screen.manual_button.height() > small
    win.nav.cancel()
    assert not screen.hint_timer.isActive()


@pytest.mark.timeout(300)
def test_birth_registration_meets_its_tap_target():
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_taps.py", "--only", BIRTH, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["reached_done"]
    assert result["taps"] - result["letters"] <= 25, result
