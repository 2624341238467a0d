"""The store: migrations, durability, crash safety, encryption at rest, blind-index search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import event, select

from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.dossiers import DossierService, read_attachment_file
from kiosk.services.models import Dossier, NameToken
from kiosk.services.store import Store, head_revision
from tests.store_helpers import CITIZEN_ADDRESS, CITIZEN_ID, CITIZEN_NAME, draft

ROOT = Path(__file__).resolve().parent.parent


def service(url: str, folder: Path) -> tuple[Store, DossierService]:
    store = Store(url)
    cipher = DataCipher(load_or_create_keyring(folder / "keys" / "data.key", create=True))
    return store, DossierService(store, cipher, "KIOSK-T1", "QN01", folder / "attachments")


def test_migrates_an_empty_database_to_head(db_url, tmp_path):
    store = Store(db_url)
    try:
        assert store.revision() == head_revision()
        Store(db_url).close()  # a second start finds nothing to do
    finally:
        store.close()


def test_sqlite_durability_pragmas_on_the_writer_connection(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        assert store.writer_pragma("journal_mode") == "wal"
        assert store.writer_pragma("synchronous") == 2  # FULL
        assert store.writer_pragma("foreign_keys") == 1
    finally:
        store.close()


def test_confirm_round_trip_and_sequence(db_url, tmp_path):
    store, svc = service(db_url, tmp_path)
    try:
        first = svc.confirm(draft())
        second = svc.confirm(draft(name="Đặng Văn Quỳnh", id_number="022085000123"))
        assert first.receipt_code == "QN01-000001-" + first.receipt_code[-1]
        assert second.receipt_code.startswith("QN01-000002-")
        d = svc.by_receipt_code(first.receipt_code)
        assert d.state == "queued" and d.client_ref == first.client_ref
        applicant = svc.applicant(d)
        assert applicant.full_name == CITIZEN_NAME and applicant.id_number == CITIZEN_ID
        body = json.loads(svc.body(d))
        assert body["client_ref"] == first.client_ref
        assert body["submitted_at"].endswith("Z")
        assert body["applicant"]["full_name"] == CITIZEN_NAME
        assert body["attachments"][0]["sha256"] == d.attachments[0].sha256
        data = read_attachment_file(svc.attachments_dir, svc.cipher, d.attachments[0].file_name)
        assert data.endswith(CITIZEN_NAME.encode())
    finally:
        store.close()


def test_search_by_blind_index_without_decrypting(db_url, tmp_path):
    store, svc = service(db_url, tmp_path)
    try:
        svc.confirm(draft())
        svc.confirm(draft(name="Nguyễn Văn Nam", id_number="022085000123"))
        c = svc.cipher

        def ids_for_name(query: str) -> set[int]:
            wanted = c.name_indexes(query)
            stmt = select(NameToken.dossier_id).where(NameToken.token_index.in_(wanted))
            rows = store.read(lambda s: s.execute(stmt).scalars().all())
            return {i for i in rows if rows.count(i) == len(wanted)}

        assert len(ids_for_name("nguyen")) == 2
        assert len(ids_for_name("HONG nhung")) == 1
        assert len(ids_for_name("Hồng Nhung")) == 1
        assert ids_for_name("Trần") == set()
        by_id = store.read(
            lambda s: s.scalars(
                select(Dossier).where(Dossier.id_index == c.id_index(CITIZEN_ID))
            ).all()
        )
        assert len(by_id) == 1
    finally:
        store.close()


def _forms(text: str) -> list[bytes]:
    return [unicodedata.normalize(f, text).encode() for f in ("NFC", "NFD")]


def test_no_personal_data_in_plain_bytes(tmp_path):
    store, svc = service(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    for _ in range(3):
        svc.confirm(draft())
    # Leave the WAL in place (no checkpoint on close) and read every file.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files)
    needles = [
        CITIZEN_ID.encode(),
        *_forms(CITIZEN_NAME),
        *_forms("Hồng Nhung"),
        *_forms(CITIZEN_ADDRESS),
        b"0912345678",
        *_forms("Lò Văn Quý"),
    ]
    for path in files:
        raw = path.read_bytes()
        for needle in needles:
            assert needle not in raw, f"{needle!r} in plain bytes of {path.name}"
    store.close()


def test_attachment_file_and_folder_synced_before_commit(tmp_path, monkeypatch):
    store, svc = service(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    events: list[str] = []
    real_fsync = os.fsync

    def spy_fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        events.append("fsync-dir" if os.path.isdir(target) else f"fsync-file:{Path(target).suffix}")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    event.listen(store.write_engine, "commit", lambda conn: events.append("commit"))
    svc.confirm(draft())
    store.close()
    assert "commit" in events
    commit_at = events.index("commit")
    assert "fsync-file:.bin" in events[:commit_at]
    assert "fsync-dir" in events[:commit_at]


CRASH_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.test_store import service
    from tests.store_helpers import draft
    store, svc = service({url!r}, Path({folder!r}))
    confirmed = svc.confirm(draft())
    print(confirmed.receipt_code, confirmed.client_ref, flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("round_", range(5))
def test_confirmed_dossier_survives_sigkill(tmp_path, round_):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    script = CRASH_SCRIPT.format(root=str(ROOT), url=url, folder=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    os.kill(proc.pid, signal.SIGKILL)  # right after the call returned
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    code, client_ref = line
    store, svc = service(url, tmp_path)
    try:
        d = svc.by_receipt_code(code)
        assert d is not None and d.client_ref == client_ref
        assert svc.applicant(d).full_name == CITIZEN_NAME
        assert read_attachment_file(svc.attachments_dir, svc.cipher, d.attachments[0].file_name)
    finally:
        store.close()


def test_submitted_at_uses_the_portal_clock_offset(tmp_path):
    from datetime import datetime, timedelta

    from kiosk.services.dossiers import utcnow

    store, svc = service(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    try:
        svc.clock_offset = lambda: 7200.0  # this PC's clock is two hours slow
        confirmed = svc.confirm(draft())
        body = json.loads(svc.body(svc.get(confirmed.id)))
        submitted = datetime.fromisoformat(body["submitted_at"].rstrip("Z"))
        assert abs(submitted - (utcnow() + timedelta(hours=2))) < timedelta(seconds=5)
    finally:
        store.close()
