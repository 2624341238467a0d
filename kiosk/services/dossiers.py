"""Confirming a dossier: one transaction, after which it survives a crash or a power cut.

The portal request body (DossierIn of the contract) is serialised here, once, and kept
encrypted with the dossier; the outbox sends exactly those bytes on every attempt.
Attachment files are encrypted, written and fsynced (file and folder) before the
transaction that names them commits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from kiosk.files import fsync_dir
from kiosk.services.crypto import DataCipher, DataKeyError
from kiosk.services.models import QUEUED, Attachment, Counter, Dossier, NameToken
from kiosk.services.receipt_code import make_code
from kiosk.services.store import Store
from kiosk.services.text import nfc

APPLICANT_CTX = "dossiers.applicant"
ANSWERS_CTX = "dossiers.answers"
BODY_CTX = "dossiers.body"
FILE_CTX = "attachments.file"


def row_ctx(base: str, identity: str) -> str:
    """Associated data of one value: table, column and the row's stable identity (a
    dossier's client_ref, an attachment's sha256), so a ciphertext moved to another row
    fails to decrypt instead of showing another citizen's data."""
    if not identity:
        raise ValueError("a row identity is needed to bind a ciphertext")
    return f"{base}|{identity}"


def attachment_file_name(sha256: str) -> str:
    """A new attachment file's name: the content hash it is bound to, and a random part."""
    return f"{sha256}-{uuid.uuid4().hex[:16]}.bin"


def sha_of_file_name(name: str) -> str | None:
    head = name.split("-", 1)[0]
    if len(head) == 64 and all(c in "0123456789abcdef" for c in head):
        return head
    return None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, with a Z: the form the contract uses everywhere."""
    return moment.replace(microsecond=0).isoformat() + "Z"


@dataclass
class Applicant:
    id_number: str
    full_name: str
    date_of_birth: date
    sex: str | None = None
    address: str | None = None
    old_id_number: str | None = None
    phone: str | None = None
    id_source: str = "qr_scan"  # qr_scan | manual | chip
    # Contract 1.1: {level, unverified_reason, chip_sod_sha256, checked_by}; None = QR/manual.
    identity_assurance: dict[str, Any] | None = None

    @classmethod
    def from_card(cls, citizen) -> Applicant:
        """The applicant a card's QR code names (kiosk.services.cccd.Citizen)."""
        return cls(
            id_number=citizen.id_number,
            full_name=citizen.full_name,
            date_of_birth=citizen.date_of_birth,
            sex=citizen.sex,
            address=citizen.address,
            old_id_number=citizen.old_id_number,
            id_source="qr_scan",
        )

    def to_contract(self) -> dict[str, Any]:
        return {
            "id_number": self.id_number,
            "old_id_number": self.old_id_number or None,
            "full_name": nfc(self.full_name),
            "date_of_birth": self.date_of_birth.isoformat(),
            **({"sex": self.sex} if self.sex else {}),
            **({"address": nfc(self.address)} if self.address else {}),
            "phone": self.phone or None,
            "id_source": self.id_source,
            **(
                {"identity_assurance": dict(self.identity_assurance)}
                if self.identity_assurance
                else {}
            ),
        }

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Applicant:
        return cls(
            id_number=data["id_number"],
            full_name=data["full_name"],
            date_of_birth=date.fromisoformat(data["date_of_birth"]),
            sex=data.get("sex"),
            address=data.get("address"),
            old_id_number=data.get("old_id_number"),
            phone=data.get("phone"),
            id_source=data.get("id_source", "qr_scan"),
            identity_assurance=data.get("identity_assurance"),
        )


@dataclass
class AttachmentDraft:
    document_key: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class DossierDraft:
    procedure_code: str
    procedure_version: int
    language: str
    applicant: Applicant
    fields: dict[str, Any]
    consent_version: str
    consent_given_at: datetime
    attachments: list[AttachmentDraft] = field(default_factory=list)
    assisted_by: str | None = None


@dataclass(frozen=True)
class Confirmed:
    id: int
    client_ref: str
    receipt_code: str
    confirmed_at: datetime


