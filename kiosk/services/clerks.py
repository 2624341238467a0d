"""Clerk and admin accounts, PIN checks with lock-out, and the audit log.

PINs are stored as salted scrypt hashes keyed with a secret from keys/ (HMAC-SHA256 over
the scrypt digest, `hscrypt$…`), so a copy of the database alone (a shared PostgreSQL
server, a backup) cannot be guessed offline. Older unkeyed `scrypt$…` hashes are wrapped
in place (the HMAC of their digest) as soon as the key is at hand: no PIN is needed.

Lock-out grows: 5 wrong PINs in a row lock the account for 5 minutes, 10 for an hour, 15
until another admin (on screen) or the owner of the data folder (OS console,
`python -m kiosk clerks unlock NAME`) unlocks it. An unknown user name gets the same
answer, in the same time, with the same lock-out as a known one (its failures are
counted under a keyed hash of the name), so names cannot be probed. After repeated
failures on one kiosk, whatever the names, each further try must wait a little longer.
No count of remaining tries is shown before the last one.

Admin PINs are 6 to 12 digits (they guard the way out of the kiosk), clerks' 4 to 12.
Every clerk action goes through `audit()`, which never records personal data (dossiers
are named by id, receipts by code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from kiosk.services.dossiers import utcnow
from kiosk.services.models import AuditEntry, Clerk
from kiosk.services.store import Store

ROLES = ("clerk", "admin")
GRANTED_ROLES = ("translator", "reviewer")  # the language studio's, granted by an admin
MAX_WRONG_PINS = 5
LOCK_MINUTES = 5
# Lock-out steps: (wrong PINs in a row, lock duration; None = until unlocked).
LOCK_STEPS: tuple[tuple[int, timedelta | None], ...] = (
    (15, None),
    (10, timedelta(hours=1)),
    (5, timedelta(minutes=LOCK_MINUTES)),
)
UNTIL_UNLOCKED = datetime(9999, 12, 31)
# Per kiosk: after this many failed logins within the window (whatever the names), each
# further try waits THROTTLE_BASE_S doubled per failure, at most THROTTLE_MAX_S.
THROTTLE_AFTER = 8
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_BASE_S = 5.0
THROTTLE_MAX_S = 60.0
FAILED_ACTIONS = ("bad_pin", "unknown_user", "lockout")
# Failures under a name without an account are counted over this window.
UNKNOWN_WINDOW = timedelta(days=7)
# scrypt cost: ~50 ms here, slow enough to make guessing a 6-digit PIN from a stolen
# database expensive, quick enough for a clerk at the counter.
_N, _R, _P = 2**14, 8, 1
_DUMMY_SALT = b"\x00" * 16


class ClerkError(Exception):
    key = "clerk.err.generic"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadPin(ClerkError):
    """Wrong user name or PIN (the same answer for both)."""

    key = "clerk.err.bad_pin"

    def __init__(self, detail: str, attempts_left: int) -> None:
        super().__init__(detail)
        self.attempts_left = attempts_left

    @property
    def last_try(self) -> bool:
        """Whether the next wrong PIN locks the account (the only time it is said)."""
        return self.attempts_left == 1


class Locked(ClerkError):
    key = "clerk.err.locked"

    def __init__(self, detail: str, until: datetime) -> None:
        super().__init__(detail)
        self.until = until

    @property
    def until_unlocked(self) -> bool:
        return self.until >= UNTIL_UNLOCKED


class Throttled(ClerkError):
    """Too many failed logins on this kiosk just now: wait `wait_s` seconds."""

    key = "security.login.wait"

    def __init__(self, detail: str, wait_s: float) -> None:
        super().__init__(detail)
        self.wait_s = wait_s


class NotAllowed(ClerkError):
    key = "clerk.err.not_allowed"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _keyed(pepper: bytes, digest: bytes) -> bytes:
    return hmac.new(pepper, digest, hashlib.sha256).digest()


def hash_pin(pin: str, pepper: bytes | None = None) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    if pepper is None:
        return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"
    return f"hscrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_keyed(pepper, digest))}"


def wrap_hash(stored: str, pepper: bytes) -> str:
    """An unkeyed `scrypt$` hash as the keyed `hscrypt$` one of the same PIN (no PIN needed)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return stored
    return f"hscrypt${n}${r}${p}${salt}${_b64(_keyed(pepper, base64.b64decode(digest)))}"


