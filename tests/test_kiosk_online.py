"""The running kiosk, wired as `python -m kiosk` wires it, against the reference portal:
a dossier confirmed at the screen is delivered by the sync worker, its attachment reaches
the portal with the same sha256, and its receipt's QR code, decoded from the printed
page, shows the status the portal reports."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pypdfium2
import pytest
from PySide6.QtCore import Qt

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.decoders import decode_file
from kiosk.qt.tasks import TaskRunner
from kiosk.qt.wiring import wire
from kiosk.services.status import StatusService
from kiosk.views.shell import MainWindow
from tests.outbox_helpers import KIOSK_ID, SECRET, TOKEN, new_portal
from tests.test_journey import Taps, screen

BIRTH = "1.001193"


@pytest.fixture
def online(kiosk_qapp, data_dir, tmp_path, qtbot):
    portal = new_portal(tmp_path)
    settings = load_settings(
        env={},
        config_path=data_dir / "x.toml",
        data_dir=str(data_dir),
        camera="sim",
        speech="mock",
        kiosk_id=KIOSK_ID,
        secret=SECRET,
        portal_token=TOKEN,
        portal_url=portal.url,
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    wire(win, ctx)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    win.start()
    yield win, portal
    for widget in win.screens.values():
        widget.leave()
    ctx.sync.stop(5)
    ctx.close()
    portal.stop()


def test_confirmed_at_the_screen_delivered_and_looked_up_from_the_receipt(online, qtbot, tmp_path):
    win, portal = online
    app = win.vc.app
    taps = Taps(qtbot)
    taps(screen(win).tiles["home.submit"])
    taps(screen(win).tile_for(BIRTH))
    taps(screen(win).start)
    taps(screen(win).agree)
    qtbot.waitUntil(lambda: screen(win).name == "identify_confirm", timeout=20000)
    taps(screen(win).yes)
    answers = {
        "child_full_name": "Lò Văn Quý",
        "child_date_of_birth": "01/11/2026",
        "place_of_birth": "Trạm y tế xã Đồng Văn",
        "phone": "0912345678",
    }
    choices = {"child_sex": "male", "applicant_relationship": "mother"}
    while screen(win).name == "form":
        s = screen(win)
        if s.field.key in choices:
            taps(s.choice_buttons[choices[s.field.key]])
        elif s.date_picker is not None:  # a date is tapped on the picker, not typed
            s.date_picker.set_value(date(2026, 11, 1))
            taps(s.next)
        elif s.place_picker is not None:  # a place: the kiosk's own commune, one tap
            taps(s.place_picker.suggestion_buttons[0])
        else:
            s.edit.setText(answers[s.field.key])
            taps(s.next)
    doc = screen(win)
    qtbot.waitUntil(lambda: doc.view.outline is not None, timeout=20000)
    taps(doc.take)
    qtbot.waitUntil(lambda: doc.result is not None, timeout=20000)
    taps(doc.use)
    taps(screen(win).skip)
    taps(screen(win).confirm)
    code = screen(win).code.text()

    # The sync worker, woken by the confirmation, delivers it.
    dossier = app.dossiers.by_receipt_code(code)
    qtbot.waitUntil(lambda: app.dossiers.get(dossier.id).state == "delivered", timeout=30000)
    dossier = app.dossiers.get(dossier.id)
    stored = [d for d in portal.dossiers() if d.client_ref == dossier.client_ref]
    assert len(stored) == 1 and stored[0].code == dossier.dossier_code
    assert stored[0].body == app.dossiers.body(dossier)  # the frozen bytes, as sent
    sha = dossier.attachments[0].sha256
    content_type, data = portal.attachment(sha)
    assert hashlib.sha256(data).hexdigest() == sha and content_type == "image/jpeg"
    assert json.loads(stored[0].body)["attachments"][0]["sha256"] == sha

    # The printed receipt's QR code leads back to the status, online.
    pdf = sorted(app.settings.receipts_dir.glob("*.pdf"))[-1].read_bytes()
    image = tmp_path / "receipt.png"
    pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil().save(image)
    _, found = decode_file(str(image))
    assert len(found) == 1
    status = StatusService(app.store, refresh=app.sync.refresh_status)
    assert status.lookup(found[0].text).status == "received"
    portal.set_status(
        dossier.dossier_code,
        "needs_info",
        {"vi": "Cần bổ sung giấy chứng sinh bản gốc.", "en": "Bring the original."},
    )
    view = status.lookup(found[0].text)
    assert view.status == "needs_info" and view.fresh
    assert view.message["vi"] == "Cần bổ sung giấy chứng sinh bản gốc."

    # The same through the screens, in the citizen's language.
    win.nav.cancel()
    taps(screen(win).tiles["home.status"])
    lookup = screen(win)
    lookup.code.setText(code)
    qtbot.mouseClick(lookup.look, Qt.MouseButton.LeftButton)
    result = screen(win)
    assert result.name == "status_result"
    assert "Cần bổ sung giấy chứng sinh bản gốc." in result.words.text()

    # Portal gone: the last known status, with its time, honestly.
    portal.stop()
    offline = status.lookup(code)
    assert offline.status == "needs_info" and not offline.fresh and offline.as_of is not None
