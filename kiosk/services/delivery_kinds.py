"""The kinds of item the kiosk delivers today: dossiers, and their attachments as parts.

See kiosk.services.delivery for the state machine and how to add a kind.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.services.delivery import DeliveryKind, FilePart, Item, Part, SendContext, register
from kiosk.services.dossiers import read_attachment_file
from kiosk.services.models import Attachment, Dossier
from kiosk.services.portal_client import Delivered, Permanent
from kiosk.services.portal_link import parse_utc

log = logging.getLogger(__name__)

_DOSSIERS = Dossier.__table__
_ATTACHMENTS = Attachment.__table__
_ATTACHMENT_FIELD = re.compile(r"^attachments\[(\d+)\]\.sha256$")


def parse_date(value: Any) -> date | None:
    """YYYY-MM-DD as a date; None when absent. ValueError for anything else."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"a date must be a string, not {type(value).__name__}")
    return date.fromisoformat(value)


@register
class AttachmentKind(FilePart):
    """A dossier's attachment: PUT /attachments/{sha256}, before the dossier."""

    name = "attachment"
    table = _ATTACHMENTS
    done_column = "uploaded"
    unreadable = ("attachment file missing or unreadable", "the kiosk cannot read the file")
    refused_as = "upload refused"

    def load(self, session: Session, parent_ids: list[int]) -> dict[int, list[Part]]:
        a = _ATTACHMENTS.c
        found: dict[int, list[Part]] = {}
        for r in session.execute(
            select(a.id, a.dossier_id, a.sha256, a.content_type, a.file_name, a.uploaded)
            .where(a.dossier_id.in_(parent_ids))
            .order_by(a.id)
        ):
            parts = found.setdefault(r.dossier_id, [])
            parts.append(Part(self.name, r.id, len(parts), r, bool(r.uploaded)))
        return found

    def read(self, part: Part) -> tuple[str, bytes, str]:
        row = part.data
        services = self.services
        data = read_attachment_file(services.attachments_dir, services.cipher, row.file_name)
        return row.sha256, data, row.content_type


@register
class DossierKind(DeliveryKind):
    """A confirmed dossier: POST /dossiers with its frozen body, after its attachments."""

    name = "dossier"
    table = _DOSSIERS
    order = 10
    parts = ("attachment",)
    delivered_columns = (
        "dossier_code",
        "delivered_at",
        "expected_result_date",
        "portal_status",
        "portal_status_at",
    )

    def body(self, item: Item) -> bytes:
        return self.services.body(item.data)

    def send(self, item: Item, ctx: SendContext) -> Delivered:
        body = item.request
        ref = item.client_ref
        try:
            answer = ctx.call(lambda c: c.submit_dossier(body, ref))
        except Permanent as exc:
            missing = self._missing_attachments(exc, body, item.parts)
            if not missing:
                raise
            # The portal lost (or never got) an attachment we thought uploaded: upload it
            # again and retry once before asking a clerk.
            ctx.note("attachment_missing", exc.status, f"HTTP {exc.status} {exc.error}")
            log.info(
                "dossier %s: portal does not have %d attachment(s); uploading again",
                ref,
                len(missing),
            )
            for part in missing:
                ctx.send_part(part)
            answer = ctx.call(lambda c: c.submit_dossier(body, ref))
        if answer.ignored:
            # Delivered all the same (the dossier_code is what matters): the clerk can see
            # which fields of the receipt the portal got wrong.
            ctx.note("malformed_answer", None, "ignored: " + ", ".join(answer.ignored))
        return answer

    def delivered_values(self, answer: Delivered, now: datetime) -> dict[str, Any]:
        if not isinstance(answer.dossier_code, str) or not answer.dossier_code:
            raise ValueError("no dossier_code")
        return {
            "dossier_code": answer.dossier_code,
            "delivered_at": now,
            "expected_result_date": parse_date(answer.expected_result_date),
            "portal_status": answer.status or "received",
            "portal_status_at": parse_utc(answer.received_at) or now,
        }

    @staticmethod
    def _missing_attachments(exc: Permanent, body: bytes, parts: list[Part]) -> list[Part]:
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
            part = next((p for p in parts if p.data.sha256 == sha), None)
            if part is None:
                return []
            found.append(part)
        return found