def check_pin(pin: str, stored: str, pepper: bytes | None = None) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        n_, r_, p_ = int(n), int(r), int(p)
        salt_b, digest_b = base64.b64decode(salt), base64.b64decode(digest)
    except ValueError:
        _dummy(pin)
        return False
    if scheme not in ("scrypt", "hscrypt") or (scheme == "hscrypt" and pepper is None):
        _dummy(pin)
        return False
    actual = hashlib.scrypt(pin.encode(), salt=salt_b, n=n_, r=r_, p=p_, dklen=32)
    if scheme == "hscrypt":
        actual = _keyed(pepper, actual)
    return hmac.compare_digest(actual, digest_b)


def _dummy(pin: str) -> None:
    """The same work as a real check, for an unknown user (same time, same answer)."""
    hashlib.scrypt(pin.encode(), salt=_DUMMY_SALT, n=_N, r=_R, p=_P, dklen=32)


def valid_pin(pin: str, role: str = "clerk") -> bool:
    shortest = 6 if role == "admin" else 4
    return pin.isdigit() and shortest <= len(pin) <= 12


def pin_rule(role: str) -> str:
    return "an admin PIN is 6 to 12 digits" if role == "admin" else "a PIN is 4 to 12 digits"


def lock_for(failed: int) -> timedelta | None | bool:
    """The lock a run of `failed` wrong PINs earns: a duration, None (until unlocked), or
    False (no lock)."""
    for count, duration in LOCK_STEPS:
        if failed == count or (duration is None and failed >= count):
            return duration
    return False


def attempts_left(failed: int) -> int:
    nxt = min((c for c, _ in LOCK_STEPS if c > failed), default=failed + 1)
    return nxt - failed


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


@dataclass(frozen=True)
class AccountState:
    info: ClerkInfo
    active: bool
    locked_until: datetime | None  # None: not locked now


