"""The head revisions of the migration scripts, read from their text (no database library,
no alembic): whether a database's schema is current is known before either is loaded."""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(.*)$""", re.M)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def script_heads(folder: Path = MIGRATIONS / "versions") -> set[str]:
    """The head revisions of the migration scripts, read from their `revision` and
    `down_revision` lines: knowing whether the schema is current costs no alembic
    import (alembic is loaded only when there is something to migrate)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            found = set(_QUOTED.findall(value))
            (revisions if name == "revision" else parents).update(found)
    return revisions - parents
