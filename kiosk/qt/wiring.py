"""Connect the devices and background services to a main window, from the settings.

Kept apart from the shell so tests and tools can build a bare window, and the running
kiosk gets everything: camera, speech, status look-ups, the sync worker.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kiosk.hardware.camera import camera_factory
from kiosk.paths import resource

if TYPE_CHECKING:
    from kiosk.context import AppContext
    from kiosk.views.shell import MainWindow

log = logging.getLogger(__name__)


def install_camera(app_ctx: AppContext) -> None:
    """The ID-card scanner and the document camera (one device; in the demo, two
    simulated ones: an ID card and a document photographed at an angle)."""
    from kiosk.qt.camera_bridge import bridge_factory
    from kiosk.qt.document_bridge import document_bridge_factory

    s = app_ctx.settings
    card = s.camera_sim_source or str(resource("samples", "camera"))
    page = s.camera_sim_source or str(resource("samples", "document"))
    size = (s.camera_index, s.camera_width, s.camera_height)
    scanner = camera_factory(s.camera, *size, card)
    pages = camera_factory(s.camera, *size, page)
    if scanner is None or pages is None:
        app_ctx.camera = app_ctx.document_camera = None
        return
    app_ctx.camera = bridge_factory(scanner)
    app_ctx.document_camera = document_bridge_factory(pages)


def install_chip_reader(app_ctx: AppContext) -> None:
    """The ID card's chip reader (PC/SC, the simulated demo card, or none), and its step
    in the journey after the card's QR code."""
    from kiosk.services.chip_identity import build_chip_service, use_chip_reader

    try:
        service = build_chip_service(app_ctx.settings)
    except Exception as exc:  # a broken trust store or reader must not stop the kiosk
        log.warning("card reader unavailable: %s", type(exc).__name__)
        return
    use_chip_reader(app_ctx, service)


def install_sync(window: MainWindow, app_ctx: AppContext) -> None:
    """The sync worker (started with the window), status look-ups through it, and the
    clerk bar, shown on the clerk's screens."""
    from kiosk.qt.sync_bridge import SyncBridge
    from kiosk.services.status import StatusService

    sync = SyncBridge.from_context(app_ctx, parent=window)
    app_ctx.sync = sync
    app_ctx.dossiers.clock_offset = lambda: sync.outbox.clock_offset
    app_ctx.status = StatusService(app_ctx.store, refresh=sync.refresh_status)
    install_clerk_bar(window, app_ctx, sync)
    if window.started:
        sync.start()  # installed after the home screen was painted
    else:
        window.start_hooks.append(sync.start)

    def language_work() -> None:
        # Packs the worker installed are used between two citizens, never mid-visit.
        if sync.apply_pending_language_work() and hasattr(window.top, "refresh_languages"):
            window.top.refresh_languages()

    window.reset_hooks.append(language_work)


def install_clerk_bar(window: MainWindow, app_ctx: AppContext, sync) -> None:
    """The clerk bar under the clerk's screens (sync None: no worker, as in the audit)."""
    from kiosk.views import registry
    from kiosk.views.clerk_bar import ClerkBar

    bar = ClerkBar(sync, lambda key, **v: app_ctx.translator.tr(key, app_ctx.session.lang, **v))
    window.centralWidget().layout().addWidget(bar)
    window.clerk_bar = bar
    bar.watch_help(lambda: app_ctx.help_requests.waiting(), window.vc.tasks)

    def follow(name: str) -> None:
        bar.setVisible(registry.spec(name).audience == "clerk")

    window.nav.changed.connect(follow)
    bar.setVisible(False)


def wire(window: MainWindow, app_ctx: AppContext, sync: bool = True, chip: bool = True) -> None:
    """Everything a running kiosk adds to the bare window (the sync worker and the chip
    reader apart, with `sync=False`, `chip=False`: the kiosk installs them right after the
    home screen is painted; the chip's step comes after the card's QR code, never before)."""
    from kiosk.qt.speech_bridge import install_speech

    install_camera(app_ctx)
    if chip:
        install_chip_reader(app_ctx)
    install_speech(window, app_ctx)
    if sync:
        install_sync(window, app_ctx)
