"""Queue tickets: numbers per group and day, priority order, counters, concurrency, printing."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.hardware.printers import FailingPrinter, PaperOut, SimulatedPrinter
from kiosk.services.models import QueueTicket
from kiosk.services.queue import (
    QueueError,
    QueueGroupsError,
    QueueService,
    load_groups,
)
from kiosk.services.store import Store

VN = timezone(timedelta(hours=7))


class Clock:
    """A settable naive-UTC clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 23, 1, 0, 0))  # 08:00 in Vietnam


@pytest.fixture
def queue(db_url, clock):
    store = Store(db_url)
    yield QueueService(store, load_groups(), machine="k1", clock=clock, tz=VN)
    store.close()


def test_numbers_run_per_group_and_restart_each_local_day(queue, clock):
    assert [queue.take("civil_status").number for _ in range(3)] == ["A001", "A002", "A003"]
    assert queue.take("certification").number == "B001"
    clock.advance(hours=16)  # 00:00 the next day in Vietnam (still 17:00 UTC the same day)
    assert queue.today().isoformat() == "2026-11-24"
    assert queue.take("civil_status").number == "A001"


def test_priority_tickets_are_called_first_then_in_order_of_issue(queue, clock):
    a1 = queue.take("civil_status")
    clock.advance(minutes=1)
    a2 = queue.take("civil_status")
    clock.advance(minutes=1)
    elder = queue.take("civil_status", "elderly")
    assert (a1.waiting_ahead, a2.waiting_ahead, elder.waiting_ahead) == (0, 1, 0)
    clock.advance(minutes=1)
    a4 = queue.take("civil_status")
    assert a4.waiting_ahead == 3  # two ordinary tickets before it and the priority one
    pregnant = queue.take("social", "pregnant")
    called = [queue.call_next("1").number for _ in range(5)]
    assert called == [elder.number, pregnant.number, a1.number, a2.number, a4.number]
    assert queue.call_next("1") is None


def test_counter_serves_only_its_groups(queue):
    queue.take("civil_status")
    b = queue.take("certification")
    assert queue.call_next("2", groups=["certification"]).number == b.number
    assert queue.call_next("2", groups=["certification"]) is None


def test_call_recall_skip_complete_and_waiting_times(queue, clock):
    first, second = queue.take("civil_status"), queue.take("civil_status")
    clock.advance(minutes=10)
    ticket = queue.call_next("3", clerk_id=None)
    assert ticket.number == first.number and ticket.state == "called" and ticket.counter == "3"
    assert queue.current("3").id == ticket.id
    clock.advance(minutes=2)
    again = queue.recall(ticket.id)
    assert again.called_at == clock.now
    assert queue.recent_calls(5)[0].ticket_id == ticket.id
    queue.complete(ticket.id)
    assert queue.current("3") is None
    with pytest.raises(QueueError):
        queue.skip(ticket.id)  # finished tickets stay finished
    clock.advance(minutes=3)
    nxt = queue.call_next("3")
    assert nxt.number == second.number
    queue.skip(nxt.id)
    stats = {s.group: s for s in queue.stats()}
    civil = stats["civil_status"]
    assert (civil.issued, civil.waiting, civil.served, civil.skipped) == (2, 0, 1, 1)
    # Waits are measured to the last call: 12 min for the first (recalled at 12), 15 for
    # the second.
    assert civil.max_wait_s == pytest.approx(15 * 60, abs=1)
    assert civil.avg_wait_s == pytest.approx(13.5 * 60, abs=1)
    assert stats["business"].issued == 0 and stats["business"].avg_wait_s is None


def test_calling_next_finishes_the_counters_current_ticket(queue):
    queue.take("civil_status")
    queue.take("civil_status")
    first = queue.call_next("1")
    queue.call_next("1")
    rows = queue.store.read(lambda s: {t.id: t.state for t in s.query(QueueTicket)})
    assert rows[first.id] == "done"


