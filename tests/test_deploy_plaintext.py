"""No personal data in plain text on disk after a full confirm + print + deliver + log cycle.

Every file under the data, log and temp folders is read raw (the SQLite WAL included, the
store still open) and every PDF's text is extracted with pdftotext; the test citizen's ID
number, name, address and phone are looked for in NFC and NFD.

Expectations by printer:
- ESC/POS (production): the receipt goes to the printer as a raster and no file is left,
  so nothing at all is found.
- PDF folder (documented as for demos and tests only): its receipts/ folder keeps each
  receipt, which shows the citizen's name by design and the ID number masked
  (••••••••2345), never the full ID number; everything outside receipts/ is clean, and
  the retention purge removes those receipts too.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta

import pytest

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.logs import setup_logging
from kiosk.portal import ReferencePortal
from kiosk.services.dossiers import read_attachment_file, utcnow
from kiosk.services.models import DELIVERED, Dossier
from kiosk.services.portal_client import PortalClient
from kiosk.services.privacy import purge_expired
from kiosk.services.receipts import mask_id
from tests.deploy_helpers import KIOSK_ID, SECRET, TOKEN, find_plain, pdf_text, set_up_kiosk
from tests.receipt_helpers import FakeEscPos
from tests.store_helpers import CITIZEN_ADDRESS, CITIZEN_ID, CITIZEN_NAME, draft

PERSONAL = [
    CITIZEN_ID,
    CITIZEN_NAME,
    "Hồng Nhung",
    CITIZEN_ADDRESS,
    "Nà Pò",
    "0912345678",
    "Lò Văn Quý",
]


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def portal(tmp_path):
    # The portal's own files are the province's, outside the kiosk's folders.
    (tmp_path / "province").mkdir()
    p = ReferencePortal(
        tmp_path / "province" / "portal.sqlite3",
        kiosks={KIOSK_ID: SECRET},
        tokens=[TOKEN],
        procedures=[],
        record_bodies=False,
    )
    p.start()
    yield p
    p.stop()


def _cycle(settings, portal) -> tuple:
    """Confirm, print, log, deliver; returns (context, dossier id). The store stays open."""
    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    log = logging.getLogger("kiosk.test.cycle")
    ctx = build_context(settings)
    confirmed = ctx.dossiers.confirm(draft())
    ctx.receipts.print_receipt(confirmed.id)
    # Code that slips: the log filter masks ID and phone numbers, even in tracebacks.
    log.info("scanned card %s, phone %s", CITIZEN_ID, "0912345678")
    try:
        raise ValueError(f"bad card {CITIZEN_ID}")
    except ValueError:
        log.exception("scan failed")
    dossier = ctx.dossiers.get(confirmed.id)
    with PortalClient(portal.url, KIOSK_ID, SECRET, TOKEN) as client:
        for a in dossier.attachments:
            data = read_attachment_file(settings.attachments_dir, ctx.cipher, a.file_name)
            client.upload_attachment(a.sha256, data, a.content_type)
        delivered = client.submit_dossier(ctx.dossiers.body(dossier), dossier.client_ref)

    def mark(s) -> None:
        row = s.get(Dossier, confirmed.id)
        row.state, row.dossier_code, row.delivered_at = DELIVERED, delivered.dossier_code, utcnow()

    ctx.store.write_sync(mark)
    for handler in logging.getLogger().handlers:
        handler.flush()
    return ctx, confirmed.id


def _close_logs() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kiosk", False):
            root.removeHandler(handler)
            handler.close()


def test_production_printer_leaves_no_personal_data_anywhere(
    tmp_path, monkeypatch, temp_dir, portal
):
    with FakeEscPos() as printer:
        set_up_kiosk(
            monkeypatch,
            tmp_path,
            portal_url=portal.url,
            printer="escpos",
            printer_target=printer.target,
        )
        settings = load_settings()
        ctx, _ = _cycle(settings, portal)
        try:
            printer.wait_jobs(1)
            files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
            assert any(p.name.endswith("-wal") for p in files)  # the WAL is searched too
            assert any(p.suffix == ".bin" for p in files)  # and the attachment files
            log_text = (settings.log_dir / "kiosk.log").read_text(encoding="utf-8")
            assert "scan failed" in log_text and "2345" in log_text  # the lines are there
            hits = find_plain([settings.data_dir, settings.log_dir, temp_dir], PERSONAL)
            assert hits == []
            assert not list(settings.data_dir.rglob("*.pdf"))
        finally:
            ctx.close()
            _close_logs()


def test_pdf_printer_keeps_the_name_and_masked_id_only_in_its_receipts(
    tmp_path, monkeypatch, temp_dir, portal
):
    set_up_kiosk(monkeypatch, tmp_path, portal_url=portal.url, printer="pdf")
    settings = load_settings()
    ctx, dossier_id = _cycle(settings, portal)
    try:
        receipts = list(settings.receipts_dir.glob("*.pdf"))
        assert len(receipts) == 1
        text = pdf_text(receipts[0])
        assert CITIZEN_NAME in text  # by design: the citizen's own receipt
        assert mask_id(CITIZEN_ID) in text and CITIZEN_ID not in text
        hits = find_plain([settings.data_dir, settings.log_dir, temp_dir], PERSONAL)
        outside = [(p, what) for p, what in hits if settings.receipts_dir not in p.parents]
        assert outside == []
        inside = {what for _, what in hits}
        assert f"bytes:{CITIZEN_ID}" not in inside and f"pdf:{CITIZEN_ID}" not in inside
        assert not {w for w in inside if "Nà Pò" in w or "0912345678" in w or "Lò Văn" in w}

        # After the retention period the purge takes the receipt and the data with it.
        def age(s) -> None:
            s.get(Dossier, dossier_id).delivered_at = utcnow() - timedelta(days=400)

        ctx.store.write_sync(age)
        result = purge_expired(
            ctx.store,
            settings.attachments_dir,
            settings.retention_days,
            receipts_dir=settings.receipts_dir,
        )
        assert result.count == 1 and result.receipts_removed == 1
        assert find_plain([settings.data_dir, settings.log_dir, temp_dir], PERSONAL) == []
    finally:
        ctx.close()
        _close_logs()
