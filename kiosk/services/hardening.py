"""Set-up safeguards and file protection (no Qt here).

- Demo data: anything a demo run (KIOSK_DEMO) made is marked in the database (Meta
  `demo_data`); setup refuses such a data folder, whose demo admin and printed PIN would
  otherwise become production accounts, unless told to wipe it.
- The data key at setup: imported, the one here (checked), or a new one only where the
  database holds no encrypted data and no other key's check value.
- File modes: the data folder 0700, the database (+WAL/SHM), keys and attachments 0600,
  set at start with a umask and checked by doctor. On Windows an ACL for the kiosk's user
  only (icacls; untested here: no Windows in CI).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_KEY = "demo_data"
DEMO_ADMIN = "demo-admin"
DEMO_KIOSK = "KIOSK-DEMO-01"


class SetupRefused(Exception):
    """Setup must stop: `detail` says why and what to do (plain English)."""


# --- demo data ------------------------------------------------------------------------------


def mark_demo(store) -> None:
    from kiosk.services.dossiers import utcnow
    from kiosk.services.installation import meta_get, meta_set

    if meta_get(store, DEMO_KEY) is None:
        meta_set(store, DEMO_KEY, json.dumps({"at": utcnow().isoformat() + "Z"}))


def has_demo_data(store) -> bool:
    """Whether a demo run left anything in this database (marker, demo admin, demo dossiers)."""
    from sqlalchemy import select

    from kiosk.services.installation import meta_get
    from kiosk.services.models import Clerk, Dossier

    if meta_get(store, DEMO_KEY) is not None:
        return True

    def read(s) -> bool:
        if s.scalars(select(Clerk.id).where(Clerk.username == DEMO_ADMIN)).first():
            return True
        return (
            s.scalars(select(Dossier.id).where(Dossier.kiosk_id == DEMO_KIOSK)).first() is not None
        )

    return bool(store.read(read))


def wipe_data_folder(settings) -> list[str]:
    """Remove a demo data folder's database, key, attachments and receipts (SQLite only)."""
    url = settings.database_url
    if not url.startswith("sqlite"):
        raise SetupRefused(
            "the demo data is in a shared database: set up on a new, empty database instead"
        )
    removed = []
    db = Path(url.split("///", 1)[1])
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            path.unlink()
            removed.append(path.name)
    for folder in (settings.attachments_dir, settings.receipts_dir, settings.data_key_path.parent):
        if folder.is_dir() and folder.resolve() != settings.data_dir.resolve():
            shutil.rmtree(folder)
            removed.append(folder.name + "/")
    if settings.data_key_path.exists():
        settings.data_key_path.unlink()
        removed.append(settings.data_key_path.name)
    return removed


# --- file protection --------------------------------------------------------------------------

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """Files and folders made by this process are owner-only from now on."""
    os.umask(0o077)


def database_files(settings) -> list[Path]:
    url = settings.database_url
    if not url.startswith("sqlite") or "///" not in url:
        return []
    db = Path(url.split("///", 1)[1])
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def protected_paths(settings) -> list[tuple[Path, int]]:
    """(path, wanted mode) of everything in the data folder that holds personal data."""
    items: list[tuple[Path, int]] = [(settings.data_dir, DIR_MODE)]
    items += [(p, FILE_MODE) for p in database_files(settings) if p.exists()]
    keys = settings.data_key_path.parent
    if keys.is_dir():
        items.append((keys, DIR_MODE))
        items += [(p, FILE_MODE) for p in keys.iterdir() if p.is_file()]
    for folder in (settings.attachments_dir, settings.receipts_dir):
        if folder.is_dir():  # attachments; the PDF printer's receipts (names on them)
            items.append((folder, DIR_MODE))
            items += [(p, FILE_MODE) for p in folder.iterdir() if p.is_file()]
    return items


def tighten(settings) -> list[str]:
    """Set the modes (POSIX) or the owner-only ACL (Windows); what was changed."""
    if sys.platform == "win32":  # pragma: no cover - untested here (no Windows in CI)
        return _windows_acl(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, mode in protected_paths(settings):
        try:
            if stat.S_IMODE(path.stat().st_mode) != mode:
                os.chmod(path, mode)
                changed.append(str(path))
        except OSError as exc:
            log.warning("cannot set the mode of %s: %s", path.name, exc.strerror)
    return changed


def loose_modes(settings) -> list[str]:
    """Paths readable or writable by others than the owner (POSIX), for doctor."""
    if sys.platform == "win32":  # pragma: no cover - untested here
        return []
    loose = []
    for path, mode in protected_paths(settings):
        try:
            actual = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if actual & (stat.S_IRWXG | stat.S_IRWXO):
            loose.append(f"{path.name} {actual:o} (want {mode:o})")
    return loose


def _windows_acl(folder: Path) -> list[str]:  # pragma: no cover - untested here
    """Owner-only access on Windows: inheritance cut, full control for the kiosk's user,
    SYSTEM and Administrators (backups, updates) only. UNTESTED in CI (no Windows)."""
    user = os.environ.get("USERNAME", "")
    if not user:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        "icacls",
        str(folder),
        "/inheritance:r",
        "/grant:r",
        f"{user}:(OI)(CI)F",
        "/grant:r",
        "*S-1-5-18:(OI)(CI)F",
        "/grant:r",
        "*S-1-5-32-544:(OI)(CI)F",
        "/T",
        "/C",
        "/Q",
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot set the data folder's ACL: %s", exc)
        return []
    return [str(folder)]
