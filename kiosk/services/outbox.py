"""The outbox: delivers confirmed dossiers to the portal exactly once, whatever the network,
the power and the other machines of the centre do.

How it stays exactly once:
- A dossier's request body is frozen when the citizen confirms (DossierService); every
  attempt sends exactly those bytes with Idempotency-Key = client_ref, so a replay after
  a crash, a timeout or a lost answer gets the original receipt back (200), never a copy.
- Before sending, a worker claims a few due dossiers with a lease (state `sending`,
  lease_owner, lease_until) in one short transaction: on PostgreSQL with
  `SELECT ... FOR UPDATE SKIP LOCKED`, on SQLite under the writer's BEGIN IMMEDIATE. Other
  workers (other processes, other machines on the same database) skip leased dossiers.
  A lease whose holder died (kill -9, power cut) expires and the dossier is claimed again;
  a holder that died on this same machine is seen at once (its process is gone).
- A worker never starts a request its lease might not outlive: before each request it
  checks that the lease has at least one full timeout left, else it hands the rest back.
- Each attempt and its outcome are written in one writer transaction (outcomes of several
  dossiers share a transaction: group commit), before the batch is reported.

Outcomes: delivered; needs_clerk (400, 409, 413, 415, 422, with the portal's field
messages); auth_blocked (401/403: all sending stops until the credentials change or a
periodic probe succeeds); transient (timeouts, connection errors, 5xx, 429: exponential
backoff with jitter, honouring Retry-After, without limit). No personal data is logged or
written to attempts: only status codes, portal error names and field names.

No Qt here: the sync worker (kiosk.services.sync) runs this on its own thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from kiosk.services.dossiers import DossierService, read_attachment_file, rfc3339, utcnow
from kiosk.services.models import (
    AUTH_BLOCKED,
    DELIVERED,
    NEEDS_CLERK,
    QUEUED,
    SENDING,
    STATES,
    Attachment,
    Attempt,
    Dossier,
    Meta,
)
from kiosk.services.portal_client import (
    AuthBlocked,
    Delivered,
    Health,
    NotFound,
    Permanent,
    PortalClient,
    PortalError,
    Transient,
)
from kiosk.services.store import Store

if TYPE_CHECKING:
    from kiosk.services.catalogue import Catalogue

log = logging.getLogger(__name__)

WAITING_STATES = (QUEUED, SENDING, AUTH_BLOCKED)
FINAL_PORTAL_STATUSES = ("completed", "rejected")
AUTH_META = "outbox.auth_block"
STATUS_CURSOR_META = "outbox.status_cursor"
CLOCK_ALERT_SECONDS = 120.0  # beyond this the clerk is told to set the machine's clock
_DOSSIERS = Dossier.__table__
_ATTACHMENTS = Attachment.__table__
_ATTEMPTS = Attempt.__table__
# Group commit of outcomes: at most this many, or this long (seconds), before a write.
GROUP_COMMIT_MAX = 16
GROUP_COMMIT_WAIT = 0.02
_ATTACHMENT_FIELD = re.compile(r"^attachments\[(\d+)\]\.sha256$")


# --- configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PortalConfig:
    """How to reach the portal, as plain values (see `from_settings`)."""

    url: str
    kiosk_id: str
    secret: str
    token: str
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    ca_bundle: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> PortalConfig:
        """From kiosk.config.Settings (or anything with the same attribute names)."""
        return cls(
            settings.portal_url,
            settings.kiosk_id,
            settings.secret,
            settings.portal_token,
            float(settings.portal_connect_timeout),
            float(settings.portal_read_timeout),
            settings.portal_ca_bundle or "",
        )

    @property
    def request_budget(self) -> float:
        """Longest one request may take before the client gives up."""
        return self.connect_timeout + self.read_timeout

    def fingerprint(self, blind: Callable[[str, str], str] | None = None) -> str:
        """Which credentials these are, without storing them: a keyed hash when the data
        cipher is given (so a weak secret cannot be guessed from the database)."""
        material = "\n".join((self.url, self.kiosk_id, self.token, self.secret))
        if blind is not None:
            return blind("portal-credentials", material)[:16]
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits between d/2 and d, where
    d = min(cap, base * 2**(n-1)). A Retry-After from the portal is a floor (capped at
    `retry_after_cap` so that a broken header cannot park a dossier for days)."""

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
            # A little spread above the floor, so that many dossiers told "retry in 1 s"
            # do not all come back in the same instant.
            wait = max(wait, floor + rng.uniform(0, 0.1 * floor + 0.05))
        return wait


# --- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthAlert:
    error: str  # unauthorized | bad_signature | clock_skew | revoked | kiosk_disabled | ...
    status: int
    since: datetime  # UTC
    key: str  # translation key for the clerk bar
    detail: str  # plain English


@dataclass(frozen=True)
class ClockAlert:
    offset_seconds: float  # the portal's clock minus this machine's
    key: str
    detail: str


@dataclass(frozen=True)
class OutboxStatus:
    """A snapshot for the clerk bar and the CLI. Times are UTC (naive)."""

    counts: dict[str, int]  # every state, zeros included
    waiting: int  # queued + sending + auth_blocked
    oldest_waiting_since: datetime | None
    last_success_at: datetime | None
    needs_clerk: int
    auth_alert: AuthAlert | None
    clock_alert: ClockAlert | None
    other_identity: int = 0  # waiting dossiers made under another kiosk identity

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return rfc3339(moment) if moment else None

        return {
            "counts": dict(self.counts),
            "waiting": self.waiting,
            "oldest_waiting_since": iso(self.oldest_waiting_since),
            "last_success_at": iso(self.last_success_at),
            "needs_clerk": self.needs_clerk,
            "auth_alert": None
            if self.auth_alert is None
            else {
                "error": self.auth_alert.error,
                "status": self.auth_alert.status,
                "since": iso(self.auth_alert.since),
            },
            "clock_offset_seconds": None
            if self.clock_alert is None
            else round(self.clock_alert.offset_seconds, 1),
            "other_identity": self.other_identity,
        }


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


