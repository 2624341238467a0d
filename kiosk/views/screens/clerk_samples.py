"""Sample data for the clerk screens' registry samples (screenshots, audit, self-test).

Only ever used with a demo context (a throw-away data folder): it creates two accounts,
a dozen fictitious dossiers in every outbox state, queue tickets and ratings, once per
context.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from kiosk.paths import resource
from kiosk.services.clerks import ClerkInfo
from kiosk.services.dossiers import Applicant, AttachmentDraft, DossierDraft, utcnow
from kiosk.services.models import (
    AUTH_BLOCKED,
    DELIVERED,
    NEEDS_CLERK,
    QUEUED,
    Attempt,
    Clerk,
    Dossier,
    QueueTicket,
    Rating,
)
from kiosk.views.screens.clerk_common import ClerkDesk, desk

SAMPLE_ACCOUNTS = (
    ("admin", "Nguyễn Văn Quản", "admin", "482913"),
    ("mai", "Lò Thị Mai", "clerk", "2468"),
)
SAMPLE_PEOPLE = (
    ("001190012345", "Nguyễn Thị Hồng Nhung"),
    ("022085000123", "Đặng Văn Quỳnh"),
    ("019092004567", "Lò Văn Quý"),
    ("008188001122", "Hoàng Thị Ánh"),
    ("026079003344", "Sầm Văn Lực"),
    ("015095005566", "Vi Thị Thu Hà"),
)
SAMPLE_PROCEDURES = ("1.001193", "1.004873", "2.000815", "1.001612", "1.001776", "QNI-L001")


def sample_value(field) -> Any:
    """A plausible valid value for a catalogue field (as validate_value would return)."""
    return {
        "text": "Lò Văn Quý",
        "date": "2026-01-15",
        "phone": "0912345678",
        "id_number": "001190099999",
        "number": 2,
        "checkbox": True,
    }.get(field.type, field.choices[0].key if field.choices else "x")


def ensure_sample_data(app) -> ClerkDesk:
    d = desk(app)
    if d.sample_data:
        return d
    existing = {c.username for c in d.clerks.list()}
    for username, name, role, pin in SAMPLE_ACCOUNTS:
        if username not in existing:
            d.clerks.create(username, name, role, pin)
    ids = []
    photo = resource("samples", "document", "page_00.jpg").read_bytes()
    for i, code in enumerate(SAMPLE_PROCEDURES * 2):
        proc = app.catalogue.get(code)
        id_number, name = SAMPLE_PEOPLE[i % len(SAMPLE_PEOPLE)]
        draft = DossierDraft(
            procedure_code=proc.code,
            procedure_version=proc.version,
            language="vi",
            applicant=Applicant(
                id_number,
                name,
                date(1988, 3, 14),
                "female",
                "Thôn Nà Pò, xã Đồng Văn",
                phone="0912345678",
            ),
            fields={f.key: sample_value(f) for f in proc.fields},
            consent_version="consent-2026-1",
            consent_given_at=utcnow().replace(microsecond=0),
            assisted_by="mai" if i == 3 else None,
            # A photographed document, as most real dossiers have: the detail screen shows it.
            attachments=[AttachmentDraft(doc.key, "image/jpeg", photo)]
            if (doc := next(iter(proc.required_documents), None)) is not None
            else [],
        )
        ids.append(app.dossiers.confirm(draft).id)
    now = utcnow()

    def shape(s) -> None:
        for n, dossier_id in enumerate(ids):
            row = s.get(Dossier, dossier_id)
            row.confirmed_at = now - timedelta(days=n % 9, hours=n)
            row.receipt_printed = n not in (1, 6)
            if n in (0, 5, 7, 9, 10, 11):
                row.state, row.dossier_code = DELIVERED, f"QN-2026-{1000 + n:06d}"
                row.delivered_at = row.confirmed_at + timedelta(minutes=3)
            elif n == 2:
                row.state, row.attempt_count = NEEDS_CLERK, 1
                row.field_errors = json.dumps(
                    [{"field": "fields.phone", "message": "phone number is not in use"}]
                )
                s.add(
                    Attempt(
                        dossier_id=dossier_id,
                        at=row.confirmed_at,
                        outcome="needs_clerk",
                        status_code=422,
                        error="422 invalid: fields.phone",
                        worker="k1",
                    )
                )
            elif n == 4:
                row.state, row.attempt_count = AUTH_BLOCKED, 2
                s.add(
                    Attempt(
                        dossier_id=dossier_id,
                        at=row.confirmed_at,
                        outcome="auth_blocked",
                        status_code=401,
                        error="401 bad signature",
                        worker="k1",
                    )
                )
            else:
                row.state = QUEUED
        today = date.today()
        for n, face in enumerate((4, 4, 3, 4, 2, 4, 3, 1, 4, 3, 4, 4)):
            s.add(
                Rating(
                    day=today - timedelta(days=n % 5),
                    at=now,
                    face=face,
                    procedure_code=SAMPLE_PROCEDURES[n % 3],
                    language="vi",
                )
            )

    app.store.write_sync(shape)
    for group, priority in (
        ("civil_status", None),
        ("civil_status", "elderly"),
        ("certification", None),
        ("business", None),
        ("civil_status", None),
        ("social", "pregnant"),
        ("results", None),
    ):
        d.queue.take(group, priority)
    for counter in ("1", "3", "2"):
        d.queue.call_next(counter)

    def waited(s) -> None:
        # Tickets taken a while ago, so the waiting times are not all zero.
        for n, ticket in enumerate(s.scalars(select(QueueTicket).order_by(QueueTicket.id))):
            ticket.issued_at = ticket.issued_at - timedelta(minutes=6 + 7 * n)

    app.store.write_sync(waited)
    d.sample_data = True
    return d


def sample_login(vc, admin: bool = True) -> ClerkDesk:
    """Sample data, and the admin (or a clerk) logged in at counter 2 (no PIN check)."""
    d = ensure_sample_data(vc.app)
    username = "admin" if admin else "mai"
    row = vc.app.store.read(
        lambda s: s.scalars(select(Clerk).where(Clerk.username == username)).one()
    )
    d.clerk = ClerkInfo(row.id, row.username, row.display_name, row.role)
    d.counter = "2"
    return d


def sample_needs_clerk(vc) -> int:
    sample_login(vc)
    return vc.app.store.read(
        lambda s: s.scalars(
            select(Dossier.id).where(Dossier.state == NEEDS_CLERK).order_by(Dossier.id)
        ).first()
    )
