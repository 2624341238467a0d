"""The installation's own state: setup done or not, the crash guard, the settings file and
moving the data key between machines of one centre. No Qt here.

Setup is done when the database holds the Meta row `setup_done`, the data key file exists
and the portal credentials (secret, token) are in the settings. Until then the kiosk shows
its out-of-service screen, never a citizen screen.

The crash guard (kiosk.services.crash_guard, named here too) is checked before the
database library is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiosk.config import flatten_table
from kiosk.config import write_settings_file as write_config
from kiosk.services.crash_guard import (  # noqa: F401
    CRASH_FILE,
    CRASH_LIMIT,
    CRASH_WINDOW_S,
    CrashGuard,
)
from kiosk.services.crypto import DataKeyError, KeyRing, write_private
from kiosk.services.datakey import SETUP_KEY
from kiosk.services.dossiers import APPLICANT_CTX, row_ctx, utcnow
from kiosk.services.models import Dossier, Meta
from kiosk.services.store import Store

log = logging.getLogger(__name__)

DEMO_ADMIN = "demo-admin"


# --- setup state ----------------------------------------------------------------------------


def meta_get(store: Store, key: str) -> str | None:
    row = store.read(lambda s: s.get(Meta, key))
    return row.value if row is not None else None


def meta_set(store: Store, key: str, value: str) -> None:
    def write(s) -> None:
        row = s.get(Meta, key)
        if row is None:
            s.add(Meta(key=key, value=value))
        else:
            row.value = value

    store.write_sync(write)


def mark_setup_done(store: Store, kiosk_id: str) -> None:
    meta_set(store, SETUP_KEY, json.dumps({"at": utcnow().isoformat() + "Z", "by": kiosk_id}))


@dataclass(frozen=True)
class SetupState:
    done: bool
    missing: list[str] = field(default_factory=list)  # plain English, for IT staff

    @property
    def reason(self) -> str:
        return "; ".join(self.missing)


def setup_state(
    store: Store | None, key_path: Path, secret: str, token: str, demo: bool = False
) -> SetupState:
    """Whether this machine may serve citizens. A demo always may (it says so on screen)."""
    if demo:
        return SetupState(True)
    missing = []
    if store is None or meta_get(store, SETUP_KEY) is None:
        missing.append("no setup recorded in the database (run: kiosk setup)")
    if not key_path.exists():
        missing.append(f"no data key at {key_path}")
    if not secret:
        missing.append("no portal signing secret in the settings")
    if not token:
        missing.append("no portal token in the settings")
    return SetupState(not missing, missing)


# --- the settings file --------------------------------------------------------------------


# One reader and writer of the settings file for setup and the admin screen: kiosk.config.
flatten = flatten_table


def write_settings_file(path: Path, values: dict[str, Any]) -> None:
    """Merge `values` (flat setting names) into the TOML settings file, owner-only (0600)."""
    write_config(
        path,
        values,
        "Written by `kiosk setup`. Holds the portal secret: keep it owner-only (0600).",
    )


# --- the data key -------------------------------------------------------------------------


def newest_encrypted(store: Store) -> tuple[str, bytes] | None:
    """(client_ref, applicant ciphertext) of the newest not-purged dossier, to test a key."""
    stmt = (
        select(Dossier.client_ref, Dossier.applicant_enc)
        .where(Dossier.applicant_enc.is_not(None))
        .order_by(Dossier.id.desc())
        .limit(1)
    )
    row = store.read(lambda s: s.execute(stmt).first())
    return None if row is None else (row[0], row[1])


def ring_opens(ring: KeyRing, sample: tuple[str, bytes] | None) -> bool:
    from kiosk.services.crypto import DataCipher

    if sample is None:
        return True
    client_ref, blob = sample
    cipher = DataCipher(ring)
    # A store not yet upgraded to schema 0003 holds values bound to their column only;
    # the key that opens them is the right key all the same (the upgrade rebinds them).
    for ctx in (row_ctx(APPLICANT_CTX, client_ref), APPLICANT_CTX):
        try:
            cipher.decrypt(blob, ctx)
        except DataKeyError:
            continue
        return True
    return False


def read_key_file(path: Path) -> KeyRing:
    from kiosk.services.crypto import read_keyring

    return read_keyring(path)


def export_key(key_path: Path, target: Path) -> None:
    """Copy the data key to `target` (0600), for another machine of the same centre."""
    ring = read_key_file(key_path)
    write_private(target, ring.to_json().encode("ascii"))


def import_key(source: Path, key_path: Path, store: Store | None) -> Path | None:
    """Install the key file of another machine of the centre as this machine's data key.

    Refused when the database holds dossiers the imported key cannot open. A different key
    already here is never deleted: it is moved aside (returned) so nothing is lost.
    """
    ring = read_key_file(source)
    blob = newest_encrypted(store) if store is not None else None
    if not ring_opens(ring, blob):
        raise DataKeyError(
            "the imported key does not open the dossiers in this database: "
            "it is not this centre's key"
        )
    aside: Path | None = None
    if key_path.exists():
        old = read_key_file(key_path)
        if old.to_json() == ring.to_json():
            return None
        aside = key_path.with_name(f"{key_path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(key_path, aside)
        log.warning("existing data key moved aside to %s", aside.name)
    write_private(key_path, ring.to_json().encode("ascii"))
    return aside


# --- admin checks for maintenance commands --------------------------------------------------


def weak_pin(pin: str) -> str | None:
    """Why an admin PIN is too weak, or None. Admin PINs guard the way out of the kiosk."""
    if not (pin.isdigit() and 6 <= len(pin) <= 12):
        return "an admin PIN is 6 to 12 digits"
    if len(set(pin)) == 1:
        return "a PIN of one repeated digit is too easy to guess"
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {-1}):
        return "a run of consecutive digits is too easy to guess"
    return None


def authenticate_admin(clerks, username: str, pin: str, action: str):
    """The admin's ClerkInfo, or raise ClerkError (BadPin, Locked, NotAllowed); audited."""
    from kiosk.services.clerks import NotAllowed

    info = clerks.verify(username, pin, action=f"{action}.login")
    if not info.is_admin:
        clerks.audit(info, f"{action}.refused", detail="not an admin")
        raise NotAllowed(f"{username} is not an admin")
    return info
