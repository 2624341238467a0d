"""Delivery against the reference portal on 127.0.0.1: receipts, refusals that need a clerk,
attachments, 30 % injected faults of every kind, status polling and catalogue refresh."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from sqlalchemy import update

from kiosk.portal import Faults, ReferencePortal
from kiosk.portal.server import Answer
from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.dossiers import AttachmentDraft
from kiosk.services.models import DELIVERED, NEEDS_CLERK, QUEUED, Attachment
from kiosk.services.outbox import drain_all
from kiosk.services.sync import SyncWorker
from tests.outbox_helpers import (
    all_dossiers,
    assert_exactly_once,
    counts,
    fast_outbox,
    new_portal,
    open_kiosk,
    seed,
    wait_for,
)


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


def test_delivers_every_dossier_once_with_its_receipt(kiosk, portal):
    ids = seed(kiosk, 12, attachment_every=3)
    outbox = fast_outbox(kiosk, portal.url)
    status = drain_all(outbox, timeout=30)
    outbox.close()
    assert status.counts[DELIVERED] == 12 and status.waiting == 0
    assert status.last_success_at is not None
    rows = all_dossiers(kiosk)
    assert [d.id for d in rows] == ids
    for d in rows:
        assert d.dossier_code and d.dossier_code.startswith("QN-")
        assert d.delivered_at is not None and d.portal_status == "received"
        assert isinstance(d.expected_result_date, date)  # 3 working days for 1.004873
        assert d.lease_owner is None and d.next_attempt_at is None
        assert [a.outcome for a in d.attempts] == ["delivered"]
        assert d.attempts[0].status_code == 201 and d.attempts[0].worker == outbox.worker_id
        assert all(a.uploaded for a in d.attachments)
    assert_exactly_once(portal, kiosk)
    stored = {s.client_ref: s for s in portal.dossiers()}
    for d in rows:
        body = json.loads(kiosk.dossiers.body(d))
        for att in body["attachments"]:
            assert portal.attachment(att["sha256"]) is not None
        # submitted_at is the moment the citizen confirmed, not when it was sent.
        assert body["submitted_at"] == d.confirmed_at.isoformat() + "Z"
        assert json.loads(stored[d.client_ref].body)["submitted_at"] == body["submitted_at"]


def test_a_replay_gets_the_original_receipt(kiosk, portal):
    """The portal stored the dossier but the answer was lost: the retry is a 200 replay."""
    seed(kiosk, 1)
    portal.set_faults(Faults(script=["drop_after_store"], endpoints=["dossiers"]))
    outbox = fast_outbox(kiosk, portal.url)
    drain_all(outbox, timeout=20)
    outbox.close()
    (d,) = all_dossiers(kiosk)
    assert d.state == DELIVERED
    assert [(a.outcome, a.status_code) for a in d.attempts] == [
        ("transient", None),
        ("delivered", 200),
    ]
    per_key = assert_exactly_once(portal, kiosk)
    assert [r.status for r in per_key[d.client_ref]] == [201, 200]
    assert d.dossier_code == portal.dossiers()[0].code


def test_422_field_errors_go_to_the_clerk(kiosk, portal):
    seed(
        kiosk,
        1,
        fields={"purpose": "holiday", "current_status": "never_married", "phone": "0912345678"},
    )
    seed(kiosk, 1, seed_value=9)
    outbox = fast_outbox(kiosk, portal.url)
    drain_all(outbox, timeout=20)
    status = outbox.status()
    outbox.close()
    bad, good = all_dossiers(kiosk)
    assert good.state == DELIVERED
    assert bad.state == NEEDS_CLERK and bad.next_attempt_at is None
    errors = json.loads(bad.field_errors)
    assert {"field": "fields.purpose", "message": "must be one of the choice keys"} in errors
    assert bad.last_error == "HTTP 422 validation_failed"
    assert [(a.outcome, a.status_code) for a in bad.attempts] == [("needs_clerk", 422)]
    assert status.needs_clerk == 1 and status.waiting == 0
    # Sent once, not retried unchanged.
    assert len(portal.requests(bad.client_ref)) == 1


def test_an_attachment_the_portal_lost_is_uploaded_again_once(kiosk, portal):
    seed(kiosk, 1, attachment_every=1)
    # We believe it uploaded; the portal has never seen it.
    kiosk.store.write_sync(lambda s: s.execute(update(Attachment).values(uploaded=True)))
    outbox = fast_outbox(kiosk, portal.url)
    drain_all(outbox, timeout=20)
    outbox.close()
    (d,) = all_dossiers(kiosk)
    assert d.state == DELIVERED
    calls = [
        (r.method, r.path.rsplit("/", 2)[-2] if r.method == "PUT" else r.path, r.status)
        for r in portal.requests()
        if r.path != "/api/v1/health"
    ]
    assert calls == [
        ("POST", "/api/v1/dossiers", 422),
        ("PUT", "attachments", 201),
        ("POST", "/api/v1/dossiers", 201),
    ]
    assert [a.outcome for a in d.attempts] == ["attachment_missing", "delivered"]


class ForgetfulPortal(ReferencePortal):
    """Says 201 to every upload and keeps nothing: a re-upload cannot help."""

    def _put_attachment(self, req, kiosk_id, sha256):
        return Answer(201, {"sha256": sha256, "size": len(req.body)})


def test_attachment_422_is_retried_once_then_the_clerk_is_asked(kiosk, tmp_path):
    portal = new_portal(tmp_path, ForgetfulPortal)
    try:
        seed(kiosk, 1, attachment_every=1)
        outbox = fast_outbox(kiosk, portal.url)
        drain_all(outbox, timeout=20)
        outbox.close()
        (d,) = all_dossiers(kiosk)
        assert d.state == NEEDS_CLERK
        assert json.loads(d.field_errors)[0]["field"] == "attachments[0].sha256"
        calls = [(r.method, r.status) for r in portal.requests() if r.path != "/api/v1/health"]
        assert calls == [("PUT", 201), ("POST", 422), ("PUT", 201), ("POST", 422)]
        assert portal.dossiers() == []
    finally:
        portal.stop()


def test_an_attachment_of_a_refused_type_goes_to_the_clerk(kiosk, portal):
    gif = AttachmentDraft("photo", "image/gif", b"GIF89a" + b"\0" * 40)
    seed(kiosk, 1, attachments=[gif])
    outbox = fast_outbox(kiosk, portal.url)
    drain_all(outbox, timeout=20)
    outbox.close()
    (d,) = all_dossiers(kiosk)
    assert d.state == NEEDS_CLERK and d.last_error.startswith("attachment refused: HTTP 415")
    assert json.loads(d.field_errors)[0]["field"] == "attachments[0]"
    assert portal.requests(path="/api/v1/dossiers") == []  # never sent without its file


def test_thirty_percent_faults_of_every_kind_still_exactly_once(kiosk, tmp_path):
    faults = Faults(
        error_rate=0.09,
        rate_limit_rate=0.05,
        drop_rate=0.04,
        hang_rate=0.04,
        drop_after_store_rate=0.04,
        hang_after_store_rate=0.04,
        hang_seconds=0.6,
        retry_after=1,
        seed=20261123,
        endpoints=["attachments", "dossiers", "status", "procedures"],
        # One of each kind first, so that every kind surely happens.
        script=[
            "error500",
            "ok",
            "error502",
            "drop_after_store",
            "error503",
            "hang",
            "ok",
            "rate_limit",
            "hang_after_store",
            "drop",
        ],
    )
    portal = new_portal(tmp_path, faults=faults)
    try:
        seed(kiosk, 30, attachment_every=4)
        # Two senders: the batch is cut short by a fault while the other is mid-request.
        outbox = fast_outbox(kiosk, portal.url, read_timeout=0.3, batch_size=10, senders=2)
        worker = SyncWorker(
            outbox,
            status_interval=None,
            catalogue_interval=None,
            offline_retry=(0.05, 0.2),
            idle_interval=0.2,
            state_interval=0.2,
        )
        worker.start()
        try:
            wait_for(lambda: not outbox.has_work(), timeout=90, interval=0.1)
        finally:
            worker.stop()
            outbox.close()
        assert counts(kiosk) == {DELIVERED: 30}
        per_key = assert_exactly_once(portal, kiosk)
        requests = [r for r in portal.requests() if r.path != "/api/v1/health"]
        seen = {r.fault for r in requests}
        assert {
            "error500",
            "error502",
            "error503",
            "rate_limit",
            "drop",
            "hang",
            "drop_after_store",
            "hang_after_store",
        } <= seen
        assert any(len(rs) > 1 for rs in per_key.values())  # there were replays
        # Retry-After: after a 429 or 503 the worker started nothing for 1 s. (A request
        # the other sender had already sent may still arrive just after it.)
        for r in requests:
            if r.status in (429, 503):
                early = [o for o in requests if r.at + 0.2 < o.at < r.at + 0.95]
                assert not early, "Retry-After not honoured"
        # Every attempt was recorded, with no personal data in it.
        rows = all_dossiers(kiosk)
        assert sum(len(d.attempts) for d in rows) > 30
        names = [kiosk.dossiers.applicant(d).full_name for d in rows]
        for d in rows:
            for a in d.attempts:
                assert not any(n in (a.error or "") for n in names)
    finally:
        portal.stop()


def test_unreachable_portal_keeps_everything_queued(kiosk):
    seed(kiosk, 3)
    outbox = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1")  # nothing listens on port 9
    report = outbox.run_once()
    outbox.close()
    # Each sender tried one dossier; the rest was handed back untried.
    assert report.offline and report.transient == outbox.senders
    assert report.released == 3 - outbox.senders
    assert counts(kiosk) == {QUEUED: 3}
    tried = [d for d in all_dossiers(kiosk) if d.attempt_count]
    assert len(tried) == outbox.senders
    assert all(d.last_error == "cannot connect to the portal" for d in tried)
    assert all(d.waiting_since is not None for d in all_dossiers(kiosk))


def test_status_of_delivered_dossiers_is_refreshed(kiosk, portal):
    seed(kiosk, 3)
    outbox = fast_outbox(kiosk, portal.url)
    drain_all(outbox, timeout=20)
    first, second, third = all_dossiers(kiosk)
    portal.set_status(
        first.dossier_code,
        "needs_info",
        {"vi": "Vui lòng bổ sung giấy tờ", "en": "Please bring a document"},
    )
    info = outbox.refresh_status(first.id)
    assert info is not None and info.status == "needs_info"
    assert info.message["vi"] == "Vui lòng bổ sung giấy tờ"
    portal.set_status(second.dossier_code, "completed")
    portal.set_status(third.dossier_code, "processing")
    assert outbox.poll_statuses(limit=10) == 3
    rows = {d.id: d for d in all_dossiers(kiosk)}
    assert rows[first.id].portal_status == "needs_info"
    assert json.loads(rows[first.id].portal_message)["en"] == "Please bring a document"
    assert rows[first.id].portal_status_at is not None
    assert rows[second.id].portal_status == "completed"
    assert rows[third.id].portal_status == "processing"
    # A completed dossier is not asked about again.
    before = len(portal.requests(path=f"/api/v1/dossiers/{second.dossier_code}"))
    outbox.poll_statuses(limit=10)
    assert len(portal.requests(path=f"/api/v1/dossiers/{second.dossier_code}")) == before
    outbox.close()


def test_catalogue_refresh_merges_and_asks_only_for_changes(kiosk, portal, tmp_path):
    overlay = tmp_path / "catalogue-overlay.json"
    catalogue = load_default_catalogue(overlay=overlay)
    outbox = fast_outbox(kiosk, portal.url)
    merged = outbox.refresh_catalogue(catalogue, overlay)
    assert merged.last_as_of and overlay.exists()
    changed = dict(next(p for p in portal.catalogue() if p["code"] == "1.004873"))
    changed["version"] = 2
    changed["fee_vnd"] = 8000
    portal.upsert_procedure({k: v for k, v in changed.items() if k != "updated_at"})
    seen = []
    worker = SyncWorker(
        outbox,
        catalogue=merged,
        overlay_path=overlay,
        on_catalogue=seen.append,
        status_interval=None,
        idle_interval=0.1,
    )
    worker.start()
    try:
        wait_for(lambda: seen, timeout=10)
    finally:
        worker.stop()
        outbox.close()
    newest = seen[-1]
    assert newest.get("1.004873").version == 2 and newest.get("1.004873").fee_vnd == 8000
    queries = [r.query for r in portal.requests(path="/api/v1/procedures")]
    assert queries[0] == "" and queries[-1].startswith("since=")
    # A restart reads the overlay and keeps the portal's version.
    reloaded = load_default_catalogue(overlay=overlay)
    assert reloaded.get("1.004873").version == 2 and reloaded.last_as_of == newest.last_as_of


def test_worker_wakes_at_once_when_a_dossier_is_confirmed(kiosk, portal):
    outbox = fast_outbox(kiosk, portal.url)
    states = []
    worker = SyncWorker(
        outbox,
        on_state=states.append,
        status_interval=None,
        catalogue_interval=None,
        idle_interval=30.0,
    )
    worker.start()
    try:
        wait_for(lambda: states and states[-1].online)
        time.sleep(0.2)  # the worker is now asleep for up to 30 s
        seed(kiosk, 1)
        start = time.monotonic()
        worker.wake()
        wait_for(lambda: counts(kiosk) == {DELIVERED: 1}, timeout=5)
        assert time.monotonic() - start < 2.0
        wait_for(lambda: states[-1].status and states[-1].status.counts[DELIVERED] == 1)
        assert states[-1].online is True and states[-1].delivered_total == 1
    finally:
        worker.stop()
        outbox.close()
    assert worker.state.running is False
