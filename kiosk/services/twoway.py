"""The sync worker's part for two-way information: refresh notices and poll the answers to
delivered feedback (on their own intervals). Feedback itself is delivered by the outbox's
one delivery state machine (kiosk.services.feedback_delivery). No Qt.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiosk.services.crypto import DataCipher
from kiosk.services.feedback import FeedbackService
from kiosk.services.models import DELIVERED, Feedback
from kiosk.services.notices import NoticeService, SyncResult
from kiosk.services.portal_client import AuthBlocked, PortalError
from kiosk.services.store import Store

log = logging.getLogger(__name__)

FINAL = ("closed",)


@dataclass
class RoundReport:
    notices: SyncResult | None = None
    answers_checked: int = 0
    errors: list[str] = field(default_factory=list)


class TwoWay:
    def __init__(
        self,
        notices: NoticeService,
        feedback: FeedbackService,
        *,
        notice_interval: float = 900.0,
        answer_interval: float = 1800.0,
    ) -> None:
        self.notices = notices
        self.feedback = feedback
        self.notice_interval = notice_interval
        self.answer_interval = answer_interval
        self._next_notices = 0.0
        self._next_answers = 0.0

    def __call__(self, client: Any, *, force: bool = False) -> RoundReport:
        """Notices and answers, each when its interval is up (or `force`)."""
        report = RoundReport()
        now = time.monotonic()
        if force or now >= self._next_notices:
            try:
                report.notices = self.notices.sync(client)
                self._next_notices = now + self.notice_interval
            except AuthBlocked:
                raise
            except PortalError as exc:
                report.errors.append(f"notices: {exc.detail}")
                self._next_notices = now + min(300.0, self.notice_interval)
        if force or now >= self._next_answers:
            report.answers_checked = self.poll_answers(client)
            self._next_answers = now + self.answer_interval
        return report

    def poll_answers(self, client: Any, limit: int = 50) -> int:
        ids = self.feedback.store.read(
            lambda s: list(
                s.scalars(
                    select(Feedback.id)
                    .where(
                        Feedback.state == DELIVERED,
                        Feedback.feedback_code.is_not(None),
                        (Feedback.portal_status.is_(None)) | (Feedback.portal_status.not_in(FINAL)),
                    )
                    .order_by(Feedback.portal_status_at.is_not(None), Feedback.portal_status_at)
                    .limit(limit)
                )
            )
        )
        done = 0
        for feedback_id in ids:
            try:
                self.feedback.refresh_status(client, feedback_id)
                done += 1
            except AuthBlocked:
                raise
            except PortalError as exc:
                log.info("feedback status: %s", exc.detail)
                break
        return done


def build_two_way(
    store: Store, cipher: DataCipher, kiosk_id: str, data_dir: Path, attachments_dir: Path
) -> TwoWay:
    return TwoWay(
        NoticeService(store, data_dir / "notice-media"),
        FeedbackService(store, cipher, kiosk_id, attachments_dir),
    )
