"""Status polling: what the portal says about delivered dossiers (GET /dossiers/{code}).

`refresh(dossier_id)` answers the citizen's look-up; `poll(limit)` keeps the non-final
statuses of this kiosk's dossiers fresh, round-robin (the place is kept in Meta, so a
restart goes on where it stopped). No Qt here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kiosk.services.models import DELIVERED, Dossier, Meta
from kiosk.services.portal_client import NotFound, PortalError
from kiosk.services.portal_link import PortalLink, parse_utc
from kiosk.services.store import Store

log = logging.getLogger(__name__)

FINAL_PORTAL_STATUSES = ("completed", "rejected")
STATUS_CURSOR_META = "outbox.status_cursor"


@dataclass(frozen=True)
class StatusInfo:
    """A delivered dossier's status at the portal (GET /dossiers/{code})."""

    dossier_id: int
    dossier_code: str
    status: str  # received | processing | needs_info | completed | rejected
    updated_at: datetime | None  # UTC
    message: dict[str, str]  # per language tag


class StatusPoller:
    def __init__(self, store: Store, link: PortalLink) -> None:
        self.store = store
        self.link = link

    def refresh(self, dossier_id: int) -> StatusInfo | None:
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
        status = self.link.guarded(lambda c: c.dossier_status(code))
        updated = parse_utc(status.updated_at)
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

    def poll(self, limit: int = 50) -> int:
        """Refresh up to `limit` delivered dossiers whose status is not final, round-robin.
        Returns how many were refreshed."""
        kiosk_id = self.link.portal.kiosk_id

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
                self.refresh(dossier_id)
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
