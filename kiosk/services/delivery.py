"""Delivery: one state machine for every item the kiosk sends to the portal, exactly once.

An item is a row of a table (a dossier; later a payment, a feedback) whose request bytes
were frozen when it was made. Its state moves

    queued --claim--> sending --answer--> delivered | needs_clerk | auth_blocked | queued
       ^                 |                                               (transient: backoff)
       +----released-----+  (lease too short, stopping, the batch halted)

and an expired lease (the holder was killed or lost power) puts it back in reach. Items
may depend on others:

- **parts** are sent first, inside the item's own lease and attempt (a dossier's
  attachments): they have no state of their own, only a "done" mark recorded with the
  item's outcome, and the portal takes them idempotently;
- **after** names items of another kind that must be delivered before this one is even
  claimed (a payment after its dossier): the claim query only takes rows whose
  predecessor is `delivered`.

How it stays exactly once:
- Every attempt sends the item's stored bytes with its Idempotency-Key, so a replay after a
  crash, a timeout or a lost answer gets the original receipt back (200), never a copy.
- A worker claims a few due items with a lease (state `sending`, lease_owner, lease_until)
  in one short transaction: on PostgreSQL with `SELECT ... FOR UPDATE SKIP LOCKED`, on
  SQLite under the writer's BEGIN IMMEDIATE. Other workers skip leased items. A lease
  whose holder died expires; a holder that died on this same machine is seen at once.
- A worker never starts a request its lease might not outlive: every request has a total
  deadline (the client's), and before each one the lease must have that much left.
- Each attempt and its outcome are written together (outcomes of several items share a
  transaction: group commit), each in its own savepoint, so one answer that cannot be
  stored never undoes the others; all of it before the batch is reported.

Outcomes: delivered; needs_clerk (400, 409, 413, 415, 422, with the portal's field
messages); auth_blocked (401/403: all sending stops, see kiosk.services.portal_link);
transient (timeouts, connection errors, 5xx, 429, malformed answers: exponential backoff
with jitter, honouring Retry-After, without limit). No personal data is logged or written
to attempts: only status codes, portal error names and field names.

## Adding a kind of item

1. The tables, in kiosk.services.models (and one alembic revision): the item's model takes
   the columns of `DeliveryColumns` (`kiosk_id`, `state`, `next_attempt_at`,
   `attempt_count`, `last_error`, `field_errors`, the lease, `delivered_at`; index `state`
   with `next_attempt_at`) plus whatever the answer fills in (a receipt number...); its
   attempts table takes `AttemptColumns` and a column naming the item. Store the request
   body frozen (encrypted if it holds personal data) when the item is made, with
   `state="queued"` and `next_attempt_at=None`.

2. The class, in its own module, registered with `@register`; it states only what differs:

       @register
       class PaymentKind(DeliveryKind):
           name = "payment"
           table = Payment.__table__
           after = (("dossier", "dossier_id"),)  # its dossier is delivered first
           parts = ()                            # or ("recording",): PartKinds sent first
           delivered_columns = ("payment_code", "delivered_at")
           attempts_table = PaymentAttempt.__table__
           attempts_owner = "payment_id"

           def body(self, item):                  # the request from the stored bytes
               return self.services.cipher.decrypt(item.data.body_enc, ...)
           def send(self, item, ctx):
               return ctx.call(lambda c: c.submit_payment(item.request, item.data.client_ref))
           def delivered_values(self, answer, now):   # how the answer is recorded
               return {"payment_code": answer.code, "delivered_at": now}

   `load` reads the `columns` of the claimed rows (id, client_ref, body_enc unless the kind
   says otherwise); a kind overrides it to join what the request needs from the item it
   depends on. `body` is called by `prepare` before any part is sent: a body that cannot
   be read makes the item `needs_clerk`. `self.services` is the DossierService (its
   `cipher`, `attachments_dir`). `send` makes every portal request through `ctx.call`
   (it checks the lease and the caller's deadline first, and retries a clock_skew
   refusal once) and raises the client's typed errors (kiosk.services.portal_client) or
   `NeedsClerk(error, details)`; it may catch `Permanent` to repair and retry once (the
   dossier kind uploads an attachment the portal lost; `ctx.note(...)` adds a row to the
   attempt's history), or turn it into a `Transient` where the contract says so:

       except Permanent as exc:   # 422 on dossier_client_ref only: the dossier is not known yet
           if exc.status == 422 and [d["field"] for d in exc.details] == ["dossier_client_ref"]:
               raise Transient(422, None, False, "dossier not known at the portal yet") from None
           raise

   `delivered_values` must accept only a well-formed answer: validate it in the client
   (as `submit_dossier` does), and raise `ValueError` here for anything still wrong: it
   becomes that item's transient error, never the batch's. Attempts go to
   `attempts_table`, naming the item in its `attempts_owner` column (by default the
   `attempts` table of dossiers). `Outbox.status()` counts dossiers; a new kind shows its
   own.

3. A part (sent inside its parent's lease, no state of its own) is a `PartKind` with
   `name`, `load(session, parent_ids) -> {parent_id: [Part]}`, `send(part, ctx)` and
   `mark_done(session, ids)`; the parent lists its name in `parts`. A part the portal
   refuses makes the parent `needs_clerk` with the part's field (`refused`). A stored file
   uploaded with PUT /attachments/{sha256} is a `FilePart`: it says how to `read` the file,
   which `done_column` of its `table` marks it sent, and what the clerk is told when the
   file cannot be read (`unreadable`).

4. Import the module where the outbox is built (kiosk/services/outbox.py imports the
   kinds it delivers), so registration runs. `Delivery(kinds=[...])` takes explicit kinds
   in tests. Kinds are claimed in `order` (lower first), dossiers at 10.

No Qt here: the sync worker (kiosk.services.sync) runs this on its own thread.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Table, and_, bindparam, exists, insert, select, text, update
from sqlalchemy.orm import Session

from kiosk.services.models import AUTH_BLOCKED, DELIVERED, NEEDS_CLERK, QUEUED, SENDING, Attempt
from kiosk.services.portal_client import AuthBlocked, NotFound, Permanent, PortalClient, Transient
from kiosk.services.portal_link import PortalLink
from kiosk.services.store import Store

log = logging.getLogger(__name__)

# Group commit of outcomes: at most this many, or this long (seconds), before a write.
GROUP_COMMIT_MAX = 16
GROUP_COMMIT_WAIT = 0.02
RESULTS = ("delivered", "needs_clerk", "auth_blocked", "transient", "released")


# --- backoff ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits between d/2 and d, where
    d = min(cap, base * 2**(n-1)). A Retry-After from the portal is a floor (capped at
    `retry_after_cap` so that a broken header cannot park an item for days)."""

    base: float = 2.0
    cap: float = 600.0
    retry_after_cap: float = 3600.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, min(attempt, 60) - 1))

    def max_delay(self) -> float:
        """The longest wait `delay` can give."""
        return max(self.cap, self.retry_after_cap * 1.1 + 0.05)

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        rng = rng or random
        d = self.ceiling(attempt)
        wait = d / 2 + rng.uniform(0, d / 2)
        if retry_after is not None and retry_after > 0:
            floor = min(retry_after, self.retry_after_cap)
            # A little spread above the floor, so that many items told "retry in 1 s"
            # do not all come back in the same instant.
            wait = max(wait, floor + rng.uniform(0, 0.1 * floor + 0.05))
        return wait


