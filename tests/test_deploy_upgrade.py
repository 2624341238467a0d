"""Installing build N over build N-1: a data folder left by the first released schema
(tests/fixtures/schema/0001: its database, data key and three queued dossiers) is opened by
this build, keeps its data and its queue, and the queue drains to the portal with the
exact bytes frozen at confirmation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.commands.doctor import OK, Doctor
from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.portal import ReferencePortal
from kiosk.services.models import DELIVERED, QUEUED
from kiosk.services.outbox import Outbox, PortalConfig
from kiosk.services.store import head_revision

FIXTURE = Path(__file__).parent / "fixtures" / "schema" / "0001"
FIXTURE_KIOSK = "KIOSK-FIXTURE"
NAMES = ["Nguyễn Thị Hồng Nhung", "Đặng Văn Quỳnh", "Lò Thị Mai"]


@pytest.fixture
def old_data_folder(tmp_path) -> Path:
    """The data folder as build N-1 left it (the key in its usual place)."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy2(FIXTURE / "kiosk.db", data / "kiosk.db")
    shutil.copytree(FIXTURE / "attachments", data / "attachments")
    (data / "keys").mkdir(mode=0o700)
    shutil.copy2(FIXTURE / "data.key", data / "keys" / "data.key")
    return data


def test_new_build_keeps_the_data_and_drains_the_queue(tmp_path, old_data_folder):
    portal = ReferencePortal(
        tmp_path / "portal.sqlite3", kiosks={FIXTURE_KIOSK: "s3cret"}, tokens=["tok"], procedures=[]
    )
    portal.start()
    settings = load_settings(
        env={},
        config_path=tmp_path / "absent.toml",
        data_dir=str(old_data_folder),
        kiosk_id=FIXTURE_KIOSK,
        receipt_prefix="FX01",
        secret="s3cret",
        portal_token="tok",
        portal_url=portal.url,
        printer="pdf",
    )
    ctx = build_context(settings)  # what the new build does at start: migrate to head
    try:
        assert ctx.store.revision() == head_revision()
        doctor = Doctor(settings)
        try:
            assert {
                c.name: c.status for c in doctor.run(["database", "migrations", "data_key"])
            } == {"database": OK, "migrations": OK, "data_key": OK}
        finally:
            doctor.close()
        queued = [ctx.dossiers.by_receipt_code(f"FX01-00000{i}-" + _check(i)) for i in (1, 2, 3)]
        assert [d.state for d in queued] == [QUEUED] * 3
        assert [ctx.dossiers.applicant(d).full_name for d in queued] == NAMES
        frozen = {d.client_ref: ctx.dossiers.body(d) for d in queued}

        outbox = Outbox(
            ctx.store, ctx.dossiers, PortalConfig.from_settings(settings), lease_seconds=120
        )
        try:
            report = outbox.run_once()
        finally:
            outbox.close()
        assert report.delivered == 3, report
        stored = {d.client_ref: d for d in portal.dossiers()}
        assert set(stored) == set(frozen)
        for client_ref, body in frozen.items():
            assert stored[client_ref].body == body  # the bytes of build N-1, unchanged
            assert json.loads(body)["applicant"]["full_name"] in NAMES
        after = [ctx.dossiers.get(d.id) for d in queued]
        assert [d.state for d in after] == [DELIVERED] * 3
        assert all(d.dossier_code for d in after)
        # And the new build goes on numbering where the old one stopped.
        from tests.store_helpers import draft

        assert ctx.dossiers.confirm(draft()).receipt_code.startswith("FX01-000004-")
    finally:
        ctx.close()
        portal.stop()


def _check(seq: int) -> str:
    from kiosk.services.receipt_code import make_code

    return make_code("FX01", seq)[-1]


def test_setup_status_on_an_old_data_folder_only_reads(
    tmp_path, old_data_folder, monkeypatch, capsys
):
    """`setup --status` before the new build first started: it says what is missing and
    leaves the schema as it is (upgrading re-encrypts, which needs the kiosk and its key)."""
    from kiosk.services.store import Store
    from tests.deploy_helpers import kiosk_env, run_cli

    kiosk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(old_data_folder))
    assert run_cli("--lang", "en", "setup", "--status") == 1
    captured = capsys.readouterr()
    assert "not set up yet" in captured.out and "Traceback" not in captured.err
    store = Store(f"sqlite:///{old_data_folder / 'kiosk.db'}", migrate=False)
    try:
        assert store.revision() == "0001"
    finally:
        store.close()
