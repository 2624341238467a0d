"""Start the kiosk window (the default command).

Before any citizen screen: one instance per data folder, the crash guard, and the setup
check. A kiosk that is not set up, that crashed three times within five minutes, or whose
database cannot be opened shows the out-of-service screen (with the support phone) and
nothing else. The demo (KIOSK_DEMO=1) counts as set up and prints a demo admin's PIN.
In kiosk mode (full screen) the window is frameless and locked: only an admin PIN leaves.
"""

from __future__ import annotations

import gc
import logging
import sys
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
    limit_malloc_arenas()
    # Python's automatic collector stays off for the whole run: its passes run on the UI
    # thread only (kiosk/qt/collector.py, installed with the QApplication), never on a
    # worker thread that would destroy Qt objects there. Start-up allocates a great deal
    # (SQLAlchemy, Qt, the models) and frees little: the first pass waits until the home
    # screen is painted (about a sixth of the CPU time to the first paint); see
    # _after_start_collect.
    gc.disable()
    return _run_kiosk(args)


def _after_start_collect() -> None:
    """Right after the first paint, on the UI thread: one pass, then what start-up made
    and keeps (modules, classes, the screens) set aside from later passes (gc.freeze), so
    the passes during a citizen's visit stay short. The collector is not switched back on:
    the UI thread's timer runs it from here on."""
    gc.collect()
    gc.freeze()


def _run_kiosk(args) -> int:
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
    from kiosk.services.crash_guard import CRASH_FILE, CrashGuard

    app = ensure_app()
    instance = SingleInstance(settings.data_dir)
    if not instance.acquire():
        cli.error("cli.run.already_running", folder=settings.data_dir, holder=instance.holder())
        return EXIT_ALREADY_RUNNING
    guard = CrashGuard(settings.data_dir / CRASH_FILE)
    crashed = guard.start()
    # Anything raised from here on leaves the start recorded: it counts as a crash.
    ctx, reason, cleanup = open_kiosk(settings, crashed, store_later=True)
    try:
        window = build_window(ctx, reason, app_filters=False)
        lock = None
        if settings.fullscreen and not getattr(args, "windowed", False):
            lock = lock_down(window, ctx)
            lock.exited.connect(lambda: app.exit(0))
        else:
            window.resize(1280, 800)
            window.show()
        window.start()
        # First after the paint: the QR decoder's warm-up, in the background, so the first
        # scan is as fast as any while the rest below is set up on this thread.
        _after_first_paint(window, lambda: _after_start(window, ctx, reason), first=True)
        if getattr(args, "exit_when_ready", False):
            _after_first_paint(window, lambda: _report_ready(app, window), first=True)
        _after_first_paint(window, _after_start_collect, always=True)
        if reason is None:
            _schedule_purge(window, ctx)
        _exit_on_signals(app)
        log.info("kiosk started%s", f" out of service ({reason})" if reason else "")
        if settings.demo and reason is None:
            _after_first_paint(window, lambda: _demo_admin(window, ctx, cli), always=True)
        code = app.exec()
    finally:
        ctx.close()
        cleanup()
    guard.clean_exit()
    instance.release()
    log.info("kiosk stopped")
    return code


def open_kiosk(settings, crashed: bool = False, store_later: bool = False):
    """(context, out-of-service reason or None, cleanup). Never shows a citizen screen to
    a kiosk that is not set up: without its key it runs on a throwaway one.

    `store_later`: when a quick read-only look at the database shows a kiosk set up and
    in order (kiosk.services.quick_open), the context comes without its database (nor
    the database library): its `store_opener` (a StoreLater) opens it, right after the
    home screen is painted or at the first use of a service on it. Anything else opens
    the database here, as always."""
    import shutil
    import tempfile
    from dataclasses import replace

    from kiosk.context import build_context
    from kiosk.qt.app import system_printer

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
    if store_later and not crashed:
        from kiosk.services.quick_open import store_can_wait

        why = store_can_wait(settings)
        if why is None:
            from kiosk.context import start_context

            ctx = start_context(settings, system_printer)
            ctx.store_opener = StoreLater(ctx, settings, fallback)
            return ctx, None, cleanup
        log.info("database opened before the home screen: %s", why)
    from kiosk.services.installation import setup_state

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


