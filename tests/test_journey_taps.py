"""Few taps: a date is tapped on a picker, a place is one tap, a phone gets a pad without
"/", the card that will not scan gets help, and the done screen is honest about sending."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from kiosk.qt import stage
from kiosk.views.steps import sample_applicant

ROOT = Path(__file__).resolve().parent.parent
LEFT = Qt.MouseButton.LeftButton
BIRTH = "1.001193"


@pytest.fixture
def win(stage_window):
    return stage_window


def _form_at(
    win, key: str, address: str = "Thôn Nà Pò, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang"
):
    """The birth registration's question `key`, the card read, everything before given."""
    from kiosk.services.flow import Step
    from kiosk.services.journey import QUESTION

    journey = win.vc.app.journey
    journey.choose(BIRTH)
    journey.consent(datetime.now(UTC))
    journey.identified(sample_applicant(address))
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
    # Choosing the province again brings its list to the top of the view.
    qtbot.mouseClick(picker.province_button, LEFT)
    qtbot.mouseClick(picker.province_buttons["Lai Châu"], LEFT)
    stage.settle()
    bar = form.area.verticalScrollBar()
    top = picker.commune_label.mapTo(form.scroll_page, QPoint(0, 0)).y()
    assert bar.value() > 0 and abs(bar.value() - (top - 8)) <= 2
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


@pytest.mark.timeout(400)
def test_procedures_meet_their_tap_target():
    """Birth registration, and the two that took the most taps before the partner's card,
    the business line choice and the one-tap skip of optional papers."""
    codes = [BIRTH, "1.000894", "1.001612"]
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_taps.py", "--only", *codes, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert sorted(r["procedure"] for r in results) == sorted(codes)
    for result in results:
        assert result["reached_done"], result
        assert result["taps"] - result["letters"] <= 25, result


PARTNER = "010092004321|012345679|Lò Văn Páo|04031992|Nam|Thôn Nà Pò, xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai|10052022"


def _card_photo(folder: Path, payload: str) -> Path:
    import segno

    path = folder / "card.png"
    segno.make(payload, encoding="utf-8", error="m", micro=False).save(str(path), scale=6, border=6)
    return path


def _marriage_at_partner(win):
    from kiosk.services.flow import Step
    from kiosk.services.journey import QUESTION

    journey = win.vc.app.journey
    journey.choose("1.000894")
    journey.consent(datetime.now(UTC))
    journey.identified(sample_applicant("Thôn Nà Pò, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang"))
    step = journey.flow.jump(Step(QUESTION, "partner_full_name"))
    win.nav.history = [("home", {})]
    win.nav.go("form", step=step)
    stage.settle()
    return win.current_screen()


def test_the_partners_card_answers_the_questions_about_the_partner(win, qtbot, tmp_path):
    from kiosk.hardware.camera import SimulatedCamera
    from kiosk.qt.camera_bridge import bridge_factory

    photo = _card_photo(tmp_path, PARTNER)
    win.vc.app.camera = bridge_factory(lambda: SimulatedCamera(photo))
    form = _marriage_at_partner(win)
    assert form.scan_other is not None and form.scan_other.isVisible()
    qtbot.mouseClick(form.scan_other, LEFT)
    assert win.nav.current == "identify_other"
    qtbot.waitUntil(lambda: win.nav.current == "form", timeout=20000)
    stage.settle()
    form = win.current_screen()
    assert form.field.key == "partner_full_name" and form.edit.text() == "Lò Văn Páo"
    assert form.scan_other is None  # read once for all the partner's questions
    qtbot.mouseClick(form.next, LEFT)
    stage.settle()
    form = win.current_screen()
    assert form.date_picker.text() == "04/03/1992"
    qtbot.mouseClick(form.next, LEFT)
    stage.settle()
    form = win.current_screen()
    assert form.edit.text() == "010092004321"
    qtbot.mouseClick(form.next, LEFT)
    stage.settle()
    form = win.current_screen()
    # The partner's residence of before the merger, as the commune of today, offered first.
    assert form.place_picker.suggestion_buttons[0].text() == "Xã Bắc Hà, Lào Cai"
    qtbot.mouseClick(form.place_picker.suggestion_buttons[0], LEFT)
    stage.settle()
    answers = _answers(win)
    assert answers["partner_full_name"] == "Lò Văn Páo"
    assert answers["partner_date_of_birth"] == "04/03/1992"
    assert answers["partner_id_number"] == "010092004321"
    assert answers["partner_residence"] == "Xã Bắc Hà, Lào Cai"
    assert win.current_screen().field.key == "phone"


def test_the_citizens_own_card_is_not_taken_for_the_partners(win, qtbot, tmp_path):
    from kiosk.hardware.camera import SimulatedCamera
    from kiosk.qt.camera_bridge import bridge_factory

    own = "001190012345|012345678|Nguyễn Thị Hồng Nhung|06051990|Nữ|Hà Giang|15082021"
    photo = _card_photo(tmp_path, own)
    win.vc.app.camera = bridge_factory(lambda: SimulatedCamera(photo))
    form = _marriage_at_partner(win)
    qtbot.mouseClick(form.scan_other, LEFT)
    screen = win.current_screen()
    qtbot.waitUntil(lambda: screen.status.text() == win.vc.tr("other_card.own_card"), timeout=20000)
    assert win.nav.current == "identify_other" and win.vc.app.journey.session.other is None
    qtbot.mouseClick(screen.back_button, LEFT)
    stage.settle()
    assert win.nav.current == "form" and win.current_screen().field.key == "partner_full_name"


def test_optional_papers_are_skipped_in_one_tap(win, qtbot):
    from kiosk.services.flow import Step
    from kiosk.services.journey import DOCUMENT

    journey = win.vc.app.journey
    journey.choose("1.001612")  # two optional papers, then the fee
    journey.consent(datetime.now(UTC))
    journey.identified(sample_applicant("Hà Giang"))
    for f in journey.procedure.fields:
        raw = {"choice": f.choices[0].key if f.choices else "", "number": "0"}.get(f.type, "")
        journey.answer(f.key, raw or {"phone": "0912345678"}.get(f.type, "Xã Lũng Cú, Tuyên Quang"))
    step = journey.flow.jump(Step(DOCUMENT, "premises_paper"))
    win.nav.history = [("home", {})]
    win.nav.go("document", step=step)
    stage.settle()
    screen = win.current_screen()
    assert screen.skip_rest.isVisible()
    assert screen.skip_rest.text() == win.vc.tr("document.skip_rest")
    qtbot.mouseClick(screen.skip_rest, LEFT)
    stage.settle()
    assert win.nav.current == "fee_exemption"  # past both papers, not past the fee
    # On the last paper there is nothing after it to skip.
    step = journey.flow.jump(Step(DOCUMENT, "family_agreement"))
    win.nav.go("document", step=step)
    stage.settle()
    assert not win.current_screen().skip_rest.isVisible()


def test_manual_entry_types_no_date_and_its_number_pad_has_no_slash(win, qtbot):
    win.vc.app.journey.choose(BIRTH)
    win.nav.history = [("home", {})]
    win.nav.go("manual_entry")
    stage.settle()
    screen = win.current_screen()
    assert "date_of_birth" not in screen.inputs  # tapped on the date picker
    assert screen.inputs["full_name"].property("keyboard") == "name"
    win.keyboard_ctl.follow(screen.inputs["id_number"])
    stage.settle()
    kb = win.keyboard
    assert kb.isVisible() and kb.mode == "numeric" and not kb.button("/").isVisible()
