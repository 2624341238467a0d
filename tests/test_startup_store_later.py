"""A kiosk in order paints its home screen before its database is opened (and before the
database library is loaded); the database opens right after the first paint, or at once
when a tap needs it first. Every other kiosk opens its database before the first paint,
as always, so its out-of-service screen and message are the ones it always had; a
database that fails only after the paint gives the same screen."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from deploy_helpers import kiosk_env, set_up_kiosk

import kiosk.commands.run as run
import kiosk.services.datakey as datakey
from kiosk.config import load_settings
from kiosk.services import quick_open
from kiosk.services.crypto import DataKeyError, KeyRing
from kiosk.services.quick_open import store_can_wait

ROOT = Path(__file__).resolve().parent.parent


def _open_later(settings):
    return run.open_kiosk(settings, store_later=True)


def _window(ctx, reason, qtbot):
    window = run.build_window(ctx, reason, app_filters=False)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    return window


def _close(window, ctx, cleanup) -> None:
    if ctx.sync is not None:
        ctx.sync.stop()
    window.close()
    ctx.close()
    cleanup()


def test_the_names_read_without_the_database_library_are_the_models_names():
    from kiosk.services import installation, studio
    from kiosk.services.models import Meta, Translation

    assert quick_open.SETUP_KEY == installation.SETUP_KEY
    assert quick_open.APPROVED == studio.APPROVED
    assert (Meta.__tablename__, Translation.__tablename__) == ("meta", "translations")


def test_a_kiosk_in_order_opens_its_database_right_after_the_first_paint(
    tmp_path, monkeypatch, qtbot, kiosk_qapp
):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    assert store_can_wait(settings) is None
    ctx, reason, cleanup = _open_later(settings)
    window = _window(ctx, reason, qtbot)
    try:
        assert reason is None and not ctx.store_open
        assert window.current_screen().name == "home"
        qtbot.waitUntil(lambda: ctx.store_open and ctx.sync is not None, timeout=10_000)
        assert window.current_screen().name == "home" and window.nav.home_name == "home"
        assert ctx.store.revision() is not None
        assert "fee" in ctx.journey.flow.names()  # the context is the one build_context makes
        qtbot.waitUntil(lambda: ctx.chip is not None, timeout=10_000)
    finally:
        _close(window, ctx, cleanup)


def test_a_tap_before_the_database_is_open_waits_for_it(tmp_path, monkeypatch, qtbot, kiosk_qapp):
    # No event is processed between the window's show and these taps: the first paint's
    # callbacks have not run, the database is not open when the citizen starts.
    set_up_kiosk(monkeypatch, tmp_path)
    ctx, reason, cleanup = _open_later(load_settings())
    window = _window(ctx, reason, qtbot)
    try:
        assert not ctx.store_open
        window.current_screen().tiles["home.submit"].click()
        procedures = window.current_screen()
        assert procedures.name == "procedures"
        code = procedures.shown[0]
        procedures._open(code)
        screen = window.current_screen()
        assert screen.name == "procedure"
        screen.start.click()  # the journey: its dossier service opens the database now
        assert ctx.store_open
        assert ctx.journey.procedure.code == code
        assert window.current_screen().name == ctx.journey.flow.names()[0]
        store = ctx.store
        qtbot.waitUntil(lambda: ctx.sync is not None, timeout=10_000)
        assert ctx.store is store  # opened once
        assert window.current_screen().name != "out_of_service"
    finally:
        _close(window, ctx, cleanup)


def _damage(settings, damage: str) -> str:
    """Break the set-up kiosk of `settings`; the reason its out-of-service screen gives."""
    key = settings.data_key_path
    db = settings.data_dir / "kiosk.db"
    if damage == "missing key":
        key.unlink()
        return "key"
    if damage == "wrong key":
        key.write_text(KeyRing.generate().to_json(), encoding="ascii")
        return "key"
    if damage == "unreadable key":
        key.write_bytes(b"\x00not a key")
        return "key"
    if damage == "broken database":
        db.write_bytes(b"this is not a database" * 100)
        for extra in settings.data_dir.glob("kiosk.db-*"):
            extra.unlink()
        return "store"
    if damage == "no setup recorded":
        with _sqlite(db) as conn:
            conn.execute("DELETE FROM meta WHERE key = 'setup_done'")
        return "setup"
    raise AssertionError(damage)


class _sqlite:
    def __init__(self, path: Path) -> None:
        import sqlite3

        self.conn = sqlite3.connect(path)

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.commit()
        self.conn.close()


DAMAGES = ["missing key", "wrong key", "unreadable key", "broken database", "no setup recorded"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_kiosk_not_in_order_opens_its_database_first_and_says_why(
    tmp_path, monkeypatch, qtbot, kiosk_qapp, damage
):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    expected = _damage(settings, damage)
    assert store_can_wait(settings) is not None
    before = run.open_kiosk(settings)  # as the kiosk always opened it
    before[0].close()
    before[2]()
    ctx, reason, cleanup = _open_later(settings)
    window = _window(ctx, reason, qtbot)
    try:
        assert reason == before[1] == expected and ctx.store_open
        screen = window.current_screen()
        assert screen.name == "out_of_service"
        assert screen.message.text() == ctx.tr(f"oos.reason.{expected}")
    finally:
        _close(window, ctx, cleanup)


def test_what_changes_the_home_screen_or_needs_a_migration_opens_the_database_first(
    tmp_path, monkeypatch
):
    from kiosk.services.store import Store

    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    settings = load_settings()
    assert store_can_wait(settings) == "no database yet"
    ctx, reason, cleanup = _open_later(settings)  # the first start makes the database
    assert reason is None and ctx.store_open
    ctx.close()
    cleanup()
    assert store_can_wait(settings) is None
    db = settings.data_dir / "kiosk.db"
    with _sqlite(db) as conn:
        conn.execute(
            "INSERT INTO translations (lang, item, text, source_hash, state, translator, "
            "updated_at) VALUES ('hmn', 'i18n:home.title', 'Nyob zoo', 'x', 'approved', 'a', "
            "'2026-01-01 00:00:00')"
        )
    assert store_can_wait(settings) == "approved language-studio work"
    with _sqlite(db) as conn:
        conn.execute("UPDATE translations SET state = 'draft'")
    assert store_can_wait(settings) is None
    profile = settings.data_dir / "studio" / "language" / "hmn.json"
    profile.parent.mkdir(parents=True)
    profile.write_text("{}", encoding="utf-8")
    assert store_can_wait(settings) == "keyboard letters from the language studio"
    profile.unlink()
    with _sqlite(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert store_can_wait(settings) == "the schema is not current"
    with _sqlite(db) as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (datakey.KEY_CHECK,))
        conn.execute("UPDATE alembic_version SET version_num = ?", (next(iter(_heads())),))
    assert store_can_wait(settings) == "no key check recorded"
    Store(settings.database_url).close()  # still a database the kiosk opens
    pg = dataclasses.replace(settings, db_url="postgresql://127.0.0.1:9/kiosk")
    assert store_can_wait(pg) == "the database is not an SQLite file"


def _heads() -> set[str]:
    from kiosk.services.schema_heads import script_heads

    return script_heads()


@pytest.mark.parametrize(("error", "reason"), [("key", "key"), ("store", "store")])
def test_a_database_that_fails_after_the_first_paint_puts_the_kiosk_out_of_service(
    tmp_path, monkeypatch, qtbot, kiosk_qapp, error, reason
):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    real = datakey.open_store

    def failing(s, *args, **kwargs):
        if s.database_url == settings.database_url:
            raise DataKeyError("the key went") if error == "key" else OSError("disk gone")
        return real(s, *args, **kwargs)  # the throwaway store of the out-of-service screen

    monkeypatch.setattr(datakey, "open_store", failing)
    ctx, first, cleanup = _open_later(settings)
    window = _window(ctx, first, qtbot)
    try:
        assert first is None and window.current_screen().name == "home"
        qtbot.waitUntil(lambda: ctx.store_open, timeout=10_000)
        screen = window.current_screen()
        assert screen.name == "out_of_service"
        assert screen.message.text() == ctx.tr(f"oos.reason.{reason}")
        assert ctx.store.url != settings.database_url  # the throwaway store
        qtbot.wait(300)  # the first paint's other callbacks have run
        assert ctx.sync is None and ctx.chip is None  # no delivery, no card reader
        window.reset_session()
        window.nav.home()
        assert window.current_screen().name == "out_of_service"
    finally:
        _close(window, ctx, cleanup)


def test_the_real_start_of_a_kiosk_without_its_key_says_so(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    settings.data_key_path.unlink()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_FULLSCREEN": "0"}
    probe = textwrap.dedent(
        """
        import kiosk.commands.run as run
        def report(app, window):
            screen = window.current_screen()
            print("screen", screen.name, screen.message.text() == window.vc.tr("oos.reason.key"))
            window._quitting = True
            app.exit(0)
        run._report_ready = report
        run.run_kiosk(type("Args", (), {"windowed": True, "exit_when_ready": True})())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.split() == ["screen", "out_of_service", "True"], out.stderr[-2000:]
    log = (settings.data_dir / "logs" / "kiosk.log").read_text(encoding="utf-8")
    assert "kiosk started out of service (key)" in log
    assert not settings.data_key_path.exists()  # nothing made a new one


