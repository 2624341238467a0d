"""Resident memory of the running kiosk: at home, after a whole journey, after 100.

    .venv/bin/python benchmarks/bench_memory.py [JOURNEYS]

One process, built as `python -m kiosk run` builds it (the demo settings, a data folder
made by an earlier start, the simulated camera playing the sample ID card, the PDF printer,
speech off), offscreen. A journey is what a citizen does: home, "submit a dossier", a procedure,
consent, the ID card scanned by the camera (OpenCV, the QR decoder) and its chip read
(the simulated reader with the demo card), three answers, the fee (cash), review,
confirm (the receipt PDF printed), done, back home. RSS (from /proc) is taken
at home, idle, after the garbage collector: at start before the camera and decoder load,
at home once they have loaded in the background, after the first journey, and after the
last. Targets: <= 200 MB idle after a journey, <= 10 MB growth over 100 journeys.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MARITAL = "1.004873"  # three fields, no documents
TARGET_IDLE_MB, TARGET_GROWTH_MB = 200.0, 10.0


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _print_mappings() -> None:
    """The largest resident mappings (for finding where the memory is)."""
    sizes: dict[str, int] = {}
    name = ""
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5:
                name = parts[5] if len(parts) > 5 else "[anon]"
                name = name.rsplit("/", 1)[-1]
            elif parts[0] == "Rss:":
                sizes[name] = sizes.get(name, 0) + int(parts[1])
    for key, kb in sorted(sizes.items(), key=lambda kv: -kv[1])[:25]:
        print(f"    {kb / 1024:7.1f} MB  {key}")


def _earlier_start(data: Path) -> None:
    """The kiosk as it runs every day: its database and data key made by an earlier
    start (`kiosk run` in its own process). A first start also migrates the new database,
    and the migration code (alembic, mako, pygments: some 11 MB) then stays loaded for
    that process's lifetime; on a kiosk that is one start after an install or upgrade."""
    env = {
        **os.environ,
        "KIOSK_DATA_DIR": str(data),
        "KIOSK_DEMO": "1",
        "KIOSK_FULLSCREEN": "0",
        "QT_QPA_PLATFORM": "offscreen",
    }
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--exit-when-ready"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        raise SystemExit(f"the earlier start failed: {run.stderr[-2000:]}")


def main() -> int:
    journeys = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk.commands.run import build_window, limit_malloc_arenas, open_kiosk
    from kiosk.config import load_settings
    from kiosk.qt.app import ensure_app

    limit_malloc_arenas()  # as `kiosk run` does first
    app = ensure_app(offscreen=True)
    data = Path(tempfile.mkdtemp(prefix="kiosk-mem-"))
    _earlier_start(data)
    settings = load_settings(
        env={},
        config_path=data / "kiosk.toml",
        data_dir=str(data),
        camera="sim",
        speech="off",
        demo=True,
        printer="pdf",
    )
    ctx, reason, cleanup = open_kiosk(settings)
    assert reason is None, reason
    assert "alembic" not in sys.modules  # the database was current: nothing migrated
    window = build_window(ctx, None)
    window.resize(1280, 800)
    window.show()
    window.start()

    def pump(seconds: float = 0.0) -> None:
        # As the event loop of the running kiosk does: events, then the deferred
        # deletions (widgets a screen dropped with deleteLater), which a bare
        # processEvents() leaves queued.
        end = time.monotonic() + seconds
        while True:
            app.processEvents()
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            if time.monotonic() >= end:
                return
            time.sleep(0.005)

    def screen():
        return window.current_screen()

    def wait_for(name: str, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while screen().name != name:
            if time.monotonic() > end:
                raise SystemExit(f"stuck on {screen().name}, waiting for {name}")
            pump(0.01)

    def tap(widget) -> None:
        pump()
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton)
        pump()

    def idle_rss() -> float:
        pump(0.3)
        gc.collect()
        return rss_mb()

    def journey() -> None:
        wait_for("home")
        tap(screen().tiles["home.submit"])
        wait_for("procedures")
        tap(screen().tile_for(MARITAL))
        wait_for("procedure")
        tap(screen().start)
        wait_for("consent")
        tap(screen().agree)
        # The simulated camera shows the sample card; in the demo its chip is read on
        # the simulated reader too ("Is this you?" then shows the chip's portrait).
        end = time.monotonic() + 60
        while screen().name not in ("identify_confirm", "chip_confirm"):
            if time.monotonic() > end:
                raise SystemExit(f"stuck on {screen().name}, waiting for the card")
            pump(0.01)
        tap(screen().yes)
        wait_for("form")
        tap(screen().choice_buttons["marriage"])
        tap(screen().choice_buttons["never_married"])
        screen().edit.setText("0912345678")
        tap(screen().next)
        # The certificate has a fee: no exemption, cash at the counter.
        wait_for("fee_exemption")
        tap(screen().tiles[None])
        wait_for("fee_pay")
        tap(screen().cash)
        wait_for("review")
        tap(screen().confirm)
        wait_for("done")
        tap(screen().finish)
        wait_for("home")

    pump(0.2)
    at_start = idle_rss()
    from kiosk.hardware.decoders import warm_up  # what the kiosk does after the first paint

    warm_up()
    at_home = idle_rss()
    started = time.perf_counter()
    journey()
    after_one = idle_rss()
    trace = []
    for i in range(journeys - 1):
        journey()
        if (i + 2) % 10 == 0:
            trace.append(f"{i + 2}: {idle_rss():.0f}")
            if os.environ.get("KIOSK_MEM_DEBUG"):
                import collections
                import tracemalloc

                widgets = collections.Counter(type(w).__name__ for w in QApplication.allWidgets())
                print(i + 2, len(QApplication.allWidgets()), widgets.most_common(6))
                if tracemalloc.is_tracing():
                    snap = tracemalloc.take_snapshot()
                    if getattr(main, "snap", None) is not None:
                        for stat in snap.compare_to(main.snap, "lineno")[:8]:
                            print("   ", stat)
                    main.snap = snap
    after_all = idle_rss()
    took = time.perf_counter() - started
    if os.environ.get("KIOSK_MEM_DEBUG"):
        _print_mappings()
    if ctx.sync is not None:
        ctx.sync.stop()  # as the running kiosk does when it quits, before the store closes
    window.close()
    ctx.close()
    cleanup()

    growth = after_all - after_one
    print(f"kiosk memory (RSS), {journeys} journeys in {took:.0f} s")
    print(f"  at home, just started:                 {at_start:7.1f} MB")
    print(f"  at home, camera and decoder loaded:    {at_home:7.1f} MB")
    print(f"  at home after one whole journey:       {after_one:7.1f} MB")
    print(
        f"  at home after {journeys} journeys:{'':<{max(0, 18 - len(str(journeys)))}}{after_all:7.1f} MB"
    )
    print(f"  growth from journey 1 to {journeys}:        {growth:+7.1f} MB")
    print("  idle RSS every 10 journeys (MB): " + ", ".join(trace))
    checks = [
        (f"idle after a journey <= {TARGET_IDLE_MB:.0f} MB", after_one <= TARGET_IDLE_MB),
        (
            f"growth over {journeys} journeys <= {TARGET_GROWTH_MB:.0f} MB",
            growth <= TARGET_GROWTH_MB,
        ),
    ]
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
