"""Recorded payments to the portal (POST /payments, contract 1.1) through real HTTP on
127.0.0.1: the reference portal's rules, delivery only after the dossier's receipt, in
order, exactly once through faults and kill -9, and the `outbox seed --kind payment`
command."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kiosk.portal import Faults
from kiosk.services.models import DELIVERED, Payment
from kiosk.services.payments import CASH, EXEMPT, PaymentService
from tests.outbox_helpers import (
    DRAIN_FAST,
    KIOSK_ID,
    ROOT,
    SECRET,
    TOKEN,
    counts,
    drain_env,
    fast_outbox,
    finish_drain,
    kill_loop,
    new_portal,
    open_kiosk,
    seed,
    start_drain,
    wait_for,
)
from tests.portal_helpers import raw_request, signed_headers


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


def _payments(kiosk):
    return kiosk.store.read(lambda s: list(s.scalars(select(Payment).order_by(Payment.id))))


def _drain(outbox, rounds: int = 100) -> None:
    """Run the outbox (dossiers, then their payments) until nothing is claimed."""
    for _ in range(rounds):
        if not outbox.run_once().claimed and not outbox.has_work():
            return
        time.sleep(0.02)


class _Answer:
    def __init__(self, status: int, payload) -> None:
        self.status, self.payload = status, payload

    def json(self):
        return self.payload


def _post(portal, body: dict, key: str | None = None) -> _Answer:
    data = json.dumps(body).encode()
    path = "/api/v1/payments"
    headers = signed_headers(
        "POST", path, data, kiosk_id=KIOSK_ID, secret=SECRET, token=TOKEN,
        **{"Idempotency-Key": key or body["client_ref"], "Content-Type": "application/json"},
    )  # fmt: skip
    status, payload, _ = raw_request(portal.base_url, "POST", path, data, headers)
    return _Answer(status, payload)


def _health(portal) -> dict:
    return raw_request(portal.base_url, "GET", "/api/v1/health")[1]


def test_portal_payments_are_idempotent_and_need_a_known_dossier(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        [dossier_id] = seed(kiosk, 1)
        outbox = fast_outbox(kiosk, portal.url)
        _drain(outbox)
        dossier = kiosk.dossiers.get(dossier_id)
        body = {
            "client_ref": str(uuid.uuid4()),
            "kiosk_id": KIOSK_ID,
            "dossier_client_ref": dossier.client_ref,
            "method": "cash",
            "amount_vnd": 5000,
            "recorded_at": "2026-12-06T10:00:00Z",
        }
        first = _post(portal, body)
        assert first.status == 201 and first.json()["status"] == "recorded"
        again = _post(portal, {**body})
        assert again.status == 200 and again.json()["received_at"] == first.json()["received_at"]
        assert _post(portal, {**body, "amount_vnd": 6000}).status == 409
        unknown = _post(portal, {**body, "client_ref": str(uuid.uuid4()),
                                 "dossier_client_ref": str(uuid.uuid4())})  # fmt: skip
        assert unknown.status == 422
        assert [d["field"] for d in unknown.json()["details"]] == ["dossier_client_ref"]
        bad = _post(portal, {**body, "client_ref": str(uuid.uuid4()), "method": "exempt",
                             "amount_vnd": 2_000_000_000})  # fmt: skip
        fields = {d["field"] for d in bad.json()["details"]}
        assert bad.status == 422 and fields == {"amount_vnd", "exemption_ground"}
        wrong = _post(portal, {**body, "client_ref": str(uuid.uuid4()),
                               "supersedes": str(uuid.uuid4())})  # fmt: skip
        assert [d["field"] for d in wrong.json()["details"]] == ["supersedes"]
        assert _post(portal, body, key=str(uuid.uuid4())).status == 400
        assert len(portal.payments()) == 1
        assert _health(portal)["api_version"] == "1.1"
        outbox.close()
    finally:
        portal.stop()


def test_a_payment_waits_for_its_dossier_then_goes_once_in_order(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        [dossier_id] = seed(kiosk, 1)
        payments = PaymentService(kiosk.store, KIOSK_ID)
        payments.fee_due(dossier_id, EXEMPT, 5000, ground="poor_household")
        first = payments.record(dossier_id, CASH, None, amount_vnd=4000)
        fixed = payments.record(dossier_id, CASH, None, amount_vnd=5000, e_receipt_number="B-1")
        outbox = fast_outbox(kiosk, portal.url)
        outbox.run_once()  # claims the dossier only: its payments wait for its receipt
        assert counts(kiosk) == {DELIVERED: 1} and portal.payments() == []
        assert [p.state for p in _payments(kiosk)] == [None, "queued", "queued"]
        _drain(outbox)
        stored = portal.payments()
        assert sorted(p["client_ref"] for p in stored) == sorted(
            [first.client_ref, fixed.client_ref]
        )
        assert {p["client_ref"]: p.get("supersedes") for p in stored}[fixed.client_ref] == (
            first.client_ref
        )
        assert [p.state for p in _payments(kiosk)] == [None, DELIVERED, DELIVERED]
        assert not outbox.run_once().claimed  # nothing is sent twice
        outbox.close()
    finally:
        portal.stop()


def test_faults_end_with_each_payment_stored_exactly_once(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        ids = seed(kiosk, 12)
        payments = PaymentService(kiosk.store, KIOSK_ID)
        for i in ids:
            payments.record(i, CASH, None, amount_vnd=5000)
        portal.set_faults(
            Faults(
                endpoints=["payments"],
                script=[
                    "drop_after_store",
                    "error500",
                    "drop",
                    "rate_limit",
                    "hang",
                    "drop_after_store",
                    "error503",
                ],  # fmt: skip
                hang_seconds=2.0,
                retry_after=0,
            )
        )
        outbox = fast_outbox(kiosk, portal.url)

        def done() -> bool:
            outbox.run_once()
            return not outbox.has_work()

        wait_for(done, timeout=90, interval=0.05)
        refs = [p["client_ref"] for p in portal.payments()]
        assert sorted(refs) == sorted(p.client_ref for p in _payments(kiosk))
        assert len(refs) == len(set(refs)) == 12
        posts = portal.requests(path="/api/v1/payments", method="POST")
        assert len(posts) > 12 and all(r.status != 409 for r in posts)
        frozen = {p.client_ref: p.body for p in _payments(kiosk)}
        assert all(r.body == frozen[r.idempotency_key] for r in posts)
        assert all(p.state == DELIVERED for p in _payments(kiosk))
        outbox.close()
    finally:
        portal.stop()


def test_unknown_dossier_at_the_portal_is_transient_and_a_10_portal_keeps_them(tmp_path, kiosk):
    portal = new_portal(tmp_path, payments=False)
    try:
        [dossier_id] = seed(kiosk, 1)
        payments = PaymentService(kiosk.store, KIOSK_ID)
        payments.record(dossier_id, CASH, None, amount_vnd=5000)
        outbox = fast_outbox(kiosk, portal.url)
        outbox.run_once()  # the dossier
        outbox.run_once()  # its payment: 404, and /health says api_version 1.0
        [row] = _payments(kiosk)
        assert row.state == "queued" and "api_version < 1.1" in row.last_error
        assert row.next_attempt_at > datetime.utcnow() + timedelta(minutes=50)
        assert [(code, reason[:20]) for code, reason in payments.delivery_problems()] == [
            (kiosk.dossiers.get(dossier_id).receipt_code, row.last_error[:20])
        ]
        outbox.close()
    finally:
        portal.stop()
    portal = new_portal(tmp_path)  # a 1.1 portal that never saw this kiosk's dossier
    try:
        kiosk.store.write_sync(
            lambda s: s.execute(Payment.__table__.update().values(next_attempt_at=None))
        )
        outbox = fast_outbox(kiosk, portal.url)
        assert outbox.run_once().claimed == 1
        [row] = _payments(kiosk)
        assert row.state == "queued" and "does not know the dossier" in row.last_error
        outbox.close()
    finally:
        portal.stop()


def test_seed_payments_command_and_drain(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        env = drain_env(kiosk, portal.url)
        seeded = subprocess.run(
            [sys.executable, "-m", "kiosk", "outbox", "seed", "--count", "5", "--kind", "payment"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stderr
        assert json.loads(seeded.stdout)["kind"] == "payment"
        assert len(_payments(kiosk)) == 10  # each: the fee due, then the clerk's record
        final = finish_drain(start_drain(env, *DRAIN_FAST))
        assert final["returncode"] == 0 and final["empty"], final["stderr"][-2000:]
        assert final["payments"]["delivered"] == 5 and final["payments"]["queued"] == 0
        assert len(portal.payments()) == 5
    finally:
        portal.stop()


@pytest.mark.slow
def test_drain_killed_again_and_again_delivers_each_payment_once(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        ids = seed(kiosk, 150)
        outbox = fast_outbox(kiosk, portal.url)
        _drain(outbox)  # the dossiers are in: the kills land on payments
        outbox.close()
        assert counts(kiosk) == {DELIVERED: 150}
        payments = PaymentService(kiosk.store, KIOSK_ID)
        for i in ids:
            payments.record(i, CASH, None, amount_vnd=5000)
        # Latency so that kills land while payments are in flight; some answers are lost
        # after the portal stored the payment (the ambiguous case).
        portal.set_faults(
            Faults(latency=0.04, drop_after_store_rate=0.05, endpoints=["payments"], seed=5)
        )
        env = drain_env(kiosk, portal.url)
        report = kill_loop(portal, env, 8, rng=random.Random(17))
        assert report.kills == 8
        delivered = sum(p.state == DELIVERED for p in _payments(kiosk))
        assert 0 < delivered < 150  # the kills interrupted real work
        portal.set_faults(Faults())
        final = finish_drain(start_drain(env, *DRAIN_FAST), timeout=120)
        assert final["returncode"] == 0 and final["empty"], final["stderr"][-2000:]
        refs = [p["client_ref"] for p in portal.payments()]
        assert len(refs) == len(set(refs)) == 150
        assert all(p.state == DELIVERED for p in _payments(kiosk))
        frozen = {p.client_ref: p.body for p in _payments(kiosk)}
        posts = portal.requests(path="/api/v1/payments", method="POST")
        assert len(posts) > 150  # some were sent again after a kill or a lost answer
        for r in posts:
            assert r.status != 409
            if len(r.body) == r.body_size:
                assert r.body == frozen[r.idempotency_key]
    finally:
        portal.stop()


def test_a_refused_payment_goes_to_the_clerk_and_a_correction_replaces_it(tmp_path, kiosk):
    portal = new_portal(tmp_path)
    try:
        [dossier_id] = seed(kiosk, 1)
        payments = PaymentService(kiosk.store, KIOSK_ID)
        bad = payments.record(dossier_id, CASH, None, amount_vnd=5000)
        # A body the portal refuses (as a kiosk of another version might have made it).
        body = json.loads(kiosk.store.read(lambda s: s.get(Payment, bad.id).body))
        body["method"] = "barter"
        raw = json.dumps(body).encode()
        kiosk.store.write_sync(lambda s: setattr(s.get(Payment, bad.id), "body", raw))
        outbox = fast_outbox(kiosk, portal.url)
        _drain(outbox)
        assert [p.state for p in _payments(kiosk)] == ["needs_clerk"]
        [(code, reason)] = payments.delivery_problems()
        assert code == kiosk.dossiers.get(dossier_id).receipt_code and "method" in reason
        fixed = payments.record(dossier_id, CASH, None, amount_vnd=5000)
        assert fixed.supersedes is None  # the portal never knew the refused one
        assert payments.delivery_problems() == []
        _drain(outbox)
        assert [p.state for p in _payments(kiosk)] == ["replaced", DELIVERED]
        assert [p["client_ref"] for p in portal.payments()] == [fixed.client_ref]
        outbox.close()
    finally:
        portal.stop()
