"""Data protection: encrypted attachment files, the retention purge, a citizen's access and
erasure requests, key rotation (also after a crash half-way)."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.lockdown import SingleInstance
from kiosk.services.clerks import ClerkService
from kiosk.services.consent import CONSENT_KEY
from kiosk.services.crypto import MAGIC, DataCipher, load_or_create_keyring
from kiosk.services.dossiers import read_attachment_file, row_ctx, utcnow
from kiosk.services.i18n import Translator
from kiosk.services.models import DELIVERED, HANDLED, QUEUED, SENDING, Dossier, NameToken
from kiosk.services.privacy import (
    PrivacyError,
    erase_citizen,
    keys_in_use,
    purge_expired,
    reencrypt,
    rotate_key,
    scheduled_purge,
)
from tests.deploy_helpers import ADMIN, ADMIN_PIN, run_cli, set_up_kiosk
from tests.store_helpers import CITIZEN_ID, CITIZEN_NAME, draft

OTHER_ID = "022085000123"
OTHER_NAME = "Đặng Văn Quỳnh"


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path, printer="pdf")
    context = build_context(load_settings())
    yield context
    context.close()


def _set(ctx, dossier_id: int, **values) -> None:
    def write(s) -> None:
        row = s.get(Dossier, dossier_id)
        for name, value in values.items():
            setattr(row, name, value)

    ctx.store.write_sync(write)


def _all_bytes(folder) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_attachment_files_are_encrypted(ctx):
    confirmed = ctx.dossiers.confirm(draft())
    d = ctx.dossiers.get(confirmed.id)
    raw = (ctx.settings.attachments_dir / d.attachments[0].file_name).read_bytes()
    assert raw.startswith(MAGIC)
    assert b"scan of" not in raw and CITIZEN_NAME.encode() not in raw
    assert (
        stat.S_IMODE((ctx.settings.attachments_dir / d.attachments[0].file_name).stat().st_mode)
        == 0o600
    )
    plain = read_attachment_file(
        ctx.settings.attachments_dir, ctx.cipher, d.attachments[0].file_name
    )
    assert plain.endswith(CITIZEN_NAME.encode())
    with pytest.raises(Exception, match="does not open"):
        ctx.cipher.decrypt(raw, "dossiers.applicant")  # bound to its own context


def test_purge_after_the_retention_period(ctx):
    now = utcnow()
    old = ctx.dossiers.confirm(draft())
    recent = ctx.dossiers.confirm(draft())
    queued = ctx.dossiers.confirm(draft(name=OTHER_NAME, id_number=OTHER_ID))
    handled = ctx.dossiers.confirm(draft(name=OTHER_NAME, id_number=OTHER_ID))
    _set(
        ctx,
        old.id,
        state=DELIVERED,
        delivered_at=now - timedelta(days=366),
        dossier_code="QN-2025-000001",
        portal_message='{"vi": "Bà Nhung vui lòng đến nhận"}',
    )
    _set(ctx, recent.id, state=DELIVERED, delivered_at=now - timedelta(days=10))
    _set(ctx, queued.id, confirmed_at=now - timedelta(days=400))
    _set(ctx, handled.id, state=HANDLED, confirmed_at=now - timedelta(days=400))
    for row in (old, recent):
        ctx.receipts.print_receipt(row.id)  # the PDF printer keeps a file per receipt
    before = ctx.dossiers.get(old.id)
    blobs = [before.applicant_enc, before.answers_enc, before.body_enc]
    old_file = ctx.settings.attachments_dir / before.attachments[0].file_name

    result = scheduled_purge(
        ctx.store,
        ctx.settings.attachments_dir,
        365,
        ctx.settings.receipts_dir,
        ctx.settings.kiosk_id,
    )
    assert sorted(result.dossiers) == sorted([old.receipt_code, handled.receipt_code])
    d = ctx.dossiers.get(old.id)
    assert (d.applicant_enc, d.answers_enc, d.body_enc, d.id_index) == (None, None, None, None)
    assert d.attachments == [] and not old_file.exists() and d.portal_message is None
    assert d.purged_at is not None
    # What statistics and the status look-up need stays.
    assert (d.receipt_code, d.procedure_code, d.state, d.dossier_code) == (
        old.receipt_code,
        "1.001193",
        DELIVERED,
        "QN-2025-000001",
    )
    assert ctx.dossiers.applicant(d) is None
    tokens = ctx.store.read(
        lambda s: s.scalars(select(NameToken).where(NameToken.dossier_id == old.id)).all()
    )
    assert tokens == []
    # The others keep everything.
    assert ctx.dossiers.applicant(ctx.dossiers.get(recent.id)).full_name == CITIZEN_NAME
    assert ctx.dossiers.applicant(ctx.dossiers.get(queued.id)).full_name == OTHER_NAME
    receipts = [p.name for p in ctx.settings.receipts_dir.glob("*.pdf")]
    assert not any(old.receipt_code in n for n in receipts)
    assert any(recent.receipt_code in n for n in receipts)
    # Not even the old ciphertext is left in the database file or its WAL.
    raw = _all_bytes(ctx.settings.data_dir)
    for blob in blobs:
        assert blob[16:48] not in raw
    audit = ClerkService(ctx.store).audit_trail()
    assert audit[0].action == "privacy.purge" and "2 dossiers" in audit[0].detail
    # Nothing more to do the second time.
    assert purge_expired(ctx.store, ctx.settings.attachments_dir, 365).count == 0


def test_consent_text_of_the_current_version_is_kept():
    translator = Translator.from_resources()
    for lang in ("vi", "en"):
        assert translator.catalogues[lang].get(CONSENT_KEY), lang


def _pins(monkeypatch, *answers: str) -> None:
    it = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(it))


def test_export_for_an_access_request(ctx, tmp_path, monkeypatch, capsys):
    mine = [ctx.dossiers.confirm(draft()) for _ in range(2)]
    ctx.dossiers.confirm(draft(name=OTHER_NAME, id_number=OTHER_ID))
    out = tmp_path / "export.json"
    _pins(monkeypatch, "000000")
    assert run_cli("privacy", "export", "--admin", ADMIN, "--out", str(out)) == 1
    assert not out.exists()
    _pins(monkeypatch, ADMIN_PIN, CITIZEN_ID)  # the ID number is asked without echo
    assert run_cli("privacy", "export", "--admin", ADMIN, "--out", str(out)) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [d["receipt_code"] for d in data["dossiers"]] == [c.receipt_code for c in mine]
    first = data["dossiers"][0]
    assert first["applicant"]["full_name"] == CITIZEN_NAME
    assert first["answers"]["child_name"] == "Lò Văn Quý"
    assert first["attachments"][0]["data_base64"]
    entry = ClerkService(ctx.store).audit_trail()[0]
    assert entry.action == "privacy.export" and CITIZEN_ID not in entry.detail
    assert mine[0].receipt_code in entry.detail


def test_erase_on_request(ctx, monkeypatch):
    delivered = ctx.dossiers.confirm(draft())
    pending = ctx.dossiers.confirm(draft())
    other = ctx.dossiers.confirm(draft(name=OTHER_NAME, id_number=OTHER_ID))
    _set(ctx, delivered.id, state=DELIVERED, delivered_at=utcnow(), dossier_code="QN-1")
    # Not delivered yet: refused unless the request withdraws it, and nothing changes.
    _pins(monkeypatch, ADMIN_PIN)
    assert run_cli("privacy", "erase", "--admin", ADMIN, "--id", CITIZEN_ID) == 1
    assert ctx.dossiers.applicant(ctx.dossiers.get(delivered.id)) is not None
    assert ClerkService(ctx.store).audit_trail()[0].action == "privacy.erase.refused"
    _pins(monkeypatch, ADMIN_PIN)
    assert (
        run_cli("privacy", "erase", "--admin", ADMIN, "--id", CITIZEN_ID, "--withdraw-undelivered")
        == 0
    )
    for row in (delivered, pending):
        d = ctx.dossiers.get(row.id)
        assert d.applicant_enc is None and d.purged_at is not None
    assert ctx.dossiers.get(pending.id).state == HANDLED  # the outbox never sends it
    assert ctx.dossiers.get(delivered.id).state == DELIVERED
    assert ctx.dossiers.applicant(ctx.dossiers.get(other.id)).full_name == OTHER_NAME
    entry = ClerkService(ctx.store).audit_trail()[0]
    assert entry.action == "privacy.erase" and "withdrawn" in entry.detail


def test_erase_refuses_a_dossier_being_sent(ctx):
    sending = ctx.dossiers.confirm(draft())
    _set(ctx, sending.id, state=SENDING)
    with pytest.raises(PrivacyError, match="being sent"):
        erase_citizen(
            ctx.store,
            ctx.cipher,
            ctx.settings.attachments_dir,
            CITIZEN_ID,
            withdraw_undelivered=True,
        )
    assert ctx.dossiers.get(sending.id).state == SENDING


def _blob_keys(ctx) -> set[int]:
    return keys_in_use(ctx.store, ctx.settings.attachments_dir)


def test_rotate_key(ctx, monkeypatch):
    rows = [ctx.dossiers.confirm(draft()) for _ in range(3)]
    rows.append(ctx.dossiers.confirm(draft(name=OTHER_NAME, id_number=OTHER_ID)))
    index_before = ctx.dossiers.get(rows[0].id).id_index
    key_path = ctx.settings.data_key_path
    old_key = load_or_create_keyring(key_path, create=False).keys[1]
    assert _blob_keys(ctx) == {1}
    # Not while the kiosk runs: it holds the old key in memory.
    running = SingleInstance(ctx.settings.data_dir)
    assert running.acquire()
    _pins(monkeypatch, ADMIN_PIN)
    assert run_cli("privacy", "rotate-key", "--admin", ADMIN, "--batch", "2") == 1
    running.release()
    _pins(monkeypatch, ADMIN_PIN)
    assert run_cli("privacy", "rotate-key", "--admin", ADMIN, "--batch", "2") == 0
    ring = load_or_create_keyring(key_path, create=False)
    assert list(ring.keys) == [2] and ring.current == 2
    assert old_key.hex() not in key_path.read_text() and old_key not in key_path.read_bytes()
    cipher = DataCipher(ring)
    assert _blob_keys(ctx) == {2}
    d = ctx.dossiers.get(rows[0].id)
    assert d.id_index == index_before == cipher.id_index(CITIZEN_ID)  # search unchanged
    ctx.dossiers.cipher = cipher
    assert ctx.dossiers.applicant(d).full_name == CITIZEN_NAME
    assert read_attachment_file(ctx.settings.attachments_dir, cipher, d.attachments[0].file_name)
    assert json.loads(ctx.dossiers.body(d))["applicant"]["id_number"] == CITIZEN_ID
    assert ClerkService(ctx.store).audit_trail()[0].action == "key.rotate"


def test_rotation_interrupted_half_way_is_finished_by_reencrypt(ctx):
    for _ in range(4):
        ctx.dossiers.confirm(draft())
    key_path = ctx.settings.data_key_path
    calls = []

    def crash(what: str, n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        rotate_key(
            ctx.store, ctx.cipher, ctx.settings.attachments_dir, key_path, batch=1, progress=crash
        )
    assert _blob_keys(ctx) == {1, 2}  # half done
    ring = load_or_create_keyring(key_path, create=False)
    assert sorted(ring.keys) == [1, 2] and ring.current == 2  # both keys kept: all readable
    cipher = DataCipher(ring)
    for d in ctx.store.read(lambda s: s.scalars(select(Dossier)).all()):
        assert (
            cipher.decrypt_json(d.applicant_enc, row_ctx("dossiers.applicant", d.client_ref))[
                "full_name"
            ]
            == CITIZEN_NAME
        )
    result = reencrypt(ctx.store, cipher, ctx.settings.attachments_dir)
    # Two batches of one dossier were committed before the cut: two dossiers and every
    # file remain.
    assert (result.values, result.files) == (6, 4)
    from kiosk.services.privacy import drop_old_keys

    assert drop_old_keys(ctx.store, cipher, ctx.settings.attachments_dir, key_path) == [1]
    assert _blob_keys(ctx) == {2}
    for d in ctx.store.read(lambda s: s.scalars(select(Dossier)).all()):
        for a in ctx.store.read(lambda s, i=d.id: s.get(Dossier, i).attachments):
            read_attachment_file(ctx.settings.attachments_dir, cipher, a.file_name, a.sha256)


def test_old_key_is_not_dropped_while_data_uses_it(ctx):
    ctx.dossiers.confirm(draft())
    from kiosk.services.privacy import drop_old_keys

    ring = ctx.cipher.rotate()
    cipher = DataCipher(ring)
    with pytest.raises(PrivacyError, match="still encrypted"):
        drop_old_keys(ctx.store, cipher, ctx.settings.attachments_dir, ctx.settings.data_key_path)
    assert ctx.store.read(lambda s: s.scalars(select(Dossier.state)).all()) == [QUEUED]


def test_the_running_kiosk_purges_at_start(ctx, qtbot):
    from kiosk.commands.run import PURGE_EVERY_MS, _schedule_purge, build_window

    old = ctx.dossiers.confirm(draft())
    _set(ctx, old.id, state=DELIVERED, delivered_at=utcnow() - timedelta(days=400))
    window = build_window(ctx, None)
    qtbot.addWidget(window)
    window.vc.tasks.inline = True
    _schedule_purge(window, ctx)
    assert ctx.dossiers.get(old.id).purged_at is not None
    from PySide6.QtCore import QTimer

    timers = [t for t in window.findChildren(QTimer) if t.interval() == PURGE_EVERY_MS]
    assert len(timers) == 1 and timers[0].isActive()  # and again every day
