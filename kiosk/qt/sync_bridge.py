"""Qt glue for the sync worker: a bridge that owns the worker and re-emits its state on the
UI thread, and the compact clerk bar that shows it.

    bridge = SyncBridge.from_context(app_ctx, parent=window)
    bar = ClerkBar(bridge, window.vc.tr)
    bridge.start()            # and bridge.wake() after each confirm; bridge.stop() at exit
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QSizePolicy, QWidget

from kiosk.services.outbox import Outbox, PortalConfig, StatusInfo
from kiosk.services.sync import SyncState, SyncWorker

log = logging.getLogger(__name__)

OVERLAY_NAME = "catalogue-overlay.json"


class SyncBridge(QObject):
    """Owns a SyncWorker; `state_changed(SyncState)` and `catalogue_changed(Catalogue)` are
    emitted on the thread this object lives in (the UI thread)."""

    state_changed = Signal(object)
    catalogue_changed = Signal(object)
    _state_from_worker = Signal(object)
    _catalogue_from_worker = Signal(object)

    def __init__(
        self, outbox: Outbox, parent: QObject | None = None, **worker_options: Any
    ) -> None:
        """worker_options go to SyncWorker (catalogue, overlay_path, intervals, ...)."""
        super().__init__(parent)
        # Queued on purpose: the worker thread emits, this object's thread delivers.
        self._state_from_worker.connect(self._on_state, Qt.ConnectionType.QueuedConnection)
        self._catalogue_from_worker.connect(self._on_catalogue, Qt.ConnectionType.QueuedConnection)
        self.outbox = outbox
        self.worker = SyncWorker(
            outbox,
            on_state=self._state_from_worker.emit,
            on_catalogue=self._catalogue_from_worker.emit,
            **worker_options,
        )
        self._state: SyncState | None = None
        self._app_ctx: Any = None

    @classmethod
    def from_context(
        cls, app_ctx: Any, parent: QObject | None = None, **worker_options: Any
    ) -> SyncBridge:
        """The outbox and worker for a running kiosk (kiosk.context.AppContext); portal
        catalogue updates replace app_ctx.catalogue on the UI thread."""
        s = app_ctx.settings
        portal = PortalConfig.from_settings(s)
        outbox = Outbox(
            app_ctx.store,
            app_ctx.dossiers,
            portal,
            lease_seconds=max(300.0, portal.request_budget * 3),
        )
        worker_options.setdefault("catalogue", app_ctx.catalogue)
        worker_options.setdefault("overlay_path", s.data_dir / OVERLAY_NAME)
        bridge = cls(outbox, parent, **worker_options)
        bridge._app_ctx = app_ctx
        return bridge

    # --- control ----------------------------------------------------------------------------
    def start(self) -> None:
        if not self.worker.is_alive() and not self.worker.stopping:
            self.worker.start()
            app = QApplication.instance()
            if app is not None:
                # At exit do not wait long for a request in flight: the thread is a daemon
                # and an unanswered dossier is simply replayed after the restart.
                app.aboutToQuit.connect(lambda: self.stop(3.0))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker: it finishes the request in flight (up to one read timeout) and
        hands back the dossiers it has not sent."""
        self.worker.stop(timeout)
        if not self.worker.is_alive():
            self.outbox.close()

    def wake(self) -> None:
        """Call after DossierService.confirm(): the new dossier is sent at once if online."""
        self.worker.wake()

    def update_credentials(self, **changes: Any) -> None:
        """The clerk changed the token/secret/URL: sending resumes with them at once."""
        self.worker.update_credentials(**changes)

    def refresh_status(self, dossier_id: int) -> StatusInfo | None:
        """Blocking portal call: run it through TaskRunner, never on the UI thread."""
        return self.outbox.refresh_status(dossier_id)

    @property
    def state(self) -> SyncState | None:
        return self._state

    # --- relays (UI thread) -------------------------------------------------------------------
    @Slot(object)
    def _on_state(self, state: SyncState) -> None:
        self._state = state
        self.state_changed.emit(state)

    @Slot(object)
    def _on_catalogue(self, catalogue: Any) -> None:
        if self._app_ctx is not None:
            self._app_ctx.catalogue = catalogue
        self.catalogue_changed.emit(catalogue)


# --- the clerk bar -----------------------------------------------------------------------------
def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone()


