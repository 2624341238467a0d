"""The outbox: delivers confirmed dossiers to the portal exactly once, whatever the network,
the power and the other machines of the centre do; and keeps what the kiosk knows from the
portal fresh (dossier statuses, the procedure catalogue).

It is built from parts that each do one thing and are tested alone:

- kiosk.services.portal_link: the link to the portal (a client per thread, the auth gate,
  the clock skew, the https rule);
- kiosk.services.delivery: the one state machine for delivery items with dependencies
  (claims with leases, sending, group commit of outcomes, backoff), with the kinds of
  item in kiosk.services.delivery_kinds (dossiers, their attachments as parts); the
  docstring of kiosk.services.delivery says how to add a kind;
- kiosk.services.status_poll: the status of delivered dossiers;
- kiosk.services.catalogue_refresh: the procedure catalogue.

`Outbox` puts them together for the sync worker, the Qt bridge and the command line.
No Qt here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

# Registered item kinds: dossiers with their attachments, feedback with its recording,
# and fee payments.
import kiosk.services.delivery_kinds
import kiosk.services.feedback_delivery
import kiosk.services.payment_kind  # noqa: F401
from kiosk.services.catalogue_refresh import CatalogueRefresher
from kiosk.services.delivery import (
    Backoff,
    BatchReport,
    Delivery,
    Item,
    Outcome,
    check_lease,
    default_worker_id,
    local_owner_alive,
    machine_prefix,
)
from kiosk.services.dossiers import DossierService, rfc3339, utcnow
from kiosk.services.models import (
    AUTH_BLOCKED,
    DELIVERED,
    NEEDS_CLERK,
    QUEUED,
    SENDING,
    STATES,
    Dossier,
    Feedback,
    Payment,
)
from kiosk.services.portal_client import Health
from kiosk.services.portal_link import AuthAlert, ClockAlert, PortalConfig, PortalLink
from kiosk.services.status_poll import StatusInfo, StatusPoller
from kiosk.services.store import Store

if TYPE_CHECKING:
    from kiosk.services.catalogue import Catalogue

__all__ = [
    "AuthAlert",
    "Backoff",
    "BatchReport",
    "ClockAlert",
    "Item",
    "Outbox",
    "OutboxStatus",
    "Outcome",
    "PortalConfig",
    "StatusInfo",
    "default_worker_id",
    "drain_all",
    "local_owner_alive",
    "machine_prefix",
]

log = logging.getLogger(__name__)

WAITING_STATES = (QUEUED, SENDING, AUTH_BLOCKED)


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
    payments_waiting: int = 0  # fee payments recorded, not yet delivered
    feedback_waiting: int = 0  # citizens' feedback, not yet delivered
    others_need_clerk: int = 0  # payments and feedback the portal refused

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
            "payments_waiting": self.payments_waiting,
            "feedback_waiting": self.feedback_waiting,
            "others_need_clerk": self.others_need_clerk,
        }


class Outbox:
    """The outbox of one worker. Thread-safe: the sync worker calls `run_once`, the UI may
    call `refresh_status`, `status` and `set_portal` from other threads."""

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
        `senders`: items of a batch sent at the same time, each on its own connection
        (2 gains little on two cores and slows confirms during a big drain, as the threads
        share the GIL with the writer and the UI); `clock` gives naive UTC now (tests move
        it); `portal_clock` is the epoch clock the client signs with (tests set it wrong on
        purpose)."""
        check_lease(lease_seconds, portal.request_budget)
        self.store = store
        self.dossiers = dossiers
        self.worker_id = (worker_id or default_worker_id())[:64]
        cipher = getattr(dossiers, "cipher", None)
        self.link = PortalLink(
            store,
            portal,
            machine=machine_prefix(),
            user_agent=f"commune-kiosk/{self.worker_id}",
            blind=getattr(cipher, "blind", None),
            auth_probe_interval=auth_probe_interval,
            clock=clock,
            portal_clock=portal_clock,
        )
        self.delivery = Delivery(
            store,
            self.link,
            dossiers,
            worker_id=self.worker_id,
            lease_seconds=lease_seconds,
            batch_size=batch_size,
            senders=senders,
            backoff=backoff,
            rng=rng,
        )
        self.statuses = StatusPoller(store, self.link)
        self.catalogue = CatalogueRefresher(self.link)

    # --- configuration ------------------------------------------------------------------
    @property
    def portal(self) -> PortalConfig:
        return self.link.portal

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.link.clock

    @property
    def clock_offset(self) -> float:
        return self.link.clock_offset

    @property
    def senders(self) -> int:
        return self.delivery.senders

    @property
    def lease_seconds(self) -> float:
        return self.delivery.lease_seconds

    @property
    def batch_size(self) -> int:
        return self.delivery.batch_size

    @property
    def backoff(self) -> Backoff:
        return self.delivery.backoff

    def set_portal(self, portal: PortalConfig | None = None, **changes: Any) -> None:
        """New credentials or URL (e.g. the clerk fixed the token): sending resumes with
        them at once (a refusal noted for the old ones does not hold these back)."""
        from dataclasses import replace

        new = replace(portal or self.link.portal, **changes)
        check_lease(self.delivery.lease_seconds, new.request_budget)
        self.link.set_portal(new)

    def set_deadline(self, deadline: float | None) -> None:
        """A monotonic time no portal request may outlive (None: only each request's own)."""
        self.link.deadline = deadline

    def request_stop(self) -> None:
        """Make a running batch hand back its unsent dossiers after the current request
        (and any later batch, until `allow_sending`)."""
        self.delivery.request_stop()

    def allow_sending(self) -> None:
        self.delivery.allow_sending()

    def close(self) -> None:
        self.delivery.close()
        self.link.close()

    # --- the link -----------------------------------------------------------------------
    def check_health(self) -> Health:
        """GET /health: reachable? Measures the clock offset and applies it to signing."""
        return self.link.check_health()

    def probe_auth(self) -> bool | None:
        return self.link.probe_auth()

    def auth_alert(self) -> AuthAlert | None:
        return self.link.auth_alert()

    def clock_alert(self) -> ClockAlert | None:
        return self.link.clock_alert()

    # --- delivery -----------------------------------------------------------------------
    def run_once(self) -> BatchReport:
        return self.delivery.run_once()

    def claim(self, limit: int | None = None) -> list[Item]:
        return self.delivery.claim(limit)

    def send_claimed(self, claimed: list[Item], claimed_at: float) -> BatchReport:
        return self.delivery.send_claimed(claimed, claimed_at)

    def _record(self, outcomes: list[Outcome]) -> None:
        self.delivery.record(outcomes)

    def release_mine(self) -> int:
        return self.delivery.release_mine()

    def next_due(self) -> datetime | None:
        return self.delivery.next_due()

    def has_work(self) -> bool:
        return self.delivery.has_work()

    # --- statuses and catalogue ---------------------------------------------------------
    def refresh_status(self, dossier_id: int) -> StatusInfo | None:
        return self.statuses.refresh(dossier_id)

    def poll_statuses(self, limit: int = 50) -> int:
        return self.statuses.poll(limit)

    def refresh_catalogue(self, catalogue: Catalogue, overlay_path: Path) -> Catalogue:
        return self.catalogue.refresh(catalogue, overlay_path)

    # --- what is going on ---------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        rows = self.store.read(
            lambda s: s.execute(select(Dossier.state, func.count()).group_by(Dossier.state)).all()
        )
        counts = dict.fromkeys(STATES, 0)
        counts.update(dict(rows))
        return counts

    def status(self) -> OutboxStatus:
        kiosk_id = self.link.portal.kiosk_id

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
            others = {
                model.__tablename__: dict(
                    session.execute(
                        select(model.state, func.count())
                        .where(model.state.in_((*WAITING_STATES, NEEDS_CLERK)))
                        .group_by(model.state)
                    ).all()
                )
                for model in (Payment, Feedback)
            }
            return rows, other or 0, others

        rows, other, others = self.store.read(read)
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
            sum(others["payments"].get(s, 0) for s in WAITING_STATES),
            sum(others["feedback"].get(s, 0) for s in WAITING_STATES),
            others["payments"].get(NEEDS_CLERK, 0) + others["feedback"].get(NEEDS_CLERK, 0),
        )

    health = status  # the clerk bar and the CLI call it either way


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
