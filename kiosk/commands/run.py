"""Start the kiosk window (the default command)."""

from __future__ import annotations

import logging
import sys

from kiosk.config import SettingsError, load_settings

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="start the kiosk window (the default)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
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
    try:
        return app.exec()
    finally:
        ctx.close()
