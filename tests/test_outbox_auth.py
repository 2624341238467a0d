"""401/403 stop all sending without losing anything and resume once the credentials work;
a clock two hours wrong still delivers."""

from __future__ import annotations

import time

import pytest

from kiosk.portal import Faults
from kiosk.services.models import AUTH_BLOCKED, DELIVERED, QUEUED, Meta
from kiosk.services.outbox import drain_all
from kiosk.services.sync import SyncWorker
from tests.outbox_helpers import (
    KIOSK_ID,
    TOKEN,
    all_dossiers,
    assert_exactly_once,
    counts,
    fast_outbox,
    new_portal,
    open_kiosk,
    seed,
    wait_for,
)

SENDS = ("POST", "PUT")


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


def _sends(portal, after: int = 0) -> list:
    return [r for r in portal.requests(after=after) if r.method in SENDS]


def _worker(outbox, **options) -> SyncWorker:
    options.setdefault("status_interval", None)
    options.setdefault("catalogue_interval", None)
    options.setdefault("idle_interval", 0.2)
    options.setdefault("state_interval", 0.05)
    return SyncWorker(outbox, **options)


def test_token_revoked_mid_run_stops_sending_and_resumes_with_the_new_one(kiosk, tmp_path):
    portal = new_portal(tmp_path, faults=Faults(latency=0.02, endpoints=["dossiers"]))
    seed(kiosk, 30)
    outbox = fast_outbox(kiosk, portal.url, auth_probe_interval=60.0, batch_size=5)
    states = []
    worker = _worker(outbox, on_state=states.append)
    worker.start()
    try:
        wait_for(lambda: len(portal.dossiers()) >= 5)
        portal.remove_token(TOKEN)  # the province rotates the token
        wait_for(lambda: outbox.status().auth_alert is not None)
        wait_for(lambda: counts(kiosk).get("sending", 0) == 0)
        blocked = counts(kiosk)
        assert 1 <= blocked[AUTH_BLOCKED] <= outbox.senders
        assert blocked[DELIVERED] + blocked[QUEUED] + blocked[AUTH_BLOCKED] == 30
        alert = outbox.status().auth_alert
        assert alert.error == "unauthorized" and alert.status == 401
        assert alert.key == "outbox.alert.auth.unauthorized"
        wait_for(lambda: states[-1].status and states[-1].status.auth_alert is not None)
        # Sending has stopped: nothing but silence while the credentials are refused.
        last = portal.requests()[-1].id
        time.sleep(1.0)
        assert _sends(portal, last) == []
        assert counts(kiosk) == blocked
        # The clerk enters the new token: sending resumes at once, nothing was lost.
        portal.add_token("token-new-2027")
        worker.update_credentials(token="token-new-2027")
        wait_for(lambda: counts(kiosk) == {DELIVERED: 30}, timeout=30)
        assert outbox.status().auth_alert is None
    finally:
        worker.stop()
        outbox.close()
    assert_exactly_once(portal, kiosk)
    refused = [r for r in portal.requests() if r.status == 401]
    # One refusal per sender at most (the other may have had a request in flight), then
    # no more attempts with the bad token.
    assert 1 <= len(refused) <= outbox.senders
    portal.stop()


def test_revoked_kiosk_resumes_by_itself_after_the_portal_lifts_it(kiosk, tmp_path):
    portal = new_portal(tmp_path)
    seed(kiosk, 6)
    portal.revoke_kiosk(KIOSK_ID)
    outbox = fast_outbox(kiosk, portal.url, auth_probe_interval=0.5)
    worker = _worker(outbox)
    worker.start()
    try:
        wait_for(
            lambda: counts(kiosk).get(AUTH_BLOCKED, 0) >= 1 and counts(kiosk).get("sending", 0) == 0
        )
        assert outbox.status().auth_alert.error == "revoked"
        time.sleep(1.2)
        probes = [r for r in portal.requests() if r.path == "/api/v1/procedures"]
        assert 1 <= len(probes) <= 4  # a probe every 0.5 s, not a flood
        assert all(r.status == 401 for r in probes)
        assert 1 <= len(_sends(portal)) <= outbox.senders
        portal.revoke_kiosk(KIOSK_ID, revoked=False)
        wait_for(lambda: counts(kiosk) == {DELIVERED: 6}, timeout=10)
        assert outbox.status().auth_alert is None
    finally:
        worker.stop()
        outbox.close()
    assert_exactly_once(portal, kiosk)
    portal.stop()


def test_disabled_kiosk_403_blocks_and_the_block_is_shared(kiosk, tmp_path):
    """Another process with the same credentials sees the block and sends nothing."""
    portal = new_portal(tmp_path)
    seed(kiosk, 4)
    portal.disable_kiosk(KIOSK_ID)
    first = fast_outbox(kiosk, portal.url, worker_id="pc-1", senders=1)
    report = first.run_once()
    assert report.auth_blocked and report.released == 3
    second = fast_outbox(kiosk, portal.url, worker_id="pc-2")
    assert second.run_once().auth_blocked
    assert len(_sends(portal)) == 1
    alert = second.status().auth_alert
    assert alert.error == "kiosk_disabled" and alert.status == 403
    # A machine whose clerk typed other credentials is not held back by the block.
    third = fast_outbox(kiosk, portal.url, worker_id="pc-3", token="another-token")
    portal.add_token("another-token")
    portal.disable_kiosk(KIOSK_ID, disabled=False)
    drain_all(third, timeout=10)
    assert counts(kiosk) == {DELIVERED: 4}
    assert third.status().auth_alert is None
    for o in (first, second, third):
        o.close()
    assert_exactly_once(portal, kiosk)
    portal.stop()


def test_a_clock_two_hours_wrong_still_delivers(kiosk, tmp_path):
    portal = new_portal(tmp_path)
    seed(kiosk, 5)
    wrong = lambda: time.time() - 7200  # noqa: E731 - the machine's clock, 2 h slow
    outbox = fast_outbox(kiosk, portal.url, portal_clock=wrong)
    worker = _worker(outbox)
    worker.start()
    try:
        wait_for(lambda: counts(kiosk) == {DELIVERED: 5}, timeout=15)
    finally:
        worker.stop()
        outbox.close()
    alert = outbox.status().clock_alert
    assert alert is not None and 7100 < alert.offset_seconds < 7300
    assert alert.key == "outbox.alert.clock"
    saved = kiosk.store.read(
        lambda s: [m for m in s.query(Meta).all() if m.key.startswith("portal.clock_offset")]
    )
    assert len(saved) == 1 and 7100 < float(saved[0].value) < 7300
    assert not [r for r in portal.requests() if r.error == "clock_skew"]

    # A restart keeps the offset: it signs right before even asking /health.
    seed(kiosk, 2, seed_value=3)
    again = fast_outbox(kiosk, portal.url, portal_clock=wrong)
    assert 7100 < again.clock_offset < 7300
    report = again.run_once()
    assert report.delivered == 2
    assert not [r for r in portal.requests() if r.error == "clock_skew"]

    # The portal's clock jumps: one clock_skew 401, /health, one retry, delivered.
    portal.set_clock_offset(3600)
    seed(kiosk, 1, seed_value=4)
    report = again.run_once()
    again.close()
    assert report.delivered == 1 and not report.auth_blocked
    skews = [r for r in portal.requests() if r.error == "clock_skew"]
    assert len(skews) == 1
    assert counts(kiosk) == {DELIVERED: 8}
    newest = all_dossiers(kiosk)[-1]
    assert [a.outcome for a in newest.attempts] == ["delivered"]
    assert_exactly_once(portal, kiosk)
    portal.stop()
