"""Data protection: retention purge, a citizen's access and deletion requests, key rotation.

- `purge_expired`: a delivered dossier keeps its personal data `retention_days` after
  delivery (for status look-ups, reprints and complaints), then loses it: the encrypted
  applicant, answers and frozen body, the ID blind index, the name tokens, attachment rows
  and files, the portal's free-text message and the receipt PDFs of the demo printer go.
  What is left (receipt code, procedure, dates, state, portal codes) holds nothing personal
  and keeps statistics and status look-up by receipt code working.
- `export_citizen`: everything held about one ID number, decrypted (access request).
- `erase_citizen`: the same purge now, on request. A dossier not yet delivered is refused
  unless the request explicitly withdraws it (it will then never reach the portal); one
  being sent at this moment is always refused.
- `rotate_key` / `reencrypt` / `drop_old_keys`: a new data key, every encrypted column and
  attachment file re-encrypted in batches on the writer, then the old key removed. The
  blind-index key stays, so search keeps working.

Every write goes through `Store.write_sync` (the one writer). Callers audit.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, selectinload

from kiosk.files import fsync_dir, write_atomic
from kiosk.services.crypto import MAGIC, DataCipher, DataKeyError, KeyRing, write_private
from kiosk.services.datakey import record_check
from kiosk.services.dossiers import (
    ANSWERS_CTX,
    APPLICANT_CTX,
    BODY_CTX,
    FILE_CTX,
    DossierService,
    row_ctx,
    sha_of_file_name,
    utcnow,
)
from kiosk.services.models import (
    AUTH_BLOCKED,
    DELIVERED,
    HANDLED,
    NEEDS_CLERK,
    QUEUED,
    SENDING,
    Attachment,
    Dossier,
    NameToken,
)
from kiosk.services.store import Store

log = logging.getLogger(__name__)

ENCRYPTED_COLUMNS = (
    ("applicant_enc", APPLICANT_CTX),
    ("answers_enc", ANSWERS_CTX),
    ("body_enc", BODY_CTX),
)
TERMINAL = (DELIVERED, HANDLED)
WITHDRAWABLE = (QUEUED, NEEDS_CLERK, AUTH_BLOCKED)
ORPHAN_GRACE_S = 86400  # a file younger than this may belong to a confirm in progress


class PrivacyError(Exception):
    """A request that was refused; `detail` is plain English for the admin."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class PurgeResult:
    dossiers: list[str] = field(default_factory=list)  # receipt codes purged
    files_removed: int = 0
    receipts_removed: int = 0

    @property
    def count(self) -> int:
        return len(self.dossiers)


# --- purging ------------------------------------------------------------------------------


def _clear(session: Session, dossier: Dossier, now: datetime) -> list[str]:
    """Drop the personal data of one dossier in this transaction; its file names."""
    files = [a.file_name for a in dossier.attachments]
    dossier.applicant_enc = None
    dossier.answers_enc = None
    dossier.body_enc = None
    dossier.id_index = None
    dossier.field_errors = None
    dossier.portal_message = None  # free text from the office, may name the citizen
    dossier.purged_at = now
    dossier.attachments.clear()
    session.execute(delete(NameToken).where(NameToken.dossier_id == dossier.id))
    return files


def _secure_delete(session: Session) -> None:
    # SQLite keeps deleted bytes in free pages unless told to overwrite them.
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")


