"""Delivery of recorded payments to the portal (POST /payments, contract 1.1), no Qt.

A payment goes only after its dossier has the portal's receipt (a dossier_code), and
after any older payment of the same dossier (a correction follows what it corrects).
Each is sent with its frozen body and Idempotency-Key = its client_ref, so a replay after
a kill, a timeout or a dropped answer is answered 200 with the original acknowledgement:
exactly once at the portal. Workers lease payments like dossiers (a dead worker's lease
expires and another takes over).

Outcomes: 200/201 delivered; a 422 whose only detail is `dossier_client_ref` (the portal
does not know the dossier yet) and timeouts, 5xx and 429 retry with backoff (Retry-After
honoured); other 400/409/413/415/422 need a clerk; 401/403 keep everything queued (the
dossier outbox reports the credentials); a 404 from a portal whose /health says an
api_version below 1.1 keeps payments queued and is told to the clerk once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from kiosk.services.dossiers import utcnow
from kiosk.services.models import Dossier, Payment
from kiosk.services.outbox import (
    Backoff,
    default_worker_id,
    local_owner_alive,
    machine_prefix,
)
from kiosk.services.payments import DELIVERED, NEEDS_CLERK, QUEUED
from kiosk.services.portal_client import (
    AuthBlocked,
    NotFound,
    Permanent,
    PortalClient,
    PortalError,
    Transient,
)
from kiosk.services.store import Store

log = logging.getLogger(__name__)
OLD_PORTAL_WAIT = 3600.0  # a 1.0 portal: look again in an hour


@dataclass(frozen=True)
class ClaimedPayment:
    id: int
    client_ref: str
    body: bytes
    attempt_count: int


@dataclass
class PaymentReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    needs_clerk: int = 0
    auth_blocked: bool = False
    offline: bool = False
    portal_too_old: bool = False


def post_payment(client: PortalClient, body: bytes, client_ref: str) -> bool:
    """POST /payments with exactly these bytes; True when the portal answered 200 (it had
    it already), False for 201. Raises the client's typed errors."""
    response = client._send(
        "POST",
        "/payments",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": client_ref},
    )
    payload = client._check(response, f"payment {client_ref}")
    if not isinstance(payload, dict) or payload.get("status") != "recorded":
        raise Transient(response.status_code, None, True, "payment: malformed answer")
    return response.status_code == 200


def _dossier_unknown(error: Permanent) -> bool:
    return (
        error.status == 422
        and bool(error.details)
        and all(d.get("field") == "dossier_client_ref" for d in error.details)
    )


