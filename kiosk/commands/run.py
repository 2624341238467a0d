"""Start the kiosk window (the default command).

Before any citizen screen: one instance per data folder, the crash guard, and the setup
check. A kiosk that is not set up, that crashed three times within five minutes, or whose
database cannot be opened shows the out-of-service screen (with the support phone) and
nothing else. The demo (KIOSK_DEMO=1) counts as set up and prints a demo admin's PIN.
In kiosk mode (full screen) the window is frameless and locked: only an admin PIN leaves.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kiosk.config import SettingsError, load_settings

log = logging.getLogger(__name__)

EXIT_ALREADY_RUNNING = 3
PURGE_EVERY_MS = 24 * 3600 * 1000


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="start the kiosk window (the default)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    p.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="print the start-up time once the home screen is shown, then quit",
    )
    p.set_defaults(func=run_kiosk)


def run_kiosk(args) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"kiosk: cannot start: {exc}", file=sys.stderr)
        return 2
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    from kiosk.qt.app import ensure_app
    from kiosk.qt.lockdown import SingleInstance
    from kiosk.services.installation import CRASH_FILE, CrashGuard

    app = ensure_app()
    instance = SingleInstance(settings.data_dir)
    if not instance.acquire():
        print(
            f"kiosk: another kiosk is already running on the data folder {settings.data_dir} "
            f"({instance.holder()}); not starting a second one.",
            file=sys.stderr,
        )
        return EXIT_ALREADY_RUNNING
    guard = CrashGuard(settings.data_dir / CRASH_FILE)
    crashed = guard.start()
    # Anything raised from here on leaves the start recorded: it counts as a crash.
    ctx, reason, cleanup = open_kiosk(settings, crashed)
    try:
        if settings.demo and reason is None:
            pin = ensure_demo_admin(ctx)
            print(
                f"kiosk: DEMO — admin 'demo-admin', PIN {pin} (Ctrl+Shift+Q leaves full screen)",
                flush=True,
            )
        window = build_window(ctx, reason)
        lock = None
        if settings.fullscreen and not getattr(args, "windowed", False):
            lock = lock_down(window, ctx)
            lock.exited.connect(lambda: app.exit(0))
        else:
            window.resize(1280, 800)
            window.show()
        window.start()
        if reason is None:
            _schedule_purge(window, ctx)
        _exit_on_signals(app)
        log.info("kiosk started%s", f" out of service ({reason})" if reason else "")
        if getattr(args, "exit_when_ready", False):
            _report_ready(app, window)
        code = app.exec()
    finally:
        ctx.close()
        cleanup()
    guard.clean_exit()
    instance.release()
    log.info("kiosk stopped")
    return code


def open_kiosk(settings, crashed: bool = False):
    """(context, out-of-service reason or None, cleanup). Never shows a citizen screen to
    a kiosk that is not set up: without its key it runs on a throwaway one."""
    import shutil
    import tempfile
    from dataclasses import replace

    from kiosk.context import build_context
    from kiosk.services.installation import setup_state

    temp = Path(tempfile.mkdtemp(prefix="kiosk-run-"))

    def cleanup() -> None:
        shutil.rmtree(temp, ignore_errors=True)

    real_key = settings.data_key_path.exists() or settings.demo
    used = settings if real_key else replace(settings, key_file=str(temp / "unused.key"))
    try:
        ctx = build_context(used)
    except Exception:
        log.exception("cannot open the store or the data key")
        fallback = replace(
            settings,
            db_url=f"sqlite:///{temp / 'oos.db'}",
            key_file=str(temp / "unused.key"),
            printer="pdf",
            printer_pdf_dir=str(temp / "receipts"),
        )
        return build_context(fallback), "store", cleanup
    state = setup_state(
        ctx.store, settings.data_key_path, settings.secret, settings.portal_token, settings.demo
    )
    if not state.done:
        log.warning("not set up: %s", state.reason)
        return ctx, "setup", cleanup
    if crashed:
        return ctx, "crashed", cleanup
    return ctx, None, cleanup


def build_window(ctx, reason: str | None):
    """The main window; with a reason, pinned to the out-of-service screen for good."""
    from kiosk.views.shell import MainWindow

    window = MainWindow(ctx)
    if reason is None:
        from kiosk.qt.wiring import wire

        wire(window, ctx)
    elif reason == "crashed":
        # Out of service, but dossiers already confirmed still go out.
        from kiosk.qt.wiring import install_sync

        install_sync(window, ctx)
    if reason is not None:
        pin_home(window, "out_of_service", reason=reason)
    return window


def pin_home(window, name: str, **state) -> None:
    """Make `name` (with `state`) the only place home, cancel and the idle reset lead to."""
    window.nav.home_name = name
    window.nav.home_state = dict(state)


def lock_down(window, ctx):
    from PySide6.QtCore import Qt

    from kiosk.qt.lockdown import KioskLock
    from kiosk.services.clerks import ClerkService

    window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
    lock = KioskLock(window, ClerkService(ctx.store, machine=ctx.settings.kiosk_id), ctx.tr)
    window.fill_screen()
    return lock


def ensure_demo_admin(ctx) -> str:
    """The demo's admin account with a fresh PIN each start (demo only, never production)."""
    import secrets

    from kiosk.services.clerks import ClerkService
    from kiosk.services.installation import DEMO_ADMIN

    clerks = ClerkService(ctx.store, machine=ctx.settings.kiosk_id)
    pin = f"{secrets.randbelow(10**6):06d}"
    existing = next((c for c in clerks.list() if c.username == DEMO_ADMIN), None)
    if existing is None:
        clerks.create(DEMO_ADMIN, "Demo admin", "admin", pin)
    else:
        clerks.change_pin(existing, pin, by=existing)
    return pin


def _schedule_purge(window, ctx) -> None:
    """Retention purge now (in the background) and every 24 hours."""
    from PySide6.QtCore import QTimer

    from kiosk.services.privacy import scheduled_purge

    s = ctx.settings

    def purge() -> None:
        window.vc.tasks.run(
            lambda: scheduled_purge(
                ctx.store,
                s.attachments_dir,
                s.retention_days,
                s.receipts_dir if s.printer == "pdf" else None,
                s.kiosk_id,
            )
        )

    timer = QTimer(window)
    timer.setInterval(PURGE_EVERY_MS)
    timer.timeout.connect(purge)
    timer.start()
    purge()


def _exit_on_signals(app) -> None:
    """SIGTERM (systemd stop, shutdown) and SIGINT end the kiosk cleanly, not as a crash."""
    import signal

    from PySide6.QtCore import QTimer

    def stop(*_: object) -> None:
        app.exit(0)  # exit, not quit: quit asks the locked window, which refuses

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    # Python runs signal handlers only when it gets control back from Qt's loop.
    tick = QTimer(app)
    tick.setInterval(500)
    tick.timeout.connect(lambda: None)
    tick.start()


def _report_ready(app, window) -> None:
    """For the start-up benchmark: quit right after the home screen has been painted."""
    import os
    import time

    from PySide6.QtCore import QTimer

    def ready() -> None:
        window.grab()  # forces a full paint of the home screen
        t0 = float(os.environ.get("KIOSK_BENCH_T0", "0") or 0)
        print(f"ready {1000 * (time.time() - t0):.0f} ms" if t0 else "ready", flush=True)
        app.exit(0)

    QTimer.singleShot(0, ready)