def test_the_check_before_the_paint_writes_nothing(tmp_path, monkeypatch):
    # Read-only: the database, the key and the rest stay as they were. (SQLite makes the
    # WAL's index files of a database in WAL mode for any reader, the store's too; no
    # page is written to them.)
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    wal = {"kiosk.db-wal", "kiosk.db-shm"}

    def files() -> dict:
        return {
            p: (p.stat().st_mtime_ns, p.stat().st_size)
            for p in settings.data_dir.rglob("*")
            if p.is_file() and p.name not in wal
        }

    before = files()
    assert store_can_wait(settings) is None
    assert files() == before
    log = settings.data_dir / "kiosk.db-wal"
    assert not log.exists() or log.stat().st_size == 0


def test_a_background_task_that_needs_the_database_first_opens_it_and_the_screen_follows(
    tmp_path, monkeypatch, qtbot, kiosk_qapp
):
    # A task started from a screen (a status look-up, say) may be the first to use the
    # database: it is opened on that thread; an out-of-service screen comes on the GUI's.
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    real = datakey.open_store

    def failing(s, *args, **kwargs):
        if s.database_url == settings.database_url:
            raise OSError("disk gone")
        return real(s, *args, **kwargs)

    monkeypatch.setattr(datakey, "open_store", failing)
    ctx, first, cleanup = _open_later(settings)
    window = _window(ctx, first, qtbot)
    try:
        seen = []
        worker = threading.Thread(target=lambda: seen.append(ctx.status))
        worker.start()
        worker.join(30)
        assert seen and ctx.store_open and ctx.store.url != settings.database_url
        qtbot.waitUntil(lambda: window.current_screen().name == "out_of_service", timeout=5000)
        assert window.current_screen().message.text() == ctx.tr("oos.reason.store")
    finally:
        _close(window, ctx, cleanup)


def test_an_admin_leaving_full_screen_before_the_database_is_open_waits_for_it(
    tmp_path, monkeypatch, kiosk_qapp
):
    set_up_kiosk(monkeypatch, tmp_path)
    ctx, reason, cleanup = _open_later(load_settings())
    try:
        assert reason is None and not ctx.store_open
        clerks = run._LazyClerks(ctx)
        assert [c.username for c in clerks.list()] == ["admin"]  # the one setup made
        assert ctx.store_open
    finally:
        ctx.close()
        cleanup()
