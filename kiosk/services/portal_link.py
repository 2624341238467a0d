"""The link to the portal: credentials, one client per thread, the auth gate and the clock.

Everything that talks to the portal (delivery, status polling, catalogue refresh, the
sync worker's /health probe) goes through one `PortalLink`:

- `client()` gives this thread's `PortalClient` (a requests session is not thread-safe),
  rebuilt after `set_portal` changed the URL or the credentials.
- `call(fn)` runs `fn(client)`; a `clock_skew` refusal measures the skew on /health,
  corrects the signing clock and retries once.
- The auth gate: a 401/403 is noted in the database (Meta `outbox.auth_block`, keyed by a
  fingerprint of the credentials, so other machines of the centre see it and a clerk's new
  token is not held back by the old token's refusal). While it stands, nothing is sent but
  a periodic probe (`probe_auth`); when the credentials work again, the block is lifted and
  `on_unblocked(session, now)` (the delivery's "queue the blocked items again") runs in the
  same transaction.
- The clock: the offset measured on /health is applied to signing and kept in the
  database, per machine, so a restart keeps it; beyond two minutes the clerk is told.
- `deadline`: a monotonic time no request may outlive (`outbox drain --timeout`).

The portal URL must be https:// unless its host is loopback
(kiosk.services.portal_client.url_problem): otherwise nothing is sent, the gate stays
closed and `auth_alert` says what to do.
No Qt here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from kiosk.services.dossiers import rfc3339, utcnow
from kiosk.services.models import Meta
from kiosk.services.portal_client import (
    AUTH_ERRORS,
    AuthBlocked,
    Health,
    InsecureURL,
    PortalClient,
    PortalError,
    url_problem,
)
from kiosk.services.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTH_META = "outbox.auth_block"
CLOCK_ALERT_SECONDS = 120.0  # beyond this the clerk is told to set the machine's clock


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
        """Longest one request may take, whole answer included (the client's deadline)."""
        return self.connect_timeout + self.read_timeout

    def fingerprint(self, blind: Callable[[str, str], str] | None = None) -> str:
        """Which credentials these are, without storing them: a keyed hash when the data
        cipher is given (so a weak secret cannot be guessed from the database)."""
        material = "\n".join((self.url, self.kiosk_id, self.token, self.secret))
        if blind is not None:
            return blind("portal-credentials", material)[:16]
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


# --- alerts ------------------------------------------------------------------------------------
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


def parse_utc(text_value: Any) -> datetime | None:
    """An RFC 3339 string as a naive UTC datetime (None when absent or unreadable)."""
    if not text_value or not isinstance(text_value, str):
        return None
    try:
        moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def iso_micro(moment: datetime) -> str:
    """Naive UTC to RFC 3339 with microseconds (rfc3339() drops them: too coarse for a
    probe interval of a few seconds)."""
    return moment.isoformat(timespec="microseconds") + "Z"


def auth_blocks(session: Session) -> dict[str, dict[str, Any]]:
    """The credential refusals noted in the database, by credentials fingerprint."""
    row = session.get(Meta, AUTH_META)
    if row is None:
        return {}
    try:
        data = json.loads(row.value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- the link --------------------------------------------------------------------------------
class PortalLink:
    """Thread-safe: every thread gets its own client; configuration changes are atomic."""

    def __init__(
        self,
        store: Store,
        portal: PortalConfig,
        *,
        machine: str,
        user_agent: str = "commune-kiosk",
        blind: Callable[[str, str], str] | None = None,
        auth_probe_interval: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        portal_clock: Callable[[], float] = time.time,
    ) -> None:
        """`machine`: this machine's lease-owner prefix (the clock offset is kept per
        machine); `blind`: the data cipher's keyed hash, for the credentials' fingerprint;
        `clock` gives naive UTC now (tests move it); `portal_clock` is the epoch clock the
        client signs with (tests set it wrong on purpose)."""
        self.store = store
        self.user_agent = user_agent
        self.auth_probe_interval = auth_probe_interval
        self.clock = clock
        self.portal_clock = portal_clock
        self.on_unblocked: Callable[[Session, datetime], int] | None = None
        self.deadline: float | None = None  # monotonic: no request outlives it
        self._blind = blind
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[PortalClient] = []
        self._generation = 0
        self._portal = portal
        self._fingerprint = portal.fingerprint(blind)
        self._clock_key = f"portal.clock_offset:{machine.split(':')[0]}"[:64]
        self.clock_offset = self._load_clock_offset()

    # --- configuration ------------------------------------------------------------------
    @property
    def portal(self) -> PortalConfig:
        return self._portal

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def set_portal(self, portal: PortalConfig | None = None, **changes: Any) -> PortalConfig:
        """New credentials or URL: every thread's next request uses them."""
        new = replace(portal or self._portal, **changes)
        with self._lock:
            self._portal = new
            self._fingerprint = new.fingerprint(self._blind)
            self._generation += 1
        return new

    def client(self) -> PortalClient:
        """This thread's client for the current configuration."""
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
                user_agent=self.user_agent,
            )
            local.client, local.generation = client, generation
            with self._lock:
                self._clients.append(client)
        client = local.client
        client.clock_offset = self.clock_offset
        client.deadline = self.deadline
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def call(self, fn: Callable[[PortalClient], T]) -> T:
        """fn(client); a clock_skew refusal: measure the skew on /health, retry once."""
        try:
            return fn(self.client())
        except AuthBlocked as exc:
            if exc.error != "clock_skew":
                raise
            log.warning("portal says our clock is off; measuring it on /health")
            self.check_health()
            return fn(self.client())

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
        health = self.client().health(apply=True)
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

    # --- the auth gate ----------------------------------------------------------------------
    def my_block(self, session: Session) -> dict[str, Any] | None:
        return auth_blocks(session).get(self._fingerprint)

    def gate(self) -> str:
        """'open' (send), 'probe' (try the credentials once) or 'closed' (wait)."""
        if url_problem(self._portal.url) is not None:
            return "closed"  # nothing goes in clear: the clerk is told (auth_alert)
        blocks = self.store.read(auth_blocks)
        mine = blocks.get(self._fingerprint)
        if mine is None:
            # Blocks of other credentials (another machine's, or ours before the clerk
            # changed them) do not stop these: a refusal would show at once.
            return "open"
        probe_at = parse_utc(mine.get("probe_at"))
        return "probe" if probe_at is None or probe_at <= self.clock() else "closed"

    def probe_due(self) -> datetime | None:
        """When the credentials are next probed (None: they are not blocked)."""
        mine = self.store.read(self.my_block)
        if mine is None:
            return None
        return parse_utc(mine.get("probe_at")) or self.clock()

    def note_auth_block(self, error: AuthBlocked) -> None:
        now = self.clock()
        fingerprint = self._fingerprint

        def write(session: Session) -> None:
            row = session.get(Meta, AUTH_META, with_for_update=True)
            blocks = auth_blocks(session)
            since = blocks.get(fingerprint, {}).get("since") or iso_micro(now)
            blocks[fingerprint] = {
                "error": error.error,
                "status": error.status,
                "since": since,
                "probe_at": iso_micro(now + timedelta(seconds=self.auth_probe_interval)),
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

    def clear_auth_block(self) -> int:
        """These credentials work: drop their block and (through `on_unblocked`) queue the
        blocked items again. Returns how many were queued again."""
        now = self.clock()
        fingerprint = self._fingerprint
        requeue = self.on_unblocked

        def write(session: Session) -> int:
            row = session.get(Meta, AUTH_META, with_for_update=True)
            if row is not None:
                blocks = auth_blocks(session)
                blocks.pop(fingerprint, None)
                # Blocks of other credentials stay while a machine still probes with them
                # (it renews probe_at); forgotten ones are dropped after a day.
                stale = now - timedelta(days=1)
                blocks = {
                    k: v
                    for k, v in blocks.items()
                    if (parse_utc(v.get("probe_at")) or now) >= stale
                }
                if blocks:
                    row.value = json.dumps(blocks, sort_keys=True)
                else:
                    session.delete(row)
            return requeue(session, now) if requeue is not None else 0

        requeued = self.store.write_sync(write)
        log.info("portal accepts the credentials again; %d item(s) queued again", requeued)
        return requeued

    def probe_auth(self) -> bool | None:
        """One signed request with no side effect (GET /procedures?since=now). True: the
        credentials work (block lifted); False: still refused; None: no answer."""
        try:
            self.call(lambda c: c.procedures(since=rfc3339(self.clock())))
        except AuthBlocked as exc:
            self.note_auth_block(exc)
            return False
        except PortalError as exc:
            log.info("credential probe got no verdict: %s", exc.detail)
            return None
        self.clear_auth_block()
        return True

    def auth_alert(self) -> AuthAlert | None:
        """Why sending stopped: the portal refuses the credentials, or the URL would send
        them in clear (error "insecure_url", key delivery.url.*)."""
        if url_problem(self._portal.url) is not None:
            insecure = InsecureURL(self._portal.url)
            return AuthAlert("insecure_url", 0, self.clock(), insecure.key, insecure.detail)
        mine = self.store.read(self.my_block)
        if mine is None:
            return None
        error = str(mine.get("error", ""))
        return AuthAlert(
            error,
            int(mine.get("status") or 401),
            parse_utc(mine.get("since")) or self.clock(),
            f"outbox.alert.auth.{error}" if error in AUTH_ERRORS else "outbox.alert.auth",
            f"the portal refuses this kiosk's credentials (HTTP {mine.get('status')} {error})",
        )

    def guarded(self, fn: Callable[[PortalClient], T]) -> T:
        """`call(fn)`, noting a refusal of the credentials before re-raising it."""
        try:
            return self.call(fn)
        except AuthBlocked as exc:
            self.note_auth_block(exc)
            raise
