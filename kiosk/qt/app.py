"""Creating the QApplication and the main window from settings (shared by run, screenshots,
self-test and audit)."""

from __future__ import annotations

import os
import sys

from PySide6.QtGui import QGuiApplication, QPixmapCache
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.qt.collector import collect_on_ui_thread
from kiosk.views.theme import install_theme

# Qt's shared pixmap cache (the style's rendered button faces and frames, at each size
# drawn) holds up to 10 MB by default; the kiosk's large tiles and buttons filled it
# over the first visits (+9 MB resident after ten journeys, never given back). Redrawing
# a button face the cache no longer holds costs well under a millisecond.
PIXMAP_CACHE_KB = 2048


def ensure_app(offscreen: bool = False) -> QApplication:
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if (offscreen or headless) and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    QPixmapCache.setCacheLimit(PIXMAP_CACHE_KB)
    install_theme(app)
    collect_on_ui_thread(app)
    return app


def fill_screen(window: QWidget) -> None:
    """Full screen, also with no window manager (xinit + the kiosk): there
    showFullScreen() alone leaves the window at its natural size, so the window first
    takes the screen's geometry, then asks for full screen (which a window manager honours)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        geometry = screen.geometry()
        if hasattr(window, "fit"):
            window.fit(geometry.width(), geometry.height())
        window.setGeometry(geometry)
    window.showFullScreen()


def system_printer(name: str | None):
    """The OS print queue's printer (QtPrintSupport is loaded only when it is used); given
    to kiosk.context.build_context and make_printer as their `system` printer."""
    from kiosk.qt.printing import SystemPrinter

    return SystemPrinter(name)
