"""POST /dossiers and GET /dossiers/{code}: idempotency, validation, receipts, status."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from datetime import date, datetime, timedelta

import pytest
from portal_helpers import (
    KIOSK_ID,
    OTHER_KIOSK_ID,
    OTHER_SECRET,
    PROCEDURE,
    make_dossier,
    new_client,
    new_portal,
    png_bytes,
    raw_request,
    signed_headers,
    to_bytes,
)

from kiosk.portal.catalogue import VIETNAM
from kiosk.services.portal_client import Delivered, NotFound, Permanent


@pytest.fixture
def portal(tmp_path):
    portal = new_portal(tmp_path)
    yield portal
    portal.stop()


@pytest.fixture
def client(portal):
    client = new_client(portal.url)
    yield client
    client.close()


def test_submit_then_replay_returns_the_original_receipt(portal, client):
    doc = make_dossier()
    body = to_bytes(doc)
    first = client.submit_dossier(body, doc["client_ref"])
    assert isinstance(first, Delivered)
    assert first.replay is False
    assert re.fullmatch(r"QN-20\d\d-\d{6}", first.dossier_code)
    again = client.submit_dossier(body, doc["client_ref"])
    assert again.replay is True
    assert (again.dossier_code, again.received_at, again.expected_result_date) == (
        first.dossier_code,
        first.received_at,
        first.expected_result_date,
    )
    assert len(portal.dossiers()) == 1
    assert portal.dossiers()[0].body == body
    assert [r.status for r in portal.requests(doc["client_ref"])] == [201, 200]


def test_replay_equal_as_parsed_json_is_the_same_body(portal, client):
    doc = make_dossier()
    first = client.submit_dossier(to_bytes(doc), doc["client_ref"])
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=2).encode()
    again = client.submit_dossier(reordered, doc["client_ref"])
    assert again.replay and again.dossier_code == first.dossier_code


def test_same_key_different_body_is_409_and_stores_nothing(portal, client):
    doc = make_dossier()
    first = client.submit_dossier(to_bytes(doc), doc["client_ref"])
    changed = make_dossier(client_ref=doc["client_ref"])
    changed["fields"]["copies"] = 3
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(changed), doc["client_ref"])
    assert (caught.value.status, caught.value.error) == (409, "idempotency_conflict")
    assert [d.code for d in portal.dossiers()] == [first.dossier_code]
    assert portal.dossiers()[0].body == to_bytes(doc)


def test_key_must_equal_client_ref(portal, client):
    doc = make_dossier()
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), str(uuid.uuid4()))
    assert (caught.value.status, caught.value.error) == (400, "idempotency_key_mismatch")
    # The key is compared exactly: letter case matters.
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"].upper())
    assert caught.value.error == "idempotency_key_mismatch"
    body = to_bytes(doc)
    status, payload, _ = raw_request(
        portal.url,
        "POST",
        "/api/v1/dossiers",
        body,
        signed_headers("POST", "/api/v1/dossiers", body),
    )
    assert (status, payload["error"]) == (400, "idempotency_key_missing")
    assert portal.dossiers() == []


def test_not_json_is_400(portal, client):
    for body in (b"{not json", b"\xff\xfe{}", b""):
        with pytest.raises(Permanent) as caught:
            client.submit_dossier(body, str(uuid.uuid4()))
        assert (caught.value.status, caught.value.error) == (400, "invalid_json")


def test_validation_names_each_field(portal, client):
    doc = make_dossier()
    doc["applicant"]["id_number"] = "0010990123"  # 10 digits
    doc["applicant"]["date_of_birth"] = "1990-02-30"
    doc["applicant"]["old_id_number"] = "12"
    doc["applicant"]["sex"] = "m"
    del doc["consent"]["text_version"]
    doc["procedure_version"] = "3"
    doc["submitted_at"] = "23/11/2026"
    doc["fields"]["child_sex"] = "boy"
    doc["fields"]["copies"] = "2"
    doc["fields"]["urgent"] = "no"
    doc["fields"]["child_date_of_birth"] = "01/11/2026"
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert (caught.value.status, caught.value.error) == (422, "validation_failed")
    fields = {d["field"] for d in caught.value.details}
    assert fields == {
        "applicant.id_number",
        "applicant.date_of_birth",
        "applicant.old_id_number",
        "applicant.sex",
        "consent.text_version",
        "procedure_version",
        "submitted_at",
    }
    assert all(d["message"] for d in caught.value.details)
    assert portal.dossiers() == []


def test_fields_checked_against_the_procedure_version(portal, client):
    doc = make_dossier()
    doc["fields"] = {
        "child_sex": "boy",
        "copies": "2",
        "urgent": "no",
        "child_date_of_birth": "01/11/2026",
    }
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert {d["field"] for d in caught.value.details} == {
        "fields.child_full_name",
        "fields.child_sex",
        "fields.copies",
        "fields.urgent",
        "fields.child_date_of_birth",
    }
    # Another version of the procedure: the portal does not know its fields.
    doc["procedure_version"] = 2
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False


def test_missing_required_parts(portal, client):
    doc = make_dossier()
    for key in ("kiosk_id", "applicant", "fields", "consent", "procedure_code"):
        del doc[key]
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert {d["field"] for d in caught.value.details} == {
        "kiosk_id",
        "applicant",
        "fields",
        "consent",
        "procedure_code",
    }
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(b"[1, 2]", doc["client_ref"])
    assert caught.value.status == 422


def test_kiosk_id_must_match_the_header(portal, client):
    doc = make_dossier(kiosk_id=OTHER_KIOSK_ID)
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert caught.value.status == 422
    assert [d["field"] for d in caught.value.details] == ["kiosk_id"]


def test_unknown_attachment_is_422_with_its_index(portal, client):
    data = png_bytes(1)
    sha = client.upload_attachment(hashlib.sha256(data).hexdigest(), data, "image/png").sha256
    missing = "ab" * 32
    doc = make_dossier(
        attachments=[
            {"sha256": sha, "content_type": "image/png", "size": len(data), "document_key": "a"},
            {"sha256": missing, "content_type": "image/jpeg", "size": 10, "document_key": "b"},
        ]
    )
    with pytest.raises(Permanent) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert caught.value.status == 422
    assert [d["field"] for d in caught.value.details] == ["attachments[1].sha256"]
    # 422 stores nothing, so the corrected dossier goes with the same client_ref.
    doc["attachments"] = doc["attachments"][:1]
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False


def test_receipt_has_expected_result_date_in_working_days(tmp_path):
    proc = dict(PROCEDURE, processing_days=3)
    portal = new_portal(tmp_path, procedures=[proc], default_processing_days=None)
    try:
        client = new_client(portal.url)
        doc = make_dossier()
        receipt = client.submit_dossier(to_bytes(doc), doc["client_ref"])
        received = datetime.fromisoformat(receipt.received_at).astimezone(VIETNAM).date()
        result = date.fromisoformat(receipt.expected_result_date)
        days = [received + timedelta(days=i) for i in range(1, (result - received).days + 1)]
        assert sum(d.weekday() < 5 for d in days) == 3
        assert result.weekday() < 5
        other = make_dossier(procedure_code="9.999999")
        assert (
            client.submit_dossier(to_bytes(other), other["client_ref"]).expected_result_date is None
        )
    finally:
        portal.stop()


def test_check_procedures_rejects_unknown_codes(tmp_path):
    portal = new_portal(tmp_path, check_procedures=True)
    try:
        doc = make_dossier(procedure_code="9.999999")
        with pytest.raises(Permanent) as caught:
            new_client(portal.url).submit_dossier(to_bytes(doc), doc["client_ref"])
        assert [d["field"] for d in caught.value.details] == ["procedure_code"]
    finally:
        portal.stop()


def test_status_and_messages(portal, client):
    doc = make_dossier()
    code = client.submit_dossier(to_bytes(doc), doc["client_ref"]).dossier_code
    status = client.dossier_status(code)
    assert (status.dossier_code, status.status, status.message) == (code, "received", {})
    message = {"vi": "Vui lòng bổ sung giấy chứng sinh.", "en": "Please add the birth notice."}
    portal.set_status(code, "needs_info", message)
    status = client.dossier_status(code)
    assert (status.status, status.message) == ("needs_info", message)
    with pytest.raises(ValueError):
        portal.set_status(code, "lost")
    with pytest.raises(KeyError):
        portal.set_status("QN-2026-999999", "completed")


def test_another_kiosks_code_is_404(portal, client):
    doc = make_dossier()
    code = client.submit_dossier(to_bytes(doc), doc["client_ref"]).dossier_code
    other = new_client(portal.url, kiosk_id=OTHER_KIOSK_ID, secret=OTHER_SECRET)
    with pytest.raises(NotFound):
        other.dossier_status(code)
    with pytest.raises(NotFound):
        client.dossier_status("QN-2026-424242")
    assert client.dossier_status(code).status == "received"


def test_keys_are_global_across_kiosks(portal, client):
    doc = make_dossier()
    client.submit_dossier(to_bytes(doc), doc["client_ref"])
    other = new_client(portal.url, kiosk_id=OTHER_KIOSK_ID, secret=OTHER_SECRET)
    theirs = make_dossier(kiosk_id=OTHER_KIOSK_ID, client_ref=doc["client_ref"])
    with pytest.raises(Permanent) as caught:
        other.submit_dossier(to_bytes(theirs), doc["client_ref"])
    assert caught.value.status == 409
    with pytest.raises(Permanent) as caught:  # and it cannot fetch ours by replaying it
        other.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert caught.value.status == 422


def test_concurrent_replays_make_one_dossier(portal):
    doc = make_dossier()
    body = to_bytes(doc)
    results: list = []
    errors: list = []

    def send() -> None:
        try:
            with new_client(portal.url) as c:
                results.append(c.submit_dossier(body, doc["client_ref"]))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.dossier_code for r in results}) == 1
    assert sorted(r.replay for r in results) == [False] + [True] * 7
    assert len(portal.dossiers()) == 1


def test_codes_are_unique_and_sequential(portal, client):
    codes = []
    for _ in range(5):
        doc = make_dossier()
        codes.append(client.submit_dossier(to_bytes(doc), doc["client_ref"]).dossier_code)
    assert len(set(codes)) == 5
    assert [int(c.rsplit("-", 1)[1]) for c in codes] == [1, 2, 3, 4, 5]
    assert {d.kiosk_id for d in portal.dossiers()} == {KIOSK_ID}