# --- worker identity and liveness ----------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' when unknown)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return ""
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    rest = stat.rsplit(")", 1)[-1].split()
    return rest[19] if len(rest) > 19 else ""


def machine_prefix() -> str:
    """host:boot: — a lease owner with this prefix runs on this machine since this boot."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:24] or "host"
    boot = _read("/proc/sys/kernel/random/boot_id").replace("-", "")[:8] or "noboot"
    return f"{host}:{boot}:"


def default_worker_id() -> str:
    pid = os.getpid()
    return f"{machine_prefix()}{pid}:{_start_time(pid) or 'x'}"[:64]


def local_owner_alive(owner: str, prefix: str | None = None) -> bool:
    """False only when `owner` is a process of this machine (same boot) that is gone."""
    prefix = prefix or machine_prefix()
    if not owner.startswith(prefix):
        return True  # another machine: only its lease expiry tells
    pid_text, _, start = owner[len(prefix) :].partition(":")
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    current = _start_time(pid)
    if current:
        return start in ("x", current)  # same pid, other start time: a new process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return not Path("/proc/self/stat").exists()  # /proc works but has no such pid: gone


def lease_margin(lease_seconds: float) -> float:
    """Time kept in hand at the end of a lease (for recording the outcome)."""
    return min(5.0, 0.1 * lease_seconds)


def check_lease(lease_seconds: float, request_budget: float) -> None:
    if lease_seconds - lease_margin(lease_seconds) <= request_budget:
        raise ValueError(
            f"lease_seconds ({lease_seconds}) must leave room for one whole "
            f"request (connect + read timeout = {request_budget} s)"
        )


# --- items and kinds -----------------------------------------------------------------------------
@dataclass
class Part:
    """Something sent before its parent, inside the parent's lease (an attachment)."""

    kind: str
    id: int
    index: int  # its place among the parent's parts of this kind (for field names)
    data: Any
    done: bool = False


@dataclass
class Item:
    """A leased item, as its kind loaded it at claim time."""

    kind: str
    id: int
    attempt_count: int
    data: Any
    parts: list[Part] = field(default_factory=list)
    request: Any = None  # what the kind's `prepare` made from the stored bytes

    # The dossier kind's fields, for callers that knew claimed dossiers.
    @property
    def client_ref(self) -> str:
        return getattr(self.data, "client_ref", "")

    @property
    def body_enc(self) -> bytes | None:
        return getattr(self.data, "body_enc", None)


class NeedsClerk(Exception):
    """This item cannot go as it is: a person must look (field messages for the clerk)."""

    def __init__(
        self, error: str, details: list[dict[str, str]] | None = None, status: int | None = None
    ) -> None:
        super().__init__(error)
        self.error, self.details, self.status = error, details or [], status


