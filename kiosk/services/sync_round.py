"""One whole sync round, start to end, for `python -m kiosk sync --once` and scheduled runs:
is the portal there (and how far off is our clock), deliver what is due, refresh the
status of delivered dossiers, refresh the procedure catalogue.

The round is a list of steps run in order (`SyncRound.steps`); a later feature (notices,
language packs) adds a step: a name and a function that takes the round and returns a
short result for the summary. A step runs only if the portal answered and accepts the
credentials. No Qt here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.services.outbox import Outbox, OutboxStatus
from kiosk.services.portal_client import AuthBlocked, InsecureURL, PortalError

if TYPE_CHECKING:
    from kiosk.services.catalogue import Catalogue

log = logging.getLogger(__name__)

# Exit codes of a round (and of `python -m kiosk sync --once`).
OK = 0  # the portal answered; everything due was tried
UNFINISHED = 1  # offline, slowed down or out of time: something due is still waiting
CONFIG = 2  # the settings stop it (an http:// portal URL, ...)
REFUSED = 3  # the portal refuses this kiosk's credentials


@dataclass
class RoundReport:
    delivered: int = 0
    needs_clerk: int = 0
    transient: int = 0
    statuses: int = 0
    catalogue: str = "off"  # updated | unchanged | failed | off
    problem: str | None = None  # offline | refused | config | timeout
    detail: str = ""  # plain English, no personal data
    status: OutboxStatus | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.problem == "config":
            return CONFIG
        if self.problem == "refused":
            return REFUSED
        if self.problem in ("offline", "timeout", "paused"):
            return UNFINISHED
        return OK

    @property
    def waiting(self) -> int:
        return self.status.waiting if self.status is not None else 0


Step = Callable[["SyncRound", RoundReport], Any]


class SyncRound:
    def __init__(
        self,
        outbox: Outbox,
        *,
        catalogue: Catalogue | None = None,
        overlay_path: Path | None = None,
        status_batch: int = 50,
        timeout: float = 120.0,
    ) -> None:
        self.outbox = outbox
        self.catalogue = catalogue
        self.overlay_path = overlay_path
        self.status_batch = status_batch
        self.timeout = timeout
        self.deadline = 0.0
        self.steps: list[tuple[str, Step]] = [
            ("deliver", SyncRound.deliver),
            ("statuses", SyncRound.statuses),
            ("catalogue", SyncRound.refresh_catalogue),
        ]

    def run(self) -> RoundReport:
        start = time.monotonic()
        self.deadline = start + self.timeout
        self.outbox.set_deadline(self.deadline)
        self.outbox.allow_sending()
        report = RoundReport()
        try:
            self.outbox.check_health()
        except InsecureURL as exc:
            report.problem, report.detail = "config", exc.detail
        except PortalError as exc:
            report.problem, report.detail = "offline", exc.detail
        alert = self.outbox.auth_alert()
        if report.problem is None and alert is not None:
            # A refusal noted before: the deliver step probes the credentials once.
            report.detail = alert.detail
        if report.problem is None:
            for name, step in self.steps:
                if report.problem is not None:
                    break
                try:
                    report.steps[name] = step(self, report)
                except AuthBlocked as exc:
                    report.problem, report.detail = "refused", exc.detail
                except PortalError as exc:
                    report.problem, report.detail = "offline", exc.detail
        self.outbox.set_deadline(None)
        try:
            self.outbox.release_mine()
        finally:
            report.status = self.outbox.status()
            report.seconds = time.monotonic() - start
        return report

    # --- the steps ------------------------------------------------------------------------
    def deliver(self, report: RoundReport) -> int:
        """Every due item, batch by batch, until nothing due is left (items waiting for
        their retry time stay for a later round)."""
        while True:
            if time.monotonic() >= self.deadline:
                report.problem, report.detail = "timeout", "out of time"
                break
            batch = self.outbox.run_once()
            report.delivered += batch.delivered
            report.needs_clerk += batch.needs_clerk
            report.transient += batch.transient
            if batch.auth_blocked:
                alert = self.outbox.auth_alert()
                if alert is not None and alert.error == "insecure_url":
                    report.problem, report.detail = "config", alert.detail
                else:
                    report.problem = "refused"
                    report.detail = alert.detail if alert else "credentials refused"
                break
            if batch.offline:
                report.problem, report.detail = "offline", "a request got no answer"
                break
            if batch.paused_for:
                report.problem = "paused"
                report.detail = f"the portal asked to wait {batch.paused_for:.0f} s"
                break
            if batch.claimed == 0:
                break
        return report.delivered

    def statuses(self, report: RoundReport) -> int:
        report.statuses = self.outbox.poll_statuses(self.status_batch)
        return report.statuses

    def refresh_catalogue(self, report: RoundReport) -> str:
        if self.catalogue is None or self.overlay_path is None:
            report.catalogue = "off"
            return report.catalogue
        try:
            merged = self.outbox.refresh_catalogue(self.catalogue, self.overlay_path)
        except AuthBlocked:
            raise
        except PortalError as exc:
            log.info("catalogue refresh failed: %s", exc.detail)
            report.catalogue = "failed"
            return report.catalogue
        changed = merged.merge_report
        self.catalogue = merged
        report.catalogue = (
            "updated" if changed.added or changed.updated or changed.withdrawn else "unchanged"
        )
        return report.catalogue