class PaymentDelivery:
    def __init__(
        self,
        store: Store,
        client: Callable[[], PortalClient],
        kiosk_id: str,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 120.0,
        batch_size: int = 25,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        """`client()` gives the portal client to use (the dossier outbox's, so that both
        share credentials and the clock correction)."""
        self.store = store
        self.client = client
        self.kiosk_id = kiosk_id
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.rng = rng or random.Random()
        self.portal_too_old = False  # told to the clerk once (status)

    # --- claiming --------------------------------------------------------------------------
    def _dead_local_owners(self, s: Session, now: datetime) -> list[str]:
        """Lease holders on this machine whose process is gone (killed): their payments
        are taken over at once instead of after the lease."""
        prefix = machine_prefix()
        owners = s.scalars(
            select(Payment.lease_owner)
            .distinct()
            .where(
                Payment.delivery == QUEUED,
                Payment.lease_until >= now,
                Payment.lease_owner.startswith(prefix, autoescape=True),
                Payment.lease_owner != self.worker_id,
            )
        ).all()
        return [o for o in owners if o and not local_owner_alive(o, prefix)]

    def _claim(self, s: Session, limit: int) -> list[ClaimedPayment]:
        now = self.clock()
        dead = self._dead_local_owners(s, now)
        free = (Payment.lease_until.is_(None)) | (Payment.lease_until < now)
        if dead:
            free = free | Payment.lease_owner.in_(dead)
        older = aliased(Payment)
        due = (
            select(Payment.id)
            .join(Dossier, Dossier.id == Payment.dossier_id)
            .where(
                Payment.delivery == QUEUED,
                Dossier.dossier_code.is_not(None),  # the portal's receipt is in
                Dossier.kiosk_id == self.kiosk_id,
                (Payment.next_attempt_at.is_(None)) | (Payment.next_attempt_at <= now),
                free,
                ~exists().where(
                    and_(
                        older.dossier_id == Payment.dossier_id,
                        older.id < Payment.id,
                        older.delivery == QUEUED,
                    )
                ),
            )
            .order_by(Payment.next_attempt_at, Payment.id)
            .limit(limit)
        )
        if not self.store.is_sqlite:
            due = due.with_for_update(of=Payment, skip_locked=True)
        ids = list(s.scalars(due))
        if not ids:
            return []
        s.execute(
            update(Payment)
            .where(Payment.id.in_(ids))
            .values(
                lease_owner=self.worker_id,
                lease_until=now + timedelta(seconds=self.lease_seconds),
            )
        )
        rows = s.execute(
            select(Payment.id, Payment.client_ref, Payment.body, Payment.attempt_count).where(
                Payment.id.in_(ids)
            )
        ).all()
        by_id = {r.id: ClaimedPayment(r.id, r.client_ref, r.body, r.attempt_count) for r in rows}
        return [by_id[i] for i in ids]

    def claim(self, limit: int | None = None) -> list[ClaimedPayment]:
        return self.store.write_sync(lambda s: self._claim(s, limit or self.batch_size))

    # --- sending ---------------------------------------------------------------------------
    def run_once(self) -> PaymentReport:
        """Claim one batch and send it, one at a time; each outcome committed as it comes."""
        report = PaymentReport()
        claimed = self.claim()
        report.claimed = len(claimed)
        for i, item in enumerate(claimed):
            stop = self._send_one(item, report)
            if stop:
                self._release([c.id for c in claimed[i + 1 :]])
                break
        return report

    def drain(self, timeout: float = 60.0) -> PaymentReport:
        """Send until nothing is due (for the command line and tests)."""
        total = PaymentReport()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.run_once()
            for name in ("claimed", "delivered", "retried", "needs_clerk"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.auth_blocked |= report.auth_blocked
            total.offline |= report.offline
            total.portal_too_old |= report.portal_too_old
            if not report.claimed or report.auth_blocked or report.offline:
                break
        return total

    def _send_one(self, item: ClaimedPayment, report: PaymentReport) -> bool:
        """Send one payment and record the outcome; True: stop the batch."""
        try:
            replay = post_payment(self.client(), item.body, item.client_ref)
        except AuthBlocked as exc:
            report.auth_blocked = True
            self._release([item.id], error=exc.detail)
            return True
        except NotFound as exc:
            if self._portal_is_old():
                if not self.portal_too_old:
                    log.warning("the portal does not take payments yet (api_version < 1.1)")
                self.portal_too_old = report.portal_too_old = True
                self._retry(item, None, "portal api_version < 1.1", OLD_PORTAL_WAIT)
            else:
                self._retry(item, None, exc.detail)
            report.retried += 1
            return True
        except Permanent as exc:
            if _dossier_unknown(exc):
                self._retry(item, None, "the portal does not know the dossier yet")
                report.retried += 1
                return False
            self._needs_clerk(item, exc)
            report.needs_clerk += 1
            return False
        except Transient as exc:
            self._retry(item, exc.retry_after, exc.detail)
            report.retried += 1
            if exc.status is None:  # no answer at all: offline
                report.offline = True
                return True
            return exc.retry_after is not None
        except PortalError as exc:
            self._retry(item, None, exc.detail)
            report.retried += 1
            return True
        self._delivered(item, replay)
        report.delivered += 1
        return False

    def _portal_is_old(self) -> bool:
        try:
            response = self.client()._send("GET", "/health", signed=False)
            payload = response.json() if response.status_code == 200 else {}
        except (PortalError, ValueError):
            return False
        version = str(payload.get("api_version") or "1.0") if isinstance(payload, dict) else ""
        try:
            major, minor = (int(x) for x in version.split(".")[:2])
        except ValueError:
            return False
        return (major, minor) < (1, 1)

    # --- recording -------------------------------------------------------------------------
    def _mine(self, payment_id: int):
        return and_(Payment.id == payment_id, Payment.lease_owner == self.worker_id)

    def _delivered(self, item: ClaimedPayment, replay: bool) -> None:
        now = self.clock()
        self.store.write_sync(
            lambda s: s.execute(
                update(Payment)
                .where(self._mine(item.id))
                .values(
                    delivery=DELIVERED,
                    delivered_at=now,
                    lease_owner=None,
                    lease_until=None,
                    attempt_count=Payment.attempt_count + 1,
                    last_error=None,
                )
            )
        )
        log.info("payment %s delivered%s", item.client_ref, " (replay)" if replay else "")

    def _retry(
        self, item: ClaimedPayment, retry_after: float | None, error: str, wait: float | None = None
    ) -> None:
        attempt = item.attempt_count + 1
        delay = wait if wait is not None else self.backoff.delay(attempt, retry_after, self.rng)
        when = self.clock() + timedelta(seconds=delay)
        self.store.write_sync(
            lambda s: s.execute(
                update(Payment)
                .where(self._mine(item.id))
                .values(
                    next_attempt_at=when,
                    lease_owner=None,
                    lease_until=None,
                    attempt_count=attempt,
                    last_error=error[:500],
                )
            )
        )

    def _needs_clerk(self, item: ClaimedPayment, error: Permanent) -> None:
        detail = f"HTTP {error.status} {error.error}: " + "; ".join(
            f"{d.get('field')}: {d.get('message')}" for d in error.details
        )
        self.store.write_sync(
            lambda s: s.execute(
                update(Payment)
                .where(self._mine(item.id))
                .values(
                    delivery=NEEDS_CLERK,
                    lease_owner=None,
                    lease_until=None,
                    attempt_count=Payment.attempt_count + 1,
                    last_error=detail[:500],
                )
            )
        )
        log.warning("payment %s refused: %s", item.client_ref, detail)

    def _release(self, ids: list[int], error: str | None = None) -> None:
        if not ids:
            return
        values: dict = {"lease_owner": None, "lease_until": None}
        if error:
            values["last_error"] = error[:500]
        self.store.write_sync(
            lambda s: s.execute(
                update(Payment)
                .where(Payment.id.in_(ids), Payment.lease_owner == self.worker_id)
                .values(**values)
            )
        )

    def release_mine(self) -> int:
        def write(s: Session) -> int:
            return s.execute(
                update(Payment)
                .where(Payment.lease_owner == self.worker_id, Payment.delivery == QUEUED)
                .values(lease_owner=None, lease_until=None)
            ).rowcount

        return self.store.write_sync(write)

    # --- status ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Recorded payments by delivery state; `waiting_for_dossier`: queued payments
        whose dossier has no portal receipt yet."""

        def read(s: Session) -> dict[str, int]:
            out = {QUEUED: 0, DELIVERED: 0, NEEDS_CLERK: 0}
            for state, n in s.execute(
                select(Payment.delivery, func.count())
                .where(Payment.delivery.is_not(None))
                .group_by(Payment.delivery)
            ):
                out[state] = int(n)
            out["waiting_for_dossier"] = int(
                s.scalar(
                    select(func.count())
                    .select_from(Payment)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(Payment.delivery == QUEUED, Dossier.dossier_code.is_(None))
                )
                or 0
            )
            return out

        return self.store.read(read)

    def has_pending(self) -> bool:
        """A recorded payment not yet delivered whose dossier has the portal's receipt
        (due now or backing off)."""

        def read(s: Session) -> bool:
            return bool(
                s.scalar(
                    select(func.count())
                    .select_from(Payment)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(Payment.delivery == QUEUED, Dossier.dossier_code.is_not(None))
                )
            )

        return self.store.read(read)

    def has_due(self) -> bool:
        now = self.clock()

        def read(s: Session) -> bool:
            return bool(
                s.scalar(
                    select(func.count())
                    .select_from(Payment)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(
                        Payment.delivery == QUEUED,
                        Dossier.dossier_code.is_not(None),
                        (Payment.next_attempt_at.is_(None)) | (Payment.next_attempt_at <= now),
                    )
                )
            )

        return self.store.read(read)
