"""The portal's checks and their order: bearer token, size limit, signature, clock skew,
revoked, disabled, then the body. Raw HTTP so each header can be wrong on purpose."""

from __future__ import annotations

import time

import pytest
from portal_helpers import (
    KIOSK_ID,
    OTHER_KIOSK_ID,
    SECRET,
    TOKEN,
    make_dossier,
    new_client,
    new_portal,
    raw_request,
    signed_headers,
    to_bytes,
)

from kiosk.services.portal_client import AuthBlocked, Permanent

PATH = "/api/v1/dossiers"
LIMIT = 4096  # a small limit keeps the oversize bodies small


@pytest.fixture
def portal(tmp_path):
    portal = new_portal(tmp_path, max_body=LIMIT)
    yield portal
    portal.stop()


def post(portal, body: bytes, **headers):
    return raw_request(
        portal.url, "POST", PATH, body, signed_headers("POST", PATH, body, **headers)
    )


def dossier_body() -> tuple[bytes, str]:
    doc = make_dossier()
    return to_bytes(doc), doc["client_ref"]


def test_health_needs_no_credentials(portal):
    status, payload, _ = raw_request(portal.url, "GET", "/api/v1/health")
    assert status == 200
    assert payload["status"] == "ok"
    assert payload["server_time"].endswith("Z")


def test_a_valid_request_passes_every_check(portal):
    body, ref = dossier_body()
    status, payload, _ = post(portal, body, **{"Idempotency-Key": ref})
    assert status == 201, payload


def test_bearer_token_is_checked_first(portal):
    oversize = b"x" * (LIMIT + 1)
    for token in (None, "wrong-token"):
        # Also oversize, badly signed and hours off: the token still answers first.
        headers = signed_headers("POST", PATH, b"other", token=token, when=time.time() - 7200)
        status, payload, _ = raw_request(portal.url, "POST", PATH, oversize, headers)
        assert (status, payload["error"]) == (401, "unauthorized")
    headers = signed_headers("POST", PATH, b"", token=None)
    headers["Authorization"] = f"Basic {TOKEN}"
    assert raw_request(portal.url, "POST", PATH, b"", headers)[1]["error"] == "unauthorized"


def test_size_limit_before_signature(portal):
    oversize = b"x" * (LIMIT + 1)
    headers = signed_headers("POST", PATH, b"not what is sent", when=time.time() - 7200)
    status, payload, _ = raw_request(portal.url, "POST", PATH, oversize, headers)
    assert (status, payload["error"]) == (413, "payload_too_large")
    # The same connection logic must not choke: exactly the limit passes the size check.
    body = b"x" * LIMIT
    status, payload, _ = raw_request(
        portal.url,
        "POST",
        PATH,
        body,
        signed_headers("POST", PATH, body, **{"Idempotency-Key": "k"}),
    )
    assert status == 400  # past size and signature; the body is not JSON


def test_signature_before_clock_skew(portal):
    body, ref = dossier_body()
    cases = [
        signed_headers("POST", PATH, body + b" ", when=time.time() - 7200),  # other body
        signed_headers("POST", "/api/v1/dossiers/", body, when=time.time() - 7200),  # path
        signed_headers("POST", PATH, body, secret="not-the-secret"),
        signed_headers("POST", PATH, body, kiosk_id="QN99-UNKNOWN"),
    ]
    for headers in cases:
        status, payload, _ = raw_request(
            portal.url, "POST", PATH, body, {**headers, "Idempotency-Key": ref}
        )
        assert (status, payload["error"]) == (401, "bad_signature")
    headers = signed_headers("POST", PATH, body)
    headers["X-Signature"] = headers["X-Signature"].upper()  # lower-case hex only
    assert raw_request(portal.url, "POST", PATH, body, headers)[1]["error"] == "bad_signature"
    for missing in ("X-Kiosk-Id", "X-Timestamp", "X-Signature"):
        headers = signed_headers("POST", PATH, body)
        del headers[missing]
        assert raw_request(portal.url, "POST", PATH, body, headers)[1]["error"] == "bad_signature"
    assert portal.dossiers() == []


def test_clock_skew_limit_is_300_seconds(portal):
    body, ref = dossier_body()
    for offset in (-7200, -301, 301, 7200):
        headers = signed_headers("POST", PATH, body, when=time.time() + offset)
        status, payload, _ = raw_request(
            portal.url, "POST", PATH, body, {**headers, "Idempotency-Key": ref}
        )
        assert (status, payload["error"]) == (401, "clock_skew"), offset
    headers = signed_headers("POST", PATH, body, when=time.time() - 290)
    status, _, _ = raw_request(portal.url, "POST", PATH, body, {**headers, "Idempotency-Key": ref})
    assert status == 201


