"""Start the kiosk window (the default command)."""

from __future__ import annotations

import logging
import sys

from kiosk.config import SettingsError, load_settings

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="start the kiosk window (the default)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    p.add_argument("--exit-when-ready", action="store_true",
                   help="print the start-up time once the home screen is shown, then quit")
    p.set_defaults(func=run_kiosk)


def run_kiosk(args) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"kiosk: cannot start: {exc}", file=sys.stderr)
        return 2
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    from kiosk.context import build_context
    from kiosk.qt.app import ensure_app
    from kiosk.views.shell import MainWindow

    app = ensure_app()
    ctx = build_context(settings)
    window = MainWindow(ctx)
    if settings.fullscreen and not getattr(args, "windowed", False):
        window.showFullScreen()
    else:
        window.resize(1280, 800)
        window.show()
    window.start()
    log.info("kiosk started")
    if getattr(args, "exit_when_ready", False):
        _report_ready(app, window)
    try:
        return app.exec()
    finally:
        ctx.close()


def _report_ready(app, window) -> None:
    """For the start-up benchmark: quit right after the home screen has been painted."""
    import os
    import time

    from PySide6.QtCore import QTimer

    def ready() -> None:
        window.grab()  # forces a full paint of the home screen
        t0 = float(os.environ.get("KIOSK_BENCH_T0", "0") or 0)
        print(f"ready {1000 * (time.time() - t0):.0f} ms" if t0 else "ready", flush=True)
        app.quit()

    QTimer.singleShot(0, ready)
