"""The running kiosk gives back the memory of each citizen's session."""

from __future__ import annotations

from deploy_helpers import kiosk_env

import kiosk.commands.run as run
from kiosk.config import load_settings


def test_every_session_reset_releases_memory(tmp_path, monkeypatch, qtbot, kiosk_qapp):
    calls = []
    monkeypatch.setattr(run, "release_memory", lambda: calls.append(True))
    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    ctx, reason, cleanup = run.open_kiosk(load_settings())
    try:
        window = run.build_window(ctx, reason)
        qtbot.addWidget(window)
        window.show()
        window.start()
        window.reset_session()
        window.reset_session()
        assert calls == [True, True]
    finally:
        ctx.close()
        cleanup()


def test_release_memory_and_the_arena_limit_run_here():
    run.limit_malloc_arenas()  # no error on this libc (and a no-op off glibc)
    run.release_memory()


def test_the_shared_pixmap_cache_stays_small(kiosk_qapp):
    # Qt's default (10 MB) filled with the style's button faces over the first visits and
    # was never given back; the kiosk bounds it when it makes its application.
    from PySide6.QtGui import QPixmap, QPixmapCache

    from kiosk.qt.app import PIXMAP_CACHE_KB, ensure_app

    QPixmapCache.setCacheLimit(10240)
    ensure_app()
    assert QPixmapCache.cacheLimit() == PIXMAP_CACHE_KB <= 4096
    QPixmapCache.clear()
    for i in range(16):  # 16 faces of 1 MB each: only the last few stay
        face = QPixmap(512, 512)
        face.fill()
        QPixmapCache.insert(f"face-{i}", face)
    kept = [i for i in range(16) if QPixmapCache.find(f"face-{i}") is not None]
    assert 0 < len(kept) <= PIXMAP_CACHE_KB // 1024
    QPixmapCache.clear()
