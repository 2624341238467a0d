"""The screens of the place lists, the manual entry's date picker and the call for a clerk
pass the accessibility and layout audit in the kiosk's window, as the registered samples
do: a landscape and a portrait screen, the keyboard up where there is a field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt import stage
from kiosk.qt.tasks import TaskRunner
from kiosk.services.dossiers import Applicant

SIZES = [(1280, 800), (1080, 1920)]


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def win(request, kiosk_qapp, data_dir):
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    window = stage.build_window(ctx, tasks, *request.param)
    yield window
    window.close()
    window.deleteLater()
    stage.settle()
    ctx.close()


def _audit(win, name: str) -> list:
    from kiosk.commands.audit_ui import layout_violations
    from kiosk.qa.audit import audit_widget_tree
    from kiosk.views.theme import FAMILY

    stage.settle()
    size = f"{win.width()}x{win.height()}"
    found = audit_widget_tree(win, name, size, "vi", win.vc.app.translator, FAMILY)
    return found + layout_violations(win, name, size, "vi", stage.target_size(win))


def _clean(found: list) -> None:
    assert not found, "\n".join(str(v) for v in found)


def _question(win, key: str, address: str):
    from kiosk.services.flow import Step
    from kiosk.services.journey import QUESTION

    journey = win.vc.app.journey
    journey.choose("1.001193")
    journey.consent(datetime.now(UTC))
    journey.identified(
        Applicant("001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 5, 6), "female", address)
    )
    step = journey.flow.jump(Step(QUESTION, key))
    win.nav.history = [("home", {})]
    win.nav.go("form", step=step)
    stage.settle()
    return win.current_screen()


def test_the_commune_list_and_its_search_fit_with_the_keyboard_up(win):
    form = _question(win, "place_of_birth", "Thôn Nà Pò, xã Không Có, tỉnh Lai Châu")
    picker = form.place_picker
    assert picker.province == "Lai Châu"
    _clean(_audit(win, "form"))
    picker.commune.setFocus()
    win.keyboard_ctl.follow(picker.commune)
    picker.commune.setText("sin")
    stage.settle()
    win.show_focused_field()
    assert win.keyboard.isVisible()
    _clean(_audit(win, "form"))


def test_the_province_grid_fits(win):
    form = _question(win, "place_of_birth", "")
    assert form.place_picker.province_box.isVisible()
    _clean(_audit(win, "form"))


def test_the_date_question_fits(win):
    form = _question(win, "child_date_of_birth", "")
    picker = form.date_picker
    assert picker is not None and picker.tap("day", 1).isVisible()
    _clean(_audit(win, "form"))


def test_the_manual_entry_date_picker_fits(win):
    win.nav.history = [("home", {})]
    win.vc.app.journey.choose("1.001193")
    win.nav.go("manual_entry")
    stage.settle()
    screen = win.current_screen()
    screen.dob_button.click()
    stage.settle()
    assert screen.dob_picker.isVisible()
    _clean(_audit(win, "manual_entry"))


def test_the_call_for_a_clerk_fits_on_both_sides(win):
    from kiosk.views.screens.clerk_samples import sample_login

    win.nav.history = [("home", {})]
    win.nav.go("identify")
    stage.settle()
    screen = win.current_screen()
    screen.hint_timer.timeout.emit()
    screen.clerk_button.click()
    stage.settle()
    assert screen.help_call is not None
    _clean(_audit(win, "identify"))
    sample_login(win.vc)
    win.nav.go("clerk_queue")
    stage.settle()
    queue = win.current_screen()
    assert queue.help_title.isVisible() and len(queue.help_buttons) == 1
    assert win.clerk_bar.help.isVisible()
    _clean(_audit(win, "clerk_queue"))


def test_skipping_the_optional_papers_fits(win):
    from kiosk.services.flow import Step
    from kiosk.services.journey import DOCUMENT

    journey = win.vc.app.journey
    journey.choose("1.001612")
    journey.consent(datetime.now(UTC))
    journey.identified(
        Applicant("001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 5, 6), "female", "Hà Giang")
    )
    step = journey.flow.jump(Step(DOCUMENT, "premises_paper"))
    win.nav.history = [("home", {})]
    win.nav.go("document", step=step)
    stage.settle()
    assert win.current_screen().skip_rest.isVisible()
    _clean(_audit(win, "document"))
