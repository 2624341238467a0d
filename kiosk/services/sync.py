"""The sync worker: one background thread that keeps the outbox moving while the kiosk runs.

It drains due dossiers batch by batch, wakes at once when a dossier is confirmed
(`wake()`), probes /health with backoff while the portal is unreachable and resumes as
soon as it answers, refreshes the procedure catalogue and the status of delivered dossiers
when idle, and reports its state through a callback (called on the worker thread; the Qt
bridge re-emits it on the UI thread). No Qt here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.services.dossiers import utcnow
from kiosk.services.outbox import BatchReport, Outbox, OutboxStatus, StatusInfo
from kiosk.services.portal_client import PortalError

if TYPE_CHECKING:
    from kiosk.services.catalogue import Catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncState:
    """What the clerk bar shows. `online` is None until the first answer (or its absence)."""

    online: bool | None
    status: OutboxStatus | None
    running: bool = True
    last_error: str | None = None  # plain English, for the clerk and the log
    delivered_total: int = 0  # delivered by this worker since it started
    at: datetime = field(default_factory=utcnow)


@dataclass
class Periodic:
    """Other work the worker does once the outbox is idle, every `interval` seconds (the
    language packs, the notices…): `run()` talks to the portal; `done(result)` is told
    what it found. A PortalError waits `retry` seconds before the next try."""

    name: str
    interval: float
    run: Callable[[], Any]
    done: Callable[[Any], None] | None = None
    retry: float = 300.0
    due: float = 0.0  # time.monotonic() of the next run; 0: as soon as possible


class SyncWorker(threading.Thread):
    """Start with `.start()`, stop with `.stop()`; `.wake()` after a confirm."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        on_state: Callable[[SyncState], None] | None = None,
        catalogue: Catalogue | None = None,
        overlay_path: Path | None = None,
        on_catalogue: Callable[[Catalogue], None] | None = None,
        catalogue_interval: float | None = 6 * 3600.0,
        status_interval: float | None = 1800.0,
        status_batch: int = 50,
        offline_retry: tuple[float, float] = (1.0, 60.0),
        idle_interval: float = 30.0,
        state_interval: float = 1.0,
        periodic: list[Periodic] | None = None,
        name: str = "outbox-sync",
    ) -> None:
        """`catalogue` + `overlay_path`: refresh the catalogue every `catalogue_interval`
        seconds (None: never); `status_interval`: poll delivered dossiers' status (None:
        never); `offline_retry`: first and longest wait between /health probes offline."""
        super().__init__(name=name, daemon=True)
        self.outbox = outbox
        self.on_state = on_state
        self.catalogue = catalogue
        self.overlay_path = overlay_path
        self.on_catalogue = on_catalogue
        self.catalogue_interval = catalogue_interval
        self.status_interval = status_interval
        self.status_batch = status_batch
        self.offline_retry = offline_retry
        self.idle_interval = idle_interval
        self.state_interval = state_interval
        self.periodic = list(periodic or [])
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._online: bool | None = None
        self._offline_wait = offline_retry[0]
        self._last_error: str | None = None
        self._delivered = 0
        self._state = SyncState(None, None, running=False)
        self._published_at = 0.0
        now = time.monotonic()
        # Dossiers first: the catalogue and statuses are refreshed once the outbox is idle.
        self._next_catalogue = now if catalogue is not None and overlay_path else float("inf")
        self._next_status = now if status_interval else float("inf")
        self._rng = random.Random()

    # --- control (any thread) -------------------------------------------------------------
    def wake(self) -> None:
        """Look at the outbox now (a dossier was confirmed, settings changed, ...)."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the request in flight, hand back unsent dossiers and end the thread."""
        self._stop_event.set()
        self.outbox.request_stop()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def update_credentials(self, **changes: Any) -> None:
        """New token, secret, kiosk_id, url or timeouts (PortalConfig field names)."""
        self.outbox.set_portal(**changes)
        self.wake()

    def refresh_status(self, dossier_id: int) -> StatusInfo | None:
        """For the status look-up screen (blocking: call it off the UI thread)."""
        return self.outbox.refresh_status(dossier_id)

    @property
    def state(self) -> SyncState:
        return self._state

    @property
    def online(self) -> bool | None:
        return self._online

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        log.info("sync worker %s started", self.outbox.worker_id)
        self.outbox.allow_sending()
        error_wait = 1.0
        flaky_wait = 0.1
        self._probe()
        while not self._stop_event.is_set():
            self._wake.clear()
            try:
                if not self._online:
                    if not self._probe():
                        self._sleep(self._next_offline_wait())
                    continue
                report = self.outbox.run_once()
                self._delivered += report.delivered
                if report.claimed:
                    self._last_error = None
                if report.offline:
                    self._publish()
                    if self._probe():
                        # The portal answers /health but not that request: a flaky path.
                        self._sleep(flaky_wait * (0.5 + self._rng.random()))
                        flaky_wait = min(flaky_wait * 2, 5.0)
                    continue
                flaky_wait = 0.1
                if report.claimed:
                    self._publish()
                    continue
                self._periodic(report)
                self._publish(force=True)
                self._sleep(self._idle_wait(report))
                error_wait = 1.0
            except Exception as exc:  # the database or a bug: report, wait, go on
                log.exception("sync worker: %s", type(exc).__name__)
                self._last_error = f"{type(exc).__name__} in the sync worker"
                try:  # do not sit on leases until they expire
                    self.outbox.release_mine()
                except Exception:
                    log.warning("sync worker: could not hand back its dossiers yet")
                self._publish(force=True)
                self._sleep(error_wait)
                error_wait = min(error_wait * 2, 60.0)
        try:
            released = self.outbox.release_mine()
            if released:
                log.info("sync worker handed back %d unsent dossier(s)", released)
        except Exception:
            log.exception("sync worker: could not hand back its dossiers")
        self._publish(force=True, running=False)
        log.info("sync worker %s stopped", self.outbox.worker_id)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and not self._stop_event.is_set():
            self._wake.wait(seconds)

    def _next_offline_wait(self) -> float:
        wait = self._offline_wait
        self._offline_wait = min(self._offline_wait * 2, self.offline_retry[1])
        return wait * (0.75 + 0.5 * self._rng.random())

    def _probe(self) -> bool:
        """GET /health: are we online? Also measures the clock offset."""
        try:
            self.outbox.check_health()
        except PortalError as exc:
            if self._online is not False:
                log.info("portal unreachable (%s): offline", exc.detail)
            self._online = False
            self._last_error = exc.detail
            self._publish(force=True)
            return False
        except Exception as exc:
            log.exception("sync worker: health probe failed")
            self._online = False
            self._last_error = f"{type(exc).__name__} while probing the portal"
            self._publish(force=True)
            return False
        if self._online is not True:
            log.info("portal reachable: online")
        self._online = True
        self._offline_wait = self.offline_retry[0]
        self._publish(force=True)
        return True

    def _idle_wait(self, report: BatchReport) -> float:
        if report.paused_for:
            return report.paused_for
        wait = self.idle_interval
        due = self.outbox.next_due()
        if due is not None:
            wait = min(wait, max(0.02, (due - self.outbox.clock()).total_seconds()))
        now = time.monotonic()
        for moment in (self._next_catalogue, self._next_status, *(p.due for p in self.periodic)):
            wait = min(wait, max(0.02, moment - now))
        return wait

    def _periodic(self, report: BatchReport) -> None:
        if report.auth_blocked:
            return
        now = time.monotonic()
        if now >= self._next_catalogue and self.catalogue is not None and self.overlay_path:
            try:
                merged = self.outbox.refresh_catalogue(self.catalogue, self.overlay_path)
            except PortalError as exc:
                log.info("catalogue refresh failed: %s", exc.detail)
                self._next_catalogue = now + min(300.0, self.catalogue_interval or 300.0)
            else:
                self._next_catalogue = now + (self.catalogue_interval or float("inf"))
                self.catalogue = merged
                changed = merged.merge_report
                if self.on_catalogue is not None and (
                    changed.added or changed.updated or changed.withdrawn
                ):
                    self.on_catalogue(merged)
        if now >= self._next_status and self.status_interval:
            try:
                self.outbox.poll_statuses(self.status_batch)
            except PortalError as exc:
                log.info("status polling failed: %s", exc.detail)
            self._next_status = time.monotonic() + self.status_interval
        for task in self.periodic:
            if time.monotonic() < task.due:
                continue
            try:
                result = task.run()
            except PortalError as exc:
                log.info("%s: %s", task.name, exc.detail)
                task.due = time.monotonic() + task.retry
                continue
            except Exception:
                log.exception("sync worker: %s failed", task.name)
                task.due = time.monotonic() + task.retry
                continue
            task.due = time.monotonic() + task.interval
            if task.done is not None:
                try:
                    task.done(result)
                except Exception:
                    log.exception("sync worker: %s: the result could not be used", task.name)

    def _publish(self, force: bool = False, running: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._published_at < self.state_interval:
            return
        self._published_at = now
        try:
            status = self.outbox.status()
        except Exception as exc:
            log.warning("sync worker: cannot read the outbox (%s)", type(exc).__name__)
            status = self._state.status
        self._state = SyncState(self._online, status, running, self._last_error, self._delivered)
        if self.on_state is not None:
            try:
                self.on_state(self._state)
            except Exception:
                log.exception("sync worker: state callback failed")
