"""Backoff arithmetic, leases and their expiry, on SQLite with a clock the test moves."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.services.delivery import (
    Backoff,
    Outcome,
    default_worker_id,
    local_owner_alive,
    machine_prefix,
)
from kiosk.services.models import DELIVERED, QUEUED, SENDING
from kiosk.services.portal_client import Delivered
from tests.outbox_helpers import all_dossiers, fast_outbox, open_kiosk, seed

# --- backoff --------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_its_jitter_bounds(attempt, seed_value):
    b = Backoff(base=2.0, cap=600.0)
    ceiling = min(600.0, 2.0 * 2 ** (attempt - 1))
    delay = b.delay(attempt, None, random.Random(seed_value))
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_grows_then_stops_at_the_cap():
    b = Backoff(base=1.0, cap=60.0)
    assert [b.ceiling(n) for n in (1, 2, 3, 4, 7, 8, 50)] == [1, 2, 4, 8, 60, 60, 60]


def test_backoff_is_jittered():
    rng = random.Random(1)
    delays = {round(Backoff(base=2.0).delay(5, None, rng), 6) for _ in range(50)}
    assert len(delays) > 40  # not one fixed value: dossiers do not retry in lock-step


@given(st.floats(min_value=0.5, max_value=3600), st.integers(min_value=1, max_value=3))
def test_retry_after_is_a_floor(retry_after, attempt):
    delay = Backoff(base=0.1, cap=1.0).delay(attempt, retry_after, random.Random(3))
    assert retry_after <= delay <= retry_after * 1.1 + 0.05 + 1.0


def test_absurd_retry_after_is_capped():
    delay = Backoff(base=0.1, cap=1.0, retry_after_cap=3600).delay(1, 10**9, random.Random(0))
    assert 3600 <= delay <= 3600 * 1.1 + 0.05


# --- leases -----------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.utcnow().replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


def test_a_lease_keeps_others_away_until_it_expires(kiosk):
    seed(kiosk, 6)
    clock = FakeClock()
    a = fast_outbox(
        kiosk, "http://127.0.0.1:9/api/v1", worker_id="machine-a:1", lease_seconds=10, clock=clock
    )
    b = fast_outbox(
        kiosk, "http://127.0.0.1:9/api/v1", worker_id="machine-b:1", lease_seconds=10, clock=clock
    )
    first = a.claim(4)
    assert len(first) == 4
    rows = {d.id: d for d in all_dossiers(kiosk)}
    assert all(
        rows[d.id].state == SENDING and rows[d.id].lease_owner == "machine-a:1" for d in first
    )
    second = b.claim(10)
    assert {d.id for d in second}.isdisjoint({d.id for d in first})
    assert len(second) == 2
    assert b.claim(10) == []
    clock.advance(9)
    assert b.claim(10) == []  # still leased
    clock.advance(2)
    taken = b.claim(10)  # both leases expired (b's own too): everything is claimable again
    assert {d.id for d in taken} == {d.id for d in first} | {d.id for d in second}
    assert all(d.lease_owner == "machine-b:1" for d in all_dossiers(kiosk))


def test_a_late_answer_after_losing_the_lease(kiosk):
    """The holder whose lease expired may still come back: a portal receipt is recorded
    (it is the truth), a transient failure does not undo the new holder's claim."""
    seed(kiosk, 2)
    clock = FakeClock()
    a = fast_outbox(
        kiosk, "http://127.0.0.1:9/api/v1", worker_id="machine-a:1", lease_seconds=10, clock=clock
    )
    b = fast_outbox(
        kiosk, "http://127.0.0.1:9/api/v1", worker_id="machine-b:1", lease_seconds=10, clock=clock
    )
    one, two = a.claim(2)
    clock.advance(11)
    assert len(b.claim(2)) == 2
    late = [
        Outcome(
            one.id,
            "delivered",
            answer=Delivered("QN-2026-000001", "2026-11-23T05:00:00Z", "2026-11-26", replay=False),
        ),
        Outcome(two.id, "transient", error="read timeout", status=None),
    ]
    a._record(late)
    rows = {d.id: d for d in all_dossiers(kiosk)}
    assert rows[one.id].state == DELIVERED and rows[one.id].dossier_code == "QN-2026-000001"
    assert rows[one.id].lease_owner is None
    assert rows[two.id].state == SENDING and rows[two.id].lease_owner == "machine-b:1"


def test_release_hands_back_unsent_claims(kiosk):
    seed(kiosk, 3)
    a = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1", worker_id="machine-a:1")
    assert len(a.claim(3)) == 3
    assert a.release_mine() == 3
    assert {d.state for d in all_dossiers(kiosk)} == {QUEUED}
    assert all(d.lease_owner is None for d in all_dossiers(kiosk))


def test_lease_of_a_dead_process_on_this_machine_is_taken_at_once(kiosk):
    seed(kiosk, 3)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = f"{machine_prefix()}{int(gone.stdout)}:12345"
    assert not local_owner_alive(dead_owner)
    assert local_owner_alive(default_worker_id())  # this very process
    assert local_owner_alive("other-host:abcd:1:1")  # another machine: only expiry tells
    clock = FakeClock()
    remote = fast_outbox(
        kiosk,
        "http://127.0.0.1:9/api/v1",
        worker_id="other-host:abcd:1:1",
        lease_seconds=300,
        clock=clock,
    )
    dead = fast_outbox(
        kiosk, "http://127.0.0.1:9/api/v1", worker_id=dead_owner, lease_seconds=300, clock=clock
    )
    assert len(remote.claim(1)) == 1
    assert len(dead.claim(3)) == 2
    here = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1", lease_seconds=300, clock=clock)
    # Same machine, same boot, process gone: taken at once. Another machine's lease is
    # only known to be dead when it expires.
    assert len(here.claim(3)) == 2
    assert here.claim(3) == []
    clock.advance(301)
    assert len(here.claim(3)) == 3  # every lease has expired now, its own too


def test_lease_must_outlive_one_request(kiosk):
    with pytest.raises(ValueError):
        fast_outbox(
            kiosk,
            "http://127.0.0.1:9/api/v1",
            lease_seconds=1.0,
            connect_timeout=0.5,
            read_timeout=1.0,
        )


def test_only_dossiers_of_this_identity_are_claimed(kiosk):
    seed(kiosk, 2)
    other = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1")
    other.set_portal(kiosk_id="QN99-K09")
    assert other.claim(5) == []
    assert other.status().other_identity == 2


def test_retry_times_set_by_a_clock_that_was_ahead_do_not_hold_dossiers(kiosk):
    """Confirmed while the clock was 2 h fast, then the clock was corrected: the dossiers'
    retry time is further ahead than any backoff could set, so they are due now."""
    from sqlalchemy import update

    from kiosk.services.models import Dossier

    ids = seed(kiosk, 2)
    clock = FakeClock()
    kiosk.store.write_sync(
        lambda s: s.execute(
            update(Dossier)
            .where(Dossier.id == ids[0])
            .values(next_attempt_at=clock.now + timedelta(hours=2))
        )
    )
    kiosk.store.write_sync(
        lambda s: s.execute(
            update(Dossier)
            .where(Dossier.id == ids[1])
            .values(next_attempt_at=clock.now + timedelta(minutes=5))
        )
    )
    outbox = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1", clock=clock)
    assert [d.id for d in outbox.claim(5)] == [ids[0]]  # a 5-minute backoff is honoured
