"""What a citizen learns from their receipt: the dossier's latest known status.

Online, a delivered dossier's status is refreshed from the portal first; offline, the
last one recorded is shown with its time. A dossier not yet delivered says so honestly.
Ratings of the service are stored here too, per procedure and per day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from kiosk.services.dossiers import utcnow
from kiosk.services.models import (
    AUTH_BLOCKED,
    DELIVERED,
    HANDLED,
    NEEDS_CLERK,
    QUEUED,
    SENDING,
    Dossier,
    Rating,
)
from kiosk.services.receipt_code import ReceiptCodeError, code_from_uri, parse_code
from kiosk.services.store import Store

log = logging.getLogger(__name__)

# What the citizen sees for each state: (status key, pictogram).
WAITING = "waiting_to_send"
PORTAL_STATES = ("received", "processing", "needs_info", "completed", "rejected")
FACES = (1, 2, 3, 4)  # very unhappy .. very happy
REASONS = ("waiting_time", "staff", "kiosk_hard", "fees")


@dataclass(frozen=True)
class StatusView:
    receipt_code: str
    status: str  # waiting_to_send, needs_clerk, or one of PORTAL_STATES
    procedure_code: str
    confirmed_at: datetime
    as_of: datetime | None  # when this status was learnt (None: not yet sent)
    fresh: bool  # learnt from the portal just now
    dossier_code: str | None = None
    expected_result_date: object = None
    message: dict[str, str] = field(default_factory=dict)

    @property
    def pictogram(self) -> str:
        return {"needs_clerk": "help_clerk"}.get(self.status, self.status)


class StatusError(Exception):
    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


class StatusService:
    def __init__(self, store: Store, refresh: Callable[[int], object] | None = None) -> None:
        """`refresh(dossier_id)` asks the portal and stores the answer (the outbox's)."""
        self.store = store
        self.refresh = refresh

    def lookup(self, typed_or_scanned: str) -> StatusView:
        from_qr = code_from_uri(typed_or_scanned)
        try:
            code = from_qr.text if from_qr else parse_code(typed_or_scanned).text
        except ReceiptCodeError:
            raise StatusError("status.err.bad_code", "not a receipt code") from None
        dossier = self._by_code(code)
        if dossier is None:
            raise StatusError("status.err.unknown", f"no dossier {code} on this centre's database")
        fresh = False
        if dossier.state == DELIVERED and dossier.dossier_code and self.refresh is not None:
            try:
                self.refresh(dossier.id)
                fresh = True
            except Exception as exc:  # offline or portal trouble: show what we know
                log.info("status refresh for %s failed: %s", code, type(exc).__name__)
            dossier = self._by_code(code)
        return self._view(dossier, fresh)

    def _by_code(self, code: str) -> Dossier | None:
        return self.store.read(
            lambda s: s.scalars(select(Dossier).where(Dossier.receipt_code == code)).first()
        )

    @staticmethod
    def _view(d: Dossier, fresh: bool) -> StatusView:
        base = {
            "receipt_code": d.receipt_code,
            "procedure_code": d.procedure_code,
            "confirmed_at": d.confirmed_at,
            "dossier_code": d.dossier_code,
            "expected_result_date": d.expected_result_date,
        }
        if d.state in (QUEUED, SENDING, AUTH_BLOCKED):
            return StatusView(status=WAITING, as_of=None, fresh=False, **base)
        if d.state in (NEEDS_CLERK, HANDLED):
            return StatusView(status="needs_clerk", as_of=None, fresh=False, **base)
        status = d.portal_status if d.portal_status in PORTAL_STATES else "received"
        message = json.loads(d.portal_message) if d.portal_message else {}
        return StatusView(
            status=status,
            as_of=d.portal_status_at or d.delivered_at,
            fresh=fresh,
            message=message,
            **base,
        )

    # Ratings ------------------------------------------------------------------------
    def rate(
        self,
        face: int,
        reason: str | None = None,
        procedure_code: str | None = None,
        lang: str = "vi",
    ) -> None:
        if face not in FACES:
            raise ValueError(f"face must be one of {FACES}")
        if reason is not None and reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}")
        now = utcnow()
        local_day = datetime.now().date()
        self.store.write_sync(
            lambda s: s.add(
                Rating(
                    day=local_day,
                    at=now,
                    procedure_code=procedure_code,
                    face=face,
                    reason=reason,
                    language=lang,
                )
            )
        )
