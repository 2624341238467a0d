"""Start the kiosk window (the default command).

Before any citizen screen: one instance per data folder, the crash guard, and the setup
check. A kiosk that is not set up, that crashed three times within five minutes, or whose
database cannot be opened shows the out-of-service screen (with the support phone) and
nothing else. The demo (KIOSK_DEMO=1) counts as set up and prints a demo admin's PIN.
In kiosk mode (full screen) the window is frameless and locked: only an admin PIN leaves.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.clitext import cli_of
from kiosk.config import SettingsError, load_settings

log = logging.getLogger(__name__)

EXIT_ALREADY_RUNNING = 3
PURGE_EVERY_MS = 24 * 3600 * 1000


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="cli.run.help")
    p.add_argument("--windowed", action="store_true", help="cli.run.opt.windowed")
    p.add_argument("--exit-when-ready", action="store_true", help="cli.run.opt.exit_when_ready")
    p.set_defaults(func=run_kiosk)


def run_kiosk(args) -> int:
    cli = cli_of(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        cli.error("cli.run.bad_setting", message=cli.settings_error(exc))
        return 2
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    from kiosk.qt.app import ensure_app
    from kiosk.qt.lockdown import SingleInstance
    from kiosk.services.installation import CRASH_FILE, CrashGuard

    app = ensure_app()
    instance = SingleInstance(settings.data_dir)
    if not instance.acquire():
        cli.error("cli.run.already_running", folder=settings.data_dir, holder=instance.holder())
        return EXIT_ALREADY_RUNNING
    guard = CrashGuard(settings.data_dir / CRASH_FILE)
    crashed = guard.start()
    # Anything raised from here on leaves the start recorded: it counts as a crash.
    ctx, reason, cleanup = open_kiosk(settings, crashed)
    try:
        if settings.demo and reason is None:
            pin = ensure_demo_admin(ctx)
            cli.say("cli.run.demo_pin", user="demo-admin", pin=pin)
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
    from kiosk.qt.app import system_printer
    from kiosk.services.installation import setup_state

    temp = Path(tempfile.mkdtemp(prefix="kiosk-run-"))

    def cleanup() -> None:
        shutil.rmtree(temp, ignore_errors=True)

    from kiosk.services.crypto import DataKeyError

    fallback = replace(
        settings,
        db_url=f"sqlite:///{temp / 'oos.db'}",
        key_file=str(temp / "unused.key"),
        printer="pdf",
        printer_pdf_dir=str(temp / "receipts"),
    )
    if not (settings.data_key_path.exists() or settings.demo):
        # Never a key made here: before setup (or with the key gone) a throwaway store.
        from kiosk.services.datakey import setup_recorded

        try:
            reason = "key" if setup_recorded(settings.database_url) else "setup"
        except Exception:
            log.exception("cannot open the store")
            reason = "store"
        return build_context(fallback, system_printer), reason, cleanup
    try:
        ctx = build_context(settings, system_printer)
    except DataKeyError as exc:
        log.error("data key: %s", exc)
        return build_context(fallback, system_printer), "key", cleanup
    except Exception:
        log.exception("cannot open the store or the data key")
        return build_context(fallback, system_printer), "store", cleanup
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


DEMO_PIN_FILE = "demo-admin.pin"


def ensure_demo_admin(ctx) -> str:
    """The demo's admin account and its PIN (demo only, never production). The PIN is kept
    in the demo's data folder (owner-only), so the one printed at each start stays valid;
    a demo data folder without it gets a new one."""
    import secrets

    from kiosk.files import write_atomic
    from kiosk.services.clerks import ClerkService, check_pin
    from kiosk.services.installation import DEMO_ADMIN, weak_pin
    from kiosk.services.models import Clerk

    clerks = ClerkService(ctx.store, machine=ctx.settings.kiosk_id)
    path = ctx.settings.data_dir / DEMO_PIN_FILE
    try:
        pin = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pin = ""
    if weak_pin(pin):
        pin = ""
        while not pin or weak_pin(pin):
            pin = f"{secrets.randbelow(10**6):06d}"
        write_atomic(path, (pin + "\n").encode("ascii"), mode=0o600)
    existing = next((c for c in clerks.list() if c.username == DEMO_ADMIN), None)
    if existing is None:
        clerks.create(DEMO_ADMIN, "Demo admin", "admin", pin)
    else:
        stored = ctx.store.read(lambda s: s.get(Clerk, existing.id).pin_hash)
        if not check_pin(pin, stored):  # changed on the clerk screens, or a new file
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
