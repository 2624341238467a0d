"""The queue: numbered tickets per service group and day, called to counters.

Service groups are data (resources/queue_groups.json): a key, a title per language, a
letter and a pictogram. Numbers run per group and per local day (A001, A002, ...) from a
shared counter (`dossiers.next_value`), so several machines on one PostgreSQL database
never hand out the same number.

Order of calling: priority tickets (the elderly, people with disabilities, pregnant
women) first, then the others, each in order of issue. `call_next` takes the first
waiting ticket with `SELECT ... FOR UPDATE SKIP LOCKED`, so two counters calling at the
same moment on PostgreSQL never get the same ticket (on SQLite the one writer serialises
them). Calling the next ticket finishes the counter's current one.

Ticket states: waiting -> called -> done | skipped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import case, extract, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.paths import resource
from kiosk.services.dossiers import next_value, utcnow
from kiosk.services.i18n import FALLBACK
from kiosk.services.models import QueueTicket
from kiosk.services.receipts import TicketData, build_ticket_pdf
from kiosk.services.store import Store

if TYPE_CHECKING:
    from kiosk.services.receipt_service import ReceiptService

log = logging.getLogger(__name__)

PRIORITIES: tuple[str, ...] = ("elderly", "disability", "pregnant")
WAITING, CALLED, DONE, SKIPPED = "waiting", "called", "done", "skipped"
TICKET_STATES = (WAITING, CALLED, DONE, SKIPPED)


# --- service groups ----------------------------------------------------------------


class QueueGroupsError(ValueError):
    """resources/queue_groups.json is broken: names the file and the entry."""


@dataclass(frozen=True)
class ServiceGroup:
    key: str
    titles: dict[str, str]
    letter: str
    pictogram: str

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles[FALLBACK]


def load_groups(path: Path | None = None, pictogram_dir: Path | None = None) -> list[ServiceGroup]:
    path = path or resource("queue_groups.json")
    pictogram_dir = pictogram_dir or resource("pictograms")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise QueueGroupsError(f"{path}: not readable JSON ({exc})") from None
    entries = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise QueueGroupsError(f"{path}: needs a non-empty list 'groups'")
    groups: list[ServiceGroup] = []
    for i, raw in enumerate(entries):
        where = f"{path}: groups[{i}]"
        if not isinstance(raw, dict):
            raise QueueGroupsError(f"{where}: must be an object")
        key, letter, picto, title = (raw.get(k) for k in ("key", "letter", "pictogram", "title"))
        if not isinstance(key, str) or not key.isidentifier():
            raise QueueGroupsError(f"{where}.key: a lower-case name is required")
        if not (isinstance(letter, str) and len(letter) == 1 and "A" <= letter <= "Z"):
            raise QueueGroupsError(f"{where}.letter: one capital letter A-Z, got {letter!r}")
        if not isinstance(picto, str) or not (pictogram_dir / f"{picto}.svg").exists():
            raise QueueGroupsError(f"{where}.pictogram: no {picto}.svg in {pictogram_dir}")
        if not (
            isinstance(title, dict) and isinstance(title.get(FALLBACK), str) and title[FALLBACK]
        ):
            raise QueueGroupsError(f"{where}.title: needs at least a Vietnamese title ('vi')")
        groups.append(ServiceGroup(key, {k: str(v) for k, v in title.items()}, letter, picto))
    for attr in ("key", "letter"):
        values = [getattr(g, attr) for g in groups]
        dup = {v for v in values if values.count(v) > 1}
        if dup:
            raise QueueGroupsError(f"{path}: {attr} used twice: {', '.join(sorted(dup))}")
    return groups


# --- results -----------------------------------------------------------------------


class QueueError(Exception):
    """`key`: translation key for the screen; `detail`: plain English for the log."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str
    group: str
    priority: str | None
    language: str
    issued_at: datetime
    state: str
    called_at: datetime | None = None
    counter: str | None = None
    clerk_id: int | None = None
    finished_at: datetime | None = None
    waiting_ahead: int = 0

    @property
    def is_priority(self) -> bool:
        return self.priority is not None


@dataclass(frozen=True)
class Call:
    """One line of the call display."""

    ticket_id: int
    number: str
    counter: str
    called_at: datetime
    priority: bool


@dataclass(frozen=True)
class GroupStats:
    group: str
    issued: int
    waiting: int
    served: int  # called (done or still at the counter)
    skipped: int
    avg_wait_s: float | None  # issue -> first call
    max_wait_s: float | None


def _ticket(row: QueueTicket, ahead: int = 0) -> Ticket:
    return Ticket(
        row.id,
        row.number,
        row.service_group,
        row.priority,
        row.language,
        row.issued_at,
        row.state,
        row.called_at,
        row.counter,
        row.clerk_id,
        row.finished_at,
        ahead,
    )


