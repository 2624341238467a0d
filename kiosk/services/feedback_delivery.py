"""Citizens' feedback as a kind of the one delivery state machine (kiosk.services.delivery):
the voice recording is a part (PUT /attachments/{sha256}, audio/wav, inside the feedback's
lease), then the frozen body goes (POST /feedback, Idempotency-Key = client_ref) and the
portal's feedback_code is recorded. Anonymous feedback's body holds no applicant and no
phone (kiosk.services.feedback makes it so when the citizen confirms)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.services.delivery import (
    DeliveryKind,
    FilePart,
    Item,
    NeedsClerk,
    Part,
    SendContext,
    register,
)
from kiosk.services.dossiers import FILE_CTX
from kiosk.services.feedback import BODY_CTX
from kiosk.services.models import Feedback, FeedbackAttempt
from kiosk.services.portal_link import parse_utc
from kiosk.services.portal_notices import FeedbackReceipt, submit_feedback

log = logging.getLogger(__name__)

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
