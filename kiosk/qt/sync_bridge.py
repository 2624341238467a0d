"""Qt glue for the sync worker: a bridge that owns the worker and re-emits its state on the
UI thread (the clerk bar, kiosk.views.clerk_bar, shows it).

    bridge = SyncBridge.from_context(app_ctx, parent=window)
    bar = ClerkBar(bridge, window.vc.tr)
    bridge.start()            # and bridge.wake() after each confirm; bridge.stop() at exit
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

from kiosk.services.outbox import Outbox, PortalConfig, StatusInfo
from kiosk.services.sync import SyncState, SyncWorker

log = logging.getLogger(__name__)

OVERLAY_NAME = "catalogue-overlay.json"


class _Mailbox:
    """What the worker thread hands over to the UI thread, as plain Python: the worker never
    calls Qt, so a window (and this bridge with it) can be deleted on the UI thread at any
    moment without a worker thread touching the deleted object."""

    def __init__(self) -> None:
        self._items: collections.deque[tuple[str, Any]] = collections.deque()

    def put(self, kind: str, value: Any) -> None:
        self._items.append((kind, value))  # deque appends are thread-safe

    def take(self) -> list[tuple[str, Any]]:
        out = []
        while self._items:
            out.append(self._items.popleft())
        return out


class SyncBridge(QObject):
    """Owns a SyncWorker; `state_changed(SyncState)` and `catalogue_changed(Catalogue)` are
    emitted on the thread this object lives in (the UI thread)."""

    state_changed = Signal(object)
    catalogue_changed = Signal(object)
    language_packs_changed = Signal(object)  # a PackRefresh that installed or removed packs
    DELIVERY_MS = 50  # how often the UI thread looks at what the worker handed over

    def __init__(
        self, outbox: Outbox, parent: QObject | None = None, **worker_options: Any
    ) -> None:
        """worker_options go to SyncWorker (catalogue, overlay_path, intervals, ...)."""
        super().__init__(parent)
        self.packs_pending = False  # installed packs wait for the next citizen to be applied
        self.outbox = outbox
        mail = self._mail = _Mailbox()
        self.worker = SyncWorker(
            outbox,
            on_state=lambda state: mail.put("state", state),
            on_catalogue=lambda catalogue: mail.put("catalogue", catalogue),
            **worker_options,
        )
        self._timer = QTimer(self)
        self._timer.setInterval(self.DELIVERY_MS)
        self._timer.timeout.connect(self._deliver)
        self._timer.start()
        # A bridge deleted with its window stops its worker (which then talks to nobody).
        worker = self.worker
        self.destroyed.connect(lambda *_: worker.stop(0))
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
        if getattr(app_ctx, "packs", None) is not None:
            from kiosk.services.langpacks import known_items
            from kiosk.services.pack_sync import language_pack_task

            bridge.worker.periodic.append(
                language_pack_task(
                    outbox.link.call,
                    app_ctx.packs,
                    lambda: known_items(app_ctx.translator, app_ctx.catalogue),
                    done=lambda result, mail=bridge._mail: mail.put("packs", result),
                )
            )
        two_way = getattr(app_ctx, "two_way", None)
        if two_way is not None:
            from kiosk.services.sync import Periodic

            # Feedback goes with the dossiers (the outbox delivers it); the notices and
            # the answers are fetched here, on their own intervals inside TwoWay.
            bridge.worker.periodic.append(
                Periodic(
                    "notices and answers",
                    60.0,
                    lambda: two_way(outbox.link.client()),
                    retry=60.0,
                )
            )
        return bridge

    def apply_pending_language_work(self) -> bool:
        """Between two citizens: use the packs the worker installed (never mid-visit)."""
        if not self.packs_pending or self._app_ctx is None:
            return False
        self.packs_pending = False
        self._app_ctx.apply_language_work()
        return True

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
    @Slot()
    def _deliver(self) -> None:
        handlers = {
            "state": self._on_state,
            "catalogue": self._on_catalogue,
            "packs": self._on_packs,
        }
        for kind, value in self._mail.take():
            handlers[kind](value)

    @Slot(object)
    def _on_state(self, state: SyncState) -> None:
        self._state = state
        self.state_changed.emit(state)

    @Slot(object)
    def _on_packs(self, result: Any) -> None:
        if getattr(result, "changed", False):
            self.packs_pending = True
            self.language_packs_changed.emit(result)

    @Slot(object)
    def _on_catalogue(self, catalogue: Any) -> None:
        if self._app_ctx is not None:
            self._app_ctx.catalogue = catalogue
        self.catalogue_changed.emit(catalogue)
