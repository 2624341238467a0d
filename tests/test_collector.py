"""Qt objects dropped by Python are destroyed on the UI thread, never on a worker thread
whose allocations happen to start Python's cycle collector (which crashed the kiosk inside
Qt's timer dispatch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "fixtures" / "qt_garbage_on_threads.py"


def _run(mode: str, seconds: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), mode, str(seconds)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def test_windows_in_cycles_die_on_the_ui_thread_while_a_worker_allocates():
    done = _run("kiosk", 3)
    assert done.returncode == 0, done.stderr[-2000:]
    died_on = json.loads(done.stdout.strip().splitlines()[-1])
    assert died_on.get("MainThread", 0) > 100
    assert set(died_on) == {"MainThread"}


def test_without_the_kiosk_set_up_the_worker_thread_collects_windows():
    """The hazard is real in this stack: with a bare QApplication some windows die on
    the worker (or the process crashes in Qt's event loop)."""
    done = _run("bare", 2)
    if done.returncode == 0:
        died_on = json.loads(done.stdout.strip().splitlines()[-1])
        assert died_on.get("worker", 0) > 0
    else:
        assert done.returncode < 0 or done.returncode > 128


def test_the_collector_collects_on_its_timer(qapp, qtbot):
    import gc

    from kiosk.qt.collector import collect_on_ui_thread

    was_enabled = gc.isenabled()
    gc.enable()
    try:
        collector = collect_on_ui_thread(qapp)
        assert not gc.isenabled()
        assert collect_on_ui_thread(qapp) is collector  # once per application

        freed = []

        class Cycle:
            def __del__(self) -> None:
                freed.append(1)

        for _ in range(10):  # far fewer than the interpreter's threshold
            c = Cycle()
            c.me = c
        del c
        qtbot.waitUntil(lambda: len(freed) > 0, timeout=5000)
    finally:
        if was_enabled:
            gc.enable()