class StoreLater:
    """Opens the database of a kiosk whose home screen was painted before it (open_kiosk
    with `store_later`), on the GUI thread: right after the first paint, or earlier at the
    first use of a service on it (a tap that comes first waits for it). A key or database
    that fails to open, or a setup not recorded, gives the same out-of-service screen and
    log lines as at the start: the citizen screens are left for it, and the sync worker,
    chip reader and purge are not started."""

    def __init__(self, ctx, settings, fallback) -> None:
        import threading

        self.ctx, self.settings, self.fallback = ctx, settings, fallback
        self.window = None  # set once the window is built
        self.reason: str | None = None
        self._lock = threading.RLock()  # one opening; a second caller waits for it
        self._opening = False

    def __call__(self) -> None:
        with self._lock:
            if self.ctx.store_open or self._opening:
                return
            self._opening = True
            try:
                self._open()
            finally:
                self._opening = False
                self.ctx.store_opener = None

    def _open(self) -> None:
        from kiosk.context import attach_store
        from kiosk.services.crypto import DataKeyError
        from kiosk.services.datakey import open_store
        from kiosk.services.installation import setup_state

        ctx, settings = self.ctx, self.settings
        store = None
        try:
            store, cipher = open_store(settings, create_key=True)
            attach_store(ctx, store, cipher)
        except DataKeyError as exc:
            log.error("data key: %s", exc)
            self.reason = "key"
        except Exception:
            log.exception("cannot open the store or the data key")
            self.reason = "store"
        if self.reason is not None:
            if store is not None:
                store.close()
            attach_store(ctx, *open_store(self.fallback, create_key=True))
        else:
            state = setup_state(
                ctx.store,
                settings.data_key_path,
                settings.secret,
                settings.portal_token,
                settings.demo,
            )
            if not state.done:
                log.warning("not set up: %s", state.reason)
                self.reason = "setup"
        if self.reason is not None:
            log.info("kiosk out of service (%s)", self.reason)
            if self.window is not None:
                self._out_of_service(self.window, self.reason)

    @staticmethod
    def _out_of_service(window, reason: str) -> None:
        import threading

        if threading.current_thread() is not threading.main_thread():
            from PySide6.QtCore import QTimer

            # Opened by a background task: the screen changes on the GUI thread.
            QTimer.singleShot(0, window, lambda: StoreLater._out_of_service(window, reason))
            return
        pin_home(window, "out_of_service", reason=reason)
        window.nav.home()


def _in_service(window) -> bool:
    """False once a database opened after the first paint put the kiosk out of service."""
    return window.nav.home_name != "out_of_service"


def build_window(ctx, reason: str | None, app_filters: bool = True):
    """The main window; with a reason, pinned to the out-of-service screen for good.
    `app_filters=False`: its application-wide event filters come right after the first
    paint (a Python call for every event of building and painting the home screen, and
    the first use of each event's Python type, cost some 40 ms of CPU before it)."""
    from kiosk.views.shell import MainWindow

    window = MainWindow(ctx, app_filters=app_filters)
    if not app_filters:
        _after_first_paint(window, window.install_app_filters, first=True)
    if isinstance(ctx.store_opener, StoreLater):
        # The database right after the first paint, before anything after it uses it.
        ctx.store_opener.window = window
        _after_first_paint(window, ctx.store_opener, first=True)
    window.reset_hooks.append(release_memory)  # each citizen's session ends lean
    if reason is None:
        from kiosk.qt.wiring import install_chip_reader, install_sync, wire

        wire(window, ctx, sync=False, chip=False)
        # The sync worker (and the HTTP stack) and the chip reader (PC/SC, the ICAO 9303
        # code) once the home screen is on screen.
        _after_first_paint(window, lambda: _in_service(window) and install_sync(window, ctx))
        _after_first_paint(window, lambda: _in_service(window) and install_chip_reader(ctx))
    elif reason == "crashed":
        # Out of service, but dossiers already confirmed still go out.
        from kiosk.qt.wiring import install_sync

        install_sync(window, ctx)
    if reason is not None:
        pin_home(window, "out_of_service", reason=reason)
    return window


