"""A citizen asks for a clerk at a kiosk; the clerks see it, with its time and kiosk, and
mark it handled.

A request holds no personal data: the kiosk, the visit (a number that changes with each
citizen), why, when, and the clerk who came. It is written by the store's one writer, so
every machine of a centre on one database (the kiosks, the counter's screen) sees it. A
visit that asks again while its request is open gets the same request back, not a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.services.dossiers import utcnow
from kiosk.services.models import HelpRequest
from kiosk.services.store import Store

REASONS = ("card_unreadable", "other")


@dataclass(frozen=True)
class HelpCall:
    id: int
    kiosk_id: str
    visit: int
    reason: str
    asked_at: datetime  # naive UTC, like every time in the store
    handled_at: datetime | None = None
    handled_by: int | None = None

    @property
    def open(self) -> bool:
        return self.handled_at is None


def _call(row: HelpRequest) -> HelpCall:
    return HelpCall(
        row.id, row.kiosk_id, row.visit, row.reason, row.asked_at, row.handled_at, row.handled_by
    )


class HelpRequests:
    def __init__(self, store: Store, kiosk_id: str, clock=utcnow) -> None:
        self.store, self.kiosk_id, self.clock = store, kiosk_id, clock

    def ask(self, visit: int, reason: str = "card_unreadable") -> HelpCall:
        """This kiosk's citizen (visit) asks for a clerk; the open request if there is one."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")

        def work(s: Session) -> HelpCall:
            row = s.scalars(
                select(HelpRequest).where(
                    HelpRequest.kiosk_id == self.kiosk_id,
                    HelpRequest.visit == visit,
                    HelpRequest.handled_at.is_(None),
                )
            ).first()
            if row is None:
                row = HelpRequest(
                    kiosk_id=self.kiosk_id, visit=visit, reason=reason, asked_at=self.clock()
                )
                s.add(row)
                s.flush()
            return _call(row)

        return self.store.write_sync(work)

    def waiting(self, limit: int = 20) -> list[HelpCall]:
        """Open requests of every kiosk, the oldest first."""
        return self.store.read(
            lambda s: [
                _call(r)
                for r in s.scalars(
                    select(HelpRequest)
                    .where(HelpRequest.handled_at.is_(None))
                    .order_by(HelpRequest.asked_at, HelpRequest.id)
                    .limit(limit)
                )
            ]
        )

    def status(self, request_id: int) -> HelpCall | None:
        row = self.store.read(lambda s: s.get(HelpRequest, request_id))
        return _call(row) if row is not None else None

    def handle(self, request_id: int, clerk_id: int | None) -> HelpCall | None:
        """A clerk came: the request is closed (once; a second tap changes nothing)."""

        def work(s: Session) -> HelpCall | None:
            row = s.get(HelpRequest, request_id)
            if row is None:
                return None
            if row.handled_at is None:
                row.handled_at, row.handled_by = self.clock(), clerk_id
            return _call(row)

        return self.store.write_sync(work)
