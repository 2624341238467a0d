"""DossierIn validation as the reference portal does it: a list of {field, message}.

Field names follow the contract's examples: `applicant.id_number`, `attachments[0].sha256`,
`fields.<key>`, `consent.given_at`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf", "audio/wav", "audio/ogg")

Detail = dict[str, str]


def is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset, or None."""
    if not isinstance(value, str) or not _DATETIME_RE.match(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Collector:
    def __init__(self) -> None:
        self.details: list[Detail] = []

    def add(self, field: str, message: str) -> None:
        self.details.append({"field": field, "message": message})

    def string(
        self,
        obj: dict,
        key: str,
        prefix: str,
        *,
        required: bool,
        nullable: bool = False,
        pattern: re.Pattern[str] | None = None,
        enum: tuple[str, ...] | None = None,
    ) -> None:
        name = prefix + key
        if key not in obj:
            if required:
                self.add(name, "required")
            return
        value = obj[key]
        if value is None and nullable:
            return
        if not isinstance(value, str):
            self.add(name, "must be a string" + (" or null" if nullable else ""))
        elif required and not value.strip():
            self.add(name, "must not be empty")
        elif pattern is not None and not pattern.match(value):
            self.add(name, f"must match {pattern.pattern}")
        elif enum is not None and value not in enum:
            self.add(name, "must be one of " + ", ".join(enum))

    def datetime(self, obj: dict, key: str, prefix: str, *, required: bool) -> None:
        name = prefix + key
        if key not in obj:
            if required:
                self.add(name, "required")
        elif parse_datetime(obj[key]) is None:
            self.add(name, "must be an RFC 3339 date-time with an offset")

    def object(self, obj: dict, key: str, prefix: str = "") -> dict | None:
        if key not in obj:
            self.add(prefix + key, "required")
            return None
        if not isinstance(obj[key], dict):
            self.add(prefix + key, "must be an object")
            return None
        return obj[key]


def validate_dossier(
    doc: Any,
    *,
    kiosk_id: str,
    attachment_size: Callable[[str], int | None],
    procedure: dict | None = None,
) -> list[Detail]:
    """Every problem of one DossierIn body; empty when it is acceptable.

    attachment_size(sha256) gives the stored size of an uploaded attachment or None.
    procedure, when the portal knows the same code and version, checks `fields` values.
    """
    c = _Collector()
    if not isinstance(doc, dict):
        c.add("", "the body must be a JSON object")
        return c.details
    c.string(doc, "client_ref", "", required=True, pattern=UUID_RE)
    c.string(doc, "kiosk_id", "", required=True)
    if isinstance(doc.get("kiosk_id"), str) and doc["kiosk_id"] != kiosk_id:
        c.add("kiosk_id", "must equal the X-Kiosk-Id header")
    c.string(doc, "procedure_code", "", required=True)
    if "procedure_version" not in doc:
        c.add("procedure_version", "required")
    elif not _is_int(doc["procedure_version"]):
        c.add("procedure_version", "must be an integer")
    c.datetime(doc, "submitted_at", "", required=True)
    c.string(doc, "language", "", required=False)
    c.string(doc, "assisted_by", "", required=False, nullable=True)

    applicant = c.object(doc, "applicant")
    if applicant is not None:
        p = "applicant."
        c.string(applicant, "id_number", p, required=True, pattern=re.compile(r"^[0-9]{12}$"))
        c.string(
            applicant,
            "old_id_number",
            p,
            required=False,
            nullable=True,
            pattern=re.compile(r"^[0-9]{9}$"),
        )
        c.string(applicant, "full_name", p, required=True)
        if "date_of_birth" not in applicant:
            c.add(p + "date_of_birth", "required")
        elif not is_date(applicant["date_of_birth"]):
            c.add(p + "date_of_birth", "must be a date YYYY-MM-DD")
        c.string(applicant, "sex", p, required=False, enum=("male", "female"))
        c.string(applicant, "address", p, required=False)
        c.string(applicant, "phone", p, required=False, nullable=True)
        c.string(applicant, "id_source", p, required=False, enum=("qr_scan", "manual", "chip"))
        assurance = (
            c.object(applicant, "identity_assurance", p)
            if "identity_assurance" in (applicant)
            else None
        )
        if assurance is not None:
            q = p + "identity_assurance."
            c.string(
                assurance,
                "level",
                q,
                required=True,
                enum=("qr", "chip_unverified", "chip_verified"),
            )
            for key in ("unverified_reason", "chip_sod_sha256", "checked_by"):
                c.string(assurance, key, q, required=False, nullable=True)

    fields = c.object(doc, "fields")
    if fields is not None and procedure is not None:
        _check_fields(c, fields, procedure)

    consent = c.object(doc, "consent")
    if consent is not None:
        c.datetime(consent, "given_at", "consent.", required=True)
        c.string(consent, "text_version", "consent.", required=True)

    if "attachments" in doc:
        _check_attachments(c, doc["attachments"], attachment_size)
    return c.details


def _check_attachments(
    c: _Collector, items: Any, attachment_size: Callable[[str], int | None]
) -> None:
    if not isinstance(items, list):
        c.add("attachments", "must be an array")
        return
    for i, item in enumerate(items):
        p = f"attachments[{i}]."
        if not isinstance(item, dict):
            c.add(f"attachments[{i}]", "must be an object")
            continue
        c.string(item, "sha256", p, required=True, pattern=SHA256_RE)
        c.string(item, "content_type", p, required=True, enum=ATTACHMENT_TYPES)
        c.string(item, "document_key", p, required=True)
        if "size" not in item:
            c.add(p + "size", "required")
        elif not _is_int(item["size"]) or item["size"] < 0:
            c.add(p + "size", "must be a non-negative integer")
        sha = item.get("sha256")
        if isinstance(sha, str) and SHA256_RE.match(sha):
            stored = attachment_size(sha)
            if stored is None:
                c.add(p + "sha256", "unknown attachment: upload it before the dossier")
            elif _is_int(item.get("size")) and item["size"] != stored:
                c.add(p + "size", f"does not match the uploaded attachment ({stored} bytes)")


def _check_fields(c: _Collector, fields: dict, procedure: dict) -> None:
    for spec in procedure.get("fields") or []:
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            continue
        key, kind = spec["key"], spec.get("type")
        name = "fields." + key
        value = fields.get(key)
        if value is None or value == "":
            if spec.get("required"):
                c.add(name, "required")
            continue
        if kind in ("text", "phone", "id_number") and not isinstance(value, str):
            c.add(name, "must be a string")
        elif kind == "date" and not is_date(value):
            c.add(name, "must be a date YYYY-MM-DD")
        elif kind == "number" and not _is_number(value):
            c.add(name, "must be a number")
        elif kind == "checkbox" and not isinstance(value, bool):
            c.add(name, "must be true or false")
        elif kind == "choice":
            keys = [ch.get("key") for ch in spec.get("choices") or [] if isinstance(ch, dict)]
            if value not in keys:
                c.add(name, "must be one of the choice keys")


PAYMENT_METHODS = ("vietqr_transfer", "cash", "exempt")
MAX_PAYMENT_VND = 1_000_000_000


def validate_payment(doc: Any, *, kiosk_id: str) -> list[Detail]:
    """PaymentIn (contract 1.1): a list of {field, message}, empty when valid."""
    out = _Collector()
    if not isinstance(doc, dict):
        out.add("", "must be a JSON object")
        return out.details
    for name in ("client_ref", "dossier_client_ref"):
        if not isinstance(doc.get(name), str) or not UUID_RE.match(doc[name]):
            out.add(name, "must be a UUID")
    if doc.get("kiosk_id") != kiosk_id:
        out.add("kiosk_id", "must equal X-Kiosk-Id")
    method = doc.get("method")
    if method not in PAYMENT_METHODS:
        out.add("method", f"must be one of {', '.join(PAYMENT_METHODS)}")
    amount = doc.get("amount_vnd")
    if not _is_int(amount) or amount < 0 or amount > MAX_PAYMENT_VND:
        out.add("amount_vnd", f"must be a whole number of VND from 0 to {MAX_PAYMENT_VND}")
    quantity = doc.get("quantity")
    if quantity is not None and (not _is_int(quantity) or quantity < 1):
        out.add("quantity", "must be a whole number from 1, or null")
    ground = doc.get("exemption_ground")
    if method == "exempt" and (not isinstance(ground, str) or not ground):
        out.add("exemption_ground", "required when method is exempt")
    if method != "exempt" and ground is not None:
        out.add("exemption_ground", "only when method is exempt")
    supersedes = doc.get("supersedes")
    if supersedes is not None and (
        not isinstance(supersedes, str) or not UUID_RE.match(supersedes)
    ):
        out.add("supersedes", "must be a UUID or null")
    for name in ("e_receipt_number", "bank_reference", "recorded_by"):
        value = doc.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            out.add(name, "must be a string of at most 64 characters, or null")
    if parse_datetime(doc.get("recorded_at")) is None:
        out.add("recorded_at", "must be an RFC 3339 date-time")
    if doc.get("paid_at") is not None and parse_datetime(doc.get("paid_at")) is None:
        out.add("paid_at", "must be an RFC 3339 date-time or null")
    return out.details