@dataclass(frozen=True)
class StatusInfo:
    """A delivered dossier's status at the portal (GET /dossiers/{code})."""

    dossier_id: int
    dossier_code: str
    status: str  # received | processing | needs_info | completed | rejected
    updated_at: datetime | None  # UTC
    message: dict[str, str]  # per language tag


@dataclass
class ClaimedAttachment:
    id: int
    sha256: str
    content_type: str
    file_name: str
    uploaded: bool


@dataclass
class ClaimedDossier:
    """What sending one leased dossier needs (DossierService.body reads body_enc)."""

    id: int
    client_ref: str
    body_enc: bytes | None
    attempt_count: int
    attachments: list[ClaimedAttachment] = field(default_factory=list)


@dataclass
class Claim:
    dossiers: list[ClaimedDossier]
    at: float  # monotonic time of the claim: the lease runs from here


# --- internals ---------------------------------------------------------------------------------
@dataclass
class _AttemptRow:
    outcome: str
    status: int | None
    error: str | None


@dataclass
class _Outcome:
    dossier_id: int
    kind: str  # delivered | needs_clerk | auth_blocked | transient | released
    attempts: list[_AttemptRow] = field(default_factory=list)
    delivered: Delivered | None = None
    error: str | None = None
    field_errors: list[dict[str, str]] | None = None
    retry_after: float | None = None
    status: int | None = None
    uploaded: list[int] = field(default_factory=list)
    attempt_count: int = 0  # when claimed: the backoff grows with it


class _Release(Exception):
    """Stop before the next request: the lease is too short or the worker is stopping."""


class _NeedsClerk(Exception):
    def __init__(self, error: str, details: list[dict[str, str]], status: int | None) -> None:
        super().__init__(error)
        self.error, self.details, self.status = error, details, status


def _parse_utc(text_value: str | None) -> datetime | None:
    """An RFC 3339 string as a naive UTC datetime (None when absent or unreadable)."""
    if not text_value:
        return None
    try:
        moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _iso(moment: datetime) -> str:
    """Naive UTC to RFC 3339 with microseconds (rfc3339() drops them: too coarse for a
    probe interval of a few seconds)."""
    return moment.isoformat(timespec="microseconds") + "Z"


def _parse_date(text_value: str | None) -> date | None:
    try:
        return date.fromisoformat(text_value) if text_value else None
    except ValueError:
        return None


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


def _lease_margin(lease_seconds: float) -> float:
    """Time kept in hand at the end of a lease (for recording the outcome)."""
    return min(5.0, 0.1 * lease_seconds)


def _check_lease(lease_seconds: float, portal: PortalConfig) -> None:
    if lease_seconds - _lease_margin(lease_seconds) <= portal.request_budget:
        raise ValueError(
            f"lease_seconds ({lease_seconds}) must leave room for one whole "
            f"request (connect + read timeout = {portal.request_budget} s)"
        )


