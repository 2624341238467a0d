"""`python -m kiosk portal` as a separate process: CLI options, the admin API over HTTP, and
a kill -9 between storing a dossier and answering."""

from __future__ import annotations

import signal

import pytest
from portal_helpers import (
    KIOSK_ID,
    OTHER_KIOSK_ID,
    OTHER_SECRET,
    make_dossier,
    new_client,
    portal_process,
    to_bytes,
)

from kiosk.portal.admin import PortalAdmin
from kiosk.services.portal_client import AuthBlocked, NotFound, Transient

ADMIN_TOKEN = "admin-token-for-tests"


def test_kill_after_store_then_replay_after_restart(tmp_path):
    db = tmp_path / "portal.sqlite3"
    doc = make_dossier()
    body = to_bytes(doc)
    with portal_process(db, "--fault-script", "drop_after_store") as (proc, url):
        client = new_client(url)
        with pytest.raises(Transient) as caught:
            client.submit_dossier(body, doc["client_ref"])
        assert caught.value.ambiguous is True
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        with pytest.raises(Transient) as caught:
            client.submit_dossier(body, doc["client_ref"])
        assert caught.value.ambiguous is False  # nobody listening: surely not sent
    with portal_process(db, "--admin-token", ADMIN_TOKEN) as (_proc, url):
        admin = PortalAdmin(url, ADMIN_TOKEN)
        [stored] = admin.dossiers()
        delivered = new_client(url).submit_dossier(body, doc["client_ref"])
        assert (delivered.replay, delivered.dossier_code) == (True, stored.code)
        recorded = admin.requests(doc["client_ref"])
        assert [(r.status, r.outcome) for r in recorded] == [
            (201, "dropped_after_store"),
            (200, "answered"),
        ]
        assert all(r.body == body for r in recorded)
        assert stored.body == body


def test_admin_api_over_http(tmp_path):
    with portal_process(
        tmp_path / "p.sqlite3", "--retry-after", "9", "--admin-token", ADMIN_TOKEN
    ) as (_proc, url):
        admin = PortalAdmin(url, ADMIN_TOKEN)
        client = new_client(url)
        assert admin.get_faults().retry_after == 9

        faults = admin.set_faults(script=["error503"])
        assert faults.script == ["error503"] and faults.retry_after == 9
        with pytest.raises(Transient) as caught:
            client.procedures()
        assert (caught.value.status, caught.value.retry_after) == (503, 9.0)
        assert admin.get_faults().script == []

        doc = make_dossier()
        code = client.submit_dossier(to_bytes(doc), doc["client_ref"]).dossier_code
        admin.set_status(code, "completed", {"vi": "Đã có kết quả.", "en": "Ready."})
        status = client.dossier_status(code)
        assert (status.status, status.message["vi"]) == ("completed", "Đã có kết quả.")
        with pytest.raises(KeyError):
            admin.set_status("QN-2026-999999", "completed")
        with pytest.raises(ValueError):
            admin.set_status(code, "lost")

        admin.upsert_procedure(
            {"code": "2.000001", "version": 1, "title": {"vi": "Thử"}, "fields": []}
        )
        assert "2.000001" in [p["code"] for p in client.procedures().procedures]

        admin.revoke_kiosk(KIOSK_ID)
        with pytest.raises(AuthBlocked) as caught:
            client.procedures()
        assert caught.value.error == "revoked"
        admin.revoke_kiosk(KIOSK_ID, revoked=False)
        admin.disable_kiosk(KIOSK_ID)
        with pytest.raises(AuthBlocked) as caught:
            client.procedures()
        assert caught.value.error == "kiosk_disabled"
        admin.disable_kiosk(KIOSK_ID, disabled=False)

        admin.add_kiosk("QN03-K01", "third")
        admin.add_token("second-token")
        third = new_client(url, kiosk_id="QN03-K01", secret="third", token="second-token")
        third.procedures()
        admin.remove_token("second-token")
        with pytest.raises(AuthBlocked) as caught:
            third.procedures()
        assert caught.value.error == "unauthorized"

        admin.set_clock_offset(3600)
        with pytest.raises(AuthBlocked):
            client.procedures()
        admin.set_clock_offset(0)
        other = new_client(url, kiosk_id=OTHER_KIOSK_ID, secret=OTHER_SECRET)
        with pytest.raises(NotFound):
            other.dossier_status(code)

        assert len(admin.requests()) > 5
        admin.clear_requests()
        assert admin.requests() == []
        admin.close()


def test_revocation_persists_across_restarts(tmp_path):
    db = tmp_path / "p.sqlite3"
    with portal_process(db, "--admin-token", ADMIN_TOKEN) as (_proc, url):
        PortalAdmin(url, ADMIN_TOKEN).revoke_kiosk(KIOSK_ID)
    with portal_process(db, "--admin-token", ADMIN_TOKEN) as (_proc, url):
        with pytest.raises(AuthBlocked) as caught:
            new_client(url).procedures()
        assert caught.value.error == "revoked"


def test_bad_options_exit_2(tmp_path):
    import subprocess
    import sys

    from portal_helpers import ROOT

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk",
            "portal",
            "--port",
            "0",
            "--db",
            str(tmp_path / "p.sqlite3"),
            "--error-rate",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2
    assert "error_rate" in result.stdout