def format_age(seconds: float, tr: Callable[..., str]) -> str:
    """'just now', '12 min', '3 h', '2 days' (translated)."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return tr("outbox.age.now")
    if minutes < 60:
        return tr("outbox.age.minutes", n=minutes)
    if minutes < 48 * 60:
        return tr("outbox.age.hours", n=minutes // 60)
    return tr("outbox.age.days", n=minutes // (24 * 60))


def format_time(moment: datetime, now: datetime | None = None) -> str:
    """Local HH:MM today, else dd/mm HH:MM (moment is naive UTC)."""
    local = _local(moment)
    today = _local(now).date() if now else datetime.now().astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


class ClerkBar(QWidget):
    """One line for the clerk: online or not, how many dossiers wait and since when, the last
    delivery, and in plain words what to do when the portal refuses the kiosk or the clock
    is wrong. `tr(key, **values)` translates (e.g. ViewContext.tr)."""

    def __init__(
        self,
        bridge: SyncBridge | None,
        tr: Callable[..., str],
        parent: QWidget | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self._now = now or (lambda: datetime.now(UTC).replace(tzinfo=None))
        self.setObjectName("clerkBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "#clerkBar { background: #eef2f5; border-top: 1px solid #c8d0d8; }"
            "#clerkBar QLabel { font-size: 20pt; color: #1d2a36; background: transparent; }"
            '#clerkBar QLabel[level="alert"] { color: #a4161a; font-weight: bold; }'
            '#clerkBar QLabel[level="warn"] { color: #8a5a00; font-weight: bold; }'
            '#clerkBar QLabel[level="ok"] { color: #1b6e3a; font-weight: bold; }'
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 4, 16, 4)
        row.setSpacing(24)
        self.connection = QLabel()
        self.waiting = QLabel()
        self.last = QLabel()
        self.alert = QLabel()
        self.alert.setWordWrap(True)
        self.alert.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        for label in (self.connection, self.waiting, self.last):
            label.setWordWrap(True)  # on a narrow screen a fact takes two lines, never cut
            row.addWidget(label, 1)
        row.addWidget(self.alert, 1)
        self._state: SyncState | None = None
        if bridge is not None:
            bridge.state_changed.connect(self.set_state)
            if bridge.state is not None:
                self._state = bridge.state
        self.retranslate()

    @staticmethod
    def _level(label: QLabel, level: str) -> None:
        if label.property("level") != level:
            label.setProperty("level", level)
            label.style().unpolish(label)
            label.style().polish(label)

    def set_state(self, state: SyncState) -> None:
        self._state = state
        self.retranslate()

    def retranslate(self) -> None:
        tr, state = self.tr_, self._state
        status = state.status if state else None
        if state is None or state.online is None:
            self.connection.setText(tr("outbox.bar.connecting"))
            self._level(self.connection, "")
        elif state.online:
            self.connection.setText(tr("outbox.bar.online"))
            self._level(self.connection, "ok")
        else:
            self.connection.setText(tr("outbox.bar.offline"))
            self._level(self.connection, "warn")
        if state is not None and state.last_error:
            self.connection.setToolTip(state.last_error)
        now = self._now()
        if status is None or status.waiting == 0:
            self.waiting.setText(tr("outbox.bar.none_waiting"))
        else:
            text = tr("outbox.bar.waiting", n=status.waiting)
            if status.oldest_waiting_since is not None:
                age = (now - status.oldest_waiting_since).total_seconds()
                text += " " + tr(
                    "outbox.bar.waiting_since",
                    time=format_time(status.oldest_waiting_since, now),
                    age=format_age(age, tr),
                )
            self.waiting.setText(text)
        last = status.last_success_at if status else None
        self.last.setText(
            tr(
                "outbox.bar.last_success",
                time=format_time(last, now) if last else tr("outbox.bar.never"),
            )
        )
        alerts = []
        if status is not None:
            if status.auth_alert is not None:
                alerts.append(tr(status.auth_alert.key))
            if status.clock_alert is not None:
                alerts.append(
                    tr(
                        status.clock_alert.key,
                        minutes=round(abs(status.clock_alert.offset_seconds) / 60),
                    )
                )
            if status.needs_clerk:
                alerts.append(tr("outbox.bar.needs_clerk", n=status.needs_clerk))
            if status.other_identity:
                alerts.append(tr("outbox.alert.other_identity", n=status.other_identity))
        self.alert.setText("  ".join(alerts))
        self.alert.setVisible(bool(alerts))
        self._level(
            self.alert,
            "alert" if status is not None and (status.auth_alert or status.clock_alert) else "warn",
        )
        self._level(
            self.waiting,
            "warn"
            if state is not None and state.online is False and status is not None and status.waiting
            else "",
        )
