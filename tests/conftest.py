"""Shared fixtures: offscreen Qt, a data folder per test, SQLite and a real PostgreSQL server."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# Qt needs a platform before the first QApplication; offscreen draws real widgets.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing a test does may touch the real user's folders.
_HOME = tempfile.mkdtemp(prefix="kiosk-test-home-")
os.environ["XDG_DATA_HOME"] = f"{_HOME}/data"
os.environ["XDG_CONFIG_HOME"] = f"{_HOME}/config"
os.environ["XDG_STATE_HOME"] = f"{_HOME}/state"
os.environ["XDG_CACHE_HOME"] = f"{_HOME}/cache"
for _name in [n for n in os.environ if n.startswith("KIOSK_")]:
    del os.environ[_name]

# As in the kiosk (kiosk/qt/collector.py), Python's cycle collector never runs on its own:
# a collection started by a worker thread would destroy the windows a finished test left
# in a cycle on that thread, and their timers would then crash Qt's event loop. Each test's
# garbage is collected on the main thread when it ends.
gc.disable()
_GC_ROUNDS = [0]


def _collect_as_the_interpreter_would() -> None:
    """The young generation after every test, the older ones every 10th and 100th."""
    _GC_ROUNDS[0] += 1
    gc.collect(2 if _GC_ROUNDS[0] % 100 == 0 else 1 if _GC_ROUNDS[0] % 10 == 0 else 0)


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(autouse=True)
def _windows_stop_their_workers():
    """After each test, every kiosk window a test opened stops its sync worker and speech
    thread, as the running kiosk does at exit: threads left from earlier tests must not
    run on into later ones."""
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        _collect_as_the_interpreter_would()
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    for widget in app.topLevelWidgets():
        ctx = getattr(getattr(widget, "vc", None), "app", None)
        if ctx is None:
            continue
        sync = getattr(ctx, "sync", None)
        if sync is not None and hasattr(sync, "stop"):
            sync.stop(5.0)
        engine = getattr(getattr(ctx, "speech", None), "engine", None)
        if engine is not None:
            engine.close()
    _collect_as_the_interpreter_would()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(data_dir: Path):
    from kiosk.config import load_settings

    return load_settings(env={}, config_path=data_dir / "absent.toml", data_dir=str(data_dir))


@pytest.fixture
def app_ctx(settings):
    from kiosk.context import build_context

    ctx = build_context(settings)
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def qapp_cls():
    from PySide6.QtWidgets import QApplication

    return QApplication


@pytest.fixture(scope="session")
def kiosk_qapp(qapp):
    """The one QApplication, with the shipped fonts and style sheet installed."""
    from kiosk.views.theme import install_theme

    install_theme(qapp)
    return qapp


@pytest.fixture
def stage_window(kiosk_qapp, data_dir):
    """The kiosk's own window at 1280×800, built as the screenshots and the audit build
    it (speech mocked, background tasks run inline)."""
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt import stage
    from kiosk.qt.tasks import TaskRunner

    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    window = stage.build_window(ctx, tasks, 1280, 800)
    yield window
    window.close()
    window.deleteLater()
    stage.settle()
    ctx.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL 15 server on 127.0.0.1, made for this test session."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: run ./scripts/bootstrap.sh (as root)")
    base = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    os.chmod(base, 0o777)
    datadir, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    os.chmod(sockdir, 0o777)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockdir, "postgres")
    port = _free_port()
    _as_postgres(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    _as_postgres(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(datadir),
            "-w",
            "-l",
            str(base / "pg.log"),
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sockdir} -c fsync=off "
            "-c max_connections=60",
            "start",
        ]
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.rsplit("/", 1)[0] + "/" + name
    for _ in range(20):
        try:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except psycopg.Error:
            time.sleep(0.1)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:
    """Run a store test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kiosk.db'}"
    return request.getfixturevalue("pg_url")
