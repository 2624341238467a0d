"""`python -m kiosk outbox seed | status | drain` as a clerk or a script runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from kiosk.services.models import DELIVERED
from tests.outbox_helpers import (
    DRAIN_FAST,
    ROOT,
    all_dossiers,
    assert_exactly_once,
    counts,
    drain_env,
    finish_drain,
    new_portal,
    open_kiosk,
    start_drain,
)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "outbox", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_seed_status_and_drain(tmp_path):
    portal = new_portal(tmp_path)
    kiosk = open_kiosk(tmp_path / "data")
    try:
        env = drain_env(kiosk, portal.url)
        seeded = _run(env, "seed", "--count", "4", "--attachments", "1", "--seed", "3")
        assert seeded.returncode == 0, seeded.stderr
        assert json.loads(seeded.stdout)["seeded"] == 4
        rows = all_dossiers(kiosk)
        applicant = kiosk.dossiers.applicant(rows[0])
        assert len(applicant.id_number) == 12 and applicant.id_number.isdigit()
        assert any(
            ch in "ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
            for d in rows
            for ch in kiosk.dossiers.applicant(d).full_name.lower()
        )
        status = _run(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["counts"]["queued"] == 4
        assert json.loads(status.stdout)["payments_waiting"] == 0
        text = _run({**env, "KIOSK_LANG": "vi"}, "status")
        assert "Lệ phí chờ gửi: 0; phản ánh chờ gửi: 0" in text.stdout, text.stderr

        # Credentials refused: the drain gives up when its time is up, nothing is lost.
        refused = finish_drain(
            start_drain({**env, "KIOSK_PORTAL_TOKEN": "wrong"}, *DRAIN_FAST, "--timeout", "2")
        )
        assert refused["returncode"] == 1 and refused["empty"] is False
        assert refused["auth_alert"] == "unauthorized"
        assert refused["counts"]["auth_blocked"] + refused["counts"]["queued"] == 4

        final = finish_drain(start_drain(env, *DRAIN_FAST))
        assert final["returncode"] == 0 and final["empty"] is True
        assert final["counts"][DELIVERED] == 4 and final["delivered_now"] == 4
        assert counts(kiosk) == {DELIVERED: 4}
        assert_exactly_once(portal, kiosk)
    finally:
        kiosk.close()
        portal.stop()