class Release(Exception):
    """Stop before the next request: the lease is too short or the worker is stopping."""


class DeliveryKind:
    """A kind of item with a state row of its own (see the module docstring)."""

    name: ClassVar[str] = ""
    table: ClassVar[Table]
    order: ClassVar[int] = 100
    parts: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[tuple[str, str], ...]] = ()  # (kind, column of this table)
    delivered_columns: ClassVar[tuple[str, ...]] = ()
    attempts_table: ClassVar[Table] = Attempt.__table__
    attempts_owner: ClassVar[str] = "dossier_id"  # the column of attempts_table naming it
    columns: ClassVar[tuple[str, ...]] = ("id", "client_ref", "body_enc")  # what load reads

    def __init__(self, services: Any) -> None:
        """`services`: what building a request needs (the DossierService: cipher,
        attachments folder)."""
        self.services = services

    def load(self, session: Session, ids: list[int]) -> dict[int, Any]:
        """Plain data for these claimed ids (read in the claim transaction): the rows'
        `columns`. Plain rows, not ORM objects: this runs for every batch."""
        t = self.table.c
        query = select(*(t[name] for name in self.columns)).where(t.id.in_(ids))
        return {r.id: r for r in session.execute(query)}

    def prepare(self, item: Item) -> Any:
        """The request material from the stored bytes (`body`), before any part is sent.
        A body that cannot be read (a damaged or foreign-key ciphertext) needs a clerk:
        only a person can help."""
        try:
            return self.body(item)
        except NeedsClerk:
            raise
        except Exception as exc:
            log.error(
                "%s: stored body cannot be decrypted (%s)", self.label(item), type(exc).__name__
            )
            raise NeedsClerk("stored body cannot be decrypted") from None

    def body(self, item: Item) -> Any:
        """The request from the stored bytes (e.g. the decrypted body). Optional."""
        return None

    def send(self, item: Item, ctx: SendContext) -> Any:
        """Send the item (its parts are done already; `item.request` is what `prepare`
        returned) and return the portal's answer."""
        raise NotImplementedError

    def delivered_values(self, answer: Any, now: datetime) -> dict[str, Any]:
        """Values for `delivered_columns` from a well-formed answer (ValueError if not)."""
        return {}

    def attempt_values(self, item_id: int) -> dict[str, Any]:
        return {self.attempts_owner: item_id}

    def label(self, item: Item) -> str:
        """How the log names the item (never personal data): its client_ref, else its id."""
        return f"{self.name} {item.client_ref or item.id}"


class PartKind:
    """Something sent inside its parent's lease before the parent (no state of its own)."""

    name: ClassVar[str] = ""
    refused_as: ClassVar[str] = "refused"  # how the clerk's message names a refusal

    def __init__(self, services: Any) -> None:
        self.services = services

    def load(self, session: Session, parent_ids: list[int]) -> dict[int, list[Part]]:
        raise NotImplementedError

    def send(self, part: Part, ctx: SendContext) -> None:
        """Send it; raise NeedsClerk when it cannot be read, the client's errors else."""
        raise NotImplementedError

    def mark_done(self, session: Session, ids: list[int]) -> None:
        raise NotImplementedError

    def refused(self, part: Part, exc: Permanent) -> NeedsClerk:
        return NeedsClerk(
            f"{self.name} refused: HTTP {exc.status} {exc.error}",
            [
                {
                    "field": f"{self.name}s[{part.index}]",
                    "message": f"{self.refused_as}: HTTP {exc.status} {exc.error}",
                },
                *exc.details,
            ],
            exc.status,
        )


class FilePart(PartKind):
    """A stored file uploaded with PUT /attachments/{sha256} (the portal takes it again
    harmlessly); `done_column` of `table` marks it sent."""

    table: ClassVar[Table]
    done_column: ClassVar[str]
    # What the clerk is told when the file cannot be read: the error, and the message the
    # exception's name is added to.
    unreadable: ClassVar[tuple[str, str]] = (
        "file missing or unreadable",
        "the kiosk cannot read the file",
    )

    def read(self, part: Part) -> tuple[str, bytes, str]:
        """The file's sha256, content and content type."""
        raise NotImplementedError

    def field(self, part: Part) -> str:
        """The field the clerk's message names when the file cannot be read."""
        return f"{self.name}s[{part.index}]"

    def send(self, part: Part, ctx: SendContext) -> None:
        try:
            sha256, data, content_type = self.read(part)
        except Exception as exc:
            error, message = self.unreadable
            raise NeedsClerk(
                error,
                [{"field": self.field(part), "message": f"{message} ({type(exc).__name__})"}],
            ) from None
        ctx.call(lambda c: c.upload_attachment(sha256, data, content_type))

    def mark_done(self, session: Session, ids: list[int]) -> None:
        t = self.table
        session.execute(update(t).where(t.c.id.in_(ids)).values({self.done_column: True}))


KINDS: dict[str, type[DeliveryKind]] = {}
PART_KINDS: dict[str, type[PartKind]] = {}