# --- the outbox ----------------------------------------------------------------------------------
class Outbox:
    """Claims, sends and records dossiers. Thread-safe: the sync worker calls `run_once`,
    the UI may call `refresh_status`, `status` and `set_portal` from other threads."""

    def __init__(
        self,
        store: Store,
        dossiers: DossierService,
        portal: PortalConfig,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 300.0,
        batch_size: int = 25,
        senders: int = 1,
        backoff: Backoff | None = None,
        auth_probe_interval: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        portal_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """`lease_seconds` must exceed one request's worst case (connect + read timeout);
        `senders`: dossiers of a batch sent at the same time, each on its own connection
        (2 gains little on two cores and slows confirms during a big drain, as the threads
        share the GIL with the writer and the UI); `clock` gives naive UTC
        now (tests move it); `portal_clock` is the epoch clock the client signs with
        (tests set it wrong on purpose)."""
        _check_lease(lease_seconds, portal)
        self.store = store
        self.dossiers = dossiers
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.senders = max(1, senders)
        self._senders_pool: ThreadPoolExecutor | None = None
        self.backoff = backoff or Backoff()
        self.auth_probe_interval = auth_probe_interval
        self.clock = clock
        self.portal_clock = portal_clock
        self.rng = rng or random.Random()
        self._machine = machine_prefix()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[PortalClient] = []
        self._generation = 0
        self._portal = portal
        self._fingerprint = self._fingerprint_of(portal)
        self._pause_until = 0.0  # monotonic: the portal asked us to slow down
        self._clock_key = f"portal.clock_offset:{self._machine.split(':')[0]}"[:64]
        self.clock_offset = self._load_clock_offset()
        self._stopping = threading.Event()
        self._prefetch: Future[Claim] | None = None
        self._pending: list[_Outcome] = []
        self._pending_lock = threading.Lock()
        self._flush: Future[None] | None = None
        self._flush_started = False
        self._flushed_at = 0.0

    # --- configuration ------------------------------------------------------------------
    @property
    def portal(self) -> PortalConfig:
        return self._portal

    def _fingerprint_of(self, portal: PortalConfig) -> str:
        cipher = getattr(self.dossiers, "cipher", None)
        return portal.fingerprint(getattr(cipher, "blind", None))

    def set_portal(self, portal: PortalConfig | None = None, **changes: Any) -> None:
        """New credentials or URL (e.g. the clerk fixed the token): sending resumes with
        them at once (a refusal noted for the old ones does not hold these back)."""
        new = replace(portal or self._portal, **changes)
        _check_lease(self.lease_seconds, new)
        with self._lock:
            self._portal = new
            self._fingerprint = self._fingerprint_of(new)
            self._generation += 1

    def request_stop(self) -> None:
        """Make a running batch hand back its unsent dossiers after the current request
        (and any later batch, until `allow_sending`)."""
        self._stopping.set()

    def allow_sending(self) -> None:
        self._stopping.clear()

    def close(self) -> None:
        pool, self._senders_pool = self._senders_pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _client(self) -> PortalClient:
        local = self._local
        with self._lock:
            generation, portal = self._generation, self._portal
        if getattr(local, "generation", None) != generation:
            old = getattr(local, "client", None)
            if old is not None:
                old.close()
            client = PortalClient(
                portal.url,
                portal.kiosk_id,
                portal.secret,
                portal.token,
                connect_timeout=portal.connect_timeout,
                read_timeout=portal.read_timeout,
                ca_bundle=portal.ca_bundle or None,
                clock_offset=self.clock_offset,
                clock=self.portal_clock,
                user_agent=f"commune-kiosk/{self.worker_id}",
            )
            local.client, local.generation = client, generation
            with self._lock:
                self._clients.append(client)
        local.client.clock_offset = self.clock_offset
        return local.client

    # --- clock -------------------------------------------------------------------------------
    def _load_clock_offset(self) -> float:
        value = self.store.read(lambda s: s.get(Meta, self._clock_key))
        try:
            return float(value.value) if value is not None else 0.0
        except ValueError:
            return 0.0

    def check_health(self) -> Health:
        """GET /health: is the portal reachable, and how far off is our clock? The offset
        is applied to signing and kept in the database (a restart keeps it)."""
        health = self._client().health(apply=True)
        self._set_clock_offset(health.skew)
        return health

    def _set_clock_offset(self, skew: float) -> None:
        changed = abs(skew - self.clock_offset) > 2.0
        self.clock_offset = skew
        if changed:
            if abs(skew) > CLOCK_ALERT_SECONDS:
                log.warning(
                    "this machine's clock is %.0f s off the portal's; signing corrects for it",
                    -skew,
                )

            def save(session: Session) -> None:
                session.merge(Meta(key=self._clock_key, value=f"{skew:.3f}"))

            self.store.write_sync(save)

    def clock_alert(self) -> ClockAlert | None:
        offset = self.clock_offset
        if abs(offset) <= CLOCK_ALERT_SECONDS:
            return None
        return ClockAlert(
            offset,
            "outbox.alert.clock",
            f"this machine's clock is {abs(offset) / 60:.0f} min "
            f"{'behind' if offset > 0 else 'ahead of'} the portal's",
        )

    # --- authentication block --------------------------------------------------------------
    def _auth_blocks(self, session: Session) -> dict[str, dict[str, Any]]:
        row = session.get(Meta, AUTH_META)
        if row is None:
            return {}
        try:
            data = json.loads(row.value)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _auth_gate(self) -> str:
        """'open' (send), 'probe' (try the credentials once) or 'closed' (wait)."""
        blocks = self.store.read(self._auth_blocks)
        if not blocks:
            return "open"
        mine = blocks.get(self._fingerprint)
        if mine is None:
            # Blocks of other credentials (another machine's, or ours before the clerk
            # changed them) do not stop these: a refusal would show at once.
            return "open"
        probe_at = _parse_utc(mine.get("probe_at"))
        return "probe" if probe_at is None or probe_at <= self.clock() else "closed"

    def _note_auth_block(self, error: AuthBlocked) -> None:
        now = self.clock()
        fingerprint = self._fingerprint

        def write(session: Session) -> None:
            row = session.get(Meta, AUTH_META, with_for_update=True)
            blocks = self._auth_blocks(session)
            since = blocks.get(fingerprint, {}).get("since") or _iso(now)
            blocks[fingerprint] = {
                "error": error.error,
                "status": error.status,
                "since": since,
                "probe_at": _iso(now + timedelta(seconds=self.auth_probe_interval)),
            }
            value = json.dumps(blocks, sort_keys=True)
            if row is None:
                session.add(Meta(key=AUTH_META, value=value))
            else:
                row.value = value

        self.store.write_sync(write)
        log.warning(
            "portal refuses this kiosk's credentials (HTTP %s %s): sending stopped",
            error.status,
            error.error,
        )

    def _clear_auth_block(self) -> int:
        """These credentials work: drop their block and queue the blocked dossiers again."""
        now = self.clock()
        fingerprint = self._fingerprint
        kiosk_id = self._portal.kiosk_id

        def write(session: Session) -> int:
            row = session.get(Meta, AUTH_META, with_for_update=True)
            if row is not None:
                blocks = self._auth_blocks(session)
                blocks.pop(fingerprint, None)
                # Blocks of other credentials stay while a machine still probes with them
                # (it renews probe_at); forgotten ones are dropped after a day.
                stale = now - timedelta(days=1)
                blocks = {
                    k: v
                    for k, v in blocks.items()
                    if (_parse_utc(v.get("probe_at")) or now) >= stale
                }
                if blocks:
                    row.value = json.dumps(blocks, sort_keys=True)
                else:
                    session.delete(row)
            result = session.execute(
                update(Dossier)
                .where(Dossier.state == AUTH_BLOCKED, Dossier.kiosk_id == kiosk_id)
                .values(state=QUEUED, next_attempt_at=now)
            )
            return result.rowcount or 0

        requeued = self.store.write_sync(write)
        log.info("portal accepts the credentials again; %d dossier(s) queued again", requeued)
        return requeued

    def probe_auth(self) -> bool | None:
        """One signed request with no side effect (GET /procedures?since=now). True: the
        credentials work (block lifted); False: still refused; None: no answer."""
        try:
            self._with_clock_retry(lambda c: c.procedures(since=rfc3339(self.clock())))
        except AuthBlocked as exc:
            self._note_auth_block(exc)
            return False
        except PortalError as exc:
            log.info("credential probe got no verdict: %s", exc.detail)
            return None
        self._clear_auth_block()
        return True

    def auth_alert(self) -> AuthAlert | None:
        blocks = self.store.read(self._auth_blocks)
        mine = blocks.get(self._fingerprint)
        if mine is None:
            return None
        error = str(mine.get("error", ""))
        known = ("unauthorized", "bad_signature", "clock_skew", "revoked", "kiosk_disabled")
        return AuthAlert(
            error,
            int(mine.get("status") or 401),
            _parse_utc(mine.get("since")) or self.clock(),
            f"outbox.alert.auth.{error}" if error in known else "outbox.alert.auth",
            f"the portal refuses this kiosk's credentials (HTTP {mine.get('status')} {error})",
        )

    def _with_clock_retry(self, call: Callable[[PortalClient], Any]) -> Any:
        """A clock_skew 401: measure the skew on /health, correct signing, retry once."""
        try:
            return call(self._client())
        except AuthBlocked as exc:
            if exc.error != "clock_skew":
                raise
            log.warning("portal says our clock is off; measuring it on /health")
            self.check_health()
            return call(self._client())

    # --- claiming ------------------------------------------------------------------------------
    def _db_now(self, session: Session) -> datetime:
        """The time leases are judged by. On PostgreSQL the server's clock, so machines with
        different clocks agree on when a lease has expired; on SQLite (one machine) ours."""
        if self.store.is_sqlite:
            return self.clock()
        return session.execute(
            text("SELECT CAST(timezone('UTC', now()) AS timestamp)")
        ).scalar_one()

    def _dead_local_owners(self, session: Session, now: datetime) -> list[str]:
        owners = session.scalars(
            select(Dossier.lease_owner)
            .distinct()
            .where(
                Dossier.state == SENDING,
                Dossier.lease_until >= now,
                Dossier.lease_owner.startswith(self._machine, autoescape=True),
                Dossier.lease_owner != self.worker_id,
            )
        ).all()
        return [o for o in owners if o and not local_owner_alive(o, self._machine)]

    def _claim(self, session: Session, limit: int) -> Claim:
        claimed_at = time.monotonic()  # before the lease's start: the deadline errs early
        now = self.clock()
        lease_now = self._db_now(session)
        dead = self._dead_local_owners(session, lease_now)
        # A retry time further ahead than any backoff can set means the clock was moved
        # back since (it was set wrong, then corrected): do not wait for it.
        beyond = now + timedelta(seconds=self.backoff.max_delay() + 60)
        d = _DOSSIERS.c
        queued = d.state == QUEUED
        # One simple condition per query, so that each is a range of the (state,
        # next_attempt_at) index rather than a scan of the whole table.
        wanted = [
            and_(d.state == SENDING, d.lease_until < lease_now),  # holder gone silent
            and_(d.state == SENDING, d.lease_owner.in_(dead)) if dead else None,
            and_(queued, d.next_attempt_at.is_(None)),
            and_(queued, d.next_attempt_at <= now),
            and_(queued, d.next_attempt_at > beyond),
        ]
        ids: list[int] = []
        for condition in wanted:
            if condition is None or len(ids) >= limit:
                continue
            query = (
                select(d.id)
                .where(condition, d.kiosk_id == self._portal.kiosk_id)
                .order_by(d.next_attempt_at, d.id)
                .limit(limit - len(ids))
            )
            if ids:
                query = query.where(d.id.not_in(ids))
            if not self.store.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids.extend(session.scalars(query).all())
        if not ids:
            return Claim([], claimed_at)
        if dead:
            log.info("taking over dossiers leased by %d stopped process(es)", len(dead))
        session.execute(
            update(_DOSSIERS)
            .where(_DOSSIERS.c.id.in_(ids))
            .values(
                state=SENDING,
                lease_owner=self.worker_id,
                lease_until=lease_now + timedelta(seconds=self.lease_seconds),
            )
        )
        # Plain rows, not ORM objects: this runs for every batch.
        rows = {
            r.id: ClaimedDossier(r.id, r.client_ref, r.body_enc, r.attempt_count)
            for r in session.execute(
                select(d.id, d.client_ref, d.body_enc, d.attempt_count).where(d.id.in_(ids))
            )
        }
        a = _ATTACHMENTS.c
        for r in session.execute(
            select(a.id, a.dossier_id, a.sha256, a.content_type, a.file_name, a.uploaded)
            .where(a.dossier_id.in_(ids))
            .order_by(a.id)
        ):
            rows[r.dossier_id].attachments.append(
                ClaimedAttachment(r.id, r.sha256, r.content_type, r.file_name, bool(r.uploaded))
            )
        return Claim([rows[i] for i in ids], claimed_at)

    def claim(self, limit: int | None = None) -> list[ClaimedDossier]:
        """Lease up to `limit` due dossiers to this worker (state `sending`)."""
        return self.store.write_sync(lambda s: self._claim(s, limit or self.batch_size)).dossiers

    # --- sending -------------------------------------------------------------------------------
    def run_once(self) -> BatchReport:
        """Claim one batch and send it; each dossier's attempts and outcome are committed
        together as they come (group commit), all before this returns. The next batch is
        claimed while this one is being sent."""
        wait = self._pause_until - time.monotonic()
        if wait > 0:
            self._drop_prefetch()
            return BatchReport(paused_for=wait)
        gate = self._auth_gate()
        if gate != "open":
            self._drop_prefetch()
        if gate == "closed":
            return BatchReport(auth_blocked=True)
        if gate == "probe":
            verdict = self.probe_auth()
            if verdict is None:
                return BatchReport(offline=True)
            if not verdict:
                return BatchReport(auth_blocked=True)
        claim = self._take_prefetch()
        if claim is None:
            claim = self.store.write_sync(lambda s: self._claim(s, self.batch_size))
        if not claim.dossiers:
            return BatchReport()
        if len(claim.dossiers) == self.batch_size:
            # More is probably due: let the writer claim it while this batch goes out.
            self._prefetch = self.store.write(lambda s: self._claim(s, self.batch_size))
        report = self.send_claimed(claim.dossiers, claim.at)
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
        if claim is not None and claim.dossiers:
            self._record([_Outcome(d.id, "released") for d in claim.dossiers])

    def send_claimed(self, claimed: list[ClaimedDossier], claimed_at: float) -> BatchReport:
        """Send dossiers this worker has leased (at monotonic time `claimed_at`), `senders`
        at a time. A refusal of the credentials, a request without any answer or a
        request to slow down stops the batch: what was not started goes back untouched."""
        deadline = (
            claimed_at
            + self.lease_seconds
            - _lease_margin(self.lease_seconds)
            - self._portal.request_budget
        )
        halt = threading.Event()
        lock = threading.Lock()
        committed: list[Future[None]] = []
        flags = {"auth": False, "offline": False, "pause": 0.0}

        skipped: list[_Outcome] = []

        def send(dossier: ClaimedDossier) -> _Outcome:
            if halt.is_set():
                outcome = _Outcome(dossier.id, "released")
                with lock:
                    skipped.append(outcome)
                return outcome
            outcome = self._send_one(dossier, deadline)
            outcome.attempt_count = dossier.attempt_count
            # Written as soon as known (with whatever else is pending: group commit), so a
            # crash mid-batch loses at most the answers not committed yet.
            future = self._submit([outcome])
            with lock:
                if future is not None:
                    committed.append(future)
                if outcome.kind == "released":
                    halt.set()
                elif outcome.kind == "auth_blocked":
                    flags["auth"] = True
                    halt.set()
                elif outcome.kind == "transient" and outcome.status is None:
                    flags["offline"] = True  # no answer at all: check the network first
                    halt.set()
                elif outcome.kind == "transient" and outcome.status in (429, 503):
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
            outcomes = [send(d) for d in claimed]
        # The skipped ones go back as they were, due at once; then everything is written.
        last = self._submit(skipped, force=True)
        for future in [*committed, *([last] if last is not None else [])]:
            future.result()  # reported only once committed
        kinds = [o.kind for o in outcomes]
        return BatchReport(
            claimed=len(claimed),
            delivered=kinds.count("delivered"),
            needs_clerk=kinds.count("needs_clerk"),
            transient=kinds.count("transient"),
            released=kinds.count("released"),
            auth_blocked=bool(flags["auth"]),
            offline=bool(flags["offline"]),
            paused_for=float(flags["pause"]),
            delivered_ids=tuple(o.dossier_id for o in outcomes if o.kind == "delivered"),
        )

    def _check_budget(self, deadline: float) -> None:
        if self._stopping.is_set() or time.monotonic() > deadline:
            raise _Release

    def _send_one(self, dossier: ClaimedDossier, deadline: float) -> _Outcome:
        outcome = _Outcome(dossier.id, "transient")
        try:
            body = self.dossiers.body(dossier)
        except Exception as exc:  # a damaged or foreign-key ciphertext: only a person can help
            log.error(
                "dossier %s: stored body cannot be decrypted (%s)",
                dossier.client_ref,
                type(exc).__name__,
            )
            return self._needs_clerk(outcome, "stored body cannot be decrypted", [], None)
        try:
            delivered = self._deliver(dossier, body, deadline, outcome)
        except _Release:
            outcome.kind = "released"
            return outcome
        except _NeedsClerk as exc:
            return self._needs_clerk(outcome, exc.error, exc.details, exc.status)
        except AuthBlocked as exc:
            outcome.kind, outcome.status, outcome.error = "auth_blocked", exc.status, exc.detail
            outcome.attempts.append(_AttemptRow("auth_blocked", exc.status, exc.detail))
            self._note_auth_block(exc)
            return outcome
        except Transient as exc:
            outcome.status, outcome.error, outcome.retry_after = (
                exc.status,
                exc.detail,
                exc.retry_after,
            )
            outcome.attempts.append(_AttemptRow("transient", exc.status, exc.detail))
            return outcome
        except NotFound as exc:  # a wrong portal URL: keep the dossier, retry later
            outcome.status, outcome.error = 404, exc.detail
            outcome.attempts.append(_AttemptRow("transient", 404, exc.detail))
            return outcome
        except Exception as exc:
            log.exception("dossier %s: unexpected failure while sending", dossier.client_ref)
            outcome.error = f"unexpected {type(exc).__name__}"
            outcome.status = -1  # not a network failure: no offline check
            outcome.attempts.append(_AttemptRow("transient", None, outcome.error))
            return outcome
        outcome.kind, outcome.delivered = "delivered", delivered
        outcome.status = 200 if delivered.replay else 201
        outcome.attempts.append(_AttemptRow("delivered", outcome.status, None))
        return outcome

    def _needs_clerk(
        self, outcome: _Outcome, error: str, details: list[dict[str, str]], status: int | None
    ) -> _Outcome:
        outcome.kind, outcome.error, outcome.field_errors = "needs_clerk", error, details
        outcome.status = status
        outcome.attempts.append(_AttemptRow("needs_clerk", status, error))
        log.warning(
            "dossier %s needs a clerk: %s (fields: %s)",
            outcome.dossier_id,
            error,
            ", ".join(d.get("field", "") for d in details) or "-",
        )
        return outcome

    def _upload(
        self,
        dossier: ClaimedDossier,
        attachment: ClaimedAttachment,
        index: int,
        deadline: float,
        outcome: _Outcome,
    ) -> None:
        try:
            data = read_attachment_file(
                self.dossiers.attachments_dir, self.dossiers.cipher, attachment.file_name
            )
        except Exception as exc:
            raise _NeedsClerk(
                "attachment file missing or unreadable",
                [
                    {
                        "field": f"attachments[{index}]",
                        "message": f"the kiosk cannot read the file ({type(exc).__name__})",
                    }
                ],
                None,
            ) from None
        self._check_budget(deadline)
        try:
            self._with_clock_retry(
                lambda c: c.upload_attachment(attachment.sha256, data, attachment.content_type)
            )
        except Permanent as exc:
            details = [
                {
                    "field": f"attachments[{index}]",
                    "message": f"upload refused: HTTP {exc.status} {exc.error}",
                }
            ] + exc.details
            raise _NeedsClerk(
                f"attachment refused: HTTP {exc.status} {exc.error}", details, exc.status
            ) from None
        outcome.uploaded.append(attachment.id)

    def _deliver(
        self, dossier: ClaimedDossier, body: bytes, deadline: float, outcome: _Outcome
    ) -> Delivered:
        attachments = list(dossier.attachments)
        for index, attachment in enumerate(attachments):
            if not attachment.uploaded:
                self._upload(dossier, attachment, index, deadline, outcome)
        self._check_budget(deadline)
        try:
            return self._with_clock_retry(lambda c: c.submit_dossier(body, dossier.client_ref))
        except Permanent as exc:
            missing = self._missing_attachments(exc, body, attachments)
            if not missing:
                raise _NeedsClerk(
                    f"HTTP {exc.status} {exc.error}", exc.details, exc.status
                ) from None
            # The portal lost (or never got) an attachment we thought uploaded: upload it
            # again and retry once before asking a clerk.
            outcome.attempts.append(
                _AttemptRow("attachment_missing", exc.status, f"HTTP {exc.status} {exc.error}")
            )
            log.info(
                "dossier %s: portal does not have %d attachment(s); uploading again",
                dossier.client_ref,
                len(missing),
            )
            for index, attachment in missing:
                self._upload(dossier, attachment, index, deadline, outcome)
            self._check_budget(deadline)
            try:
                return self._with_clock_retry(lambda c: c.submit_dossier(body, dossier.client_ref))
            except Permanent as again:
                raise _NeedsClerk(
                    f"HTTP {again.status} {again.error}", again.details, again.status
                ) from None

    @staticmethod
    def _missing_attachments(
        exc: Permanent, body: bytes, attachments: list[ClaimedAttachment]
    ) -> list[tuple[int, ClaimedAttachment]]:
        """The attachments a 422 calls unknown, when that is all it complains about."""
        if exc.status != 422 or not exc.details:
            return []
        indexes = []
        for detail in exc.details:
            match = _ATTACHMENT_FIELD.match(detail.get("field", ""))
            if match is None:
                return []  # something else is wrong too: a clerk must look anyway
            indexes.append(int(match.group(1)))
        try:
            listed = json.loads(body).get("attachments") or []
        except (ValueError, AttributeError):
            return []
        found = []
        for index in sorted(set(indexes)):
            if index >= len(listed) or not isinstance(listed[index], dict):
                return []
            sha = listed[index].get("sha256")
            attachment = next((a for a in attachments if a.sha256 == sha), None)
            if attachment is None:
                return []
            found.append((index, attachment))
        return found

    # --- recording -----------------------------------------------------------------------------
    def _record(
        self, outcomes: list[_Outcome], attempt_counts: dict[int, int] | None = None
    ) -> None:
        """Write these outcomes and wait until they are committed."""
        for o in outcomes:
            if attempt_counts and o.dossier_id in attempt_counts:
                o.attempt_count = attempt_counts[o.dossier_id]
        if outcomes:
            future = self._submit(outcomes, force=True)
            if future is not None:
                future.result()

    def _submit(self, outcomes: list[_Outcome], force: bool = False) -> Future[None] | None:
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
        if outcomes:
            self._write_outcomes(session, outcomes)

    def _write_outcomes(self, session: Session, outcomes: list[_Outcome]) -> None:
        """Every attempt and outcome in the caller's transaction (executemany per kind)."""
        now = self.clock()
        me = self.worker_id
        kiosk_id = self._portal.kiosk_id
        d = _DOSSIERS.c
        mine = and_(d.id == bindparam("_id"), d.state == SENDING, d.lease_owner == me)
        free = {"lease_owner": None, "lease_until": None}
        bump = d.attempt_count + bindparam("_inc")
        rows: dict[str, list[dict[str, Any]]] = {}
        attempts: list[dict[str, Any]] = []
        for o in outcomes:
            attempts.extend(
                {
                    "dossier_id": o.dossier_id,
                    "at": now,
                    "outcome": a.outcome,
                    "status_code": a.status,
                    "error": a.error,
                    "worker": me,
                }
                for a in o.attempts
            )
            row: dict[str, Any] = {"_id": o.dossier_id, "_inc": 1 if o.attempts else 0}
            if o.kind == "delivered":
                r = o.delivered
                assert r is not None
                row.update(
                    code=r.dossier_code,
                    erd=_parse_date(r.expected_result_date),
                    pstatus=r.status or "received",
                    pat=_parse_utc(r.received_at) or now,
                )
            elif o.kind == "needs_clerk":
                row.update(err=o.error, ferr=json.dumps(o.field_errors or [], ensure_ascii=False))
            elif o.kind == "auth_blocked":
                row.update(err=o.error)
            elif o.kind == "transient":
                delay = self.backoff.delay(o.attempt_count + 1, o.retry_after, self.rng)
                row.update(err=o.error, nxt=now + timedelta(seconds=delay))
            rows.setdefault(o.kind, []).append(row)
        statements = {
            # What the portal says is true whoever holds the lease now.
            "delivered": update(_DOSSIERS)
            .where(d.id == bindparam("_id"), d.state != DELIVERED)
            .values(
                state=DELIVERED,
                dossier_code=bindparam("code"),
                delivered_at=now,
                expected_result_date=bindparam("erd"),
                portal_status=bindparam("pstatus"),
                portal_status_at=bindparam("pat"),
                last_error=None,
                field_errors=None,
                next_attempt_at=None,
                attempt_count=bump,
                **free,
            ),
            "needs_clerk": update(_DOSSIERS)
            .where(mine)
            .values(
                state=NEEDS_CLERK,
                last_error=bindparam("err"),
                next_attempt_at=None,
                field_errors=bindparam("ferr"),
                attempt_count=bump,
                **free,
            ),
            "auth_blocked": update(_DOSSIERS)
            .where(mine)
            .values(
                state=AUTH_BLOCKED,
                last_error=bindparam("err"),
                next_attempt_at=now,
                attempt_count=bump,
                **free,
            ),
            "transient": update(_DOSSIERS)
            .where(mine)
            .values(
                state=QUEUED,
                last_error=bindparam("err"),
                next_attempt_at=bindparam("nxt"),
                attempt_count=bump,
                **free,
            ),
            # Released: back as it was, due at once.
            "released": update(_DOSSIERS)
            .where(mine)
            .values(state=QUEUED, attempt_count=bump, **free),
        }
        uploaded = [i for o in outcomes for i in o.uploaded]
        if uploaded:
            session.execute(
                update(_ATTACHMENTS).where(_ATTACHMENTS.c.id.in_(uploaded)).values(uploaded=True)
            )
        if attempts:
            session.execute(insert(_ATTEMPTS), attempts)
        for kind, params in rows.items():
            session.execute(statements[kind], params)
        if "delivered" in rows:
            # These credentials work: dossiers stopped by an earlier refusal go again.
            session.execute(
                update(_DOSSIERS)
                .where(d.state == AUTH_BLOCKED, d.kiosk_id == kiosk_id)
                .values(state=QUEUED, next_attempt_at=now)
            )

    def release_mine(self) -> int:
        """Hand back every dossier this worker still leases (clean shutdown)."""
        self._take_prefetch()  # let a claim in progress finish, so its rows go back too
        me = self.worker_id

        def write(session: Session) -> int:
            result = session.execute(
                update(Dossier)
                .where(Dossier.state == SENDING, Dossier.lease_owner == me)
                .values(state=QUEUED, lease_owner=None, lease_until=None)
            )
            return result.rowcount or 0

        return self.store.write_sync(write)

    # --- what is going on ---------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        rows = self.store.read(
            lambda s: s.execute(select(Dossier.state, func.count()).group_by(Dossier.state)).all()
        )
        counts = dict.fromkeys(STATES, 0)
        counts.update(dict(rows))
        return counts

    def status(self) -> OutboxStatus:
        kiosk_id = self._portal.kiosk_id

        def read(session: Session) -> tuple:
            rows = session.execute(
                select(
                    Dossier.state,
                    func.count(),
                    func.min(Dossier.waiting_since),
                    func.max(Dossier.delivered_at),
                ).group_by(Dossier.state)
            ).all()
            other = session.scalar(
                select(func.count()).where(
                    Dossier.state.in_(WAITING_STATES), Dossier.kiosk_id != kiosk_id
                )
            )
            return rows, other or 0

        rows, other = self.store.read(read)
        counts = dict.fromkeys(STATES, 0)
        oldest: datetime | None = None
        last: datetime | None = None
        for state, n, since, delivered_at in rows:
            counts[state] = n
            if state in WAITING_STATES and since is not None:
                oldest = since if oldest is None else min(oldest, since)
            if state == DELIVERED and delivered_at is not None:
                last = delivered_at
        return OutboxStatus(
            counts,
            sum(counts[s] for s in WAITING_STATES),
            oldest,
            last,
            counts[NEEDS_CLERK],
            self.auth_alert(),
            self.clock_alert(),
            other,
        )

    health = status  # the clerk bar and the CLI call it either way

    def next_due(self) -> datetime | None:
        """When something may next be sent: the earliest retry, lease expiry or probe."""
        kiosk_id = self._portal.kiosk_id

        def read(session: Session) -> tuple:
            retry = session.scalar(
                select(func.min(Dossier.next_attempt_at)).where(
                    Dossier.state == QUEUED, Dossier.kiosk_id == kiosk_id
                )
            )
            lease = session.scalar(
                select(func.min(Dossier.lease_until)).where(
                    Dossier.state == SENDING, Dossier.kiosk_id == kiosk_id
                )
            )
            blocks = self._auth_blocks(session)
            return retry, lease, blocks

        retry, lease, blocks = self.store.read(read)
        mine = blocks.get(self._fingerprint)
        if mine is not None:
            return _parse_utc(mine.get("probe_at")) or self.clock()
        candidates = [t for t in (retry, lease) if t is not None]
        return min(candidates) if candidates else None

    def has_work(self) -> bool:
        """Anything still to deliver under this identity (queued, sending, auth_blocked)?"""
        kiosk_id = self._portal.kiosk_id
        return bool(
            self.store.read(
                lambda s: s.scalar(
                    select(func.count()).where(
                        Dossier.state.in_(WAITING_STATES), Dossier.kiosk_id == kiosk_id
                    )
                )
            )
        )

    # --- portal status of delivered dossiers ---------------------------------------------------
    def refresh_status(self, dossier_id: int) -> StatusInfo | None:
        """Ask the portal for a delivered dossier's status and store it. None when the
        dossier is unknown or not delivered yet. Raises the client's typed errors
        (Transient, AuthBlocked, NotFound) for the caller to show with their `key`."""
        found = self.store.read(
            lambda s: s.execute(
                select(Dossier.dossier_code).where(Dossier.id == dossier_id)
            ).first()
        )
        if found is None or not found[0]:
            return None
        code = found[0]
        try:
            status = self._with_clock_retry(lambda c: c.dossier_status(code))
        except AuthBlocked as exc:
            self._note_auth_block(exc)
            raise
        updated = _parse_utc(status.updated_at)
        message = json.dumps(status.message, ensure_ascii=False) if status.message else None

        def write(session: Session) -> None:
            session.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id)
                .values(
                    portal_status=status.status, portal_status_at=updated, portal_message=message
                )
            )

        self.store.write_sync(write)
        return StatusInfo(dossier_id, code, status.status, updated, dict(status.message))

    def poll_statuses(self, limit: int = 50) -> int:
        """Refresh up to `limit` delivered dossiers whose status is not final, round-robin
        (the place is kept in Meta). Returns how many were refreshed."""
        kiosk_id = self._portal.kiosk_id

        def pick(session: Session) -> list[int]:
            row = session.get(Meta, STATUS_CURSOR_META)
            cursor = int(row.value) if row is not None and row.value.isdigit() else 0
            base = (
                select(Dossier.id)
                .where(
                    Dossier.state == DELIVERED,
                    Dossier.dossier_code.is_not(None),
                    Dossier.kiosk_id == kiosk_id,
                    or_(
                        Dossier.portal_status.is_(None),
                        Dossier.portal_status.not_in(FINAL_PORTAL_STATUSES),
                    ),
                )
                .order_by(Dossier.id)
            )
            ids = list(session.scalars(base.where(Dossier.id > cursor).limit(limit)).all())
            if len(ids) < limit:
                ids += [
                    i for i in session.scalars(base.limit(limit - len(ids))).all() if i not in ids
                ]
            return ids

        ids = self.store.read(pick)
        done = 0
        for dossier_id in ids:
            try:
                self.refresh_status(dossier_id)
            except NotFound:
                log.warning("portal does not know delivered dossier %s", dossier_id)
            except PortalError as exc:
                log.info("status polling stopped: %s", exc.detail)
                break
            done += 1
        if ids:
            last = str(ids[min(done, len(ids)) - 1] if done else ids[0] - 1)
            self.store.write_sync(lambda s: s.merge(Meta(key=STATUS_CURSOR_META, value=last)))
        return done

    # --- catalogue -----------------------------------------------------------------------------
    def refresh_catalogue(self, catalogue: Catalogue, overlay_path: Path) -> Catalogue:
        """GET /procedures?since=<last as_of>, merged and saved to the overlay file."""
        try:
            answer = self._with_clock_retry(lambda c: c.procedures(since=catalogue.last_as_of))
        except AuthBlocked as exc:
            self._note_auth_block(exc)
            raise
        merged = catalogue.merge_remote(answer.procedures, answer.as_of)
        merged.save_overlay(overlay_path)
        report = merged.merge_report
        log.info(
            "catalogue refreshed: %d added, %d updated, %d withdrawn, %d skipped",
            len(report.added),
            len(report.updated),
            len(report.withdrawn),
            len(report.skipped),
        )
        return merged


def drain_all(
    outbox: Outbox, *, timeout: float = 60.0, on_batch: Callable[[BatchReport], None] | None = None
) -> OutboxStatus:
    """Run batches on this thread until nothing is waiting or `timeout` passes (tests,
    simple tools). The sync worker does the same with waits and wake-ups."""
    deadline = time.monotonic() + timeout
    outbox.allow_sending()
    while time.monotonic() < deadline and outbox.has_work():
        report = outbox.run_once()
        if on_batch is not None:
            on_batch(report)
        if report.claimed == 0:
            due = outbox.next_due()
            pause = report.paused_for or (
                (due - outbox.clock()).total_seconds() if due is not None else 0.05
            )
            time.sleep(min(max(pause, 0.01), 0.25, max(0.0, deadline - time.monotonic())))
    return outbox.status()