def _call_order():
    # Priority tickets (priority IS NOT NULL sorts first as False < True), then by issue.
    return (QueueTicket.priority.is_(None), QueueTicket.id)


def seconds_between(session: Session, start, end):
    """SQL for (end - start) in seconds on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)


# --- the service -------------------------------------------------------------------


class QueueService:
    def __init__(
        self,
        store: Store,
        groups: list[ServiceGroup],
        machine: str = "",
        clock=utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.groups = {g.key: g for g in groups}
        self.machine = machine
        self.clock = clock  # naive UTC, like every time in the store
        self.tz = tz  # None: the machine's local time zone

    def group(self, key: str) -> ServiceGroup:
        try:
            return self.groups[key]
        except KeyError:
            raise QueueError("clerk.queue.err.group", f"unknown service group {key!r}") from None

    def today(self) -> date:
        """The local day tickets belong to (numbers restart every morning)."""
        return self.clock().replace(tzinfo=UTC).astimezone(self.tz).date()

    # Citizens ---------------------------------------------------------------
    def take(self, group_key: str, priority: str | None = None, lang: str = FALLBACK) -> Ticket:
        group = self.group(group_key)
        if priority is not None and priority not in PRIORITIES:
            raise QueueError("clerk.queue.err.priority", f"unknown priority {priority!r}")
        day, now = self.today(), self.clock()

        def write(s: Session) -> Ticket:
            seq = next_value(s, f"queue:{day.isoformat()}:{group.letter}")
            row = QueueTicket(
                day=day,
                service_group=group.key,
                number=f"{group.letter}{seq:03d}",
                priority=priority,
                language=lang,
                issued_at=now,
                state=WAITING,
            )
            s.add(row)
            s.flush()
            # Ahead: every waiting priority ticket, and for a priority ticket only those.
            before = QueueTicket.id < row.id
            has_priority = QueueTicket.priority.is_not(None)
            ahead = s.scalar(
                select(func.count())
                .select_from(QueueTicket)
                .where(
                    QueueTicket.day == day,
                    QueueTicket.state == WAITING,
                    QueueTicket.service_group == group.key,
                    QueueTicket.id != row.id,
                    (has_priority & before) if priority else or_(has_priority, before),
                )
            )
            return _ticket(row, int(ahead or 0))

        # Two machines making the first ticket of a day's group both insert its counter
        # row; the loser's transaction fails on the primary key and simply runs again.
        for attempt in range(3):
            try:
                return self.store.write_sync(write)
            except IntegrityError:
                if attempt == 2:
                    raise
                log.info("queue counter created concurrently; taking the number again")
        raise AssertionError("unreachable")

    def ticket_data(
        self, ticket: Ticket, commune_name: str, lang: str | None = None, demo: bool = False
    ) -> TicketData:
        group = self.group(ticket.group)
        return TicketData(
            number=ticket.number,
            service_group=dict(group.titles),
            issued_at=ticket.issued_at.replace(tzinfo=UTC).astimezone(self.tz),
            waiting_ahead=ticket.waiting_ahead,
            priority=ticket.is_priority,
            commune_name=commune_name,
            lang=lang or ticket.language,
            demo=demo,
        )

    def print_ticket(
        self, ticket: Ticket, receipts: ReceiptService, lang: str | None = None
    ) -> None:
        """Print on the receipt printer; raises PrinterError (the ticket stays valid)."""
        data = self.ticket_data(ticket, receipts.commune_name, lang, receipts.demo)
        pdf = build_ticket_pdf(data, receipts.paper, receipts.translator)
        receipts.printer.print_pdf(pdf, f"ticket-{ticket.number}")

    # Counters ---------------------------------------------------------------
    def call_next(
        self, counter: str, clerk_id: int | None = None, groups: list[str] | None = None
    ) -> Ticket | None:
        """Finish the counter's current ticket and call the next waiting one (or None)."""
        counter = _counter(counter)
        day, now = self.today(), self.clock()

        def write(s: Session) -> Ticket | None:
            for current in s.scalars(
                select(QueueTicket).where(
                    QueueTicket.day == day,
                    QueueTicket.state == CALLED,
                    QueueTicket.counter == counter,
                )
            ):
                current.state, current.finished_at = DONE, now
            stmt = (
                select(QueueTicket)
                .where(QueueTicket.day == day, QueueTicket.state == WAITING)
                .order_by(*_call_order())
                .limit(1)
                .with_for_update(skip_locked=True)
            )  # no-op on SQLite
            if groups:
                stmt = stmt.where(QueueTicket.service_group.in_(groups))
            row = s.scalars(stmt).first()
            if row is None:
                return None
            row.state, row.called_at, row.counter, row.clerk_id = CALLED, now, counter, clerk_id
            return _ticket(row)

        return self.store.write_sync(write)

    def recall(self, ticket_id: int) -> Ticket:
        """Call the same number again: it moves to the top of the call display."""
        return self._change(ticket_id, (CALLED,), lambda row, now: setattr(row, "called_at", now))

    def skip(self, ticket_id: int) -> Ticket:
        """The citizen did not come: the ticket ends as skipped."""
        return self._change(ticket_id, (CALLED,), _finish(SKIPPED))

    def complete(self, ticket_id: int) -> Ticket:
        return self._change(ticket_id, (CALLED,), _finish(DONE))

    def _change(self, ticket_id: int, allowed: tuple[str, ...], apply) -> Ticket:
        now = self.clock()

        def write(s: Session) -> Ticket:
            row = s.get(QueueTicket, ticket_id, with_for_update=True)
            if row is None:
                raise QueueError("clerk.queue.err.gone", f"no ticket {ticket_id}")
            if row.state not in allowed:
                raise QueueError("clerk.queue.err.state", f"ticket {row.number} is {row.state}")
            apply(row, now)
            return _ticket(row)

        return self.store.write_sync(write)

    # Reading ----------------------------------------------------------------
    def current(self, counter: str) -> Ticket | None:
        stmt = (
            select(QueueTicket)
            .where(
                QueueTicket.day == self.today(),
                QueueTicket.state == CALLED,
                QueueTicket.counter == _counter(counter),
            )
            .order_by(QueueTicket.called_at.desc())
            .limit(1)
        )
        row = self.store.read(lambda s: s.scalars(stmt).first())
        return _ticket(row) if row else None

    def waiting_counts(self) -> dict[str, int]:
        stmt = (
            select(QueueTicket.service_group, func.count())
            .where(QueueTicket.day == self.today(), QueueTicket.state == WAITING)
            .group_by(QueueTicket.service_group)
        )
        counts = dict(self.store.read(lambda s: s.execute(stmt).all()))
        return {key: int(counts.get(key, 0)) for key in self.groups}

    def recent_calls(self, limit: int = 6) -> list[Call]:
        """The last `limit` calls of the day, newest first (what the call display shows)."""
        stmt = (
            select(
                QueueTicket.id,
                QueueTicket.number,
                QueueTicket.counter,
                QueueTicket.called_at,
                QueueTicket.priority,
            )
            .where(QueueTicket.day == self.today(), QueueTicket.called_at.is_not(None))
            .order_by(QueueTicket.called_at.desc(), QueueTicket.id.desc())
            .limit(limit)
        )
        rows = self.store.read(lambda s: s.execute(stmt).all())
        return [
            Call(r.id, r.number, r.counter or "", r.called_at, r.priority is not None) for r in rows
        ]

    def stats(self, day: date | None = None) -> list[GroupStats]:
        """Per group: tickets issued, waiting, served, skipped and waiting times."""
        day = day or self.today()

        def read(s: Session) -> list[GroupStats]:
            wait = seconds_between(s, QueueTicket.issued_at, QueueTicket.called_at)
            called = QueueTicket.called_at.is_not(None)
            stmt = (
                select(
                    QueueTicket.service_group,
                    func.count(),
                    func.sum(_flag(QueueTicket.state == WAITING)),
                    func.sum(_flag(called & (QueueTicket.state != SKIPPED))),
                    func.sum(_flag(QueueTicket.state == SKIPPED)),
                    func.avg(wait),
                    func.max(wait),
                )
                .where(QueueTicket.day == day)
                .group_by(QueueTicket.service_group)
            )
            found = {r[0]: r for r in s.execute(stmt)}
            out = []
            for key in [*self.groups, *sorted(set(found) - set(self.groups))]:
                r = found.get(key)
                if r is None:
                    out.append(GroupStats(key, 0, 0, 0, 0, None, None))
                    continue
                out.append(
                    GroupStats(
                        key,
                        int(r[1]),
                        int(r[2] or 0),
                        int(r[3] or 0),
                        int(r[4] or 0),
                        _float(r[5]),
                        _float(r[6]),
                    )
                )
            return out

        return self.store.read(read)


def _flag(condition):
    return case((condition, 1), else_=0)


def _float(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _finish(state: str):
    def apply(row: QueueTicket, now: datetime) -> None:
        row.state, row.finished_at = state, now

    return apply


def _counter(counter: str) -> str:
    text = str(counter).strip()
    if not text or len(text) > 16:
        raise QueueError("clerk.queue.err.counter", f"counter {counter!r}: 1-16 characters")
    return text