def register(cls: type) -> type:
    """Class decorator: make a DeliveryKind or PartKind known by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if issubclass(cls, DeliveryKind):
        KINDS[cls.name] = cls
    elif issubclass(cls, PartKind):
        PART_KINDS[cls.name] = cls
    else:
        raise TypeError(f"{cls.__name__} is neither a DeliveryKind nor a PartKind")
    return cls


# --- one attempt ---------------------------------------------------------------------------------
@dataclass
class AttemptRow:
    outcome: str
    status: int | None
    error: str | None


@dataclass
class Outcome:
    """What happened to one item: `result` is one of RESULTS."""

    item_id: int
    result: str
    kind: str = "dossier"
    attempts: list[AttemptRow] = field(default_factory=list)
    answer: Any = None
    error: str | None = None
    field_errors: list[dict[str, str]] | None = None
    retry_after: float | None = None
    status: int | None = None
    done_parts: list[tuple[str, int]] = field(default_factory=list)
    attempt_count: int = 0  # when claimed: the backoff grows with it


class SendContext:
    """What a kind's `send` uses: portal calls under the item's deadline, its parts."""

    def __init__(self, delivery: Delivery, item: Item, deadline: float, outcome: Outcome):
        self._delivery = delivery
        self.item = item
        self.deadline = deadline
        self.outcome = outcome

    def check(self) -> None:
        """Raise Release when the worker is stopping or the lease is too short now."""
        now = time.monotonic()
        cut = self._delivery.link.deadline  # the caller's own end (outbox drain --timeout)
        if self._delivery.stopping or now > self.deadline or (cut is not None and now >= cut):
            raise Release

    def call(self, fn: Callable[[PortalClient], Any]) -> Any:
        """One portal request (checked against the lease first; clock skew retried)."""
        self.check()
        return self._delivery.link.call(fn)

    def note(self, outcome: str, status: int | None, error: str | None) -> None:
        """An extra row in this attempt's history (e.g. 'attachment_missing')."""
        self.outcome.attempts.append(AttemptRow(outcome, status, error))

    def send_part(self, part: Part) -> None:
        """Send one part now (also again when it is marked done: the portal lost it)."""
        kind = self._delivery.part_kinds[part.kind]
        try:
            kind.send(part, self)
        except Permanent as exc:
            raise kind.refused(part, exc) from None
        part.done = True
        self.outcome.done_parts.append((part.kind, part.id))


@dataclass
class Claim:
    items: list[Item]
    at: float  # monotonic time of the claim: the lease runs from here


@dataclass(frozen=True)
class BatchReport:
    """What one `run_once` did. `offline`: a request got no answer at all (check the
    network); `paused_for`: the portal asked to slow down (seconds)."""

    claimed: int = 0
    delivered: int = 0
    needs_clerk: int = 0
    transient: int = 0
    released: int = 0
    auth_blocked: bool = False
    offline: bool = False
    paused_for: float = 0.0
    delivered_ids: tuple[int, ...] = ()


