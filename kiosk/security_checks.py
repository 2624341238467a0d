"""Doctor's security checks (file modes, the data key against the database, the portal's
https rule), kept apart from the other checks so both evolve without clashing.
Each takes the Doctor and returns a kiosk.commands.doctor.Check."""

from __future__ import annotations

import sys
from urllib.parse import urlparse

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def file_modes(doctor):
    from kiosk.commands.doctor import FAIL, OK, WARN, Check
    from kiosk.services.hardening import loose_modes

    s = doctor.s
    if sys.platform == "win32":  # pragma: no cover - untested here
        return Check(
            "file_modes",
            WARN,
            "Windows: the data folder's ACL is set at start (owner, SYSTEM, Administrators); "
            "not checked here",
            "Check with `icacls` that only the kiosk's user can read the data folder.",
        )
    if not s.data_dir.exists():
        return Check("file_modes", OK, "no data folder yet")
    loose = loose_modes(s)
    if loose:
        shown = ", ".join(loose[:5]) + (f" (+{len(loose) - 5} more)" if len(loose) > 5 else "")
        return Check(
            "file_modes",
            FAIL,
            f"readable by other users: {shown}",
            "Start the kiosk once (it sets the modes at start), or run: "
            f"chmod -R go-rwx {s.data_dir}",
        )
    return Check("file_modes", OK, "data folder 0700; database, WAL/SHM, keys, attachments 0600")


def key_state(doctor):
    from kiosk.commands.doctor import FAIL, OK, Check
    from kiosk.services.datakey import FIX_MISSING, key_state

    s = doctor.s
    try:
        usable, detail = key_state(s.data_key_path, s.database_url)
    except Exception as exc:  # a database that does not open: the database check says more
        return Check("key_state", FAIL, f"cannot compare: {type(exc).__name__}", "")
    if usable:
        return Check("key_state", OK, detail)
    return Check("key_state", FAIL, detail, FIX_MISSING[0].upper() + FIX_MISSING[1:] + ".")


def https_rule(doctor):
    from kiosk.commands.doctor import FAIL, OK, WARN, Check

    s = doctor.s
    url = urlparse(s.portal_url)
    host = (url.hostname or "").lower()
    if url.scheme == "https":
        return Check("https", OK, f"portal over https ({host})")
    if host in LOOPBACK:
        status = WARN if not s.demo else OK
        return Check(
            "https",
            status,
            f"portal over http on this machine ({host}): demo and tests only",
            "For service set portal_url to the province's https:// address.",
        )
    return Check(
        "https",
        FAIL,
        f"portal over plain http to {host}: the token and citizens' data would travel in clear",
        "Set portal_url to the province's https:// address in the settings file.",
    )
