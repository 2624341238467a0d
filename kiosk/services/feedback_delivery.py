"""Citizens' feedback as a kind of the one delivery state machine (kiosk.services.delivery):
the voice recording is a part (PUT /attachments/{sha256}, audio/wav, inside the feedback's
lease), then the frozen body goes (POST /feedback, Idempotency-Key = client_ref) and the
portal's feedback_code is recorded. Anonymous feedback's body holds no applicant and no
phone (kiosk.services.feedback makes it so when the citizen confirms).

`FeedbackOutbox` runs the same machine for feedback alone, through a PortalClient the caller
holds (`feedback drain`, the benchmark)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.services.delivery import (
    Backoff,
    Delivery,
    DeliveryKind,
    FilePart,
    Item,
    NeedsClerk,
    Part,
    SendContext,
    default_worker_id,
    machine_prefix,
    register,
)
from kiosk.services.dossiers import FILE_CTX
from kiosk.services.feedback import BODY_CTX, FeedbackService
from kiosk.services.models import Feedback, FeedbackAttempt
from kiosk.services.portal_client import PortalClient
from kiosk.services.portal_link import PortalConfig, PortalLink, parse_utc
from kiosk.services.portal_notices import FeedbackReceipt, submit_feedback

_FEEDBACK = Feedback.__table__


@register
class RecordingKind(FilePart):
    """A feedback's voice message: uploaded before the feedback that names it."""

    name = "recording"
    table = _FEEDBACK
    done_column = "recording_uploaded"
    unreadable = ("recording missing or unreadable", "cannot read it")

    def load(self, session: Session, parent_ids: list[int]) -> dict[int, list[Part]]:
        f = _FEEDBACK.c
        found: dict[int, list[Part]] = {}
        for r in session.execute(
            select(f.id, f.recording_file, f.recording_sha256, f.recording_uploaded).where(
                f.id.in_(parent_ids), f.recording_sha256.is_not(None)
            )
        ):
            found[r.id] = [Part(self.name, r.id, 0, r, bool(r.recording_uploaded))]
        return found

    def read(self, part: Part) -> tuple[str, bytes, str]:
        row = part.data
        blob = (self.services.attachments_dir / row.recording_file).read_bytes()
        return row.recording_sha256, self.services.cipher.decrypt(blob, FILE_CTX), "audio/wav"

    def field(self, part: Part) -> str:
        return "recording"


@register
class FeedbackKind(DeliveryKind):
    """A confirmed feedback: POST /feedback with its frozen body, after its recording."""

    name = "feedback"
    table = _FEEDBACK
    order = 30
    parts = ("recording",)
    delivered_columns = ("feedback_code", "delivered_at", "portal_status", "portal_status_at")
    attempts_table = FeedbackAttempt.__table__
    attempts_owner = "feedback_id"

    def body(self, item: Item) -> bytes:
        if item.data.body_enc is None:
            raise NeedsClerk("erased: nothing left to send")
        return self.services.cipher.decrypt(item.data.body_enc, BODY_CTX)

    def send(self, item: Item, ctx: SendContext) -> FeedbackReceipt:
        body, ref = item.request, item.client_ref
        return ctx.call(lambda c: submit_feedback(c, body, ref))

    def delivered_values(self, answer: FeedbackReceipt, now: datetime) -> dict[str, Any]:
        if not isinstance(answer.feedback_code, str) or not answer.feedback_code:
            raise ValueError("no feedback_code")
        return {
            "feedback_code": answer.feedback_code,
            "delivered_at": now,
            "portal_status": "received",
            "portal_status_at": parse_utc(answer.received_at) or now,
        }


@dataclass
class DeliveryReport:
    """What `FeedbackOutbox.run_once` (or `drain`) did."""

    claimed: int = 0
    delivered: int = 0
    needs_clerk: int = 0
    retry: int = 0  # transient errors, and items handed back unsent
    auth_blocked: bool = False


class _CallersClient(PortalLink):
    """The link of a caller that holds its own client: every request goes through it."""

    given: PortalClient

    def client(self) -> PortalClient:
        return self.given


def _config_of(client: PortalClient) -> PortalConfig:
    connect, read = client.timeout
    return PortalConfig(
        client.base_url, client.kiosk_id, client._secret, client._auth.token or "", connect, read
    )


class FeedbackOutbox:
    """Feedback alone through the one delivery state machine, with the caller's client:
    the same claims, leases, attempts and outcomes as when the outbox delivers it."""

    def __init__(
        self,
        service: FeedbackService,
        worker_id: str | None = None,
        *,
        lease_seconds: float = 60.0,
        batch_size: int = 20,
        backoff: tuple[float, float] = (2.0, 900.0),
    ) -> None:
        """`backoff`: the first retry's wait and the longest (seconds)."""
        self.service = service
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.backoff = Backoff(*backoff)
        self._link: _CallersClient | None = None
        self._delivery: Delivery | None = None

    def _machine(self, client: PortalClient) -> Delivery:
        portal = _config_of(client)
        if self._link is None or self._delivery is None:
            self._link = _CallersClient(
                self.service.store,
                portal,
                machine=machine_prefix(),
                blind=getattr(self.service.cipher, "blind", None),
                clock=self.service.clock,
            )
            self._delivery = Delivery(
                self.service.store,
                self._link,
                self.service,
                worker_id=self.worker_id,
                kinds=[FeedbackKind],
                part_kinds=[RecordingKind],
                lease_seconds=self.lease_seconds,
                batch_size=self.batch_size,
                backoff=self.backoff,
                prefetch=False,  # nothing stays leased between two calls
            )
        elif portal != self._link.portal:
            self._link.set_portal(portal)
        self._link.given = client
        return self._delivery

    def run_once(self, client: PortalClient) -> DeliveryReport:
        """Claim one batch of due feedback and send it."""
        r = self._machine(client).run_once()
        return DeliveryReport(
            r.claimed, r.delivered, r.needs_clerk, r.transient + r.released, r.auth_blocked
        )

    def drain(self, client: PortalClient, rounds: int = 100) -> DeliveryReport:
        """Batches until nothing is due, or one needs a retry or is refused."""
        total = DeliveryReport()
        for _ in range(rounds):
            r = self.run_once(client)
            total.claimed += r.claimed
            total.delivered += r.delivered
            total.needs_clerk += r.needs_clerk
            total.retry += r.retry
            total.auth_blocked = total.auth_blocked or r.auth_blocked
            if not r.claimed or r.auth_blocked or r.retry:
                break
        return total
