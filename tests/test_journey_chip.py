"""The journey with the card's chip: QR scan, "place your card", "Is this you?" with the
chip's portrait, a clerk's check, and the delivered dossier's identity assurance."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.card_emulator import demo_person, make_card
from kiosk.hardware.cardreader import SimulatedReader
from kiosk.qt.tasks import TaskRunner
from kiosk.qt.wiring import install_camera
from kiosk.services.chip_identity import ChipService, use_chip_reader
from kiosk.services.clerks import ClerkService
from kiosk.views.shell import MainWindow
from tests.chip_helpers import pki
from tests.outbox_helpers import KIOSK_ID, fast_outbox, new_portal
from tests.test_journey import MARITAL, Taps, dossiers, screen

CARD_NAME = "Nguyễn Thị Hồng Nhung"  # the sample QR code's citizen, and the demo card's


@pytest.fixture
def chip_kiosk(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(
        env={},
        config_path=data_dir / "x.toml",
        data_dir=str(data_dir),
        camera="sim",
        kiosk_id=KIOSK_ID,
    )
    ctx = build_context(settings)
    install_camera(ctx)
    reader = SimulatedReader()
    use_chip_reader(ctx, ChipService(reader, [pki().csca_cert], timeout_s=1.0, kind="sim"))
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    win.start()
    yield SimpleNamespace(win=win, reader=reader)
    for widget in win.screens.values():
        widget.leave()
    ctx.close()


def scan(win, taps, qtbot, until: str):
    taps(screen(win).tiles["home.submit"])
    taps(screen(win).tile_for(MARITAL))
    taps(screen(win).start)
    taps(screen(win).agree)
    assert screen(win).name == "identify"
    qtbot.waitUntil(lambda: screen(win).name == until, timeout=20000)
    return screen(win)


def answer_and_confirm(win, taps):
    taps(screen(win).choice_buttons["marriage"])
    taps(screen(win).choice_buttons["never_married"])
    s = screen(win)
    s.edit.setText("0912345678")
    taps(s.next)
    # Marital status certification has a fee: no exemption, cash at the counter.
    assert screen(win).name == "fee_exemption"
    taps(screen(win).tiles[None])
    taps(screen(win).cash)
    taps(screen(win).confirm)
    assert screen(win).name == "done"


def test_chip_read_shows_portrait_and_dossier_carries_assurance(chip_kiosk, qtbot, tmp_path):
    win, reader = chip_kiosk.win, chip_kiosk.reader
    app = win.vc.app
    ClerkService(app.store).create("lan", "Cán bộ Lan", "clerk", "4826")
    reader.insert(make_card(demo_person(), pki=pki()))
    taps = Taps(qtbot)
    confirm = scan(win, taps, qtbot, "chip_confirm")
    # "Is this you?" with the chip's portrait; never ethnicity or religion.
    assert not confirm.portrait.pixmap().isNull()
    assert CARD_NAME in confirm.details.text()
    assert "Kinh" not in confirm.details.text() and "Không" not in confirm.details.text()
    assert confirm.level.text() == app.tr("chip.confirm.verified")
    assert app.journey.session.chip.dg13.father_name == "Nguyễn Văn Hùng"  # in memory only
    # A clerk compares the person with the photo and confirms with their PIN.
    taps(confirm.clerk)
    confirm.clerk_user.setText("lan")
    confirm.clerk_pin.setText("0000")
    taps(confirm.clerk_ok)
    assert confirm.clerk_status.text() == app.tr("chip.clerk.bad_pin")
    confirm.clerk_pin.setText("4826")
    taps(confirm.clerk_ok)
    assert "Cán bộ Lan" in confirm.clerk_status.text()
    taps(confirm.yes)
    answer_and_confirm(win, taps)
    row = dossiers(win)[0]
    assert row.id_source == "chip"
    body = json.loads(app.dossiers.body(app.dossiers.get(row.id)))
    assurance = body["applicant"]["identity_assurance"]
    assert assurance["level"] == "chip_verified" and assurance["checked_by"] == "lan"
    assert len(assurance["chip_sod_sha256"]) == 64
    assert "ethnicity" not in json.dumps(body, ensure_ascii=False)
    assert "Kinh" not in json.dumps(body, ensure_ascii=False)
    # Delivered to the portal as it is.
    portal = new_portal(tmp_path)
    try:
        kiosk = SimpleNamespace(store=app.store, dossiers=app.dossiers)
        outbox = fast_outbox(kiosk, portal.url)
        try:
            outbox.run_once()
        finally:
            outbox.close()
        stored = portal.dossiers()
        assert len(stored) == 1
        sent = json.loads(stored[0].body)
        assert sent["applicant"]["id_source"] == "chip"
        assert sent["applicant"]["identity_assurance"]["level"] == "chip_verified"
        assert sent["applicant"]["identity_assurance"]["checked_by"] == "lan"
    finally:
        portal.stop()
    # The visit ends: the chip's data is gone from memory and from the screens.
    chip = app.journey.session.chip
    taps(screen(win).finish)
    assert app.journey.session.chip is None and chip.portrait is None and chip.dg13 is None
    assert win.screens["chip_confirm"].portrait.pixmap().isNull()


def test_no_card_within_the_wait_continues_with_the_qr_and_says_so(chip_kiosk, qtbot):
    win = chip_kiosk.win
    taps = Taps(qtbot)
    confirm = scan(win, taps, qtbot, "identify_confirm")
    assert win.vc.app.tr("chip.note.timeout") in confirm.details.text()
    taps(confirm.yes)
    answer_and_confirm(win, taps)
    assert dossiers(win)[0].id_source == "qr_scan"


def test_tampered_chip_stops_and_calls_a_clerk(chip_kiosk, qtbot):
    win, reader = chip_kiosk.win, chip_kiosk.reader
    reader.insert(make_card(demo_person(), pki=pki(), tamper=13))
    taps = Taps(qtbot)
    s = scan(win, taps, qtbot, "chip_read")
    qtbot.waitUntil(lambda: s.invalid, timeout=20000)
    assert s.title.text() == win.vc.app.tr("chip.invalid.title")
    assert win.vc.app.journey.session.chip is None
    assert not s.skip.isVisible() and not s.back_button.isVisible()


def test_wrong_dates_let_the_clerk_type_the_expiry(chip_kiosk, qtbot):
    win, reader = chip_kiosk.win, chip_kiosk.reader
    # A card whose MRZ expiry is not what the law's rule gives (e.g. renewed early).
    reader.insert(make_card(demo_person(), pki=pki(), mrz_expiry="331231"))
    taps = Taps(qtbot)
    s = scan(win, taps, qtbot, "chip_read")
    qtbot.waitUntil(lambda: s.mode == "bac", timeout=20000)
    assert s.status.text() == win.vc.app.tr("chip.error.bac")
    s.expiry.setText("31/12/2033")
    taps(s.expiry_button)
    qtbot.waitUntil(lambda: screen(win).name == "chip_confirm", timeout=20000)


def test_no_reader_says_so(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), camera="sim"
    )
    ctx = build_context(settings)
    install_camera(ctx)
    use_chip_reader(ctx, ChipService(None))
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        confirm = scan(win, Taps(qtbot), qtbot, "identify_confirm")
        assert ctx.tr("chip.note.no_reader") in confirm.details.text()
    finally:
        for widget in win.screens.values():
            widget.leave()
        ctx.close()


CHIP_PREFILLED = {
    "code": "9.000101",
    "version": 1,
    "title": {"vi": "Thủ tục thử: hỏi dân tộc và tên cha", "en": "Test: ethnicity and father"},
    "summary": {"vi": "Thử."},
    "category": "civil_status",
    "fee_vnd": 0,
    "fields": [
        {"key": "ethnicity", "type": "text", "label": {"vi": "Dân tộc"}, "prefill": "ethnicity"},
        {
            "key": "father",
            "type": "text",
            "label": {"vi": "Họ tên cha"},
            "prefill": "father_name",
        },
    ],
}


def test_chip_fields_prefill_only_the_questions_that_ask(chip_kiosk, qtbot):
    win, reader = chip_kiosk.win, chip_kiosk.reader
    app = win.vc.app
    app.catalogue = app.catalogue.merge_remote([CHIP_PREFILLED], "2026-11-23T04:40:00Z")
    app.journey.catalogue = app.catalogue
    reader.insert(make_card(demo_person(), pki=pki()))
    taps = Taps(qtbot)
    taps(screen(win).tiles["home.submit"])
    tile = screen(win).tile_for("9.000101")
    assert tile is not None
    taps(tile)
    taps(screen(win).start)
    taps(screen(win).agree)
    qtbot.waitUntil(lambda: screen(win).name == "chip_confirm", timeout=20000)
    taps(screen(win).yes)
    form = screen(win)
    assert form.field.key == "ethnicity" and form.edit.text() == "Kinh"
    taps(form.next)
    form = screen(win)
    assert form.field.key == "father" and form.edit.text() == "Nguyễn Văn Hùng"
    taps(form.next)
    taps(screen(win).confirm)
    row = dossiers(win)[0]
    assert app.dossiers.answers(row) == {"ethnicity": "Kinh", "father": "Nguyễn Văn Hùng"}
    body = app.dossiers.body(app.dossiers.get(row.id)).decode()
    assert "Không" not in body  # religion: no question asked for it