# --- the state machine ---------------------------------------------------------------------------
class Delivery:
    """Claims, sends and records items of every kind. Thread-safe: the sync worker calls
    `run_once`, other threads may read its state or call `release_mine`. With `prefetch`
    (the sync worker) the next batch is claimed while one is sent; a caller that may stop
    after any batch and leave nothing leased passes False."""

    def __init__(
        self,
        store: Store,
        link: PortalLink,
        services: Any,
        *,
        worker_id: str,
        kinds: Iterable[type[DeliveryKind]] | None = None,
        part_kinds: Iterable[type[PartKind]] | None = None,
        lease_seconds: float = 300.0,
        batch_size: int = 25,
        senders: int = 1,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        prefetch: bool = True,
    ) -> None:
        check_lease(lease_seconds, link.portal.request_budget)
        self.store = store
        self.link = link
        self.worker_id = worker_id[:64]
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.senders = max(1, senders)
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.prefetch = prefetch
        chosen = list(kinds) if kinds is not None else list(KINDS.values())
        self.kinds: dict[str, DeliveryKind] = {
            k.name: k(services) for k in sorted(chosen, key=lambda k: (k.order, k.name))
        }
        parts = list(part_kinds) if part_kinds is not None else list(PART_KINDS.values())
        self.part_kinds: dict[str, PartKind] = {p.name: p(services) for p in parts}
        for kind in self.kinds.values():
            missing = [p for p in kind.parts if p not in self.part_kinds]
            if missing:
                raise ValueError(f"kind {kind.name} needs part kinds {missing}")
        self._statements = {name: self._build_statements(k) for name, k in self.kinds.items()}
        self._machine = machine_prefix()
        self._senders_pool: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._pause_until = 0.0  # monotonic: the portal asked us to slow down
        self._prefetch: Future[Claim] | None = None
        self._pending: list[Outcome] = []
        self._pending_lock = threading.Lock()
        self._flush: Future[None] | None = None
        self._flush_started = False
        self._flushed_at = 0.0
        link.on_unblocked = self.requeue_blocked

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.link.clock

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self) -> None:
        """Make a running batch hand back its unsent items after the current request (and
        any later batch, until `allow_sending`)."""
        self._stopping.set()

    def allow_sending(self) -> None:
        self._stopping.clear()

    def close(self) -> None:
        pool, self._senders_pool = self._senders_pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # --- claiming ------------------------------------------------------------------------------
    def _db_now(self, session: Session) -> datetime:
        """The time leases are judged by. On PostgreSQL the server's clock, so machines with
        different clocks agree on when a lease has expired; on SQLite (one machine) ours."""
        if self.store.is_sqlite:
            return self.clock()
        return session.execute(
            text("SELECT CAST(timezone('UTC', now()) AS timestamp)")
        ).scalar_one()

    def _dead_local_owners(self, session: Session, table: Table, now: datetime) -> list[str]:
        t = table.c
        owners = session.scalars(
            select(t.lease_owner)
            .distinct()
            .where(
                t.state == SENDING,
                t.lease_until >= now,
                t.lease_owner.startswith(self._machine, autoescape=True),
                t.lease_owner != self.worker_id,
            )
        ).all()
        return [o for o in owners if o and not local_owner_alive(o, self._machine)]

    def _after_clause(self, kind: DeliveryKind) -> Any:
        """Rows whose predecessors (`after`) are delivered."""
        clauses = []
        for other_name, column in kind.after:
            other = self.kinds[other_name].table if other_name in self.kinds else None
            if other is None:
                other = KINDS[other_name].table
            clauses.append(
                exists().where(other.c.id == kind.table.c[column], other.c.state == DELIVERED)
            )
        return and_(*clauses) if clauses else None

    def _claim_kind(
        self, session: Session, kind: DeliveryKind, limit: int, now: datetime, lease_now: datetime
    ) -> list[int]:
        t = kind.table.c
        dead = self._dead_local_owners(session, kind.table, lease_now)
        # A retry time further ahead than any backoff can set means the clock was moved
        # back since (it was set wrong, then corrected): do not wait for it.
        beyond = now + timedelta(seconds=self.backoff.max_delay() + 60)
        queued = t.state == QUEUED
        # One simple condition per query, so that each is a range of the (state,
        # next_attempt_at) index rather than a scan of the whole table.
        wanted = [
            and_(t.state == SENDING, t.lease_until < lease_now),  # holder gone silent
            and_(t.state == SENDING, t.lease_owner.in_(dead)) if dead else None,
            and_(queued, t.next_attempt_at.is_(None)),
            and_(queued, t.next_attempt_at <= now),
            and_(queued, t.next_attempt_at > beyond),
        ]
        ready = self._after_clause(kind)
        ids: list[int] = []
        for condition in wanted:
            if condition is None or len(ids) >= limit:
                continue
            query = (
                select(t.id)
                .where(condition, t.kiosk_id == self.link.portal.kiosk_id)
                .order_by(t.next_attempt_at, t.id)
                .limit(limit - len(ids))
            )
            if ready is not None:
                query = query.where(ready)
            if ids:
                query = query.where(t.id.not_in(ids))
            if not self.store.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids.extend(session.scalars(query).all())
        if dead and ids:
            log.info("taking over %ss leased by %d stopped process(es)", kind.name, len(dead))
        return ids

    def _claim(self, session: Session, limit: int) -> Claim:
        claimed_at = time.monotonic()  # before the lease's start: the deadline errs early
        now = self.clock()
        lease_now = self._db_now(session)
        items: list[Item] = []
        for kind in self.kinds.values():
            if len(items) >= limit:
                break
            ids = self._claim_kind(session, kind, limit - len(items), now, lease_now)
            if not ids:
                continue
            t = kind.table.c
            session.execute(
                update(kind.table)
                .where(t.id.in_(ids))
                .values(
                    state=SENDING,
                    lease_owner=self.worker_id,
                    lease_until=lease_now + timedelta(seconds=self.lease_seconds),
                )
            )
            counts = dict(session.execute(select(t.id, t.attempt_count).where(t.id.in_(ids))).all())
            data = kind.load(session, ids)
            loaded = {i: Item(kind.name, i, counts.get(i) or 0, data[i]) for i in ids}
            for part_name in kind.parts:
                for parent_id, parts in self.part_kinds[part_name].load(session, ids).items():
                    loaded[parent_id].parts.extend(parts)
            items.extend(loaded[i] for i in ids)
        return Claim(items, claimed_at)

    def claim(self, limit: int | None = None) -> list[Item]:
        """Lease up to `limit` due items to this worker (state `sending`)."""
        return self.store.write_sync(lambda s: self._claim(s, limit or self.batch_size)).items

    # --- sending -------------------------------------------------------------------------------
    def run_once(self) -> BatchReport:
        """Claim one batch and send it; each item's attempts and outcome are committed as
        they come (group commit), all before this returns. The next batch is claimed while
        this one is being sent."""
        wait = self._pause_until - time.monotonic()
        if wait > 0:
            self._drop_prefetch()
            return BatchReport(paused_for=wait)
        gate = self.link.gate()
        if gate != "open":
            self._drop_prefetch()
        if gate == "closed":
            return BatchReport(auth_blocked=True)
        if gate == "probe":
            verdict = self.link.probe_auth()
            if verdict is None:
                return BatchReport(offline=True)
            if not verdict:
                return BatchReport(auth_blocked=True)
        claim = self._take_prefetch()
        if claim is None:
            claim = self.store.write_sync(lambda s: self._claim(s, self.batch_size))
        if not claim.items:
            return BatchReport()
        if self.prefetch and len(claim.items) == self.batch_size:
            # More is probably due: let the writer claim it while this batch goes out.
            self._prefetch = self.store.write(lambda s: self._claim(s, self.batch_size))
        report = self.send_claimed(claim.items, claim.at)
        if report.auth_blocked or report.offline or report.paused_for or report.released:
            self._drop_prefetch()
        return report

    def _take_prefetch(self) -> Claim | None:
        future, self._prefetch = self._prefetch, None
        if future is None:
            return None
        try:
            return future.result()
        except Exception:
            log.exception("claiming the next batch failed")
            return None

    def _drop_prefetch(self) -> None:
        """Hand back a batch claimed ahead that will not be sent now."""
        claim = self._take_prefetch()
        if claim is not None and claim.items:
            self.record([Outcome(i.id, "released", i.kind) for i in claim.items])

    def send_claimed(self, claimed: list[Item], claimed_at: float) -> BatchReport:
        """Send items this worker has leased (at monotonic time `claimed_at`), `senders` at
        a time. A refusal of the credentials, a request without any answer or a request to
        slow down stops the batch: what was not started goes back untouched."""
        deadline = (
            claimed_at
            + self.lease_seconds
            - lease_margin(self.lease_seconds)
            - self.link.portal.request_budget
        )
        halt = threading.Event()
        lock = threading.Lock()
        committed: list[Future[None]] = []
        flags = {"auth": False, "offline": False, "pause": 0.0}
        skipped: list[Outcome] = []

        def send(item: Item) -> Outcome:
            if halt.is_set():
                outcome = Outcome(item.id, "released", item.kind)
                with lock:
                    skipped.append(outcome)
                return outcome
            outcome = self._send_one(item, deadline)
            outcome.attempt_count = item.attempt_count
            # Written as soon as known (with whatever else is pending: group commit), so a
            # crash mid-batch loses at most the answers not committed yet.
            future = self._submit([outcome])
            with lock:
                if future is not None:
                    committed.append(future)
                if outcome.result == "released":
                    halt.set()
                elif outcome.result == "auth_blocked":
                    flags["auth"] = True
                    halt.set()
                elif outcome.result == "transient" and outcome.status is None:
                    flags["offline"] = True  # no answer at all: check the network first
                    halt.set()
                elif outcome.result == "transient" and outcome.status in (429, 503):
                    wait = self.backoff.delay(1, outcome.retry_after, self.rng)
                    flags["pause"] = max(float(flags["pause"]), wait)
                    self._pause_until = max(self._pause_until, time.monotonic() + wait)
                    halt.set()
            return outcome

        if self.senders > 1 and len(claimed) > 1:
            if self._senders_pool is None:
                self._senders_pool = ThreadPoolExecutor(
                    self.senders, thread_name_prefix="outbox-send"
                )
            outcomes = list(self._senders_pool.map(send, claimed))
        else:
            outcomes = [send(i) for i in claimed]
        # The skipped ones go back as they were, due at once; then everything is written.
        last = self._submit(skipped, force=True)
        for future in [*committed, *([last] if last is not None else [])]:
            future.result()  # reported only once committed
        results = [o.result for o in outcomes]
        return BatchReport(
            claimed=len(claimed),
            delivered=results.count("delivered"),
            needs_clerk=results.count("needs_clerk"),
            transient=results.count("transient"),
            released=results.count("released"),
            auth_blocked=bool(flags["auth"]),
            offline=bool(flags["offline"]),
            paused_for=float(flags["pause"]),
            delivered_ids=tuple(o.item_id for o in outcomes if o.result == "delivered"),
        )

    def _send_one(self, item: Item, deadline: float) -> Outcome:
        kind = self.kinds[item.kind]
        outcome = Outcome(item.id, "transient", item.kind)
        ctx = SendContext(self, item, deadline, outcome)
        try:
            item.request = kind.prepare(item)
            for part in item.parts:
                if not part.done:
                    ctx.send_part(part)
            answer = kind.send(item, ctx)
        except Release:
            outcome.result = "released"
            return outcome
        except NeedsClerk as exc:
            return self._needs_clerk(kind, item, outcome, exc)
        except Permanent as exc:
            return self._needs_clerk(
                kind,
                item,
                outcome,
                NeedsClerk(f"HTTP {exc.status} {exc.error}", exc.details, exc.status),
            )
        except AuthBlocked as exc:
            outcome.result, outcome.status, outcome.error = "auth_blocked", exc.status, exc.detail
            outcome.attempts.append(AttemptRow("auth_blocked", exc.status, exc.detail))
            self.link.note_auth_block(exc)
            return outcome
        except Transient as exc:
            outcome.status, outcome.error = exc.status, exc.detail
            outcome.retry_after = exc.retry_after
            outcome.attempts.append(AttemptRow("transient", exc.status, exc.detail))
            return outcome
        except NotFound as exc:  # a wrong portal URL: keep the item, retry later
            outcome.status, outcome.error = 404, exc.detail
            outcome.attempts.append(AttemptRow("transient", 404, exc.detail))
            return outcome
        except Exception as exc:
            log.exception("%s: unexpected failure while sending", kind.label(item))
            outcome.error = f"unexpected {type(exc).__name__}"
            outcome.status = -1  # not a network failure: no offline check
            outcome.attempts.append(AttemptRow("transient", None, outcome.error))
            return outcome
        outcome.result, outcome.answer = "delivered", answer
        outcome.status = 200 if getattr(answer, "replay", False) else 201
        outcome.attempts.append(AttemptRow("delivered", outcome.status, None))
        return outcome

    @staticmethod
    def _needs_clerk(kind: DeliveryKind, item: Item, outcome: Outcome, exc: NeedsClerk) -> Outcome:
        outcome.result, outcome.error, outcome.field_errors = "needs_clerk", exc.error, exc.details
        outcome.status = exc.status
        outcome.attempts.append(AttemptRow("needs_clerk", exc.status, exc.error))
        log.warning(
            "%s needs a clerk: %s (fields: %s)",
            kind.label(item),
            exc.error,
            ", ".join(d.get("field", "") for d in exc.details) or "-",
        )
        return outcome

    # --- recording -----------------------------------------------------------------------------
    def record(self, outcomes: list[Outcome]) -> None:
        """Write these outcomes and wait until they are committed."""
        if outcomes:
            future = self._submit(outcomes, force=True)
            if future is not None:
                future.result()

    def _submit(self, outcomes: list[Outcome], force: bool = False) -> Future[None] | None:
        """Queue outcomes for the writer (group commit): one transaction takes everything
        queued by the time the writer gets to it, while sending goes on. A transaction is
        started when `force`d, when enough is waiting or when the last one is a little
        while ago, so that the writer stays free for confirms. The returned future (None:
        not started yet) is done once these outcomes are committed."""
        with self._pending_lock:
            self._pending.extend(outcomes)
            if self._flush is not None and not self._flush_started:
                return self._flush  # not started yet: it will take these too
            if not self._pending:
                return self._flush
            now = time.monotonic()
            if not (
                force
                or len(self._pending) >= GROUP_COMMIT_MAX
                or now - self._flushed_at >= GROUP_COMMIT_WAIT
            ):
                return None
            self._flush_started = False
            self._flushed_at = now
            self._flush = self.store.write(self._write_pending)
            return self._flush

    def _write_pending(self, session: Session) -> None:
        with self._pending_lock:
            outcomes, self._pending = self._pending, []
            self._flush_started = True
        if not outcomes:
            return
        try:
            with session.begin_nested():
                self._write_outcomes(session, outcomes)
            return
        except Exception:
            log.exception("recording %d outcome(s) together failed: one at a time", len(outcomes))
        # One bad answer must not undo the others: each on its own savepoint, and one that
        # still cannot be stored becomes a transient error of its own item.
        for outcome in outcomes:
            try:
                with session.begin_nested():
                    self._write_outcomes(session, [outcome])
            except Exception as exc:
                log.error(
                    "%s %s: its outcome cannot be stored (%s)",
                    outcome.kind,
                    outcome.item_id,
                    type(exc).__name__,
                )
                fallback = Outcome(
                    outcome.item_id,
                    "transient",
                    outcome.kind,
                    [AttemptRow("transient", outcome.status, "the answer could not be stored")],
                    error="the answer could not be stored",
                    status=-1,
                    attempt_count=outcome.attempt_count,
                )
                with session.begin_nested():
                    self._write_outcomes(session, [fallback])

    def _build_statements(self, kind: DeliveryKind) -> dict[str, Any]:
        t = kind.table.c
        mine = and_(t.id == bindparam("_id"), t.state == SENDING, t.lease_owner == bindparam("_me"))
        free = {"lease_owner": None, "lease_until": None}
        bump = t.attempt_count + bindparam("_inc")
        answer = {c: bindparam(f"v_{c}") for c in kind.delivered_columns}
        err = bindparam("err")

        def held(**values: Any) -> Any:
            """This worker's lease ends with these values."""
            return update(kind.table).where(mine).values(attempt_count=bump, **free, **values)

        return {
            # What the portal says is true whoever holds the lease now.
            "delivered": update(kind.table)
            .where(t.id == bindparam("_id"), t.state != DELIVERED)
            .values(
                state=DELIVERED,
                last_error=None,
                field_errors=None,
                next_attempt_at=None,
                attempt_count=bump,
                **answer,
                **free,
            ),
            "needs_clerk": held(
                state=NEEDS_CLERK,
                last_error=err,
                next_attempt_at=None,
                field_errors=bindparam("ferr"),
            ),
            "auth_blocked": held(
                state=AUTH_BLOCKED, last_error=err, next_attempt_at=bindparam("now")
            ),
            "transient": held(state=QUEUED, last_error=err, next_attempt_at=bindparam("nxt")),
            # Released: back as it was, due at once.
            "released": held(state=QUEUED),
        }

    def _row(self, kind: DeliveryKind, o: Outcome, now: datetime) -> dict[str, Any]:
        row: dict[str, Any] = {
            "_id": o.item_id,
            "_inc": 1 if o.attempts else 0,
            "_me": self.worker_id,
        }
        if o.result == "delivered":
            values = kind.delivered_values(o.answer, now)
            row.update({f"v_{c}": values.get(c) for c in kind.delivered_columns})
        elif o.result == "needs_clerk":
            row.update(err=o.error, ferr=json.dumps(o.field_errors or [], ensure_ascii=False))
        elif o.result == "auth_blocked":
            row.update(err=o.error, now=now)
        elif o.result == "transient":
            delay = self.backoff.delay(o.attempt_count + 1, o.retry_after, self.rng)
            row.update(err=o.error, nxt=now + timedelta(seconds=delay))
        return row

    def _write_outcomes(self, session: Session, outcomes: list[Outcome]) -> None:
        """Every attempt and outcome in the caller's transaction (executemany per kind)."""
        now = self.clock()
        rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        attempts: dict[str, list[dict[str, Any]]] = {}
        done: dict[str, list[int]] = {}
        for o in outcomes:
            kind = self.kinds[o.kind]
            try:
                row = self._row(kind, o, now)
            except (ValueError, TypeError) as exc:
                # A malformed answer the client let through: this item's error only.
                log.warning("%s %s: malformed answer (%s)", o.kind, o.item_id, exc)
                o = Outcome(
                    o.item_id,
                    "transient",
                    o.kind,
                    [*o.attempts, AttemptRow("malformed", o.status, "malformed answer")],
                    error="malformed answer",
                    status=-1,
                    done_parts=o.done_parts,
                    attempt_count=o.attempt_count,
                )
                row = self._row(kind, o, now)
            attempts.setdefault(o.kind, []).extend(
                {
                    **kind.attempt_values(o.item_id),
                    "at": now,
                    "outcome": a.outcome,
                    "status_code": a.status,
                    "error": a.error,
                    "worker": self.worker_id,
                }
                for a in o.attempts
            )
            rows.setdefault((o.kind, o.result), []).append(row)
            for part_kind, part_id in o.done_parts:
                done.setdefault(part_kind, []).append(part_id)
        for part_kind, ids in done.items():
            self.part_kinds[part_kind].mark_done(session, ids)
        for kind_name, params in attempts.items():
            if params:
                session.execute(insert(self.kinds[kind_name].attempts_table), params)
        for (kind_name, result), params in rows.items():
            session.execute(self._statements[kind_name][result], params)
        if any(result == "delivered" for _, result in rows):
            # These credentials work: items stopped by an earlier refusal go again.
            self.requeue_blocked(session, now)

    def requeue_blocked(self, session: Session, now: datetime) -> int:
        """Queue again every item of this identity stopped by a refusal of credentials."""
        kiosk_id = self.link.portal.kiosk_id
        total = 0
        for kind in self.kinds.values():
            t = kind.table.c
            result = session.execute(
                update(kind.table)
                .where(t.state == AUTH_BLOCKED, t.kiosk_id == kiosk_id)
                .values(state=QUEUED, next_attempt_at=now)
            )
            total += result.rowcount or 0
        return total

    def release_mine(self) -> int:
        """Hand back every item this worker still leases (clean shutdown)."""
        self._take_prefetch()  # let a claim in progress finish, so its rows go back too
        me = self.worker_id

        def write(session: Session) -> int:
            total = 0
            for kind in self.kinds.values():
                t = kind.table.c
                result = session.execute(
                    update(kind.table)
                    .where(t.state == SENDING, t.lease_owner == me)
                    .values(state=QUEUED, lease_owner=None, lease_until=None)
                )
                total += result.rowcount or 0
            return total

        return self.store.write_sync(write)

    # --- what is due ---------------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        """When something may next be sent: the earliest retry, lease expiry or probe."""
        kiosk_id = self.link.portal.kiosk_id
        probe = self.link.probe_due()
        if probe is not None:
            return probe

        def read(session: Session) -> list[datetime]:
            found = []
            for kind in self.kinds.values():
                t = kind.table.c
                for column, state in ((t.next_attempt_at, QUEUED), (t.lease_until, SENDING)):
                    value = session.scalar(
                        select(column)
                        .where(t.state == state, t.kiosk_id == kiosk_id, column.is_not(None))
                        .order_by(column)
                        .limit(1)
                    )
                    if value is not None:
                        found.append(value)
            return found

        candidates = self.store.read(read)
        return min(candidates) if candidates else None

    def has_work(self) -> bool:
        """Anything still to deliver under this identity (queued, sending, auth_blocked)?"""
        kiosk_id = self.link.portal.kiosk_id

        def read(session: Session) -> bool:
            for kind in self.kinds.values():
                t = kind.table.c
                found = session.scalar(
                    select(t.id)
                    .where(t.state.in_((QUEUED, SENDING, AUTH_BLOCKED)), t.kiosk_id == kiosk_id)
                    .limit(1)
                )
                if found is not None:
                    return True
            return False

        return self.store.read(read)
