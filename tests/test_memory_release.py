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