def _remove_files(folder: Path, names: list[str]) -> int:
    removed = 0
    for name in names:
        try:
            (folder / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    if removed:
        with contextlib.suppress(OSError):
            fsync_dir(folder)
    return removed


def _remove_receipts(folder: Path | None, codes: list[str]) -> int:
    """Receipt PDFs the PDF-folder printer kept for these dossiers (demo/test printer)."""
    if folder is None or not folder.is_dir() or not codes:
        return 0
    removed = 0
    for path in folder.glob("*.pdf"):
        # The printer names each file after its job, the receipt code.
        if any(code in path.name for code in codes):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def checkpoint(store: Store) -> None:
    """Fold the SQLite WAL into the database file and empty it (old page images go)."""
    if not store.is_sqlite:
        return
    # Outside any transaction (a checkpoint cannot run inside one); SQLite's own locks
    # and the busy timeout serialise it with the writer.
    raw = store.write_engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.fetchall()
        cur.close()
    finally:
        raw.close()


def purge_dossiers(
    store: Store,
    attachments_dir: Path,
    where: Any,
    now: datetime,
    receipts_dir: Path | None = None,
    batch: int = 200,
) -> PurgeResult:
    result = PurgeResult()
    while True:

        def write(s: Session) -> tuple[list[str], list[str]]:
            _secure_delete(s)
            rows = s.scalars(
                select(Dossier)
                .where(where, Dossier.purged_at.is_(None))
                .options(selectinload(Dossier.attachments))
                .order_by(Dossier.id)
                .limit(batch)
            ).all()
            files: list[str] = []
            for d in rows:
                files += _clear(s, d, now)
            return [d.receipt_code for d in rows], files

        codes, files = store.write_sync(write)
        # Files go after the commit: a crash in between leaves an orphan file, which the
        # next purge's sweep removes, never a row naming a missing file.
        result.files_removed += _remove_files(attachments_dir, files)
        result.receipts_removed += _remove_receipts(receipts_dir, codes)
        result.dossiers += codes
        if len(codes) < batch:
            break
    if result.dossiers:
        checkpoint(store)
    return result


def purge_expired(
    store: Store,
    attachments_dir: Path,
    retention_days: int,
    now: datetime | None = None,
    receipts_dir: Path | None = None,
    batch: int = 200,
) -> PurgeResult:
    """Purge dossiers delivered (or closed by a clerk) more than retention_days ago."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    where = or_(
        (Dossier.state == DELIVERED) & (Dossier.delivered_at < cutoff),
        # A dossier a clerk closed by hand has no delivery time: count from confirmation.
        (Dossier.state == HANDLED) & (Dossier.confirmed_at < cutoff),
    )
    result = purge_dossiers(store, attachments_dir, where, now, receipts_dir, batch)
    result.files_removed += sweep_orphan_files(store, attachments_dir)
    if result.count:
        log.info("retention purge: %d dossiers, %d files", result.count, result.files_removed)
    return result


def sweep_orphan_files(store: Store, attachments_dir: Path, grace_s: float = ORPHAN_GRACE_S) -> int:
    """Attachment files no row names (a purge or delete that crashed after its commit)."""
    if not attachments_dir.is_dir():
        return 0
    known = set(store.read(lambda s: s.scalars(select(Attachment.file_name)).all()))
    limit = datetime.now().timestamp() - grace_s
    orphans = [
        p.name
        for p in attachments_dir.glob("*.bin")
        if p.name not in known and p.stat().st_mtime < limit
    ]
    return _remove_files(attachments_dir, orphans)


# --- a citizen's requests -------------------------------------------------------------------


def citizen_filter(store: Store, cipher: DataCipher, id_number: str) -> Any:
    """The dossiers of one citizen, by a 12-digit ID number (its blind index) or an old
    9-digit one. The old number has no index: the not-yet-purged dossiers are decrypted
    one by one (a kiosk holds thousands, not millions), and every dossier of the 12-digit
    numbers found is included too."""
    number = id_number.strip()
    if len(number) != 9:
        return Dossier.id_index == cipher.id_index(number)
    found: set[str] = set()
    rows = store.read(
        lambda s: s.execute(
            select(Dossier.client_ref, Dossier.applicant_enc, Dossier.id_index).where(
                Dossier.applicant_enc.is_not(None)
            )
        ).all()
    )
    for client_ref, blob, index in rows:
        try:
            applicant = cipher.decrypt_json(blob, row_ctx(APPLICANT_CTX, client_ref))
        except DataKeyError:
            continue  # reported where it is read; never matched
        if isinstance(applicant, dict) and applicant.get("old_id_number") == number:
            found.add(index)
    return Dossier.id_index.in_(sorted(i for i in found if i))


def dossiers_of(store: Store, cipher: DataCipher, id_number: str) -> list[Dossier]:
    stmt = (
        select(Dossier)
        .where(citizen_filter(store, cipher, id_number))
        .options(selectinload(Dossier.attachments))
        .order_by(Dossier.id)
    )
    return store.read(lambda s: list(s.scalars(stmt)))


def export_citizen(
    dossiers: DossierService, id_number: str, with_files: bool = True
) -> dict[str, Any]:
    """Everything this kiosk holds about one ID number, decrypted (JSON-ready)."""
    out = []
    for d in dossiers_of(dossiers.store, dossiers.cipher, id_number):
        try:
            item = _export_one(dossiers, d, with_files)
        except (DataKeyError, OSError) as exc:
            # A value that does not open as this row's (moved from another dossier,
            # damaged): reported, never shown, so nobody gets another citizen's data.
            log.error("export: dossier %s does not open (%s)", d.receipt_code, exc)
            item = {
                "receipt_code": d.receipt_code,
                "procedure_code": d.procedure_code,
                "state": d.state,
                "error": "unreadable: the stored data does not open as this dossier's",
            }
        out.append(item)
    return {"format": 1, "exported_at": utcnow().isoformat() + "Z", "dossiers": out}


def _export_one(dossiers: DossierService, d: Dossier, with_files: bool) -> dict[str, Any]:
    applicant = dossiers.applicant(d)
    item: dict[str, Any] = {
        "receipt_code": d.receipt_code,
        "procedure_code": d.procedure_code,
        "procedure_version": d.procedure_version,
        "language": d.language,
        "confirmed_at": d.confirmed_at.isoformat() + "Z",
        "consent_version": d.consent_version,
        "consent_given_at": d.consent_given_at.isoformat() + "Z",
        "state": d.state,
        "dossier_code": d.dossier_code,
        "delivered_at": d.delivered_at.isoformat() + "Z" if d.delivered_at else None,
        "portal_status": d.portal_status,
        "applicant": applicant.to_contract() if applicant else None,
        "answers": dossiers.answers(d),
        "attachments": [],
    }
    for a in d.attachments:
        entry: dict[str, Any] = {
            "document_key": a.document_key,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
        }
        if with_files:
            from kiosk.services.dossiers import read_attachment_file

            data = read_attachment_file(
                dossiers.attachments_dir, dossiers.cipher, a.file_name, a.sha256
            )
            entry["data_base64"] = base64.b64encode(data).decode("ascii")
        item["attachments"].append(entry)
    return item


def write_export(path: Path, data: dict[str, Any]) -> None:
    import json

    write_private(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


@dataclass
class EraseResult:
    purged: list[str] = field(default_factory=list)  # receipt codes
    withdrawn: list[str] = field(default_factory=list)  # never delivered, now never will be
    files_removed: int = 0


def erase_citizen(
    store: Store,
    cipher: DataCipher,
    attachments_dir: Path,
    id_number: str,
    withdraw_undelivered: bool = False,
    receipts_dir: Path | None = None,
    now: datetime | None = None,
) -> EraseResult:
    """Purge every dossier of this ID number now (a deletion request).

    Refused (PrivacyError, nothing changed) when a dossier is being sent right now, or
    when one is not delivered yet and `withdraw_undelivered` is not set.
    """
    now = now or utcnow()
    where = citizen_filter(store, cipher, id_number)

    def write(s: Session) -> tuple[list[str], list[str], list[str]]:
        _secure_delete(s)
        rows = s.scalars(
            select(Dossier).where(where).options(selectinload(Dossier.attachments))
        ).all()
        sending = [d.receipt_code for d in rows if d.state == SENDING]
        if sending:
            raise PrivacyError(
                f"{len(sending)} dossier(s) are being sent right now "
                f"({', '.join(sending)}); try again in a few minutes"
            )
        pending = [d for d in rows if d.state in WITHDRAWABLE]
        if pending and not withdraw_undelivered:
            raise PrivacyError(
                f"{len(pending)} dossier(s) are not delivered yet "
                f"({', '.join(d.receipt_code for d in pending)}): erasing them withdraws the "
                "application; repeat with --withdraw-undelivered to confirm"
            )
        files: list[str] = []
        withdrawn = []
        for d in rows:
            if d.state in WITHDRAWABLE:
                d.state = HANDLED
                d.next_attempt_at = None
                d.last_error = "withdrawn: personal data erased at the citizen's request"
                withdrawn.append(d.receipt_code)
            files += _clear(s, d, now)
        return [d.receipt_code for d in rows], withdrawn, files

    codes, withdrawn, files = store.write_sync(write)
    result = EraseResult(codes, withdrawn)
    result.files_removed = _remove_files(attachments_dir, files)
    _remove_receipts(receipts_dir, codes)
    if codes:
        checkpoint(store)
    return result


# --- key rotation ---------------------------------------------------------------------------


@dataclass
class RotateResult:
    new_key_id: int
    values: int = 0  # encrypted column values re-encrypted
    files: int = 0
    dropped: list[int] = field(default_factory=list)


def _key_id(blob: bytes) -> int | None:
    return int.from_bytes(blob[2:4], "big") if blob[:2] == MAGIC and len(blob) > 4 else None


def reencrypt(
    store: Store,
    cipher: DataCipher,
    attachments_dir: Path,
    batch: int = 100,
    progress: Callable[[str, int], None] | None = None,
) -> RotateResult:
    """Re-encrypt every value and attachment file not under the current key, in batches."""
    current = cipher.ring.current
    result = RotateResult(current)
    last_id = 0
    while True:

        def write(s: Session, after: int = last_id) -> tuple[int, int]:
            rows = s.scalars(
                select(Dossier).where(Dossier.id > after).order_by(Dossier.id).limit(batch)
            ).all()
            changed = 0
            for d in rows:
                for column, context in ENCRYPTED_COLUMNS:
                    blob = getattr(d, column)
                    if blob is not None and _key_id(blob) != current:
                        ctx = row_ctx(context, d.client_ref)
                        setattr(d, column, cipher.reencrypt(blob, ctx, cipher))
                        changed += 1
            return (rows[-1].id if rows else after), changed if rows else -1

        last_id, changed = store.write_sync(write)
        if changed < 0:
            break
        result.values += changed
        if progress:
            progress("values", result.values)
    if attachments_dir.is_dir():
        rows = store.read(
            lambda s: s.execute(select(Attachment.file_name, Attachment.sha256)).all()
        )
        for name, sha in rows:
            path = attachments_dir / name
            if not path.exists():
                continue
            blob = path.read_bytes()
            if _key_id(blob) == current:
                continue
            ctx = row_ctx(FILE_CTX, sha_of_file_name(name) or sha)
            _replace_file(path, cipher.reencrypt(blob, ctx, cipher))
            result.files += 1
            if progress and result.files % batch == 0:
                progress("files", result.files)
        if result.files:
            with contextlib.suppress(OSError):  # not possible on every platform
                fsync_dir(attachments_dir)
    return result


def _replace_file(path: Path, data: bytes) -> None:
    write_atomic(path, data, sync_dir=False)  # the caller syncs the folder once


def keys_in_use(store: Store, attachments_dir: Path) -> set[int]:
    """Key ids found in the database's encrypted columns and this machine's files."""
    used: set[int] = set()
    columns = [getattr(Dossier, c) for c, _ in ENCRYPTED_COLUMNS]
    for column in columns:
        # The key id sits in bytes 3-4 of every value; reading whole blobs is fine at
        # a kiosk's size and works the same on SQLite and PostgreSQL.
        blobs = store.read(lambda s, c=column: s.scalars(select(c).where(c.is_not(None))).all())
        used |= {k for b in blobs if (k := _key_id(b)) is not None}
    if attachments_dir.is_dir():
        names = store.read(lambda s: s.scalars(select(Attachment.file_name)).all())
        for name in names:
            path = attachments_dir / name
            if path.exists():
                with open(path, "rb") as fh:
                    k = _key_id(fh.read(4))
                if k is not None:
                    used.add(k)
    return used


def drop_old_keys(
    store: Store, cipher: DataCipher, attachments_dir: Path, key_path: Path
) -> list[int]:
    """Remove every key but the current one from the key file, once nothing uses them."""
    ring = cipher.ring
    old = sorted(k for k in ring.keys if k != ring.current)
    if not old:
        return []
    still = keys_in_use(store, attachments_dir) - {ring.current}
    if still:
        raise PrivacyError(
            f"data still encrypted with key(s) {sorted(still)}: run the "
            "re-encryption first (on every machine that holds attachment files)"
        )
    new_ring = KeyRing({ring.current: ring.keys[ring.current]}, ring.current, ring.index_key)
    write_private(key_path, new_ring.to_json().encode("ascii"))
    cipher.__init__(new_ring)  # the caller's cipher no longer knows the dropped keys
    record_check(store, cipher)
    return old


def rotate_key(
    store: Store,
    cipher: DataCipher,
    attachments_dir: Path,
    key_path: Path,
    drop_old: bool = True,
    batch: int = 100,
    progress: Callable[[str, int], None] | None = None,
) -> RotateResult:
    """New data key; re-encrypt everything under it; then (drop_old) forget the old keys.

    The key file is rewritten with old and new keys BEFORE any data changes, so a crash at
    any point leaves a key file that opens everything; running again finishes the job.
    """
    new_ring = cipher.rotate()
    write_private(key_path, new_ring.to_json().encode("ascii"))
    cipher.__init__(new_ring)
    record_check(store, cipher)  # the database now expects the new key file
    result = reencrypt(store, cipher, attachments_dir, batch, progress)
    if drop_old:
        result.dropped = drop_old_keys(store, cipher, attachments_dir, key_path)
    checkpoint(store)  # old ciphertext pages leave the WAL
    return result


def scheduled_purge(
    store: Store,
    attachments_dir: Path,
    retention_days: int,
    receipts_dir: Path | None,
    machine: str,
) -> PurgeResult:
    """The daily purge the running kiosk does, audited when it removed anything."""
    from kiosk.services.clerks import ClerkService

    result = purge_expired(store, attachments_dir, retention_days, receipts_dir=receipts_dir)
    if result.count:
        ClerkService(store, machine).audit(
            None,
            "privacy.purge",
            detail=f"{result.count} dossiers past {retention_days} days after delivery",
        )
    return result