class ClerkService:
    def __init__(self, store: Store, machine: str = "", pepper: bytes | None = None) -> None:
        """`pepper`: the PIN-hash key; by default derived from the store's data key (a
        store opened with its key, kiosk.services.datakey.open_store)."""
        self.store = store
        self.machine = machine
        if pepper is None:
            cipher = getattr(store, "cipher", None)
            derive = getattr(cipher, "derive", None)
            pepper = derive("clerk-pin-hash") if derive is not None else None
        self.pepper = pepper

    def _audit_row(self, s, action: str, clerk_id: int | None = None, detail=None, at=None):
        s.add(
            AuditEntry(
                at=at or utcnow(),
                clerk_id=clerk_id,
                action=action,
                detail=detail,
                machine=self.machine,
            )
        )

    def create(
        self, username: str, display_name: str, role: str, pin: str, by: ClerkInfo | None = None
    ) -> ClerkInfo:
        if role not in ROLES:
            raise ClerkError(f"role {role!r}: one of {', '.join(ROLES)}")
        if not valid_pin(pin, role):
            raise ClerkError(pin_rule(role))
        if by is not None and not by.is_admin:
            raise NotAllowed("only an admin may create accounts")

        def write(s) -> ClerkInfo:
            if s.scalars(select(Clerk).where(Clerk.username == username)).first():
                raise ClerkError(f"user {username!r} exists already")
            clerk = Clerk(
                username=username,
                display_name=display_name,
                role=role,
                pin_hash=hash_pin(pin, self.pepper),
                failed_pins=0,
                active=True,
                created_at=utcnow(),
            )
            s.add(clerk)
            s.flush()
            self._audit_row(s, "clerk.create", by.id if by else None, f"{username} ({role})")
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

    def accounts(self, now: datetime | None = None) -> list[AccountState]:
        """Every account, active or not, with its lock state (the admin's account list)."""
        now = now or utcnow()

        def read(s) -> list[AccountState]:
            return [
                AccountState(
                    _info(c),
                    bool(c.active),
                    c.locked_until if c.locked_until and c.locked_until > now else None,
                )
                for c in s.scalars(select(Clerk).order_by(Clerk.username))
            ]

        return self.store.read(read)

    # Logging in ------------------------------------------------------------------------
    def name_tag(self, username: str) -> str:
        """A keyed hash of a user name that matches no account (for its failure count)."""
        key = self.pepper or b"commune-kiosk unknown user"
        return "name:" + hmac.new(key, username.encode(), hashlib.sha256).hexdigest()[:24]

    def _throttle(self, s, now: datetime) -> float:
        """Seconds this kiosk must still wait before another login try (0: none)."""
        start = now - THROTTLE_WINDOW
        last_ok = s.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.machine == self.machine,
                or_(AuditEntry.action.like("%login"), AuditEntry.action == "kiosk.unlock"),
                AuditEntry.at >= start,
            )
        )
        if last_ok is not None:
            start = max(start, last_ok)
        stmt = select(func.count(AuditEntry.id), func.max(AuditEntry.at)).where(
            AuditEntry.machine == self.machine,
            AuditEntry.at >= start,
            or_(*(AuditEntry.action.like(f"%.{a}") for a in FAILED_ACTIONS)),
        )
        count, last = s.execute(stmt).one()
        if not count or count < THROTTLE_AFTER or last is None:
            return 0.0
        wait = min(THROTTLE_MAX_S, THROTTLE_BASE_S * 2 ** (count - THROTTLE_AFTER))
        return max(0.0, (last + timedelta(seconds=wait) - now).total_seconds())

    def verify(
        self, username: str, pin: str, now: datetime | None = None, action: str = "clerk.login"
    ) -> ClerkInfo:
        """The clerk, or BadPin / Locked / Throttled. Every outcome is audited."""
        now = now or utcnow()
        username = username.strip()

        def write(s) -> tuple[ClerkInfo | None, ClerkError | None]:
            wait = self._throttle(s, now)
            if wait > 0:
                self._audit_row(s, f"{action}.throttled", at=now)
                return None, Throttled(f"too many failed logins here: wait {wait:.0f} s", wait)
            clerk = s.scalars(
                select(Clerk).where(Clerk.username == username, Clerk.active.is_(True))
            ).first()
            if clerk is None:
                return None, self._unknown(s, username, pin, now, action)
            self._tag_failures(s, self.name_tag(username), now)  # the same work as above
            if clerk.locked_until and clerk.locked_until > now:
                self._audit_row(s, f"{action}.locked", clerk.id, at=now)
                return None, Locked(f"{username} is locked", clerk.locked_until)
            if check_pin(pin, clerk.pin_hash, self.pepper):
                clerk.failed_pins = 0
                clerk.locked_until = None
                if self.pepper is not None and clerk.pin_hash.startswith("scrypt$"):
                    clerk.pin_hash = wrap_hash(clerk.pin_hash, self.pepper)
                self._audit_row(s, action, clerk.id, at=now)
                return _info(clerk), None
            clerk.failed_pins = (clerk.failed_pins or 0) + 1
            lock = lock_for(clerk.failed_pins)
            if lock is not False:
                clerk.locked_until = UNTIL_UNLOCKED if lock is None else now + lock
                self._audit_row(
                    s, f"{action}.lockout", clerk.id, f"{clerk.failed_pins} wrong PINs", now
                )
                return None, Locked(
                    f"{username}: {clerk.failed_pins} wrong PINs", clerk.locked_until
                )
            self._audit_row(s, f"{action}.bad_pin", clerk.id, at=now)
            return None, BadPin("wrong user name or PIN", attempts_left(clerk.failed_pins))

        info, error = self.store.write_sync(write)
        if error is not None:
            raise error
        return info

    def _tag_failures(self, s, tag: str, now: datetime) -> list[datetime]:
        """Failure times recorded under a name tag, within UNKNOWN_WINDOW (read by the
        indexed time column). Known names run it too, so both take the same time."""
        return list(
            s.scalars(
                select(AuditEntry.at)
                .where(
                    AuditEntry.at >= now - UNKNOWN_WINDOW,
                    AuditEntry.detail == tag,
                    AuditEntry.action.like("%.unknown_user"),
                )
                .order_by(AuditEntry.at)
            )
        )

    def _unknown(self, s, username: str, pin: str, now: datetime, action: str) -> ClerkError:
        """A name with no account: the same work, answer and lock-out as a known one."""
        _dummy(pin)
        tag = self.name_tag(username)
        times = self._tag_failures(s, tag, now)
        failed = len(times)
        # Locked as a known account would be: by its last lock-out step.
        for count, duration in LOCK_STEPS:
            if failed >= count:
                until = UNTIL_UNLOCKED if duration is None else times[count - 1] + duration
                if until > now:
                    self._audit_row(s, f"{action}.locked", detail=tag, at=now)
                    return Locked(f"{tag} is locked", until)
                break
        self._audit_row(s, f"{action}.unknown_user", detail=tag, at=now)
        failed += 1
        lock = lock_for(failed)
        if lock is not False:
            return Locked("unknown user", UNTIL_UNLOCKED if lock is None else now + lock)
        return BadPin("wrong user name or PIN", attempts_left(failed))

    # Account management ------------------------------------------------------------------
    def change_pin(self, clerk: ClerkInfo, new_pin: str, by: ClerkInfo) -> None:
        if not valid_pin(new_pin, clerk.role):
            raise ClerkError(pin_rule(clerk.role))
        if by.id != clerk.id and not by.is_admin:
            raise NotAllowed("only an admin may change another clerk's PIN")

        def write(s) -> None:
            row = s.get(Clerk, clerk.id)
            row.pin_hash = hash_pin(new_pin, self.pepper)
            row.failed_pins, row.locked_until = 0, None
            self._audit_row(s, "clerk.change_pin", by.id, clerk.username)

        self.store.write_sync(write)

    def set_active(
        self, username: str, active: bool, by: ClerkInfo | None, console: str | None = None
    ) -> ClerkInfo:
        """Deactivate or reactivate an account: by an admin (not themselves), or from the
        OS console (`console` names the OS user). Audited. The last active admin stays."""
        self._check_manager(username, by, console)

        def write(s) -> ClerkInfo:
            row = s.scalars(select(Clerk).where(Clerk.username == username)).first()
            if row is None:
                raise ClerkError(f"no account {username!r}")
            if not active and row.role == "admin" and row.active:
                others = s.scalar(
                    select(func.count(Clerk.id)).where(
                        Clerk.role == "admin", Clerk.active.is_(True), Clerk.id != row.id
                    )
                )
                if not others and console is None:
                    raise ClerkError("the last active admin cannot be deactivated")
            row.active = active
            if active:
                row.failed_pins, row.locked_until = 0, None
            verb = "reactivate" if active else "deactivate"
            detail = username + (f" (console: {console})" if console else "")
            self._audit_row(s, f"clerk.{verb}", by.id if by else None, detail)
            return _info(row)

        return self.store.write_sync(write)

    def unlock(self, username: str, by: ClerkInfo | None, console: str | None = None) -> ClerkInfo:
        """Lift a lock-out: by another admin, or from the OS console. Audited."""
        self._check_manager(username, by, console)

        def write(s) -> ClerkInfo:
            row = s.scalars(select(Clerk).where(Clerk.username == username)).first()
            if row is None:
                raise ClerkError(f"no account {username!r}")
            row.failed_pins, row.locked_until = 0, None
            detail = username + (f" (console: {console})" if console else "")
            self._audit_row(s, "clerk.unlock", by.id if by else None, detail)
            return _info(row)

        return self.store.write_sync(write)

    @staticmethod
    def _check_manager(username: str, by: ClerkInfo | None, console: str | None) -> None:
        if console is not None:
            return
        if by is None or not by.is_admin:
            raise NotAllowed("only an admin may do this")
        if by.username == username:
            raise NotAllowed("another admin must do this")

    def wrap_legacy_hashes(self) -> int:
        """Key every unkeyed PIN hash with the pepper (no PIN needed); how many."""
        if self.pepper is None:
            return 0
        pepper = self.pepper

        def write(s) -> int:
            rows = s.scalars(select(Clerk).where(Clerk.pin_hash.like("scrypt$%"))).all()
            for row in rows:
                row.pin_hash = wrap_hash(row.pin_hash, pepper)
            if rows:
                self._audit_row(s, "clerk.pin_hashes_keyed", detail=f"{len(rows)} accounts")
            return len(rows)

        return self.store.write_sync(write)

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
