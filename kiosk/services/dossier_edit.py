"""What a clerk does to one dossier: look at it, retry it, reprint, correct and resubmit,
close it by hand. Every action is audited with the dossier id in the same transaction
as the change (the audit entry never holds personal data: field names, not values).

- `retry_now`: a queued or auth_blocked dossier is set to state 'queued' with
  next_attempt_at = now, so the outbox worker picks it up on its next pass. A
  needs_clerk dossier is not retried unchanged (the portal refused that body for good):
  correct it with `resubmit` or close it with `mark_handled`.
- `resubmit` (needs_clerk only): the clerk's corrected values are checked with the
  catalogue's `validate_value`, then the request body is frozen again with
  `dossiers.serialise_body`: the SAME client_ref, receipt code and submitted_at (the
  moment the citizen confirmed), the current catalogue version of the procedure, the
  same attachments (re-read and checked against their sha256). Applicant, answers and
  body are re-encrypted, body_sha256, the ID blind index and the name tokens recomputed,
  field_errors cleared, state 'queued', next_attempt_at now, attempt_count 0 — all in
  one writer transaction. The contract allows this: a 400/413/415/422 answer stored
  nothing at the portal, so the corrected body may be sent with the same client_ref.
- `mark_handled` (needs_clerk only): state 'handled'; the outbox no longer sends it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from kiosk.hardware.printers import PrinterError
from kiosk.services import catalogue as cat
from kiosk.services.catalogue import Catalogue
from kiosk.services.clerks import ClerkInfo
from kiosk.services.crypto import DataKeyError
from kiosk.services.dossiers import (
    ANSWERS_CTX,
    APPLICANT_CTX,
    BODY_CTX,
    Applicant,
    AttachmentDraft,
    DossierDraft,
    DossierService,
    read_attachment_file,
    row_ctx,
    serialise_body,
    utcnow,
)
from kiosk.services.models import (
    AUTH_BLOCKED,
    HANDLED,
    NEEDS_CLERK,
    QUEUED,
    AuditEntry,
    Clerk,
    Dossier,
    NameToken,
    ReceiptPrint,
)
from kiosk.services.text import nfc

log = logging.getLogger(__name__)

RETRYABLE = (QUEUED, AUTH_BLOCKED)

# The applicant's details a clerk may correct, checked like the citizen's manual entry.
APPLICANT_FIELDS: tuple[cat.Field, ...] = (
    cat.Field("full_name", "text", True, {"vi": "Họ và tên", "en": "Full name"}, max_length=100),
    cat.Field("id_number", "id_number", True, {"vi": "Số định danh cá nhân", "en": "ID number"}),
    cat.Field(
        "date_of_birth", "date", True, {"vi": "Ngày sinh", "en": "Date of birth"}, max_today=True
    ),
    cat.Field("address", "text", False, {"vi": "Nơi thường trú", "en": "Address"}),
    cat.Field("phone", "phone", False, {"vi": "Số điện thoại", "en": "Phone number"}),
)


class EditError(Exception):
    """`key`: translation key for the clerk's screen; `detail`: plain English for the log."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class AttemptLine:
    at: datetime
    outcome: str
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class PrintLine:
    at: datetime
    ok: bool
    printer: str
    error: str | None
    clerk: str | None


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    action: str
    clerk: str | None
    detail: str | None


@dataclass(frozen=True)
class AttachmentLine:
    document_key: str
    content_type: str
    size: int
    uploaded: bool


@dataclass
class DossierDetail:
    """Everything the clerk's detail view shows about one dossier (decrypted)."""

    id: int
    receipt_code: str
    client_ref: str
    state: str
    procedure_code: str
    procedure_version: int
    language: str
    confirmed_at: datetime
    assisted_by: str | None
    receipt_printed: bool
    dossier_code: str | None
    next_attempt_at: datetime | None
    attempt_count: int
    last_error: str | None
    applicant: Applicant | None
    answers: dict[str, Any]
    field_errors: list[dict[str, str]]
    attachments: list[AttachmentLine]
    attempts: list[AttemptLine]
    prints: list[PrintLine]
    audit: list[AuditLine]

    @property
    def editable(self) -> bool:
        return self.state == NEEDS_CLERK and self.applicant is not None

    @property
    def retryable(self) -> bool:
        return self.state in RETRYABLE


