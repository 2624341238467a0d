"""A clerk's actions on one dossier: correct and resubmit (re-freeze), retry now, mark
handled, reprint; each audited with the dossier id."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from kiosk.hardware.printers import FailingPrinter, PaperOut, SimulatedPrinter
from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.clerks import ClerkService
from kiosk.services.crypto import DataCipher, KeyRing
from kiosk.services.dossier_edit import DossierEditor, EditError, parse_field_errors
from kiosk.services.dossier_search import DossierSearch, SearchQuery
from kiosk.services.dossiers import DossierService
from kiosk.services.models import AuditEntry, Dossier, NameToken, ReceiptPrint
from kiosk.services.store import Store
from tests.clerk_helpers import confirm, needs_clerk, shape


@pytest.fixture
def desk(db_url, tmp_path):
    store = Store(db_url)
    svc = DossierService(store, DataCipher(KeyRing.generate()), "K1", "QN01", tmp_path / "att")
    clerks = ClerkService(store, machine="K1")
    clerk = clerks.create("mai", "Lò Thị Mai", "clerk", "2468")
    editor = DossierEditor(svc, load_default_catalogue(), machine="K1")
    yield svc, editor, clerk
    store.close()


def audit(store, dossier_id):
    return store.read(
        lambda s: [
            (e.action, e.clerk_id, e.detail)
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.dossier_id == dossier_id)
                .order_by(AuditEntry.id)
            )
        ]
    )


def body(svc, dossier_id) -> dict:
    return json.loads(svc.body(svc.get(dossier_id)))


def test_resubmit_refreezes_with_the_same_identity_and_the_corrected_value(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(
        svc, "Nguyễn Thị Hồng Nhung", "001190012345", phone="0912000000", with_file=True
    )
    before = svc.get(dossier_id)
    old_body = body(svc, dossier_id)
    needs_clerk(svc.store, dossier_id)
    detail = editor.detail(dossier_id)
    assert detail.editable and detail.field_errors[0]["field"] == "fields.phone"
    raw = editor.raw_values(detail)
    assert raw["fields.phone"] == "0912000000" and raw["applicant.date_of_birth"] == "06/05/1990"
    raw["fields.phone"] = "0987 654 321"
    raw["applicant.full_name"] = "Nguyễn Thị Hồng Nhung Anh"
    checked = editor.resubmit(dossier_id, raw, clerk)
    assert checked.ok

    after = svc.get(dossier_id)
    new_body = body(svc, dossier_id)
    assert after.client_ref == before.client_ref and after.receipt_code == before.receipt_code
    assert new_body["client_ref"] == old_body["client_ref"]
    assert new_body["submitted_at"] == old_body["submitted_at"]
    assert new_body["consent"] == old_body["consent"]
    assert new_body["attachments"] == old_body["attachments"] and new_body["attachments"]
    assert new_body["fields"]["phone"] == "0987654321"
    assert new_body["applicant"]["full_name"] == "Nguyễn Thị Hồng Nhung Anh"
    assert after.body_sha256 == hashlib.sha256(svc.body(after)).hexdigest() != before.body_sha256
    assert svc.answers(after)["phone"] == "0987654321"
    assert svc.applicant(after).full_name == "Nguyễn Thị Hồng Nhung Anh"
    assert (after.state, after.field_errors, after.attempt_count) == ("queued", None, 0)
    assert after.next_attempt_at is not None
    # The blind indexes follow the corrected name.
    search = DossierSearch(svc.store, svc.cipher)
    assert [r.id for r in search.page(SearchQuery("nhung anh")).rows] == [dossier_id]
    tokens = svc.store.read(
        lambda s: s.scalars(
            select(NameToken.token_index).where(NameToken.dossier_id == dossier_id)
        ).all()
    )
    assert sorted(tokens) == svc.cipher.name_indexes("Nguyễn Thị Hồng Nhung Anh")
    ((action, clerk_id, detail_text),) = audit(svc.store, dossier_id)
    assert action == "dossier.resubmit" and clerk_id == clerk.id
    assert "fields.phone" in detail_text and "0987654321" not in detail_text
    assert "Anh" not in detail_text  # field names only, never values


def test_resubmit_with_the_same_values_reproduces_the_frozen_body(desk):
    """The re-freeze uses serialise_body exactly as confirm did: unchanged values give
    the same bytes (same hash)."""
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Đặng Văn Quỳnh", "022085000123", with_file=True)
    before = svc.get(dossier_id)
    needs_clerk(svc.store, dossier_id)
    editor.resubmit(dossier_id, editor.raw_values(editor.detail(dossier_id)), clerk)
    assert svc.get(dossier_id).body_sha256 == before.body_sha256


def test_invalid_corrections_are_refused_and_nothing_is_written(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Đặng Văn Quỳnh", "022085000123")
    needs_clerk(svc.store, dossier_id)
    before = svc.get(dossier_id)
    raw = editor.raw_values(editor.detail(dossier_id))
    raw["fields.phone"] = "12345"
    raw["applicant.id_number"] = "12"
    raw["fields.purpose"] = "holiday"
    checked = editor.resubmit(dossier_id, raw, clerk)
    assert checked.errors == {
        "fields.phone": "catalogue.err.phone_invalid",
        "applicant.id_number": "catalogue.err.id_number_invalid",
        "fields.purpose": "catalogue.err.choice_invalid",
    }
    after = svc.get(dossier_id)
    assert (after.body_sha256, after.state) == (before.body_sha256, "needs_clerk")
    assert audit(svc.store, dossier_id) == []


def test_only_needs_clerk_dossiers_can_be_corrected_or_closed(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Lò Văn Quý", "019092004567")
    raw = editor.raw_values(editor.detail(dossier_id))
    with pytest.raises(EditError) as err:
        editor.resubmit(dossier_id, raw, clerk)
    assert err.value.key == "clerk.dossier.err.not_editable"
    with pytest.raises(EditError):
        editor.mark_handled(dossier_id, clerk)


def test_a_damaged_attachment_stops_the_resubmission(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Lò Văn Quý", "019092004567", with_file=True)
    needs_clerk(svc.store, dossier_id)
    name = svc.get(dossier_id).attachments[0].file_name
    (svc.attachments_dir / name).write_bytes(b"K1" + b"\0" * 40)
    with pytest.raises(EditError) as err:
        editor.resubmit(dossier_id, editor.raw_values(editor.detail(dossier_id)), clerk)
    assert err.value.key == "clerk.dossier.err.attachment"
    assert svc.get(dossier_id).state == "needs_clerk"


def test_retry_now_requeues_auth_blocked_and_refuses_needs_clerk(desk):
    svc, editor, clerk = desk
    blocked = confirm(svc, "Lò Văn Quý", "019092004567")
    shape(svc.store, blocked, state="auth_blocked", next_attempt_at=None)
    editor.retry_now(blocked, clerk)
    row = svc.get(blocked)
    assert row.state == "queued" and row.next_attempt_at is not None
    assert audit(svc.store, blocked) == [("dossier.retry_now", clerk.id, "was auth_blocked")]
    refused = confirm(svc, "Hoàng Thị Ánh", "026079003344")
    needs_clerk(svc.store, refused)
    with pytest.raises(EditError) as err:
        editor.retry_now(refused, clerk)
    assert err.value.key == "clerk.dossier.err.not_retryable"
    assert svc.get(refused).state == "needs_clerk"


def test_mark_handled(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Lò Văn Quý", "019092004567")
    needs_clerk(svc.store, dossier_id)
    editor.mark_handled(dossier_id, clerk)
    row = svc.get(dossier_id)
    assert row.state == "handled" and row.next_attempt_at is None
    assert audit(svc.store, dossier_id)[-1][:2] == ("dossier.mark_handled", clerk.id)


def test_reprint_records_the_clerk_and_is_audited_either_way(app_ctx):
    clerks = ClerkService(app_ctx.store)
    clerk = clerks.create("mai", "Lò Thị Mai", "clerk", "2468")
    editor = DossierEditor(app_ctx.dossiers, app_ctx.catalogue)
    dossier_id = confirm(app_ctx.dossiers, "Lò Văn Quý", "019092004567")
    app_ctx.receipts.printer = FailingPrinter(PaperOut("roll empty"))
    with pytest.raises(PaperOut):
        editor.reprint(app_ctx.receipts, dossier_id, clerk)
    assert not app_ctx.dossiers.get(dossier_id).receipt_printed
    app_ctx.receipts.printer = printer = SimulatedPrinter()
    editor.reprint(app_ctx.receipts, dossier_id, clerk)
    assert len(printer.jobs) == 1 and app_ctx.dossiers.get(dossier_id).receipt_printed
    prints = app_ctx.store.read(
        lambda s: [
            (p.ok, p.clerk_id)
            for p in s.scalars(select(ReceiptPrint).where(ReceiptPrint.dossier_id == dossier_id))
        ]
    )
    assert prints == [(False, clerk.id), (True, clerk.id)]
    assert [a[0] for a in audit(app_ctx.store, dossier_id)] == [
        "dossier.reprint.failed",
        "dossier.reprint",
    ]


def test_detail_shows_history_and_parses_portal_errors(desk):
    svc, editor, clerk = desk
    dossier_id = confirm(svc, "Lò Văn Quý", "019092004567")
    needs_clerk(svc.store, dossier_id, "applicant.full_name", "too long")
    detail = editor.detail(dossier_id)
    assert detail.applicant.full_name == "Lò Văn Quý" and detail.answers["purpose"] == "marriage"
    assert detail.field_errors == [{"field": "applicant.full_name", "message": "too long"}]
    assert parse_field_errors(
        '{"error": "invalid", "details": [{"field": "x", "message": "y"}]}'
    ) == [{"field": "x", "message": "y"}]
    assert parse_field_errors("not json") == [{"field": "", "message": "not json"}]
    assert parse_field_errors(None) == []
    assert svc.store.read(lambda s: s.get(Dossier, dossier_id)).state == "needs_clerk"
