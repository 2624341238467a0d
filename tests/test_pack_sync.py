"""Language packs shared through the portal: the province publishes, kiosks install the
newer ones (checked whole, by hash), withdrawn packs are removed, and a reviewer offers the
commune's work. A real reference portal on 127.0.0.1, real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile

import pytest

from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.i18n import Translator
from kiosk.services.langpacks import PackStore, known_items
from kiosk.services.pack_sync import (
    language_pack_task,
    offer_contribution,
    refresh_language_packs,
)
from kiosk.services.sync import SyncWorker
from tests.outbox_helpers import ROOT, drain_env, fast_outbox, new_portal, open_kiosk
from tests.test_langpacks import make_pack, rewrite


def known():
    return known_items(Translator.from_resources(), load_default_catalogue())


@pytest.fixture
def world(tmp_path):
    portal = new_portal(tmp_path)
    kiosk = open_kiosk(tmp_path / "data")
    outbox = fast_outbox(kiosk, portal.url)
    store = PackStore(kiosk.data_dir / "language-packs")
    yield portal, kiosk, outbox, store
    outbox.close()
    kiosk.close()
    portal.stop()


def test_published_packs_are_installed_newer_only_and_withdrawn_ones_removed(world, tmp_path):
    portal, _kiosk, outbox, store = world
    assert refresh_language_packs(outbox.link.call, store, known).summary() == "unchanged"
    portal.publish_language_pack(make_pack(tmp_path, version=1).read_bytes(), publisher="Sở")
    first = refresh_language_packs(outbox.link.call, store, known)
    assert first.installed == ["tyz 1"] and store.installed("tyz").version == 1
    again = refresh_language_packs(outbox.link.call, store, known)
    assert again.installed == [] and again.unchanged == 1
    portal.publish_language_pack(make_pack(tmp_path, version=2, title="Hai").read_bytes())
    assert refresh_language_packs(outbox.link.call, store, known).installed == ["tyz 2"]
    assert store.installed("tyz").previous == 1
    assert portal.withdraw_language_pack("tyz", 2)
    gone = refresh_language_packs(outbox.link.call, store, known)
    assert gone.removed == ["tyz 2"] and store.installed("tyz") is None


def test_a_pack_whose_bytes_do_not_match_or_fail_the_checks_is_refused(world, tmp_path):
    portal, _kiosk, outbox, store = world
    portal.publish_language_pack(make_pack(tmp_path, version=1).read_bytes())
    refresh_language_packs(outbox.link.call, store, known)
    # The listing names bytes that hash to something else: refused, nothing installed.
    other = make_pack(tmp_path / "o", version=2).read_bytes()
    portal.publish_language_pack(other, sha256="0" * 64)
    result = refresh_language_packs(outbox.link.call, store, known)
    assert result.installed == [] and len(result.refused) == 1
    assert store.installed("tyz").version == 1
    # A pack with a file changed after its manifest was made: refused by the checks.
    bad = tmp_path / "bad.zip"

    def change(name, data):
        return name, data.replace(b"Tay", b"Tai") if name.endswith(".json") else data

    rewrite(make_pack(tmp_path / "c", version=3, title="Tay"), bad, change)
    portal.publish_language_pack(bad.read_bytes())
    result = refresh_language_packs(outbox.link.call, store, known)
    assert result.installed == [] and "tyz 3" in result.refused[0]
    assert store.installed("tyz").version == 1


def test_a_reviewer_offers_the_communes_work_to_the_province(world, tmp_path):
    portal, _kiosk, outbox, _store = world
    pack = make_pack(tmp_path, version=1)
    assert offer_contribution(outbox.link.call, pack) is True
    assert offer_contribution(outbox.link.call, pack) is False  # already there
    [(_sha, kiosk_id, data)] = portal.contributions()
    assert data == pack.read_bytes() and kiosk_id
    with zipfile.ZipFile(pack) as zf:
        assert json.loads(zf.read("manifest.json"))["language"] == "tyz"


def test_the_sync_worker_installs_packs_in_the_background(world, tmp_path):
    portal, kiosk, outbox, store = world
    portal.publish_language_pack(make_pack(tmp_path, version=1).read_bytes())
    seen = []
    task = language_pack_task(outbox.link.call, store, known, done=seen.append)
    worker = SyncWorker(outbox, periodic=[task], idle_interval=0.2)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(5)
    assert seen and seen[0].installed == ["tyz 1"]
    assert store.installed("tyz").version == 1


def test_sync_once_reports_the_language_packs(world, tmp_path):
    portal, kiosk, outbox, store = world
    portal.publish_language_pack(make_pack(tmp_path, version=1).read_bytes())
    env = drain_env(kiosk, portal.url)
    done = subprocess.run(
        [sys.executable, "-m", "kiosk", "sync", "--once", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["language_packs"] == "installed tyz 1"
    assert store.installed("tyz").version == 1


def test_a_download_cut_midway_installs_nothing_and_the_next_round_does(world, tmp_path):
    """The network drops in the middle of a pack's download: nothing is installed, the
    pack in use stays, no file is left behind; the next round installs it whole."""
    from kiosk.portal import Faults

    portal, _kiosk, outbox, store = world
    portal.publish_language_pack(make_pack(tmp_path, version=1).read_bytes())
    assert refresh_language_packs(outbox.link.call, store, known).installed == ["tyz 1"]
    portal.publish_language_pack(make_pack(tmp_path / "n", version=2, title="Hai").read_bytes())
    portal.set_faults(Faults(endpoints=["media"], script=["cut_after_store"]))
    cut = refresh_language_packs(outbox.link.call, store, known)
    assert cut.installed == [] and len(cut.refused) == 1 and "tyz 2" in cut.refused[0]
    assert [r.outcome for r in portal.requests() if "/media/" in r.path][-1] == "cut"
    assert store.installed("tyz").version == 1
    assert not (store.root / "tyz" / "2").exists()
    assert not list((store.root / "tyz").glob(".*partial*"))
    again = refresh_language_packs(outbox.link.call, store, known)
    assert again.installed == ["tyz 2"] and store.installed("tyz").version == 2
