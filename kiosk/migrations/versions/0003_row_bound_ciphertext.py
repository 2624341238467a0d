"""ciphertext bound to its row

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 17:30:00

Until now the associated data of an encrypted value was its table and column only
(`dossiers.applicant`), so a value copied from one dossier into another decrypted
without error and showed another citizen's data. From this revision it is table, column
and the row's stable identity: `dossiers.applicant|<client_ref>`,
`attachments.file|<sha256>`. Every existing value is re-encrypted in this one
transaction; attachment files are written under new names (which carry the content
hash), the rows switched over in the same transaction, and the old files removed only
after the commit: a crash at any point leaves a store that reads (before the commit: the
old rows and files, the new files orphans the retention sweep removes; after: the new
ones, the old files orphans).

Re-encrypting needs the data key: the store hands it over (Store(cipher=...)). A
database without encrypted data migrates without it. The key check value is recorded
by the caller once the store is open.
"""

import hashlib
import logging
import os
import uuid
from pathlib import Path

from alembic import context, op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

COLUMNS = (
    ("applicant_enc", "dossiers.applicant"),
    ("answers_enc", "dossiers.answers"),
    ("body_enc", "dossiers.body"),
)
FILE = "attachments.file"


def _bound(base: str, identity: str) -> str:
    return f"{base}|{identity}"


def _write_new(folder: Path, name: str, blob: bytes) -> None:
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _migrate(to_bound: bool) -> None:
    attrs = context.config.attributes
    cipher = attrs.get("cipher")
    folder = attrs.get("attachments_dir")
    after_commit = attrs.get("after_commit")
    conn = op.get_bind()
    rows = conn.execute(
        text(
            "SELECT id, client_ref, applicant_enc, answers_enc, body_enc FROM dossiers "
            "WHERE applicant_enc IS NOT NULL OR answers_enc IS NOT NULL "
            "OR body_enc IS NOT NULL"
        )
    ).all()
    files = conn.execute(text("SELECT id, sha256, file_name FROM attachments")).all()
    if not rows and not files:
        return
    if cipher is None:
        raise RuntimeError(
            "schema 0003 re-encrypts the stored dossiers and needs the data key: open this "
            "data folder with the kiosk (python -m kiosk, or python -m kiosk doctor shows "
            "what is missing) with its keys/data.key in place"
        )

    def ctx(base: str, identity: str) -> str:
        return _bound(base, identity) if to_bound else base

    def old(base: str, identity: str) -> str:
        return base if to_bound else _bound(base, identity)

    for row in rows:
        values = {}
        for (column, base), blob in zip(COLUMNS, row[2:], strict=True):
            if blob is None:
                continue
            plain = cipher.decrypt(bytes(blob), old(base, row.client_ref))
            values[column] = cipher.encrypt(plain, ctx(base, row.client_ref))
        sets = ", ".join(f"{c} = :{c}" for c in values)
        conn.execute(text(f"UPDATE dossiers SET {sets} WHERE id = :id"), {**values, "id": row.id})

    if not files:
        return
    if folder is None:
        raise RuntimeError("schema 0003 re-encrypts attachment files: the folder is needed")
    folder = Path(folder)
    written: list[Path] = []
    replaced: list[Path] = []
    try:
        for att in files:
            path = folder / att.file_name
            if not path.exists():  # a file of another machine of the centre, or lost
                log.warning("attachment %s: file %s not on this machine", att.id, att.file_name)
                continue
            plain = cipher.decrypt(path.read_bytes(), old(FILE, att.sha256))
            if hashlib.sha256(plain).hexdigest() != att.sha256:
                raise RuntimeError(f"attachment {att.id}: file does not hold its recorded content")
            new_name = (
                f"{att.sha256}-{uuid.uuid4().hex[:16]}.bin" if to_bound else f"{uuid.uuid4().hex}.bin"
            )
            _write_new(folder, new_name, cipher.encrypt(plain, ctx(FILE, att.sha256)))
            written.append(folder / new_name)
            replaced.append(path)
            conn.execute(
                text("UPDATE attachments SET file_name = :n WHERE id = :id"),
                {"n": new_name, "id": att.id},
            )
        _fsync_dir(folder)
    except BaseException:
        for path in written:  # the transaction rolls back: the new files are not named
            path.unlink(missing_ok=True)
        raise

    def remove_old() -> None:
        for path in replaced:
            path.unlink(missing_ok=True)
        _fsync_dir(folder)

    if after_commit is not None:
        after_commit.append(remove_old)
    # Without a caller to run it, the old files stay as orphans the retention sweep removes.


def upgrade() -> None:
    _migrate(to_bound=True)


def downgrade() -> None:
    _migrate(to_bound=False)
