"""The citizen's journey, driven through real widgets with taps (pytest-qt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.printers import FailingPrinter, PaperOut
from kiosk.qt.speech_bridge import install_speech
from kiosk.qt.tasks import TaskRunner
from kiosk.services.models import Dossier, ReceiptPrint
from kiosk.views.shell import MainWindow
from tests.store_helpers import CITIZEN_ADDRESS, CITIZEN_ID, CITIZEN_NAME

BIRTH = "1.001193"
MARITAL = "1.004873"  # three fields, no documents


class Taps:
    """Clicks through qtbot and counts them."""

    def __init__(self, qtbot) -> None:
        self.qtbot, self.count = qtbot, 0

    def __call__(self, widget) -> None:
        QApplication.processEvents()  # widgets added to a shown layout appear on the next loop
        assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName()} not tappable"
        self.count += 1
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


@pytest.fixture
def kiosk(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True  # deterministic: background work runs at once
    win = MainWindow(ctx, tasks)
    install_speech(win, ctx)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    win.start()
    yield win
    ctx.close()


def screen(win):
    return win.current_screen()


def type_manual(win, taps, id_number=CITIZEN_ID, name=CITIZEN_NAME, dob=(1990, 5, 6)):
    s = screen(win)
    assert s.name == "manual_entry"
    for key, text in (
        ("id_number", id_number),
        ("full_name", name),
        ("address", CITIZEN_ADDRESS),
    ):
        s.inputs[key].setText(text)
    if dob is not None:  # tapped on the date picker: decade, year, month, day
        year, month, day = dob
        taps(s.dob_button)
        assert s.dob_picker.isVisible()
        taps(s.dob_picker.tap("decade", year // 10 * 10))
        taps(s.dob_picker.tap("year", year))
        taps(s.dob_picker.tap("month", month))
        taps(s.dob_picker.tap("day", day))
        assert not s.dob_picker.isVisible()
        assert s.dob_button.text() == f"{day:02d}/{month:02d}/{year}"
    taps(s.sex_buttons["female"])
    taps(s.next)


def start_procedure(win, taps, code):
    taps(screen(win).tiles["home.submit"])
    assert screen(win).name == "procedures"
    taps(screen(win).tile_for(code))
    assert screen(win).name == "procedure"
    taps(screen(win).start)
    assert screen(win).name == "consent"
    taps(screen(win).agree)
    assert screen(win).name == "identify"


def answer_marital(win, taps):
    s = screen(win)
    assert s.name == "form" and s.field.key == "purpose"
    taps(s.choice_buttons["marriage"])
    s = screen(win)
    taps(s.choice_buttons["never_married"])
    s = screen(win)
    assert s.field.type == "phone"
    s.edit.setText("0912345678")
    taps(s.next)
    # Marital status certification has a fee: no exemption, cash at the counter.
    assert screen(win).name == "fee_exemption"
    taps(screen(win).tiles[None])
    assert screen(win).name == "fee_pay"
    taps(screen(win).cash)


def dossiers(win) -> list[Dossier]:
    from sqlalchemy import select

    return win.vc.app.store.read(lambda s: s.scalars(select(Dossier)).all())


def test_marital_status_end_to_end_with_manual_entry(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    assert screen(kiosk).name == "review"
    taps(screen(kiosk).confirm)
    assert screen(kiosk).name == "done"
    code = screen(kiosk).code.text()
    rows = dossiers(kiosk)
    assert len(rows) == 1 and rows[0].receipt_code == code and rows[0].state == "queued"
    app = kiosk.vc.app
    assert app.dossiers.applicant(rows[0]).full_name == CITIZEN_NAME
    assert app.dossiers.answers(rows[0]) == {
        "purpose": "marriage",
        "current_status": "never_married",
        "phone": "0912345678",
    }
    assert rows[0].receipt_printed
    pdfs = list(Path(app.settings.receipts_dir).glob("*.pdf"))
    assert len(pdfs) == 1
    taps(screen(kiosk).finish)
    assert screen(kiosk).name == "home" and app.journey.session.applicant is None


def test_invalid_answers_show_the_reason_and_do_not_advance(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps, id_number="12345", dob=None)
    s = screen(kiosk)
    assert s.name == "manual_entry"
    assert s.errors["id_number"].text() == kiosk.vc.tr("catalogue.err.id_number_invalid")
    assert s.errors["date_of_birth"].text() == kiosk.vc.tr("catalogue.err.required")
    # 31 February cannot be chosen: February 1990 has 28 day buttons.
    taps(s.dob_button)
    taps(s.dob_picker.tap("decade", 1990))
    taps(s.dob_picker.tap("year", 1990))
    taps(s.dob_picker.tap("month", 2))
    assert max(s.dob_picker.buttons["day"]) == 28
    taps(s.dob_button)
    type_manual(kiosk, taps)
    s = screen(kiosk)
    taps(s.choice_buttons["marriage"])
    taps(screen(kiosk).choice_buttons["divorced"])
    s = screen(kiosk)
    s.edit.setText("12345")
    taps(s.next)
    assert screen(kiosk) is s and s.error.text() == kiosk.vc.tr("catalogue.err.phone_invalid")
    assert dossiers(kiosk) == []


def test_double_tap_makes_one_dossier(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    review = screen(kiosk)
    review.confirm.setEnabled(True)
    qtbot.mouseClick(review.confirm, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    review.do_confirm()  # a second tap that slipped through 50 ms later
    qtbot.mouseClick(review.confirm, Qt.MouseButton.LeftButton)
    assert len(dossiers(kiosk)) == 1


def test_printer_failure_keeps_the_dossier_and_says_so(kiosk, qtbot):
    app = kiosk.vc.app
    app.receipts.printer = FailingPrinter(PaperOut("paper sensor: roll empty"))
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    taps(screen(kiosk).confirm)
    done = screen(kiosk)
    assert done.name == "done"
    assert done.message.text() == kiosk.vc.tr("journey.done.not_printed")
    rows = dossiers(kiosk)
    assert len(rows) == 1 and rows[0].state == "queued" and not rows[0].receipt_printed
    assert done.code.text() == rows[0].receipt_code
    prints = app.store.read(lambda s: s.query(ReceiptPrint).all())
    assert [(p.ok, p.error) for p in prints] == [(False, "paper sensor: roll empty")]


def test_back_from_every_step(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    visited = []
    while screen(kiosk).name != "home":
        visited.append(screen(kiosk).name)
        taps(screen(kiosk).back_button)
    assert visited == [
        "review",
        "fee_pay",
        "fee_exemption",
        "form",
        "form",
        "form",
        "manual_entry",
        "identify",
        "consent",
        "procedure",
        "procedures",
    ]
    assert dossiers(kiosk) == []


def test_walking_away_mid_form_leaves_nothing_on_disk(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    assert screen(kiosk).name == "form"
    kiosk.reset_session()  # what the idle timeout does after its countdown
    assert screen(kiosk).name == "home"
    assert kiosk.vc.app.journey.session.applicant is None
    for widget in kiosk.screens.values():
        for edit in widget.findChildren(QLineEdit):
            assert CITIZEN_NAME not in edit.text() and CITIZEN_ID not in edit.text()
    data_dir = kiosk.vc.app.settings.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert CITIZEN_ID.encode() not in raw and CITIZEN_NAME.encode() not in raw
    assert dossiers(kiosk) == []


def test_search_ignores_diacritics(kiosk, qtbot):
    taps = Taps(qtbot)
    taps(screen(kiosk).tiles["home.submit"])
    s = screen(kiosk)
    s.search.setText("dang ky khai sinh")
    assert s.shown[0] == BIRTH


def test_prompts_of_a_journey_in_order_and_language(kiosk, qtbot):
    engine = kiosk.vc.app.speech.engine
    taps = Taps(qtbot)
    taps(kiosk.top.lang_buttons["en"])
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    taps(screen(kiosk).confirm)
    keys = [s.key for s in engine.spoken]
    expected = [
        "home.prompt",
        "journey.procedures.prompt",
        "journey.procedure.prompt",
        "journey.consent.prompt",
        "identify.prompt",
        "journey.manual.prompt",
        "journey.form.prompt",
        "journey.review.prompt",
        "journey.done.prompt",
    ]
    positions = [keys.index(k) for k in expected]
    assert positions == sorted(positions), keys
    assert {s.lang for s in engine.spoken[positions[1] :]} == {"en"}
    done_prompt = engine.spoken[keys.index("journey.done.prompt")]
    assert done_prompt.text == kiosk.vc.app.translator.tr("journey.done.prompt", "en")


def test_done_screen_reads_the_receipt_but_not_the_id(kiosk, qtbot):
    engine = kiosk.vc.app.speech.engine
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    taps(screen(kiosk).confirm)
    done = screen(kiosk)
    code = done.code.text()
    taps(done.read_aloud)
    spoken = engine.spoken[-1]
    assert spoken.key == "journey.done.spoken"
    assert " ".join(code.replace("-", "")) in spoken.text
    assert "Cấp Giấy xác nhận tình trạng hôn nhân" in spoken.text
    assert CITIZEN_ID not in spoken.text.replace(" ", "") and CITIZEN_NAME not in spoken.text


def test_volume_button_steps_down_mutes_and_resets_with_the_session(kiosk, qtbot):
    player = kiosk.vc.app.speech
    engine = player.engine
    session = kiosk.vc.app.session
    button = kiosk.top.volume_button
    kiosk.top.retranslate()
    assert button.isVisible() and button.accessibleName() == kiosk.vc.tr("shell.volume.loud")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert session.volume == 0.6 and engine.volume == 0.6
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert session.muted and button.accessibleName() == kiosk.vc.tr("shell.volume.off")
    spoken_before = len(engine.spoken)
    qtbot.mouseClick(kiosk.top.repeat_button, Qt.MouseButton.LeftButton)
    assert len(engine.spoken) == spoken_before  # muted: nothing said
    kiosk.reset_session()
    assert not session.muted and session.volume == 1.0
    assert button.accessibleName() == kiosk.vc.tr("shell.volume.loud")


def test_change_from_the_review_comes_back_to_it(kiosk, qtbot):
    taps = Taps(qtbot)
    start_procedure(kiosk, taps, MARITAL)
    taps(screen(kiosk).manual_button)
    type_manual(kiosk, taps)
    answer_marital(kiosk, taps)
    review = screen(kiosk)
    rows = {w.objectName(): w for w in review.findChildren(type(review.confirm))}
    taps(rows["change_current_status"])
    form = screen(kiosk)
    assert form.name == "form" and form.field.key == "current_status"
    taps(form.choice_buttons["divorced"])
    assert screen(kiosk).name == "review"
    taps(screen(kiosk).back_button)  # Back from the review: the last step, not Change
    assert screen(kiosk).name == "fee_pay"  # the fee step comes right before the review
    taps(screen(kiosk).back_button)
    assert screen(kiosk).name == "fee_exemption"
    taps(screen(kiosk).back_button)
    back = screen(kiosk)
    assert back.name == "form" and back.field.key == "phone"
    taps(back.next)
    taps(screen(kiosk).tiles[None])
    taps(screen(kiosk).cash)
    taps(screen(kiosk).confirm)
    row = dossiers(kiosk)[0]
    assert kiosk.vc.app.dossiers.answers(row)["current_status"] == "divorced"