def test_recent_calls_are_newest_first_with_their_counters(queue, clock):
    for _ in range(4):
        queue.take("results")
    for counter in ("1", "2", "3"):
        clock.advance(seconds=30)
        queue.call_next(counter)
    calls = queue.recent_calls(2)
    assert [(c.number, c.counter) for c in calls] == [("E003", "3"), ("E002", "2")]


def test_unknown_group_priority_or_counter_are_refused(queue):
    with pytest.raises(QueueError) as err:
        queue.take("nope")
    assert err.value.key == "clerk.queue.err.group"
    with pytest.raises(QueueError):
        queue.take("civil_status", "vip")
    with pytest.raises(QueueError):
        queue.call_next("   ")


def test_ticket_prints_on_the_receipt_printer(app_ctx):
    from kiosk.services.queue import QueueService

    printer = SimulatedPrinter()
    app_ctx.receipts.printer = printer
    queue = QueueService(app_ctx.store, load_groups())
    ticket = queue.take("certification", "disability", lang="en")
    queue.print_ticket(ticket, app_ctx.receipts)
    ((name, pdf),) = printer.jobs
    assert name == f"ticket-{ticket.number}" and pdf.startswith(b"%PDF-")
    app_ctx.receipts.printer = FailingPrinter(PaperOut())
    with pytest.raises(PaperOut):
        queue.print_ticket(ticket, app_ctx.receipts)


@pytest.mark.postgres
def test_two_counters_calling_at_once_never_get_the_same_ticket(pg_url):
    """Two machines (two stores, two connections) call next at the same moment, many times."""
    machines = [Store(pg_url), Store(pg_url)]
    groups = load_groups()
    services = [QueueService(store, groups, machine=f"k{i}") for i, store in enumerate(machines)]
    try:
        for i in range(60):
            services[i % 2].take("civil_status", "elderly" if i % 7 == 0 else None)
        got: list[list[int]] = [[], []]
        barrier = threading.Barrier(2)

        def counter(i: int) -> None:
            barrier.wait()
            while True:
                ticket = services[i].call_next(str(i + 1))
                if ticket is None:
                    return
                got[i].append(ticket.id)

        threads = [threading.Thread(target=counter, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        everything = got[0] + got[1]
        assert len(everything) == 60 and len(set(everything)) == 60
        assert got[0] and got[1]  # both counters really took part
    finally:
        for store in machines:
            store.close()


@pytest.mark.postgres
def test_two_machines_taking_numbers_at_once_never_share_one(pg_url):
    machines = [Store(pg_url), Store(pg_url)]
    groups = load_groups()
    services = [QueueService(store, groups) for store in machines]
    numbers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def take(i: int) -> None:
        barrier.wait()  # both create the day's counter row at the same moment
        for _ in range(15):
            n = services[i].take("business").number
            with lock:
                numbers.append(n)

    try:
        threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(numbers) == [f"C{i:03d}" for i in range(1, 31)]
    finally:
        for store in machines:
            store.close()


def test_groups_file_is_validated_with_the_file_and_entry_named(tmp_path: Path):
    groups = load_groups()
    assert [g.letter for g in groups] == ["A", "B", "C", "D", "E"]
    assert all(g.titles["vi"] and g.titles["en"] for g in groups)
    bad = tmp_path / "groups.json"
    bad.write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "key": "a",
                        "letter": "A",
                        "pictogram": "civil_status",
                        "title": {"vi": "Một"},
                    },
                    {
                        "key": "b",
                        "letter": "A",
                        "pictogram": "civil_status",
                        "title": {"vi": "Hai"},
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(QueueGroupsError, match="letter used twice: A"):
        load_groups(bad)
    bad.write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "key": "a",
                        "letter": "A",
                        "pictogram": "no_such_picture",
                        "title": {"vi": "Một"},
                    }
                ]
            }
        )
    )
    with pytest.raises(QueueGroupsError, match=r"groups\[0\]\.pictogram"):
        load_groups(bad)
