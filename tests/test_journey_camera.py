"""The journey with the simulated camera: ID card scan, document photos, receipt."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.paths import resource
from kiosk.qt.tasks import TaskRunner
from kiosk.qt.wiring import install_camera
from kiosk.services.dossiers import read_attachment_file
from kiosk.views.shell import MainWindow
from tests.test_journey import MARITAL, Taps, dossiers, screen

BIRTH = "1.001193"
CARD_NAME = "Nguyễn Thị Hồng Nhung"  # in resources/samples/cccd_sample.png


@pytest.fixture
def camera_kiosk(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), camera="sim"
    )
    ctx = build_context(settings)
    install_camera(ctx)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    win.start()
    yield win
    for widget in win.screens.values():
        widget.leave()
    ctx.close()


def scan_card(win, taps, qtbot, code):
    taps(screen(win).tiles["home.submit"])
    taps(screen(win).tile_for(code))
    taps(screen(win).start)
    taps(screen(win).agree)
    assert screen(win).name == "identify"
    qtbot.waitUntil(lambda: screen(win).name == "identify_confirm", timeout=20000)
    confirm = screen(win)
    assert CARD_NAME in confirm.details.text() and "001190012345" in confirm.details.text()
    return confirm


def test_scan_to_confirmed_dossier_in_at_most_seven_taps(camera_kiosk, qtbot):
    win = camera_kiosk
    taps = Taps(qtbot)
    confirm = scan_card(win, taps, qtbot, MARITAL)
    taps.count = 0  # counted from the confirmed scan
    taps(confirm.yes)
    s = screen(win)
    taps(s.choice_buttons["marriage"])
    taps(screen(win).choice_buttons["never_married"])
    s = screen(win)
    s.edit.setText("0912345678")  # typed on the keyboard: keys are not counted
    taps(s.next)
    taps(screen(win).tiles[None])  # the fee step: no exemption
    taps(screen(win).cash)  # cash at the counter
    taps(screen(win).confirm)
    assert screen(win).name == "done"
    assert taps.count <= 7, taps.count
    rows = dossiers(win)
    assert len(rows) == 1 and rows[0].id_source == "qr_scan"
    assert win.vc.app.dossiers.applicant(rows[0]).full_name == CARD_NAME


def test_birth_registration_home_to_done_with_document_photo(camera_kiosk, qtbot):
    win = camera_kiosk
    taps = Taps(qtbot)
    confirm = scan_card(win, taps, qtbot, BIRTH)
    taps(confirm.yes)
    answers = {
        "child_full_name": "Lò Văn Quý",
        "child_date_of_birth": "01/11/2026",
        "place_of_birth": "Trạm y tế xã Đồng Văn",
        "phone": "0912345678",
    }
    choices = {"child_sex": "male", "applicant_relationship": "mother"}
    while screen(win).name == "form":
        s = screen(win)
        key = s.field.key
        if key in choices:
            taps(s.choice_buttons[choices[key]])
        elif s.date_picker is not None:  # a date is tapped on the picker, not typed
            s.date_picker.set_value(date(2026, 11, 1))
            taps(s.next)
        elif s.place_picker is not None:  # a place: the kiosk's own commune, one tap
            taps(s.place_picker.suggestion_buttons[0])
        else:
            s.edit.setText(answers[key])
            taps(s.next)
    doc = screen(win)
    assert doc.name == "document" and doc.document.key == "birth_certificate"
    qtbot.waitUntil(lambda: doc.view.outline is not None, timeout=20000)
    taps(doc.take)
    qtbot.waitUntil(lambda: doc.result is not None, timeout=20000)
    assert doc.result.ok, [r.detail for r in doc.result.reasons]
    taps(doc.use)
    second = screen(win)
    assert second.name == "document" and second.document.key == "parents_marriage_certificate"
    taps(second.skip)  # optional document
    review = screen(win)
    assert review.name == "review"
    taps(review.confirm)
    done = screen(win)
    assert done.name == "done" and done.state["printed"]
    app = win.vc.app
    row = app.dossiers.get(dossiers(win)[0].id)
    assert row.state == "queued" and row.procedure_code == BIRTH
    assert [a.document_key for a in row.attachments] == ["birth_certificate"]
    att = row.attachments[0]
    data = read_attachment_file(app.settings.attachments_dir, app.cipher, att.file_name)
    assert hashlib.sha256(data).hexdigest() == att.sha256 and att.size < 10 * 1024 * 1024
    body = json.loads(app.dossiers.body(row))
    assert body["attachments"][0]["sha256"] == att.sha256
    assert body["applicant"]["id_source"] == "qr_scan"
    assert body["fields"]["child_date_of_birth"] == "2026-11-01"
    assert len(list(Path(app.settings.receipts_dir).glob("*.pdf"))) == 1


def test_no_camera_says_so_and_offers_typing(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(
        env={},
        config_path=data_dir / "x.toml",
        data_dir=str(data_dir),
        camera="device",
        camera_index="7",
    )  # nothing at /dev/video7
    ctx = build_context(settings)
    install_camera(ctx)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        taps = Taps(qtbot)
        taps(screen(win).tiles["home.submit"])
        taps(screen(win).tile_for(MARITAL))
        taps(screen(win).start)
        taps(screen(win).agree)
        identify = screen(win)
        qtbot.waitUntil(lambda: identify.error_key is not None, timeout=10000)
        assert identify.status.text() == ctx.translator.tr(identify.error_key, "vi")
        assert identify.error_key in ("scan.no_camera", "identify.no_camera")
        taps(identify.manual_button)
        assert screen(win).name == "manual_entry"
        assert screen(win).reason.text() == ctx.translator.tr(identify.error_key, "vi")
    finally:
        ctx.close()


def test_sample_receipt_qr_is_recognised_by_the_scanner(tmp_path):
    """A receipt rendered to an image is read by the same pipeline as ID cards."""
    import pypdfium2

    from kiosk.hardware.decoders import decode_file
    from kiosk.services.cccd import interpret
    from kiosk.services.i18n import Translator
    from kiosk.services.receipts import build_receipt_pdf, sample_receipt

    data = sample_receipt("vi")
    pdf = build_receipt_pdf(data, "80mm", Translator.from_resources())
    page = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    path = tmp_path / "receipt.png"
    page.save(path)
    _, found = decode_file(str(path))
    kinds = [interpret(d.text).kind for d in found]
    assert kinds == ["receipt"] and found[0].text == data.status_url
    assert resource("samples", "cccd_sample.png").exists()