def _after_first_paint(window, callback, first: bool = False, always: bool = False) -> None:
    """Call `callback` on the GUI thread right after the window's first paint (or after
    a second, should no paint event reach the window). Callbacks run in the order they
    were given (`first`: before all others); once one has asked the app to quit, only
    those marked `always` still run (no background work is started for nothing)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    entry = (callback, always)
    pending = getattr(window, "_first_paint_callbacks", None)
    if pending is not None:
        pending.insert(0, entry) if first else pending.append(entry)
        return
    pending = window._first_paint_callbacks = [entry]

    def fire() -> None:
        window.removeEventFilter(watcher)
        while pending:
            call, also_when_quitting = pending.pop(0)
            if also_when_quitting or not getattr(window, "_quitting", False):
                call()

    class Watcher(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint and not self.seen:
                self.seen = True
                QTimer.singleShot(0, self, fire)
            return False

    watcher = Watcher(window)
    watcher.seen = False
    window.installEventFilter(watcher)

    def fallback() -> None:
        if not watcher.seen:
            watcher.seen = True
            fire()

    QTimer.singleShot(1000, watcher, fallback)  # not at all for a window closed and gone


def _after_start(window, ctx, reason: str | None) -> None:
    """What the home screen does not need, once it is on screen: the QR decoder loaded
    and warmed up in the background (the first scan is then as fast as any)."""
    if reason is not None or not _in_service(window):
        return
    from kiosk.hardware.decoders import warm_up

    window.vc.tasks.run(warm_up, on_error=lambda exc: log.warning("decoder warm-up: %s", exc))


def _demo_admin(window, ctx, cli) -> None:
    """The demo's admin account and its PIN, printed once the home screen is on screen
    (the clerk code is not needed before); not for a kiosk out of service."""
    if ctx.store_opener is not None:
        ctx.store_opener()  # the start is quitting before the database was opened
    if not _in_service(window):
        return
    pin = ensure_demo_admin(ctx)
    cli.say("cli.run.demo_pin", user="demo-admin", pin=pin)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core):
    the camera, decoder, database and task threads would each keep one, mostly freed
    memory the process never gives back. Two are enough for a kiosk. Call early, before
    those threads start; nothing happens off glibc. Measured with bench_memory.py (with
    the trim after each session, release_memory): 1, 2 and 8 arenas gave 195, 195 and
    195 MB idle after a journey and 196, 196 and 197 MB after eight; the environment
    variable MALLOC_ARENA_MAX, if set, is overridden here."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


def release_memory() -> None:
    """Hand the memory freed during a citizen's session (camera frames, the receipt's
    PDF, the screens wiped) back to the system: the idle kiosk stays small."""
    import gc

    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only: musl has no malloc_trim)
    except (OSError, AttributeError):
        return None
    return libc


def pin_home(window, name: str, **state) -> None:
    """Make `name` (with `state`) the only place home, cancel and the idle reset lead to."""
    window.nav.home_name = name
    window.nav.home_state = dict(state)


class _LazyClerks:
    """The clerk service, loaded when an admin first tries to leave full screen rather
    than before the home screen is painted (the database too, if it is not open yet)."""

    def __init__(self, ctx) -> None:
        self._ctx = ctx
        self._service = None

    def __getattr__(self, name: str):
        if self._service is None:
            from kiosk.services.clerks import ClerkService

            ctx = self._ctx
            self._service = ClerkService(ctx.store, machine=ctx.settings.kiosk_id)
        return getattr(self._service, name)


def lock_down(window, ctx):
    from PySide6.QtCore import Qt

    from kiosk.qt.lockdown import KioskLock

    window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
    lock = KioskLock(window, _LazyClerks(ctx), ctx.tr)
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

    s = ctx.settings

    def purge() -> None:
        if not _in_service(window):
            return
        from kiosk.services.privacy import scheduled_purge

        store = ctx.store  # here, on the GUI thread
        window.vc.tasks.run(
            lambda: scheduled_purge(
                store,
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
    _after_first_paint(window, purge)  # the home screen first


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
    """For the start-up benchmark and tests: called right after the first paint of the
    home screen (before anything scheduled after it), prints the time since
    KIOSK_BENCH_T0 and the CPU time used, writes the modules imported so far to
    KIOSK_BENCH_MODULES; with KIOSK_BENCH_T0, opens the database if it waited for the first
    paint and prints when it was open; quits."""
    import os
    import time

    window.grab()  # a full paint of the home screen, to be sure it is all there
    t0 = float(os.environ.get("KIOSK_BENCH_T0", "0") or 0)
    modules = os.environ.get("KIOSK_BENCH_MODULES")
    if modules:
        Path(modules).write_text("\n".join(sorted(sys.modules)), encoding="utf-8")
    cpu = 1000 * time.process_time()  # this process's CPU time so far, all its threads
    print(
        f"ready {1000 * (time.time() - t0):.0f} ms cpu {cpu:.0f} ms" if t0 else "ready", flush=True
    )
    opener = window.vc.app.store_opener
    if t0 and opener is not None:
        # For the benchmark: when the database, opened right after the first paint, is open.
        opener()
        print(f"store {1000 * (time.time() - t0):.0f} ms", flush=True)
    window._quitting = True
    app.exit(0)