@dataclass
class Checked:
    """The clerk's values after `validate_value`; `errors` maps a field path to a tr key."""

    applicant: Applicant | None
    fields: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_field_errors(text: str | None) -> list[dict[str, str]]:
    """The portal's [{field, message}] (or {"details": [...]}) as a list; never raises."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [{"field": "", "message": text}]
    if isinstance(data, dict):
        data = data.get("details") or ([data] if "field" in data else [])
    if not isinstance(data, list):
        return []
    return [
        {"field": str(d.get("field", "")), "message": str(d.get("message", ""))}
        for d in data
        if isinstance(d, dict)
    ]


def _audit(
    session: Session,
    clerk: ClerkInfo | None,
    action: str,
    dossier_id: int,
    detail: str | None,
    machine: str,
) -> None:
    # Same row ClerkService.audit writes, but inside the change's own transaction.
    session.add(
        AuditEntry(
            at=utcnow(),
            clerk_id=clerk.id if clerk else None,
            action=action,
            dossier_id=dossier_id,
            detail=detail,
            machine=machine,
        )
    )


def _locked_row(session: Session, dossier_id: int) -> Dossier:
    row = session.get(Dossier, dossier_id, with_for_update=True)
    if row is None:
        raise EditError("clerk.dossier.err.gone", f"no dossier {dossier_id}")
    return row


class DossierEditor:
    def __init__(self, dossiers: DossierService, catalogue: Catalogue, machine: str = "") -> None:
        self.dossiers = dossiers
        self.store = dossiers.store
        self.cipher = dossiers.cipher
        self.catalogue = catalogue
        self.machine = machine

    # Reading ----------------------------------------------------------------
    def detail(self, dossier_id: int) -> DossierDetail:
        def read(s: Session) -> DossierDetail:
            row = s.scalars(
                select(Dossier)
                .where(Dossier.id == dossier_id)
                .options(selectinload(Dossier.attachments), selectinload(Dossier.attempts))
            ).first()
            if row is None:
                raise EditError("clerk.dossier.err.gone", f"no dossier {dossier_id}")
            prints = s.execute(
                select(ReceiptPrint, Clerk.username)
                .outerjoin(Clerk, Clerk.id == ReceiptPrint.clerk_id)
                .where(ReceiptPrint.dossier_id == dossier_id)
                .order_by(ReceiptPrint.id)
            ).all()
            audit = s.execute(
                select(AuditEntry, Clerk.username)
                .outerjoin(Clerk, Clerk.id == AuditEntry.clerk_id)
                .where(AuditEntry.dossier_id == dossier_id)
                .order_by(AuditEntry.id)
            ).all()
            return DossierDetail(
                id=row.id,
                receipt_code=row.receipt_code,
                client_ref=row.client_ref,
                state=row.state,
                procedure_code=row.procedure_code,
                procedure_version=row.procedure_version,
                language=row.language,
                confirmed_at=row.confirmed_at,
                assisted_by=row.assisted_by,
                receipt_printed=bool(row.receipt_printed),
                dossier_code=row.dossier_code,
                next_attempt_at=row.next_attempt_at,
                attempt_count=int(row.attempt_count or 0),
                last_error=row.last_error,
                applicant=self.dossiers.applicant(row),
                answers=self.dossiers.answers(row),
                field_errors=parse_field_errors(row.field_errors),
                attachments=[
                    AttachmentLine(a.document_key, a.content_type, int(a.size), bool(a.uploaded))
                    for a in row.attachments
                ],
                attempts=[
                    AttemptLine(a.at, a.outcome, a.status_code, a.error) for a in row.attempts
                ],
                prints=[
                    PrintLine(p.at, bool(p.ok), p.printer, p.error, user) for p, user in prints
                ],
                audit=[AuditLine(e.at, e.action, user, e.detail) for e, user in audit],
            )

        return self.store.read(read)

    def procedure(self, detail: DossierDetail) -> cat.Procedure | None:
        return self.catalogue.get(detail.procedure_code)

    def raw_values(self, detail: DossierDetail) -> dict[str, str]:
        """The stored values as editable text, keyed 'applicant.x' / 'fields.x'."""
        raw: dict[str, str] = {}
        a = detail.applicant
        if a is not None:
            card = {
                "full_name": a.full_name,
                "id_number": a.id_number,
                "date_of_birth": a.date_of_birth,
                "address": a.address,
                "phone": a.phone,
            }
            for f in APPLICANT_FIELDS:
                raw[f"applicant.{f.key}"] = cat.to_raw_text(f, card.get(f.key))
        proc = self.procedure(detail)
        for f in proc.fields if proc else ():
            raw[f"fields.{f.key}"] = cat.to_raw_text(f, detail.answers.get(f.key))
        return raw

    def check(self, detail: DossierDetail, raw: dict[str, str], lang: str = "vi") -> Checked:
        """Validate every field of the form; nothing is written."""
        proc = self.procedure(detail)
        if proc is None:
            raise EditError(
                "clerk.dossier.err.no_procedure",
                f"procedure {detail.procedure_code} is not in the catalogue",
            )
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for f in APPLICANT_FIELDS:
            value, error = cat.validate_value(f, raw.get(f"applicant.{f.key}", ""), lang)
            if error:
                errors[f"applicant.{f.key}"] = error
            values[f.key] = value
        fields: dict[str, Any] = {}
        for f in proc.fields:
            value, error = cat.validate_value(f, raw.get(f"fields.{f.key}", ""), lang)
            if error:
                errors[f"fields.{f.key}"] = error
            elif value is not None:
                fields[f.key] = value
        applicant = None
        if not errors and detail.applicant is not None:
            old = detail.applicant
            applicant = Applicant(
                id_number=values["id_number"],
                full_name=values["full_name"],
                date_of_birth=date.fromisoformat(values["date_of_birth"]),
                sex=old.sex,
                address=values["address"],
                old_id_number=old.old_id_number,
                phone=values["phone"],
                id_source=old.id_source,
            )
        return Checked(applicant, fields, errors)

    # Actions ----------------------------------------------------------------
    def resubmit(
        self, dossier_id: int, raw: dict[str, str], clerk: ClerkInfo, lang: str = "vi"
    ) -> Checked:
        """Re-freeze a corrected needs_clerk dossier and queue it; returns the check result
        (nothing is written when it has errors)."""
        detail = self.detail(dossier_id)
        if not detail.editable:
            raise EditError(
                "clerk.dossier.err.not_editable",
                f"dossier {dossier_id} is {detail.state}, not needs_clerk",
            )
        checked = self.check(detail, raw, lang)
        if not checked.ok:
            return checked
        proc = self.procedure(detail)
        attachments = self._attachments(dossier_id)
        changed = sorted(
            k for k, v in self.raw_values(detail).items() if nfc(raw.get(k, "")).strip() != v
        )

        def write(s: Session) -> None:
            row = _locked_row(s, dossier_id)
            if row.state != NEEDS_CLERK:  # the outbox or another clerk moved it meanwhile
                raise EditError(
                    "clerk.dossier.err.not_editable",
                    f"dossier {dossier_id} is {row.state}, not needs_clerk",
                )
            draft = DossierDraft(
                procedure_code=row.procedure_code,
                procedure_version=proc.version,
                language=row.language,
                applicant=checked.applicant,
                fields=checked.fields,
                consent_version=row.consent_version,
                consent_given_at=row.consent_given_at,
                attachments=attachments,
                assisted_by=row.assisted_by,
            )
            body = serialise_body(draft, row.client_ref, row.kiosk_id, row.confirmed_at)
            c, now = self.cipher, utcnow()
            row.procedure_version = proc.version
            ref = row.client_ref
            row.applicant_enc = c.encrypt_json(
                checked.applicant.to_contract(), row_ctx(APPLICANT_CTX, ref)
            )
            row.answers_enc = c.encrypt_json(checked.fields, row_ctx(ANSWERS_CTX, ref))
            row.body_enc = c.encrypt(body, row_ctx(BODY_CTX, ref))
            row.body_sha256 = hashlib.sha256(body).hexdigest()
            row.id_index = c.id_index(checked.applicant.id_number)
            row.field_errors, row.last_error = None, None
            row.state, row.next_attempt_at, row.attempt_count = QUEUED, now, 0
            row.waiting_since = row.waiting_since or now
            row.lease_owner, row.lease_until = None, None
            s.execute(delete(NameToken).where(NameToken.dossier_id == dossier_id))
            s.add_all(
                NameToken(dossier_id=dossier_id, token_index=t)
                for t in c.name_indexes(checked.applicant.full_name)
            )
            _audit(
                s,
                clerk,
                "dossier.resubmit",
                dossier_id,
                "changed: " + (", ".join(changed) or "nothing"),
                self.machine,
            )

        self.store.write_sync(write)
        log.info("dossier %s corrected and queued again", detail.receipt_code)
        return checked

    def _attachments(self, dossier_id: int) -> list[AttachmentDraft]:
        """The dossier's files, read back and checked, so the new body lists the same ones."""
        dossier = self.dossiers.get(dossier_id)
        drafts = []
        for a in dossier.attachments:
            try:
                data = read_attachment_file(self.dossiers.attachments_dir, self.cipher, a.file_name)
            except (OSError, DataKeyError) as exc:
                raise EditError(
                    "clerk.dossier.err.attachment",
                    f"attachment {a.document_key} of dossier {dossier_id} "
                    f"cannot be read ({type(exc).__name__})",
                ) from exc
            draft = AttachmentDraft(a.document_key, a.content_type, data)
            if draft.sha256 != a.sha256:
                raise EditError(
                    "clerk.dossier.err.attachment",
                    f"attachment {a.document_key} of dossier {dossier_id} is damaged",
                )
            drafts.append(draft)
        return drafts

    def retry_now(self, dossier_id: int, clerk: ClerkInfo) -> None:
        def write(s: Session) -> None:
            row = _locked_row(s, dossier_id)
            if row.state not in RETRYABLE:
                raise EditError(
                    "clerk.dossier.err.not_retryable", f"dossier {dossier_id} is {row.state}"
                )
            before = row.state
            row.state, row.next_attempt_at = QUEUED, utcnow()
            _audit(s, clerk, "dossier.retry_now", dossier_id, f"was {before}", self.machine)

        self.store.write_sync(write)

    def mark_handled(self, dossier_id: int, clerk: ClerkInfo) -> None:
        def write(s: Session) -> None:
            row = _locked_row(s, dossier_id)
            if row.state != NEEDS_CLERK:
                raise EditError(
                    "clerk.dossier.err.not_editable",
                    f"dossier {dossier_id} is {row.state}, not needs_clerk",
                )
            row.state, row.next_attempt_at = HANDLED, None
            row.lease_owner, row.lease_until = None, None
            _audit(s, clerk, "dossier.mark_handled", dossier_id, None, self.machine)

        self.store.write_sync(write)

    def reprint(self, receipts, dossier_id: int, clerk: ClerkInfo) -> None:
        """ReceiptService.print_receipt with the clerk's id; audited whatever the outcome.
        Raises the PrinterError when it did not print."""
        try:
            receipts.print_receipt(dossier_id, clerk.id)
        except PrinterError as exc:
            self._audit_only(clerk, "dossier.reprint.failed", dossier_id, exc.detail)
            raise
        self._audit_only(clerk, "dossier.reprint", dossier_id, None)

    def _audit_only(
        self, clerk: ClerkInfo, action: str, dossier_id: int, detail: str | None
    ) -> None:
        self.store.write_sync(lambda s: _audit(s, clerk, action, dossier_id, detail, self.machine))
