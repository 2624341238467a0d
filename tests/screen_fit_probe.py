"""Run under a real X server with no window manager (xvfb-run): open the kiosk or the call
display in full screen the way the kiosk does, and print what X and Qt report.

    python tests/screen_fit_probe.py kiosk|call_display DATA_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def settle(app, seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def x_geometry(window) -> list[int]:
    """The window's geometry as the X server has it (xwininfo), not as Qt believes."""
    out = subprocess.run(
        ["xwininfo", "-id", str(int(window.winId()))], capture_output=True, text=True, check=True
    ).stdout
    fields = {}
    for line in out.splitlines():
        if ":" in line:
            key, _, value = line.strip().partition(":")
            fields[key.strip()] = value.strip()
    return [
        int(fields["Absolute upper-left X"]),
        int(fields["Absolute upper-left Y"]),
        int(fields["Width"]),
        int(fields["Height"]),
    ]


def layout_faults(window) -> list[str]:
    from PySide6.QtCore import QSize

    from kiosk.qa.layout_audit import audit_layout

    found: list[str] = []
    size = window.screen().geometry().size()
    audit_layout(
        window,
        window,
        lambda rule, w, detail: found.append(f"{rule}: {detail}"),
        QSize(size.width(), size.height()),
    )
    return found


def main() -> int:
    what, data_dir = sys.argv[1], sys.argv[2]
    from kiosk.config import load_settings
    from kiosk.qt.app import ensure_app

    app = ensure_app()
    settings = load_settings(
        env={},
        config_path=Path(data_dir) / "absent.toml",
        data_dir=data_dir,
        demo="true",
        fullscreen="true",
        speech="off",
        camera="none",
    )
    screen = app.primaryScreen().geometry()
    report: dict = {"platform": app.platformName(), "screen": list(screen.getRect())}
    if what == "kiosk":
        from kiosk.commands.run import build_window, lock_down
        from kiosk.context import build_context

        ctx = build_context(settings)
        window = build_window(ctx, None)
        lock_down(window, ctx)
        window.start()
        settle(app)
        report["window"] = x_geometry(window)
        report["qt"] = list(window.geometry().getRect())
        report["violations"] = layout_faults(window)
        # A clerk logs in: the clerk bar appears under the clerk's screens.
        window.show_sample("clerk_queue")
        settle(app)
        report["clerk_bar"] = window.clerk_bar.isVisible()
        report["window_with_clerk_bar"] = x_geometry(window)
        ctx.close()
    else:
        from kiosk.qt.app import fill_screen
        from kiosk.services.i18n import Translator
        from kiosk.services.queue import QueueService, load_groups
        from kiosk.services.store import Store
        from kiosk.views.call_display import CallDisplay

        store = Store(settings.database_url)
        display = CallDisplay(
            QueueService(store, load_groups(), machine="T"), Translator.from_resources()
        )
        fill_screen(display)
        settle(app)
        report["window"] = x_geometry(display)
        report["qt"] = list(display.geometry().getRect())
        report["violations"] = layout_faults(display)
        store.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
