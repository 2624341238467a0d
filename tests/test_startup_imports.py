"""The home screen paints before anything it does not need is imported.

A real kiosk process (the demo, as the start-up benchmark runs it) writes the modules
imported at the first paint of its home screen; the camera's OpenCV and numpy, the
receipt PDF code, the database library (SQLAlchemy) and the services on it, alembic and
the clerk code must not be among them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from deploy_helpers import kiosk_env

import kiosk.commands.run as run
from kiosk.config import load_settings
from kiosk.services.store import Store, head_revision, script_heads
from kiosk.views import registry

ROOT = Path(__file__).resolve().parent.parent
# All the modules loaded at the first paint (299 when this was set, Python's own included;
# 518 before the database waited for the first paint): a new dependency of the home screen
# has to be worth raising this.
MAX_MODULES_AT_FIRST_PAINT = 320

NOT_BEFORE_HOME = (
    "cv2",  # with the camera, in the background after the first paint
    "numpy",
    "zxingcpp",
    "pyzbar",
    "reportlab",  # when a receipt or ticket is printed
    "segno",
    "PIL",
    "sqlalchemy",  # the database opens right after the first paint (kiosk.services.quick_open)
    "kiosk.services.store",
    "kiosk.services.models",
    "kiosk.services.dossiers",
    "kiosk.services.installation",
    "kiosk.services.studio",
    "kiosk.services.journey",
    "alembic",  # only when the schema differs from the migration scripts' head
    "mako",
    "pygments",
    "requests",  # the sync worker starts right after the first paint
    "kiosk.services.outbox",
    "kiosk.services.clerks",  # when a clerk logs in
    "kiosk.services.receipts",
    "kiosk.services.docscan",
    "kiosk.hardware.decoders",
    "kiosk.hardware.fusion",
    "kiosk.services.chip_identity",  # the chip reader, right after the first paint
    "kiosk.services.icao9303",
    "kiosk.hardware.cardreader",
    "smartcard",
    "asn1crypto",
    "cryptography.x509",
)


def _kiosk_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KIOSK_DATA_DIR": str(tmp_path / "data"),
        "QT_QPA_PLATFORM": "offscreen",
        "KIOSK_FULLSCREEN": "0",
        "KIOSK_DEMO": "1",
        "KIOSK_BENCH_MODULES": str(tmp_path / "modules.txt"),
    }


def _modules_at_first_paint(tmp_path: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--exit-when-ready"],
        cwd=ROOT,
        env=_kiosk_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return (tmp_path / "modules.txt").read_text(encoding="utf-8").split()


def test_home_screen_paints_without_camera_printing_migration_or_clerk_code(tmp_path):
    _modules_at_first_paint(tmp_path)  # the first start creates the database
    modules = _modules_at_first_paint(tmp_path)
    assert "kiosk.views.screens.home" in modules  # the list is the real one
    loaded = [
        m
        for m in modules
        if any(m == bad or m.startswith(bad + ".") for bad in NOT_BEFORE_HOME)
        or m.startswith("kiosk.views.screens.clerk_")
    ]
    assert loaded == [], "imported before the home screen was painted: " + ", ".join(loaded)
    screens = [m for m in modules if m.startswith("kiosk.views.screens.")]
    assert screens == ["kiosk.views.screens.home"]
    assert len(modules) <= MAX_MODULES_AT_FIRST_PAINT, f"{len(modules)} modules at the first paint"


def test_migration_heads_are_read_without_alembic():
    assert script_heads() == {head_revision()}


def test_a_current_database_opens_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'kiosk.db'}"
    Store(url).close()  # creates and migrates
    probe = textwrap.dedent(
        f"""
        import sys
        from kiosk.services.store import Store
        store = Store({url!r})
        print(store.revision(), "alembic" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == [head_revision(), "False"], out.stderr[-2000:]


def test_an_older_schema_is_still_migrated(tmp_path):
    from alembic import command

    from kiosk.services.store import alembic_config

    url = f"sqlite:///{tmp_path / 'kiosk.db'}"
    command.upgrade(alembic_config(url), "0001")  # a database from the first release
    store = Store(url)
    try:
        assert store.revision() == head_revision() != "0001"
    finally:
        store.close()


def test_the_screen_index_read_from_the_sources_matches_the_registry():
    index = registry.source_index()
    assert index is not None
    registry.discover()
    actual = {spec.name: spec.cls.__module__ for spec in registry.screens()}
    assert index == actual


def test_modules_imported_after_qt_are_not_read_as_source():
    # PySide6's import function reads the whole source of every module imported after it
    # (tens of MB kept in linecache in a running kiosk); importing kiosk.qt turns it off.
    probe = textwrap.dedent(
        """
        import builtins, linecache, sys
        import PySide6.QtWidgets
        import kiosk.qt
        import colorsys, fractions  # pure-Python modules not loaded before
        read = [f for f in linecache.cache if f.endswith(("colorsys.py", "fractions.py"))]
        print(builtins.__import__.__name__, "PySide6.QtCore" in sys.modules, read)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip().split(maxsplit=2) == ["__lazy_import__", "True", "[]"], out.stderr[
        -2000:
    ]


def test_the_chip_reader_comes_right_after_the_first_paint(
    tmp_path, monkeypatch, qtbot, kiosk_qapp
):
    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    ctx, reason, cleanup = run.open_kiosk(load_settings())
    try:
        window = run.build_window(ctx, reason)
        qtbot.addWidget(window)
        assert ctx.chip is None and "chip" not in ctx.journey.flow.names()
        window.show()
        window.start()
        qtbot.waitUntil(lambda: ctx.chip is not None, timeout=10_000)
        assert ctx.chip.kind == "sim" and ctx.chip.available
        names = ctx.journey.flow.names()
        assert names.index("chip") == names.index("identify") + 1
    finally:
        ctx.close()
        cleanup()


def test_the_citizen_screens_load_the_printing_code_only_to_print():
    # A fee or a date on screen needs no PDF library: reportlab, the QR code maker and
    # PIL load when a receipt is printed, not at the first tap on the home screen.
    probe = textwrap.dedent(
        """
        import importlib, sys
        import kiosk.qt
        for name in ("journey", "identify", "fees", "status", "chip", "notices"):
            importlib.import_module("kiosk.views.screens." + name)
        print(sorted({m.split(".")[0] for m in sys.modules} & {"reportlab", "segno", "PIL"}))
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr[-2000:]


def test_catalogues_are_read_once_for_the_command_line_and_the_window(tmp_path, monkeypatch):
    import json

    from kiosk.services import i18n

    (tmp_path / "vi").mkdir()
    path = tmp_path / "vi" / "home.json"
    path.write_text(json.dumps({"home.title": "Xin chào"}), encoding="utf-8")
    reads = []
    real = json.loads
    monkeypatch.setattr(i18n.json, "loads", lambda text: reads.append(1) or real(text))
    first = i18n.load_catalogues(tmp_path)
    second = i18n.load_catalogues(tmp_path)
    assert first == second and len(reads) == 1
    second["vi"]["home.title"] = "changed"  # each caller gets its own copy
    assert i18n.load_catalogues(tmp_path)["vi"]["home.title"] == "Xin chào"
    path.write_text(json.dumps({"home.title": "Xin chào bà con"}), encoding="utf-8")
    assert i18n.load_catalogues(tmp_path)["vi"]["home.title"] == "Xin chào bà con"
    assert len(reads) == 2


def test_a_kiosk_without_approved_studio_work_does_not_list_it_at_start(tmp_path, monkeypatch):
    from kiosk.context import build_context

    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    ctx = build_context(load_settings())
    try:
        assert ctx.studio_overlay.strings == {} and ctx.studio._items is None
    finally:
        ctx.close()


def test_the_command_line_starts_without_the_database_library():
    # `kiosk --help`, `kiosk scan` and the others: SQLAlchemy loads when a command uses the
    # database, not for the owner-only umask every command sets first.
    probe = textwrap.dedent(
        """
        import sys
        from kiosk.services.hardening import private_umask
        from kiosk.cli import build_parser
        private_umask()
        build_parser()
        print("sqlalchemy" in sys.modules, "PySide6" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr[-2000:]


def _run_kiosk_probe(probe: str, tmp_path, prefixes) -> tuple:
    """Run `probe` (a script that starts the kiosk) in a process of its own; returns the
    finished process and the lines of its output that start with `prefixes`."""
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_kiosk_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out, [ln for ln in out.stdout.splitlines() if ln.startswith(prefixes)]


def test_the_collector_waits_for_the_first_paint(tmp_path):
    # No garbage-collector passes over what start-up allocates; right after the first
    # paint one pass runs and start-up's objects are set aside (frozen) from later ones.
    # The interpreter's automatic collector stays off: the UI thread's timer runs it
    # (kiosk/qt/collector.py), never a worker thread.
    probe = textwrap.dedent(
        """
        import gc, sys
        import kiosk.commands.run as run
        real = run._report_ready
        def report(app, window):
            print("at first paint", gc.isenabled())
            real(app, window)
        run._report_ready = report
        code = run.run_kiosk(type("Args", (), {"windowed": True, "exit_when_ready": True})())
        from PySide6.QtWidgets import QApplication
        from kiosk.qt.collector import MainThreadCollector
        ui = QApplication.instance().findChild(MainThreadCollector)
        print("after", code, gc.isenabled(), gc.get_freeze_count() > 10_000, ui is not None)
        """
    )
    out, lines = _run_kiosk_probe(probe, tmp_path, ("at first", "after"))
    assert lines == ["at first paint False", "after 0 False True True"], (
        out.stdout + out.stderr[-2000:]
    )


def test_the_window_wide_event_filters_start_right_after_the_first_paint(tmp_path):
    # Listen-first, the keyboard's focus watch and the idle watch see no event of building
    # and painting the home screen (a Python call each), and every event after it.
    probe = textwrap.dedent(
        """
        from PySide6.QtCore import QEvent, QTimer
        from PySide6.QtWidgets import QApplication
        import kiosk.commands.run as run
        from kiosk.views import keyboard, listen, shell

        seen = {"listen": 0, "keyboard": 0, "idle": 0}
        def counting(name, real):
            def event_filter(self, obj, event):
                seen[name] += 1
                return real(self, obj, event)
            return event_filter
        listen.ListenHelper.eventFilter = counting("listen", listen.ListenHelper.eventFilter)
        keyboard.KeyboardController.eventFilter = counting(
            "keyboard", keyboard.KeyboardController.eventFilter
        )
        shell.IdleWatcher.eventFilter = counting("idle", shell.IdleWatcher.eventFilter)
        real_report = run._report_ready
        def report(app, window):
            print("at first paint", sorted(seen.items()))
            def later():
                QApplication.sendEvent(window, QEvent(QEvent.Type.User))
                print("after", all(seen.values()))
                real_report(app, window)
            QTimer.singleShot(200, later)
        run._report_ready = report
        run.run_kiosk(type("Args", (), {"windowed": True, "exit_when_ready": True})())
        """
    )
    out, lines = _run_kiosk_probe(probe, tmp_path, ("at first", "after"))
    expected = ["at first paint [('idle', 0), ('keyboard', 0), ('listen', 0)]", "after True"]
    assert lines == expected, out.stdout + out.stderr[-2000:]


def test_the_decoder_warm_up_is_the_first_thing_after_the_first_paint(tmp_path):
    # The first scan must not wait: the decoder's warm-up starts (in the background)
    # before the sync worker and the chip reader are set up on the GUI thread.
    probe = textwrap.dedent(
        """
        from PySide6.QtCore import QTimer
        import kiosk.commands.run as run
        import kiosk.qt.wiring as wiring

        order = []
        def noting(name, real):
            def call(*args, **kwargs):
                order.append(name)
                return real(*args, **kwargs)
            return call
        run._after_start = noting("warm-up", run._after_start)
        wiring.install_sync = noting("sync", wiring.install_sync)
        wiring.install_chip_reader = noting("chip", wiring.install_chip_reader)
        real_report = run._report_ready
        def report(app, window):
            QTimer.singleShot(300, lambda: (print("order", order), real_report(app, window)))
        run._report_ready = report
        run.run_kiosk(type("Args", (), {"windowed": True, "exit_when_ready": True})())
        """
    )
    out, lines = _run_kiosk_probe(probe, tmp_path, "order")
    assert lines == ["order ['warm-up', 'sync', 'chip']"], out.stdout + out.stderr[-2000:]