def test_timestamp_must_be_whole_seconds_utc(portal):
    from kiosk.services.portal_client import sign

    body, ref = dossier_body()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-Kiosk-Id": KIOSK_ID,
        "X-Timestamp": stamp,
        "X-Signature": sign(SECRET, "POST", PATH, stamp, body),
        "Idempotency-Key": ref,
    }
    status, payload, _ = raw_request(portal.url, "POST", PATH, body, headers)
    assert (status, payload["error"]) == (401, "bad_signature")


def test_revoked_after_skew_and_disabled_after_revoked(portal):
    body, ref = dossier_body()
    portal.revoke_kiosk(KIOSK_ID)
    portal.disable_kiosk(KIOSK_ID)
    skewed = signed_headers("POST", PATH, body, when=time.time() - 7200, **{"Idempotency-Key": ref})
    assert raw_request(portal.url, "POST", PATH, body, skewed)[1]["error"] == "clock_skew"
    status, payload, _ = post(portal, body, **{"Idempotency-Key": ref})
    assert (status, payload["error"]) == (401, "revoked")
    portal.revoke_kiosk(KIOSK_ID, revoked=False)
    status, payload, _ = post(portal, body, **{"Idempotency-Key": ref})
    assert (status, payload["error"]) == (403, "kiosk_disabled")
    portal.disable_kiosk(KIOSK_ID, disabled=False)
    assert post(portal, body, **{"Idempotency-Key": ref})[0] == 201


def test_body_is_checked_last(portal):
    doc = make_dossier()
    doc["applicant"]["id_number"] = "12345"
    body = to_bytes(doc)
    status, payload, _ = post(portal, body, **{"Idempotency-Key": doc["client_ref"]})
    assert status == 422
    assert {"field": "applicant.id_number", "message": "must match ^[0-9]{12}$"} in payload[
        "details"
    ]


def test_client_classifies_each_refusal(portal):
    body, ref = dossier_body()
    cases = [
        ({"token": "wrong"}, 401, "unauthorized"),
        ({"secret": "wrong"}, 401, "bad_signature"),
        ({"clock_offset": -3600}, 401, "clock_skew"),
    ]
    for options, status, error in cases:
        with pytest.raises(AuthBlocked) as caught:
            new_client(portal.url, **options).submit_dossier(body, ref)
        assert (caught.value.status, caught.value.error) == (status, error)
        assert caught.value.key == f"portal.error.auth.{error}"
    portal.revoke_kiosk(KIOSK_ID)
    with pytest.raises(AuthBlocked) as caught:
        new_client(portal.url).procedures()
    assert (caught.value.status, caught.value.error) == (401, "revoked")
    portal.revoke_kiosk(KIOSK_ID, revoked=False)
    portal.disable_kiosk(KIOSK_ID)
    with pytest.raises(AuthBlocked) as caught:
        new_client(portal.url).upload_attachment("0" * 64, b"x", "image/png")
    assert (caught.value.status, caught.value.error) == (403, "kiosk_disabled")
    # The other kiosk is unaffected.
    new_client(portal.url, kiosk_id=OTHER_KIOSK_ID, secret="secret-two").procedures()
    assert portal.dossiers() == []


def test_client_gets_413_as_permanent(portal):
    with pytest.raises(Permanent) as caught:
        new_client(portal.url).submit_dossier(b"{" + b" " * LIMIT + b"}", "k")
    assert (caught.value.status, caught.value.error) == (413, "payload_too_large")


def test_every_error_key_has_vi_and_en_text():
    from kiosk.services.i18n import Translator
    from kiosk.services.portal_client import (
        AUTH_ERRORS,
        NotFound,
        PortalError,
        Transient,
    )

    translator = Translator.from_resources()
    keys = {
        PortalError("x").key,
        Transient(None, None, False, "x").key,
        Permanent(422, "validation_failed", []).key,
        NotFound().key,
        AuthBlocked(401, "something_new").key,
    }
    keys |= {AuthBlocked(401, error).key for error in AUTH_ERRORS}
    assert len(keys) == 10
    for key in keys:
        assert translator.has(key, "vi") and translator.has(key, "en"), key
