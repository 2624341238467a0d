"""`kiosk doctor`: every failure it reports, against real devices it can reach here (a
simulated camera, an ESC/POS printer and the reference portal on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.clitext import Cli
from kiosk.commands.doctor import FAIL, OK, WARN, Doctor
from kiosk.config import load_settings
from kiosk.portal import ReferencePortal
from kiosk.services.crypto import KeyRing
from tests.deploy_helpers import KIOSK_ID, SECRET, TOKEN, fake_players, run_cli, set_up_kiosk
from tests.receipt_helpers import FakeEscPos, refused_port

EN = Cli.for_language("en")  # the English catalogue, which these assertions read


@pytest.fixture
def portal(tmp_path):
    p = ReferencePortal(
        tmp_path / "portal.sqlite3", kiosks={KIOSK_ID: SECRET}, tokens=[TOKEN], procedures=[]
    )
    p.start()
    yield p
    p.stop()


@pytest.fixture
def printer():
    with FakeEscPos() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, monkeypatch, portal, printer):
    """A set-up kiosk with a simulated camera, an ESC/POS printer and a live portal."""
    set_up_kiosk(
        monkeypatch,
        tmp_path,
        portal_url=portal.url,
        camera="sim",
        printer="escpos",
        printer_target=printer.target,
    )
    return load_settings()


def check(settings, name: str, **options):
    doctor = Doctor(settings, timeout=3.0, cli=EN, **options)
    try:
        [result] = doctor.run([name])
    finally:
        doctor.close()
    return result


def test_a_healthy_kiosk(settings, tmp_path, monkeypatch, capsys):
    fake_players(monkeypatch, tmp_path / "speakers")  # this machine has no sound device
    doctor = Doctor(settings, timeout=3.0, cli=EN)
    try:
        results = {c.name: c for c in doctor.run()}
    finally:
        doctor.close()
    for name in (
        "setup",
        "data_key",
        "database",
        "migrations",
        "crashes",
        "printer",
        "portal",
        "clock",
        "token",
        "fonts",
        "logs",
    ):
        assert results[name].status == OK, (name, results[name].detail)
    assert results["camera"].status == WARN  # simulated: fine for tests, not for citizens
    assert results["audio"].status in (OK, WARN), results["audio"].detail
    assert "every Vietnamese letter" in results["fonts"].detail


def test_cli_prints_a_table_and_fails_when_something_is_broken(settings, monkeypatch, capsys):
    assert run_cli("--lang", "en", "doctor", "--only", "portal", "token", "clock") == 0
    monkeypatch.setenv("KIOSK_PORTAL_URL", f"http://127.0.0.1:{refused_port()}/api/v1")
    assert run_cli("--lang", "en", "doctor", "--only", "portal", "token", "clock") == 1
    out = capsys.readouterr().out
    assert "CHECK" in out and "STATUS" in out
    assert re.search(r"^portal +FAIL +http://127.0.0.1", out, re.M)
    assert "-> what to do: Check the network cable" in out


def test_no_camera(settings):
    result = check(replace(settings, camera="device", camera_index=97), "camera")
    assert result.status == FAIL and "could not be opened" in result.detail
    assert "Plug the camera in" in result.fix
    auto = check(replace(settings, camera="auto", camera_index=97), "camera")
    assert auto.status == FAIL and "simulated camera" in auto.detail
    missing = check(replace(settings, camera="sim", camera_sim_source="/nonexistent.png"), "camera")
    assert missing.status == FAIL and "camera_sim_source" in missing.fix
    assert check(replace(settings, camera="none"), "camera").status == WARN


def test_printer_refused_port_and_paper(settings, printer):
    down = check(replace(settings, printer_target=f"tcp://127.0.0.1:{refused_port()}"), "printer")
    assert down.status == FAIL and "printer_target" in down.fix
    printer.paper = 0x72  # empty roll
    empty = check(settings, "printer")
    assert empty.status == FAIL and "paper roll" in empty.fix
    printer.paper = 0x1E  # near its end
    assert check(settings, "printer").status == WARN
    printer.paper = 0x12
    assert check(settings, "printer").status == OK


def test_pdf_printer_in_a_missing_read_only_place(settings):
    bad = check(replace(settings, printer="pdf", printer_pdf_dir="/proc/kiosk-receipts"), "printer")
    assert bad.status == FAIL and "cannot write" in bad.detail
    kept = check(replace(settings, printer="pdf", printer_pdf_dir=""), "printer")
    assert kept.status == FAIL and "keeps every receipt" in kept.detail


def test_portal_down(settings):
    down = replace(settings, portal_url=f"http://127.0.0.1:{refused_port()}/api/v1")
    doctor = Doctor(down, timeout=2.0, cli=EN)
    try:
        results = {c.name: c for c in doctor.run(["portal", "clock", "token"])}
    finally:
        doctor.close()
    assert results["portal"].status == FAIL and "queue" in results["portal"].fix
    assert results["clock"].status == WARN and results["token"].status == WARN


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"portal_token": "wrong-token"}, "unauthorized"),
        ({"secret": "wrong-secret"}, "bad_signature"),
    ],
)
def test_bad_credentials(settings, change, error):
    result = check(replace(settings, **change), "token")
    assert result.status == FAIL and error in result.detail
    assert "settings file" in result.fix


def test_revoked_and_disabled(settings, portal):
    portal.revoke_kiosk(KIOSK_ID)
    result = check(settings, "token")
    assert result.status == FAIL and "revoked" in result.detail and "new ones" in result.fix
    portal.revoke_kiosk(KIOSK_ID, False)
    portal.disable_kiosk(KIOSK_ID)
    assert "kiosk_disabled" in check(settings, "token").detail


@pytest.mark.parametrize(("offset", "status"), [(20, OK), (120, WARN), (-120, WARN), (400, FAIL)])
def test_clock_skew(settings, portal, offset, status):
    portal.set_clock_offset(offset)
    result = check(settings, "clock")
    assert result.status == status, result.detail
    if status != OK:
        assert "NTP" in result.fix or "automatically" in result.fix
    # The kiosk corrects its own stamps by the measured skew, so the token still works.
    assert check(settings, "token").status == OK


def test_disk_space(settings):
    assert check(settings, "disk").status == OK
    result = check(settings, "disk", min_free_mb=10**9)
    assert result.status == FAIL and "Do not delete anything in the data folder" in result.fix


def test_damaged_sqlite_database(settings):
    path = settings.data_dir / "kiosk.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='dossiers'").fetchone()[
            0
        ]
    with open(path, "r+b") as fh:  # scribble over the dossiers table's root page
        fh.seek((root - 1) * page)
        fh.write(b"\x0d" + b"\xff" * 64)
    result = check(settings, "database")
    assert result.status == FAIL


def test_migration_level(settings):
    assert check(settings, "migrations").status == OK
    with sqlite3.connect(settings.data_dir / "kiosk.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    result = check(settings, "migrations")
    assert result.status == FAIL and "newer build" in result.fix


def test_missing_database_and_setup(tmp_path, monkeypatch):
    from tests.deploy_helpers import kiosk_env

    kiosk_env(monkeypatch, tmp_path)
    settings = load_settings()
    results = {
        c.name: c
        for c in Doctor(settings, cli=EN).run(["setup", "database", "migrations", "data_key"])
    }
    assert all(c.status == FAIL for c in results.values()), results
    assert "kiosk setup" in results["setup"].fix


def test_data_key_checks(settings, tmp_path):
    assert check(settings, "data_key").status == OK
    key = settings.data_key_path
    os.chmod(key, 0o644)
    loose = check(settings, "data_key")
    assert loose.status == FAIL and "chmod 600" in loose.fix
    os.chmod(key, 0o600)
    # A key that does not open the data already there.
    from tests.test_deploy_setup import _confirm_one

    _confirm_one(settings)
    other = tmp_path / "other.key"
    other.write_text(KeyRing.generate().to_json(), encoding="ascii")
    os.chmod(other, 0o600)
    wrong = check(replace(settings, key_file=str(other)), "data_key")
    assert wrong.status == FAIL and "does not open" in wrong.detail


def test_audio_switched_off(settings):
    assert check(replace(settings, speech="off"), "audio").status == WARN


@pytest.mark.postgres
def test_postgres_database(settings, pg_url):
    from kiosk.services.store import Store

    Store(pg_url).close()  # migrated, as a kiosk would have left it
    shared = replace(settings, db_url=pg_url)
    assert check(shared, "database").status == OK
    assert check(shared, "migrations").status == OK
    down = replace(settings, db_url=f"postgresql+psycopg://kiosk@127.0.0.1:{refused_port()}/x")
    result = check(down, "database")
    assert result.status == FAIL


def test_doctor_changes_nothing(tmp_path, monkeypatch):
    from tests.deploy_helpers import kiosk_env

    kiosk_env(monkeypatch, tmp_path)
    assert run_cli("doctor", "--only", "setup", "database", "migrations", "data_key") == 1
    data = Path(load_settings().data_dir)
    assert not (data / "kiosk.db").exists() and not (data / "keys").exists()
