"""Several workers on one PostgreSQL database (the kiosks and the counter PC of a centre):
no dossier is sent by two of them at once, and one killed mid-send leaves nothing stuck."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC

import pytest

from kiosk.portal import Faults
from kiosk.services.models import DELIVERED, SENDING
from tests.outbox_helpers import (
    DRAIN_FAST,
    all_dossiers,
    assert_exactly_once,
    counts,
    drain_env,
    fast_outbox,
    finish_drain,
    new_portal,
    open_kiosk,
    seed,
    start_drain,
    wait_for,
)

pytestmark = pytest.mark.postgres


def _worker_of(request) -> str:
    return request.headers.get("user-agent", "").removeprefix("commune-kiosk/")


def test_skip_locked_claims_are_disjoint(tmp_path, pg_url):
    kiosk = open_kiosk(tmp_path / "data", pg_url)
    seed(kiosk, 60)
    others = [open_kiosk(tmp_path / "data", pg_url) for _ in range(3)]
    outboxes = [
        fast_outbox(k, "http://127.0.0.1:9/api/v1", worker_id=f"pc-{i}", batch_size=3)
        for i, k in enumerate(others)
    ]
    claimed: dict[str, list[int]] = defaultdict(list)
    barrier = threading.Barrier(len(outboxes))

    def claim_all(outbox) -> None:
        barrier.wait()
        while batch := outbox.claim():
            claimed[outbox.worker_id].extend(d.id for d in batch)

    threads = [threading.Thread(target=claim_all, args=(o,)) for o in outboxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 60
    assert len([w for w, ids in claimed.items() if ids]) >= 2  # they really ran together
    owners = {d.id: d.lease_owner for d in all_dossiers(kiosk)}
    for worker, ids in claimed.items():
        assert all(owners[i] == worker for i in ids)
    for k in [kiosk, *others]:
        k.close()


def test_two_drain_processes_share_one_outbox_without_sending_twice(tmp_path, pg_url):
    portal = new_portal(
        tmp_path, faults=Faults(latency=0.01, endpoints=["attachments", "dossiers"])
    )
    kiosk = open_kiosk(tmp_path / "data", pg_url)
    try:
        seed(kiosk, 80, attachment_every=4)
        env = drain_env(kiosk, portal.url)
        a = start_drain(env, *DRAIN_FAST, "--worker-id", "pc-A", "--batch", "5")
        b = start_drain(env, *DRAIN_FAST, "--worker-id", "pc-B", "--batch", "5")
        for final in (finish_drain(a), finish_drain(b)):
            assert final["returncode"] == 0 and final["empty"], final["stderr"][-2000:]
        assert counts(kiosk) == {DELIVERED: 80}
        per_key = assert_exactly_once(portal, kiosk)
        # No faults: each dossier was POSTed exactly once, by one worker, answered 201.
        assert all(len(rs) == 1 and rs[0].status == 201 for rs in per_key.values())
        by_worker = defaultdict(int)
        for rs in per_key.values():
            by_worker[_worker_of(rs[0])] += 1
        assert set(by_worker) == {"pc-A", "pc-B"}
        # The outbox agrees on who delivered what.
        for d in all_dossiers(kiosk):
            assert d.attempts[-1].worker == _worker_of(per_key[d.client_ref][0])
    finally:
        kiosk.close()
        portal.stop()


def test_a_worker_killed_mid_send_is_finished_by_the_other_after_its_lease(tmp_path, pg_url):
    portal = new_portal(
        tmp_path, faults=Faults(latency=0.03, endpoints=["attachments", "dossiers"])
    )
    kiosk = open_kiosk(tmp_path / "data", pg_url)
    try:
        seed(kiosk, 40)
        env = drain_env(kiosk, portal.url)
        a = start_drain(
            env, *DRAIN_FAST, "--worker-id", "pc-A", "--batch", "10", "--lease-seconds", "3"
        )
        wait_for(lambda: any(_worker_of(r) == "pc-A" for r in portal.requests()), timeout=30)
        b = start_drain(
            env, *DRAIN_FAST, "--worker-id", "pc-B", "--batch", "10", "--lease-seconds", "3"
        )
        wait_for(lambda: len(portal.dossiers()) >= 4)
        a.kill()
        a.communicate(timeout=10)
        held = {
            d.client_ref: d.lease_until
            for d in all_dossiers(kiosk)
            if d.state == SENDING and d.lease_owner == "pc-A"
        }
        assert held, "pc-A held no lease when killed: the test proves nothing"
        final = finish_drain(b)
        assert final["returncode"] == 0 and final["empty"], final["stderr"][-2000:]
        assert counts(kiosk) == {DELIVERED: 40}
        per_key = assert_exactly_once(portal, kiosk)
        for key, lease_until in held.items():
            takeover = [r for r in per_key.get(key, []) if _worker_of(r) == "pc-B"]
            earlier = [r for r in per_key.get(key, []) if _worker_of(r) == "pc-A"]
            assert takeover, "a dossier pc-A held was not finished by pc-B"
            # pc-B waited for the lease to expire (judged by the database's clock).
            expiry = lease_until.replace(tzinfo=UTC).timestamp()
            assert takeover[0].at >= expiry - 0.5
            assert all(r.at < takeover[0].at for r in earlier)
    finally:
        kiosk.close()
        portal.stop()