def serialise_body(
    draft: DossierDraft, client_ref: str, kiosk_id: str, confirmed_at: datetime
) -> bytes:
    body = {
        "client_ref": client_ref,
        "kiosk_id": kiosk_id,
        "procedure_code": draft.procedure_code,
        "procedure_version": draft.procedure_version,
        "submitted_at": rfc3339(confirmed_at),
        "language": draft.language,
        "assisted_by": draft.assisted_by,
        "applicant": draft.applicant.to_contract(),
        "fields": {k: nfc(v) if isinstance(v, str) else v for k, v in draft.fields.items()},
        "attachments": [
            {
                "sha256": a.sha256,
                "content_type": a.content_type,
                "size": len(a.data),
                "document_key": a.document_key,
            }
            for a in draft.attachments
        ],
        "consent": {
            "given_at": rfc3339(draft.consent_given_at),
            "text_version": draft.consent_version,
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def next_value(session: Session, name: str) -> int:
    """Increment a shared counter; the row lock serialises machines on PostgreSQL."""
    row = session.execute(
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar_one_or_none()
    if row is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return int(row)


def write_attachment_file(folder: Path, cipher: DataCipher, att: AttachmentDraft) -> str:
    """Encrypt and write one attachment durably; named by its content hash and a random
    part (nothing personal), bound to that hash."""
    sha = att.sha256
    return write_encrypted_file(
        folder, attachment_file_name(sha), cipher.encrypt(att.data, row_ctx(FILE_CTX, sha))
    )


def write_encrypted_file(folder: Path, name: str, blob: bytes) -> str:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only, like its files
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)  # a partial file (disk full) goes at once
        raise
    os.close(fd)
    return name


def read_attachment_file(
    folder: Path, cipher: DataCipher, name: str, sha256: str | None = None
) -> bytes:
    """An attachment's content. Bound to its sha256 (given, or carried in its name); a
    file that is not the row's (swapped, replaced) raises DataKeyError."""
    sha = sha256 or sha_of_file_name(name)
    if sha is None:
        raise DataKeyError(f"attachment file {name} is not bound to a content hash")
    data = cipher.decrypt((folder / name).read_bytes(), row_ctx(FILE_CTX, sha))
    if hashlib.sha256(data).hexdigest() != sha:
        raise DataKeyError(f"attachment file {name} does not hold the recorded content")
    return data


class DossierService:
    def __init__(
        self,
        store: Store,
        cipher: DataCipher,
        kiosk_id: str,
        receipt_prefix: str,
        attachments_dir: Path,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.kiosk_id = kiosk_id
        self.receipt_prefix = receipt_prefix
        self.attachments_dir = attachments_dir
        # Seconds to add to this machine's clock for the true time (learnt from the
        # portal's /health): after a power cut resets the PC clock, submitted_at stays true.
        self.clock_offset: Callable[[], float] = lambda: 0.0

    def confirm(self, draft: DossierDraft) -> Confirmed:
        """Save the dossier to the outbox; when this returns, it is on disk for good.

        When it fails (a full disk at any step, the commit itself), the attachment files
        it wrote are removed at once: no encrypted copy of the citizen's papers is left
        behind for the orphan sweep a day later."""
        written: list[str] = []
        future = self.store.write(lambda s: self._confirm(s, draft, written))
        try:
            return future.result(60)
        except BaseException:
            # Only once the writer has given up (rolled back): a confirm still running
            # may yet commit and keeps its files.
            if future.done() and future.exception() is not None:
                for name in written:
                    with contextlib.suppress(OSError):  # else the orphan sweep takes it
                        (self.attachments_dir / name).unlink(missing_ok=True)
            raise

    def _confirm(
        self, session: Session, draft: DossierDraft, written: list[str] | None = None
    ) -> Confirmed:
        written = [] if written is None else written
        for a in draft.attachments:
            written.append(write_attachment_file(self.attachments_dir, self.cipher, a))
        files = list(written)
        if files:
            fsync_dir(self.attachments_dir)
        confirmed_at = (utcnow() + timedelta(seconds=self.clock_offset())).replace(microsecond=0)
        client_ref = str(uuid.uuid4())
        seq = next_value(session, f"receipt:{self.receipt_prefix}")
        code = make_code(self.receipt_prefix, seq)
        body = serialise_body(draft, client_ref, self.kiosk_id, confirmed_at)
        applicant = draft.applicant.to_contract()
        c = self.cipher
        dossier = Dossier(
            client_ref=client_ref,
            receipt_code=code,
            kiosk_id=self.kiosk_id,
            procedure_code=draft.procedure_code,
            procedure_version=draft.procedure_version,
            language=draft.language,
            assisted_by=draft.assisted_by,
            confirmed_at=confirmed_at,
            consent_version=draft.consent_version,
            consent_given_at=draft.consent_given_at,
            id_source=draft.applicant.id_source,
            applicant_enc=c.encrypt_json(applicant, row_ctx(APPLICANT_CTX, client_ref)),
            answers_enc=c.encrypt_json(draft.fields, row_ctx(ANSWERS_CTX, client_ref)),
            body_enc=c.encrypt(body, row_ctx(BODY_CTX, client_ref)),
            body_sha256=hashlib.sha256(body).hexdigest(),
            id_index=c.id_index(draft.applicant.id_number),
            state=QUEUED,
            next_attempt_at=confirmed_at,
            waiting_since=confirmed_at,
            attempt_count=0,
        )
        dossier.attachments = [
            Attachment(
                document_key=a.document_key,
                sha256=a.sha256,
                content_type=a.content_type,
                size=len(a.data),
                file_name=name,
            )
            for a, name in zip(draft.attachments, files, strict=True)
        ]
        session.add(dossier)
        session.flush()
        session.add_all(
            NameToken(dossier_id=dossier.id, token_index=t)
            for t in c.name_indexes(draft.applicant.full_name)
        )
        return Confirmed(dossier.id, client_ref, code, confirmed_at)

    # Reading back ---------------------------------------------------------------
    def applicant(self, dossier: Dossier) -> Applicant | None:
        if dossier.applicant_enc is None:
            return None
        return Applicant.from_contract(
            self.cipher.decrypt_json(
                dossier.applicant_enc, row_ctx(APPLICANT_CTX, dossier.client_ref)
            )
        )

    def answers(self, dossier: Dossier) -> dict[str, Any]:
        if dossier.answers_enc is None:
            return {}
        return self.cipher.decrypt_json(
            dossier.answers_enc, row_ctx(ANSWERS_CTX, dossier.client_ref)
        )

    def body(self, dossier: Dossier) -> bytes:
        return self.cipher.decrypt(dossier.body_enc, row_ctx(BODY_CTX, dossier.client_ref))

    def get(self, dossier_id: int) -> Dossier | None:
        return self._one(Dossier.id == dossier_id)

    def by_receipt_code(self, code: str) -> Dossier | None:
        return self._one(Dossier.receipt_code == code)

    def _one(self, where) -> Dossier | None:
        """A dossier with its attachments and attempts loaded, usable after the session."""
        stmt = (
            select(Dossier)
            .where(where)
            .options(selectinload(Dossier.attachments), selectinload(Dossier.attempts))
        )
        return self.store.read(lambda s: s.scalars(stmt).first())
