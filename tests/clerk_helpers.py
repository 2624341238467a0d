"""Helpers for the clerk's desk tests: a store with dossiers in chosen states."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kiosk.services.dossiers import DossierService, utcnow
from kiosk.services.models import Dossier
from tests.store_helpers import draft

MARITAL = "1.004873"  # purpose (choice), current_status (choice), phone


def marital_draft(name: str, id_number: str, phone: str = "0912345678", with_file: bool = False):
    d = draft(name=name, id_number=id_number, with_file=with_file, code=MARITAL)
    d.fields = {"purpose": "marriage", "current_status": "never_married", "phone": phone}
    return d


def confirm(svc: DossierService, name: str, id_number: str, **kw) -> int:
    return svc.confirm(marital_draft(name, id_number, **kw)).id


def shape(store, dossier_id: int, **values) -> None:
    """Set columns of a dossier directly (what the outbox worker would have done)."""

    def write(s) -> None:
        row = s.get(Dossier, dossier_id)
        for key, value in values.items():
            setattr(row, key, value)

    store.write_sync(write)


def needs_clerk(
    store,
    dossier_id: int,
    field: str = "fields.phone",
    message: str = "phone number not in service",
) -> None:
    shape(
        store,
        dossier_id,
        state="needs_clerk",
        attempt_count=3,
        next_attempt_at=None,
        field_errors=json.dumps([{"field": field, "message": message}]),
        last_error="422 invalid",
    )


def days_ago(n: int, hour: int = 3) -> datetime:
    base = utcnow().replace(hour=hour, minute=0, second=0, microsecond=0)
    return base - timedelta(days=n)
