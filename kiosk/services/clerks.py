"""Clerk and admin accounts, PIN checks with lock-out, and the audit log.

PINs are stored as salted scrypt hashes. Five wrong PINs in a row lock the account for
five minutes. Every clerk action goes through `audit()`, which never records personal
data (dossiers are named by id, receipts by code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from kiosk.services.dossiers import utcnow
from kiosk.services.models import AuditEntry, Clerk
from kiosk.services.store import Store

ROLES = ("clerk", "admin")
GRANTED_ROLES = ("translator", "reviewer")  # the language studio's, granted by an admin
MAX_WRONG_PINS = 5
LOCK_MINUTES = 5
# scrypt cost: ~50 ms here, slow enough to make guessing a 6-digit PIN from a stolen
# database expensive, quick enough for a clerk at the counter.
_N, _R, _P = 2**14, 8, 1


class ClerkError(Exception):
    key = "clerk.err.generic"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadPin(ClerkError):
    key = "clerk.err.bad_pin"

    def __init__(self, detail: str, attempts_left: int) -> None:
        super().__init__(detail)
        self.attempts_left = attempts_left


class Locked(ClerkError):
    key = "clerk.err.locked"

    def __init__(self, detail: str, until: datetime) -> None:
        super().__init__(detail)
        self.until = until


class NotAllowed(ClerkError):
    key = "clerk.err.not_allowed"


def hash_pin(pin: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(
        pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(actual, base64.b64decode(digest))


def valid_pin(pin: str) -> bool:
    return pin.isdigit() and 4 <= len(pin) <= 12


@dataclass(frozen=True)
class ClerkInfo:
    id: int
    username: str
    display_name: str
    role: str
    extra_roles: frozenset[str] = frozenset()  # granted by an admin: translator, reviewer

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has(self, role: str) -> bool:
        return role == self.role or role in self.extra_roles


def _info(c: Clerk) -> ClerkInfo:
    extra = frozenset(r for r in (c.extra_roles or "").split(",") if r)
    return ClerkInfo(c.id, c.username, c.display_name, c.role, extra)


class ClerkService:
    def __init__(self, store: Store, machine: str = "") -> None:
        self.store = store
        self.machine = machine

    def create(
        self, username: str, display_name: str, role: str, pin: str, by: ClerkInfo | None = None
    ) -> ClerkInfo:
        if role not in ROLES:
            raise ClerkError(f"role {role!r}: one of {', '.join(ROLES)}")
        if not valid_pin(pin):
            raise ClerkError("a PIN is 4 to 12 digits")
        if by is not None and not by.is_admin:
            raise NotAllowed("only an admin may create accounts")

        def write(s) -> ClerkInfo:
            if s.scalars(select(Clerk).where(Clerk.username == username)).first():
                raise ClerkError(f"user {username!r} exists already")
            clerk = Clerk(
                username=username,
                display_name=display_name,
                role=role,
                pin_hash=hash_pin(pin),
                failed_pins=0,
                active=True,
                created_at=utcnow(),
            )
            s.add(clerk)
            s.flush()
            s.add(
                AuditEntry(
                    at=utcnow(),
                    clerk_id=by.id if by else None,
                    action="clerk.create",
                    detail=f"{username} ({role})",
                    machine=self.machine,
                )
            )
            return _info(clerk)

        return self.store.write_sync(write)

    def any_admin(self) -> bool:
        return (
            self.store.read(
                lambda s: s.scalars(
                    select(Clerk.id).where(Clerk.role == "admin", Clerk.active.is_(True))
                ).first()
            )
            is not None
        )

    def list(self) -> list[ClerkInfo]:
        return self.store.read(
            lambda s: [
                _info(c)
                for c in s.scalars(
                    select(Clerk).where(Clerk.active.is_(True)).order_by(Clerk.username)
                )
            ]
        )

    def verify(
        self, username: str, pin: str, now: datetime | None = None, action: str = "clerk.login"
    ) -> ClerkInfo:
        """The clerk, or BadPin / Locked. Every outcome is audited."""
        now = now or utcnow()

        def write(s) -> tuple[ClerkInfo | None, ClerkError | None]:
            clerk = s.scalars(
                select(Clerk).where(Clerk.username == username, Clerk.active.is_(True))
            ).first()
            if clerk is None:
                s.add(AuditEntry(at=now, action=f"{action}.unknown_user", machine=self.machine))
                return None, BadPin("unknown user", MAX_WRONG_PINS)
            if clerk.locked_until and clerk.locked_until > now:
                s.add(
                    AuditEntry(
                        at=now, clerk_id=clerk.id, action=f"{action}.locked", machine=self.machine
                    )
                )
                return None, Locked(
                    f"{username} locked until {clerk.locked_until:%H:%M:%S} UTC", clerk.locked_until
                )
            if check_pin(pin, clerk.pin_hash):
                clerk.failed_pins = 0
                clerk.locked_until = None
                s.add(AuditEntry(at=now, clerk_id=clerk.id, action=action, machine=self.machine))
                return _info(clerk), None
            clerk.failed_pins += 1
            if clerk.failed_pins >= MAX_WRONG_PINS:
                clerk.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                clerk.failed_pins = 0
                s.add(
                    AuditEntry(
                        at=now, clerk_id=clerk.id, action=f"{action}.lockout", machine=self.machine
                    )
                )
                return None, Locked(
                    f"{username}: {MAX_WRONG_PINS} wrong PINs, locked for {LOCK_MINUTES} minutes",
                    clerk.locked_until,
                )
            s.add(
                AuditEntry(
                    at=now, clerk_id=clerk.id, action=f"{action}.bad_pin", machine=self.machine
                )
            )
            return None, BadPin("wrong PIN", MAX_WRONG_PINS - clerk.failed_pins)

        info, error = self.store.write_sync(write)
        if error is not None:
            raise error
        return info

    def change_pin(self, clerk: ClerkInfo, new_pin: str, by: ClerkInfo) -> None:
        if not valid_pin(new_pin):
            raise ClerkError("a PIN is 4 to 12 digits")
        if by.id != clerk.id and not by.is_admin:
            raise NotAllowed("only an admin may change another clerk's PIN")

        def write(s) -> None:
            row = s.get(Clerk, clerk.id)
            row.pin_hash = hash_pin(new_pin)
            row.failed_pins, row.locked_until = 0, None
            s.add(
                AuditEntry(
                    at=utcnow(),
                    clerk_id=by.id,
                    action="clerk.change_pin",
                    detail=clerk.username,
                    machine=self.machine,
                )
            )

        self.store.write_sync(write)

    def audit(
        self,
        clerk: ClerkInfo | None,
        action: str,
        dossier_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.store.write_sync(
            lambda s: s.add(
                AuditEntry(
                    at=utcnow(),
                    clerk_id=clerk.id if clerk else None,
                    action=action,
                    dossier_id=dossier_id,
                    detail=detail,
                    machine=self.machine,
                )
            )
        )

    def audit_trail(self, dossier_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if dossier_id is not None:
            stmt = stmt.where(AuditEntry.dossier_id == dossier_id)
        return self.store.read(lambda s: list(s.scalars(stmt)))

    def set_role(self, username: str, role: str, granted: bool, by: ClerkInfo) -> ClerkInfo:
        """Grant or take back a studio role (translator, reviewer); admins only, audited."""
        if role not in GRANTED_ROLES:
            raise ClerkError(f"role {role!r}: one of {', '.join(GRANTED_ROLES)}")
        if not by.is_admin:
            raise NotAllowed("only an admin may grant roles")

        def write(s) -> ClerkInfo:
            clerk = s.scalars(select(Clerk).where(Clerk.username == username)).first()
            if clerk is None:
                raise ClerkError(f"no user {username!r}")
            roles = {r for r in (clerk.extra_roles or "").split(",") if r}
            roles = roles | {role} if granted else roles - {role}
            clerk.extra_roles = ",".join(sorted(roles))
            action = "clerk.role.grant" if granted else "clerk.role.revoke"
            s.add(
                AuditEntry(
                    at=utcnow(),
                    clerk_id=by.id,
                    action=action,
                    detail=f"{username} ({role})",
                    machine=self.machine,
                )
            )
            return _info(clerk)

        return self.store.write_sync(write)
