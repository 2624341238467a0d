"""Issue 14, items 1 and 2: no silent key; ciphertext bound to its row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from kiosk.config import load_settings
from kiosk.services.crypto import DataCipher, DataKeyError, KeyRing, load_or_create_keyring
from kiosk.services.datakey import open_store
from kiosk.services.dossiers import DossierService
from kiosk.services.models import QUEUED, Attachment, Dossier
from kiosk.services.privacy import export_citizen
from tests.deploy_helpers import kiosk_env, run_cli, set_up_kiosk
from tests.store_helpers import CITIZEN_ID, draft


def _cli(*argv: str) -> int:
    try:
        return run_cli(*argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _states(settings) -> list[str]:
    store, cipher = open_store(settings)
    try:
        return store.read(lambda s: list(s.scalars(select(Dossier.state).order_by(Dossier.id))))
    finally:
        store.close()


def _seeded(tmp_path, monkeypatch) -> object:
    kiosk_env(monkeypatch, tmp_path, KIOSK_PORTAL_URL="http://127.0.0.1:9/api/v1")
    assert _cli("outbox", "seed", "--count", "3", "--seed", "1") == 0  # a new folder: key made
    settings = load_settings()
    assert settings.data_key_path.exists()
    return settings


@pytest.mark.parametrize("damage", ["missing", "wrong", "binary", "damaged"])
def test_item1_missing_or_wrong_key_stops_every_outbox_command(
    tmp_path, monkeypatch, capsys, damage
):
    settings = _seeded(tmp_path, monkeypatch)
    key = settings.data_key_path
    good = key.read_bytes()
    if damage == "missing":
        key.unlink()
    elif damage == "wrong":
        key.write_text(KeyRing.generate().to_json(), encoding="ascii")
    elif damage == "binary":
        key.write_bytes(b"\xff\xfe\x00binary\x9c" * 10)
    else:
        key.write_text('{"format": 1}', encoding="ascii")
    before = key.read_bytes() if key.exists() else None
    capsys.readouterr()
    for command in (["status", "--json"], ["drain", "--timeout", "1"]):
        assert _cli("outbox", *command) == 2
        err = capsys.readouterr().err
        assert "UnicodeDecodeError" not in err and "Traceback" not in err
        assert "khoá dữ liệu" in err and "--import-key" in err  # Vietnamese first, what to do
    # No key was made or replaced, and no dossier moved.
    assert (key.read_bytes() if key.exists() else None) == before
    key.write_bytes(good)
    assert _states(settings) == [QUEUED] * 3


def test_item1_seed_into_an_existing_folder_never_makes_a_key(tmp_path, monkeypatch):
    settings = _seeded(tmp_path, monkeypatch)
    settings.data_key_path.unlink()
    assert _cli("outbox", "seed", "--count", "1") == 2
    assert not settings.data_key_path.exists()


def test_item1_privacy_command_with_a_wrong_key_exits_with_a_message(tmp_path, monkeypatch, capsys):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    settings.data_key_path.write_text(KeyRing.generate().to_json(), encoding="ascii")
    assert (
        _cli(
            "privacy",
            "export",
            "--id",
            CITIZEN_ID,
            "--admin",
            "admin",
            "--out",
            str(tmp_path / "x.json"),
        )
        == 2
    )
    assert "khoá dữ liệu" in capsys.readouterr().err


def test_item1_kiosk_without_its_key_is_out_of_service(tmp_path, monkeypatch):
    from kiosk.commands.run import open_kiosk

    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    key = settings.data_key_path
    good = key.read_bytes()
    for damage in ("missing", "wrong"):
        if damage == "missing":
            key.unlink()
        else:
            key.write_text(KeyRing.generate().to_json(), encoding="ascii")
        ctx, reason, cleanup = open_kiosk(settings)
        try:
            assert reason == "key"
            assert ctx.tr("oos.reason.key") != "oos.reason.key"
        finally:
            ctx.close()
            cleanup()
        assert (key.read_bytes() if key.exists() else None) != good  # nothing replaced it
        if damage == "missing":
            assert not key.exists()
    key.write_bytes(good)
    ctx, reason, cleanup = open_kiosk(settings)
    try:
        assert reason is None
    finally:
        ctx.close()
        cleanup()


def test_item1_demo_without_its_key_does_not_make_a_new_one(tmp_path, monkeypatch):
    from kiosk.commands.run import open_kiosk

    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    settings = load_settings()
    ctx, reason, cleanup = open_kiosk(settings)
    ctx.dossiers.confirm(draft())
    ctx.close()
    cleanup()
    settings.data_key_path.unlink()
    ctx, reason, cleanup = open_kiosk(settings)
    try:
        assert reason == "key" and not settings.data_key_path.exists()
    finally:
        ctx.close()
        cleanup()


# --- item 2 -----------------------------------------------------------------------------------


def _two_dossiers(tmp_path):
    from kiosk.services.store import Store

    folder = tmp_path / "data"
    folder.mkdir()
    cipher = DataCipher(load_or_create_keyring(folder / "keys" / "data.key", create=True))
    store = Store(f"sqlite:///{folder / 'kiosk.db'}", cipher=cipher)
    service = DossierService(store, cipher, "KIOSK-T1", "QN01", folder / "attachments")
    a = service.confirm(draft(name="Nguyễn Thị Hồng Nhung", id_number=CITIZEN_ID))
    b = service.confirm(draft(name="Đặng Văn Quỳnh", id_number="002095001234"))
    return store, service, a, b


def test_item2_swapped_ciphertext_fails_and_export_reports_it(tmp_path):
    store, service, a, b = _two_dossiers(tmp_path)
    try:

        def swap(s) -> None:
            ra, rb = s.get(Dossier, a.id), s.get(Dossier, b.id)
            ra.applicant_enc, rb.applicant_enc = rb.applicant_enc, ra.applicant_enc
            ra.answers_enc, rb.answers_enc = rb.answers_enc, ra.answers_enc

        store.write_sync(swap)
        with pytest.raises(DataKeyError):
            service.applicant(service.get(a.id))
        out = export_citizen(service, CITIZEN_ID)
        text = json.dumps(out, ensure_ascii=False)
        assert "Quỳnh" not in text and "002095001234" not in text  # not shown
        assert out["dossiers"][0]["error"].startswith("unreadable")  # reported
    finally:
        store.close()


def test_item2_swapped_attachment_file_fails(tmp_path):
    store, service, a, b = _two_dossiers(tmp_path)
    try:
        rows = store.read(lambda s: list(s.scalars(select(Attachment).order_by(Attachment.id))))
        folder = service.attachments_dir
        fa, fb = folder / rows[0].file_name, folder / rows[1].file_name
        blob_a, blob_b = fa.read_bytes(), fb.read_bytes()
        fa.write_bytes(blob_b)
        fb.write_bytes(blob_a)
        out = export_citizen(service, CITIZEN_ID)
        assert "error" in out["dossiers"][0] and "Quỳnh" not in json.dumps(out)
        # Pointing a row at the other dossier's file is caught as well.
        fa.write_bytes(blob_a)
        fb.write_bytes(blob_b)
        store.write_sync(
            lambda s: s.execute(
                update(Attachment)
                .where(Attachment.id == rows[0].id)
                .values(file_name=rows[1].file_name)
            )
        )
        assert "error" in export_citizen(service, CITIZEN_ID)["dossiers"][0]
    finally:
        store.close()


def test_item2_migration_rebinds_the_0001_store_and_a_crash_leaves_it_readable(
    tmp_path, monkeypatch
):
    """The 0001 fixture: re-encrypted in one transaction; a failure half-way through (a
    file that does not open) rolls everything back and the old store still reads."""
    from kiosk.services.store import Store

    fixture = Path(__file__).parent / "fixtures" / "schema" / "0001"
    work = tmp_path / "old"
    shutil.copytree(fixture, work)
    cipher = DataCipher(load_or_create_keyring(work / "data.key"))
    files = sorted((work / "attachments").iterdir())
    good = files[-1].read_bytes()
    files[-1].write_bytes(b"K1" + b"\x00\x01" + b"\x00" * 40)  # the last file fails
    url = f"sqlite:///{work / 'kiosk.db'}"
    with pytest.raises(DataKeyError):
        Store(url, cipher=cipher, attachments_dir=work / "attachments")
    assert sorted((work / "attachments").iterdir()) == files  # no new file left behind
    files[-1].write_bytes(good)
    store = Store(url, cipher=cipher, attachments_dir=work / "attachments")
    try:
        service = DossierService(store, cipher, "KIOSK-FIXTURE", "FX01", work / "attachments")
        for d in store.read(lambda s: list(s.scalars(select(Dossier)))):
            d = service.get(d.id)
            assert service.applicant(d).full_name
            assert service.body(d)
            from kiosk.services.dossiers import read_attachment_file

            for att in d.attachments:
                assert read_attachment_file(service.attachments_dir, cipher, att.file_name)
    finally:
        store.close()
