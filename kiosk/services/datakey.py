"""Opening the data key: made only for a brand-new data folder, read-only everywhere else.

A key file is created only when there is no database yet (first set-up, the demo,
`outbox seed` into an empty folder); it is replaced only by `privacy rotate-key` or a key
import in `setup`. Wherever a database exists, the key is opened read-only and checked
against the key check value the database keeps (Meta `data_key_check`: HMACs of a fixed
label under each key, which reveal nothing about the keys). A missing, unreadable or
wrong key raises DataKeyError with what to do; nothing is written and no dossier moves.

No Qt here; the database library is loaded by the functions that read the database
(the start checks the key against the database before it is loaded: kiosk.services.quick_open).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kiosk.services.crypto import DataCipher, DataKeyError, KeyRing, read_keyring, write_private

log = logging.getLogger(__name__)

KEY_CHECK = "data_key_check"
SETUP_KEY = "setup_done"  # the Meta key the installation's setup is recorded under
FIX_MISSING = (
    "restore keys/data.key from the centre's key backup, or import the centre's key with "
    "`python -m kiosk setup --import-key FILE`"
)
FIX_WRONG = (
    "this is not the key this database was written with: restore the right keys/data.key "
    "from the centre's key backup (`python -m kiosk setup --import-key FILE`)"
)


class KeyNeeded(DataKeyError):
    """A database exists but its key is missing, unreadable or not the right one."""


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def database_exists(url: str) -> bool:
    """Whether this URL already holds a kiosk database (so its key must exist)."""
    path = _sqlite_file(url)
    if url.startswith("sqlite") and (path is None or not path.exists() or path.stat().st_size == 0):
        return False
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("meta")
    finally:
        engine.dispose()


def setup_recorded(url: str) -> bool:
    """Whether this database records a finished setup (read without migrating)."""
    if not database_exists(url):
        return False
    return _meta(url, "setup_done") is not None


def _meta(url: str, key: str) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()
    finally:
        engine.dispose()


def stored_check(url: str) -> dict | None:
    """The key check value recorded in the database, read without migrating."""
    value = _meta(url, KEY_CHECK)
    if value is None:
        return None
    try:
        data = json.loads(value)
        return data if isinstance(data, dict) else None
    except ValueError:
        return None


def verify(ring: KeyRing, check: dict | None, path: Path | str = "the data key") -> None:
    """DataKeyError unless `ring` is the key `check` was recorded for (None: nothing to
    check against yet)."""
    if check is None:
        return
    mine = DataCipher(ring).check_value()
    if check.get("index") != mine["index"]:
        raise KeyNeeded(f"{path} is not the key of this database: {FIX_WRONG}")
    recorded = check.get("keys") or {}
    common = set(recorded) & set(mine["keys"])
    if not common:
        raise KeyNeeded(
            f"{path} lacks the database's current key ({', '.join(sorted(recorded))}): {FIX_WRONG}"
        )
    if any(recorded[k] != mine["keys"][k] for k in common):
        raise KeyNeeded(f"{path} is not the key of this database: {FIX_WRONG}")


def open_key(key_path: Path, url: str, create: bool = False) -> KeyRing:
    """The data key for this database.

    With no database yet and `create`, a missing key file is made (a brand-new data
    folder). With a database, the key is only read, and checked against the database's
    key check value; anything wrong raises KeyNeeded (a DataKeyError) saying what to do.
    """
    if not database_exists(url):
        if key_path.exists() or not create:
            return read_keyring(key_path)
        ring = KeyRing.generate()
        write_private(key_path, ring.to_json().encode("ascii"))
        log.info("new data key made for a new data folder")
        return ring
    try:
        ring = read_keyring(key_path)
    except DataKeyError as exc:
        raise KeyNeeded(f"{exc}: {FIX_MISSING}") from None
    verify(ring, stored_check(url), key_path)
    return ring


def record_check(store, cipher: DataCipher) -> None:
    """Store the key check value of `cipher` (new folder, set-up, rotation, import).

    Two processes may record it at the same moment on a shared database (two machines of
    a centre starting together): the second then finds the first's value, which must be
    its own key's, else the keys differ and nothing goes on."""
    from sqlalchemy.exc import IntegrityError

    from kiosk.services.installation import meta_get, meta_set

    mine = json.dumps(cipher.check_value(), sort_keys=True)
    try:
        meta_set(store, KEY_CHECK, mine)
    except IntegrityError:
        if meta_get(store, KEY_CHECK) != mine:
            raise KeyNeeded(
                f"another data key was recorded for this database: {FIX_WRONG}"
            ) from None


def ensure_check(store, cipher: DataCipher) -> None:
    """Record the check value where a database has none yet (a store made before key
    checks existed): the key was verified against its data when the store was migrated."""
    from kiosk.services.installation import meta_get, newest_encrypted, ring_opens

    if meta_get(store, KEY_CHECK) is None:
        if not ring_opens(cipher.ring, newest_encrypted(store)):
            raise KeyNeeded(f"the data key does not open this database's dossiers: {FIX_WRONG}")
        record_check(store, cipher)


def _legacy_pin_hashes(store) -> bool:
    """Whether a clerk's PIN hash is still unkeyed (what ClerkService.wrap_legacy_hashes
    wraps): one indexed look-up instead of loading the clerk code at every start."""
    from sqlalchemy import select

    from kiosk.services.models import Clerk

    query = select(Clerk.id).where(Clerk.pin_hash.like("scrypt$%")).limit(1)
    return store.read(lambda s: s.scalar(query)) is not None


def open_store(settings, create_key: bool = False, migrate: bool = True):
    """(Store, DataCipher) of these settings: the key opened (and only for a brand-new
    folder with `create_key`, made), the store migrated with it, the check recorded.
    Raises DataKeyError (KeyNeeded) before anything is written when the key is wrong."""
    from kiosk.services.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    new_folder = not database_exists(settings.database_url)
    ring = open_key(settings.data_key_path, settings.database_url, create=create_key)
    cipher = DataCipher(ring)
    store = Store(
        settings.database_url,
        migrate=migrate,
        cipher=cipher,
        attachments_dir=settings.attachments_dir,
    )
    try:
        if new_folder:
            record_check(store, cipher)
        else:
            ensure_check(store, cipher)
        from kiosk.services.hardening import tighten

        if _legacy_pin_hashes(store):  # the clerk code loads only when there is work
            from kiosk.services.clerks import ClerkService

            ClerkService(store).wrap_legacy_hashes()  # PIN hashes keyed from now on
        tighten(settings)  # folder 0700; database, WAL/SHM, keys, attachments 0600
        if getattr(settings, "demo", False):
            from kiosk.services.hardening import mark_demo

            mark_demo(store)  # setup refuses this folder unless told to wipe it
    except BaseException:
        store.close()
        raise
    return store, cipher
