"""`python -m kiosk sync --once`: one whole round against the reference portal on 127.0.0.1,
its one-line summary and its exit codes (done, unfinished, settings, refused)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from kiosk.services.i18n import Translator
from kiosk.services.models import DELIVERED, NEEDS_CLERK, QUEUED
from tests.outbox_helpers import ROOT, counts, drain_env, new_portal, open_kiosk, seed


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


@pytest.fixture
def portal(tmp_path):
    p = new_portal(tmp_path)
    yield p
    p.stop()


def sync_once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "sync", "--once", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_round_delivers_refreshes_and_says_so_in_one_line(kiosk, portal):
    seed(kiosk, 3, attachment_every=2)
    seed(
        kiosk,
        1,
        seed_value=3,
        fields={"purpose": "holiday", "current_status": "never_married", "phone": "0912345678"},
    )
    env = drain_env(kiosk, portal.url, KIOSK_LANG="en")
    done = sync_once(env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == Translator.from_resources().tr(
        "delivery.sync.summary",
        "en",
        delivered=3,
        needs_clerk=1,
        waiting=0,
        statuses=3,
        catalogue="updated",  # the portal's catalogue merged for the first time
    )
    assert counts(kiosk) == {DELIVERED: 3, NEEDS_CLERK: 1}
    assert (kiosk.data_dir / "catalogue-overlay.json").exists()
    assert portal.requests(path="/api/v1/health")  # the clock was checked first
    again = sync_once(env, "--json")
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["delivered"] == 0 and summary["waiting"] == 0
    assert summary["catalogue"] == "unchanged"  # asked only for changes since


def test_offline_is_unfinished_and_keeps_everything(kiosk):
    seed(kiosk, 2)
    env = drain_env(kiosk, f"http://127.0.0.1:{closed_port()}/api/v1", KIOSK_LANG="vi")
    done = sync_once(env)
    assert done.returncode == 1
    assert len(done.stdout.strip().splitlines()) == 1
    assert "2 hồ sơ vẫn được giữ" in done.stdout
    assert counts(kiosk) == {QUEUED: 2}


def test_refused_credentials_exit_3(kiosk, portal):
    seed(kiosk, 1)
    env = drain_env(kiosk, portal.url, KIOSK_PORTAL_TOKEN="wrong", KIOSK_LANG="en")
    done = sync_once(env, "--json")
    summary = json.loads(done.stdout)
    assert done.returncode == 3 and summary["problem"] == "refused"
    assert counts(kiosk) == {"auth_blocked": 1}


def test_http_portal_exits_2_with_what_to_do(kiosk):
    env = drain_env(kiosk, "http://portal.example.gov.vn/api/v1", KIOSK_LANG="en")
    done = sync_once(env)
    assert done.returncode == 2
    assert Translator.from_resources().tr("delivery.url.https_required", "en") in done.stderr
