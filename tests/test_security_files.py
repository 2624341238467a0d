"""Issue 14, item 8 (owner-only files, set at start, reported by doctor) and doctor's
security report: file modes, the key state and the https rule."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace

from kiosk.clitext import Cli
from kiosk.commands.doctor import FAIL, OK, WARN, Doctor
from kiosk.config import load_settings
from kiosk.context import build_context
from tests.deploy_helpers import ROOT, set_up_kiosk
from tests.store_helpers import draft


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _check(settings, name):
    doctor = Doctor(settings, timeout=2.0, cli=Cli.for_language("en"))
    try:
        [result] = doctor.run([name])
    finally:
        doctor.close()
    return result


def test_item8_data_folder_database_wal_and_attachments_are_owner_only(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    old = os.umask(0o022)  # a careless environment
    try:
        ctx = build_context(settings)
        try:
            ctx.dossiers.confirm(draft())
            db = settings.data_dir / "kiosk.db"
            for path in (db, db.with_name("kiosk.db-wal"), db.with_name("kiosk.db-shm")):
                assert path.exists() and _mode(path) == 0o600, path.name
            assert _mode(settings.data_dir) == 0o700
            assert _mode(settings.attachments_dir) == 0o700
            for f in settings.attachments_dir.iterdir():
                assert _mode(f) == 0o600
            assert _mode(settings.data_key_path) == 0o600
            assert _check(settings, "file_modes").status == OK
            # Loosened by hand: doctor fails and names it; the next start tightens it again.
            os.chmod(db, 0o644)
            os.chmod(settings.data_dir, 0o755)
            bad = _check(settings, "file_modes")
            assert bad.status == FAIL and "kiosk.db 644" in bad.detail and "chmod" in bad.fix
        finally:
            ctx.close()
        ctx = build_context(settings)
        ctx.close()
        assert _mode(db) == 0o600 and _mode(settings.data_dir) == 0o700
    finally:
        os.umask(old)


def test_item8_the_kiosk_process_starts_with_an_owner_only_umask(tmp_path):
    code = "import os, kiosk.cli as c; c.main(['translations']) ; print(oct(os.umask(0)))"
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "d")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "0o77", out.stderr


def test_doctor_reports_the_key_state(tmp_path, monkeypatch):
    from kiosk.services.crypto import KeyRing

    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    ok = _check(settings, "key_state")
    assert ok.status == OK and "matches" in ok.detail
    good = settings.data_key_path.read_bytes()
    settings.data_key_path.write_text(KeyRing.generate().to_json(), encoding="ascii")
    wrong = _check(settings, "key_state")
    assert wrong.status == FAIL and "not the key" in wrong.detail
    settings.data_key_path.write_bytes(b"\xff\x00\xfe")
    assert _check(settings, "key_state").status == FAIL
    settings.data_key_path.write_bytes(good)


def test_doctor_reports_the_https_rule(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    remote = replace(settings, portal_url="http://portal.example.gov.vn/api/v1")
    assert _check(remote, "https").status == FAIL
    assert (
        _check(replace(settings, portal_url="https://portal.example.gov.vn/api/v1"), "https").status
        == OK
    )
    assert (
        _check(replace(settings, portal_url="http://127.0.0.1:8400/api/v1"), "https").status == WARN
    )


def test_item11_doctor_fails_on_a_pdf_printer_in_production(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = replace(load_settings(), printer="pdf")
    result = _check(settings, "printer")
    assert result.status == FAIL and "keeps every receipt" in result.detail
    assert _check(replace(settings, demo=True), "printer").status == OK


def test_doctor_knows_the_right_key_of_a_store_not_yet_upgraded(tmp_path):
    """A store at schema 0001 (values bound to their column only) opened by doctor before
    the kiosk upgrades it: its own key is the right key, another key is not."""
    import shutil
    from pathlib import Path

    from kiosk.services.crypto import KeyRing

    fixture = Path(__file__).parent / "fixtures" / "schema" / "0001"
    data = tmp_path / "data"
    shutil.copytree(fixture, data)
    (data / "keys").mkdir()
    key = data / "keys" / "data.key"
    shutil.move(data / "data.key", key)
    os.chmod(key, 0o600)
    settings = load_settings(env={}, config_path=tmp_path / "absent.toml", data_dir=str(data))
    right = _check(settings, "data_key")
    assert right.status == OK, right.detail
    assert (data / "kiosk.db").exists()
    key.write_text(KeyRing.generate().to_json(), encoding="ascii")
    os.chmod(key, 0o600)
    wrong = _check(settings, "data_key")
    assert wrong.status == FAIL and "does not open" in wrong.detail


def test_doctor_checks_the_setup_of_a_store_not_yet_upgraded(tmp_path):
    """A data folder set up by an older version, opened by doctor before the kiosk has
    upgraded it: the setup check reads its clerks (the newer clerk columns are absent)."""
    import shutil
    import sqlite3
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "schema" / "0001"
    data = tmp_path / "data"
    shutil.copytree(fixture, data)
    db = sqlite3.connect(data / "kiosk.db")
    db.execute("INSERT INTO meta (key, value) VALUES ('setup_done', '2026-11-01T00:00:00Z')")
    db.commit()
    db.close()
    (data / "keys").mkdir()
    shutil.move(data / "data.key", data / "keys" / "data.key")
    settings = load_settings(
        env={"KIOSK_SECRET": "s" * 32, "KIOSK_PORTAL_TOKEN": "t" * 24},
        config_path=tmp_path / "absent.toml",
        data_dir=str(data),
    )
    result = _check(settings, "setup")
    assert result.status in (OK, WARN), result.detail
    assert "set up" in result.detail.lower() or "demo" in result.detail.lower(), result.detail
