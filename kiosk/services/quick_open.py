"""Whether the kiosk may paint its home screen before its database is opened. No Qt, and
no database library: that is the point.

Opening the store loads SQLAlchemy and the models (some 40 % of the CPU time to the first
paint). When a quick look at the SQLite file (the standard library's sqlite3, read-only)
shows a kiosk in its everyday state, the home screen is painted first and the store is
opened right after (kiosk.commands.run). Anything else opens the store before the first
paint, as it always did, so every out-of-service screen and message comes exactly as
before: no database yet, a schema to migrate, no setup recorded, a key that is missing or
does not match the database's key check, approved language-studio work or studio keyboard
letters (they change what the home screen shows), or a database that is not SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from kiosk.services.crypto import DataKeyError, read_keyring
from kiosk.services.datakey import KEY_CHECK, SETUP_KEY, _sqlite_file, verify
from kiosk.services.schema_heads import script_heads

APPROVED = "approved"  # kiosk.services.studio.APPROVED


def store_can_wait(settings) -> str | None:
    """None when the home screen may be painted before the store is opened; otherwise why
    not, in plain English (for the log)."""
    path = _sqlite_file(settings.database_url)
    if path is None:
        return "the database is not an SQLite file"
    if not path.is_file() or path.stat().st_size == 0:
        return "no database yet"
    key_path = settings.data_key_path
    if not key_path.exists():
        return "no data key"
    if not settings.demo and not (settings.secret and settings.portal_token):
        return "not set up"
    if any((settings.data_dir / "studio" / "language").glob("*.json")):
        return "keyboard letters from the language studio"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "the database cannot be opened"
    try:
        return _check(conn, settings, key_path)
    except sqlite3.Error as exc:
        return f"the database cannot be read ({type(exc).__name__})"
    finally:
        conn.close()


def _check(conn: sqlite3.Connection, settings, key_path: Path) -> str | None:
    revisions = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    if not revisions or revisions != script_heads():
        return "the schema is not current"
    meta = dict(
        conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (SETUP_KEY, KEY_CHECK))
    )
    if not settings.demo and meta.get(SETUP_KEY) is None:
        return "no setup recorded"
    if meta.get(KEY_CHECK) is None:
        return "no key check recorded"
    try:
        check = json.loads(meta[KEY_CHECK])
        verify(read_keyring(key_path), check if isinstance(check, dict) else None, key_path)
    except (DataKeyError, ValueError):
        return "the data key does not match the database"
    query = "SELECT 1 FROM translations WHERE state = ? LIMIT 1"
    if conn.execute(query, (APPROVED,)).fetchone() is not None:
        return "approved language-studio work"
    return None
