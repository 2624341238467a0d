"""The store: one database, one writer.

Every write goes through `Store.write()`, which runs the given function in a fresh
session on a single writer thread and commits; reads may run anywhere through
`Store.read()`. SQLite runs in WAL mode with synchronous=FULL and foreign keys on, so a
transaction that has returned survives kill -9 and power loss. PostgreSQL (any
SQLAlchemy URL) is used as it is; its commit is durable by default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiosk.services.schema_heads import MIGRATIONS, script_heads

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, writer: bool = False) -> Engine:
    """An engine; for SQLite the writer's engine takes its lock at BEGIN (IMMEDIATE)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, record) -> None:
        # pysqlite's own transaction handling defers BEGIN; we issue it ourselves.
        dbapi_conn.isolation_level = None
        _sqlite_pragmas(dbapi_conn, record)

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql(begin)

    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class Store:
    def __init__(
        self,
        url: str,
        migrate: bool = True,
        cipher: object | None = None,
        attachments_dir: Path | None = None,
    ) -> None:
        """`cipher` and `attachments_dir` are needed only by migrations that re-encrypt
        existing data (0003); a store without data migrates without them."""
        self.url = url
        self.cipher = cipher  # the data key's cipher, when opened with it
        self._attachments_dir = attachments_dir
        self.engine = make_engine(url)
        self.write_engine = (
            make_engine(url, writer=True) if url.startswith("sqlite") else self.engine
        )
        if migrate:
            self.migrate()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    # Schema ---------------------------------------------------------------
    def migrate(self) -> None:
        heads = script_heads()
        if heads and self._revisions() == heads:
            return  # the schema is current: alembic is not even imported
        from alembic import command

        after_commit: list[Callable[[], None]] = []
        with self.write_engine.begin() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            cfg.attributes["cipher"] = self.cipher
            cfg.attributes["attachments_dir"] = self._attachments_dir
            cfg.attributes["after_commit"] = after_commit
            command.upgrade(cfg, "head")
        for step in after_commit:  # e.g. removing files the committed rows no longer name
            step()

    def _revisions(self) -> set[str]:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return set()
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}

    def revision(self) -> str | None:
        revisions = self._revisions()
        return next(iter(revisions)) if len(revisions) == 1 else None

    # Sessions ---------------------------------------------------------------
    def _run_write(self, fn: Callable[[Session], T]) -> T:
        with self._write_sessions() as session:
            try:
                result = fn(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result

    def write(self, fn: Callable[[Session], T]) -> Future[T]:
        """Run fn(session) on the writer thread in one transaction; commit when it returns."""
        return self._writer.submit(self._run_write, fn)

    def write_sync(self, fn: Callable[[Session], T], timeout: float | None = 60) -> T:
        return self.write(fn).result(timeout)

    def read(self, fn: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return fn(session)

    def writer_pragma(self, name: str) -> object:
        """A PRAGMA as the writer's own connection sees it (for checks and doctor)."""
        return self.write_sync(lambda s: s.execute(text(f"PRAGMA {name}")).scalar())

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.engine.dispose()
        self.write_engine.dispose()
