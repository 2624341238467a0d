"""Request signing: a fixed vector computed with openssl, and what the client puts on the wire."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from email.utils import formatdate

import pytest
from portal_helpers import KIOSK_ID, SECRET, TOKEN, new_client, new_portal

from kiosk.services.portal_client import (
    EMPTY_BODY_SHA256,
    NotFound,
    format_timestamp,
    parse_retry_after,
    sign,
)

# Computed independently with:
#   printf 'POST\n/api/v1/dossiers\n2026-11-23T04:40:00Z\n<sha256 of body>' \
#     | openssl dgst -sha256 -hmac 'kiosk-secret-ĐƯ'
VECTOR_SECRET = "kiosk-secret-ĐƯ"
VECTOR_BODY = b'{"client_ref":"8a6e0804-2bd0-4672-b79d-d97027f9071a"}'
VECTOR_BODY_SHA = "4a6d699d68b7c463266656670d59fa220cdaba0c5fc1ebc6897a621c25e87052"
VECTOR_POST = "b70d836e8a5565e0d6caa59b1a095831a60cafe4a0449e32bbc554a97b12f14e"
VECTOR_GET = "425035c6670033b191e391e9eb062e533deb69d6e90494aa7eb18dd0de8bb66f"


@pytest.fixture
def portal(tmp_path):
    portal = new_portal(tmp_path)
    yield portal
    portal.stop()


def test_signature_matches_openssl_vector():
    assert hashlib.sha256(VECTOR_BODY).hexdigest() == VECTOR_BODY_SHA
    assert (
        sign(VECTOR_SECRET, "POST", "/api/v1/dossiers", "2026-11-23T04:40:00Z", VECTOR_BODY)
        == VECTOR_POST
    )
    assert (
        sign(VECTOR_SECRET, "GET", "/api/v1/dossiers/QN-2026-000123", "2026-11-23T04:40:00Z", b"")
        == VECTOR_GET
    )


def test_signature_depends_on_every_part():
    base = ("POST", "/api/v1/dossiers", "2026-11-23T04:40:00Z", VECTOR_BODY)
    variants = [
        ("GET", *base[1:]),
        (base[0], "/api/v1/dossier", *base[2:]),
        (*base[:2], "2026-11-23T04:40:01Z", base[3]),
        (*base[:3], VECTOR_BODY + b" "),
    ]
    for variant in variants:
        assert sign(VECTOR_SECRET, *variant) != VECTOR_POST
    assert sign("kiosk-secret-DU", *base) != VECTOR_POST


def test_empty_body_hash_and_timestamp_format():
    assert hashlib.sha256(b"").hexdigest() == EMPTY_BODY_SHA256
    assert format_timestamp(0) == "1970-01-01T00:00:00Z"
    assert format_timestamp(1795495200.999) == "2026-11-24T04:40:00Z"  # truncated, not rounded


def test_client_headers_verify_by_hand(portal):
    client = new_client(portal.url)
    client.procedures()
    recorded = portal.requests(path="/api/v1/procedures")[-1]
    h = recorded.headers
    assert h["authorization"] == f"Bearer {TOKEN}"
    assert h["x-kiosk-id"] == KIOSK_ID
    message = f"GET\n/api/v1/procedures\n{h['x-timestamp']}\n{EMPTY_BODY_SHA256}"
    expected = hmac.new(SECRET.encode("utf-8"), message.encode(), hashlib.sha256).hexdigest()
    assert h["x-signature"] == expected
    sent = calendar.timegm(time.strptime(h["x-timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(time.time() - sent) < 5
    assert recorded.status == 200


def test_signed_path_is_the_percent_encoded_path_as_sent(portal):
    client = new_client(portal.url)
    # A code with a slash, a space and a Vietnamese letter must be encoded, and the
    # signature must cover the encoded form: the portal answers 404, not 401.
    with pytest.raises(NotFound):
        client.dossier_status("QN/2026 Đ1")
    recorded = portal.requests()[-1]
    assert recorded.path == "/api/v1/dossiers/QN%2F2026%20%C4%901"
    assert recorded.status == 404


def test_query_string_is_not_signed(portal):
    client = new_client(portal.url)
    catalogue = client.procedures(since="2026-11-23T04:40:00+07:00")
    recorded = portal.requests(path="/api/v1/procedures")[-1]
    assert recorded.query == "since=2026-11-23T04%3A40%3A00%2B07%3A00"
    assert recorded.status == 200
    assert isinstance(catalogue.procedures, list)


def test_health_sends_no_credentials(portal):
    new_client(portal.url).health()
    recorded = portal.requests(path="/api/v1/health")[-1]
    assert "authorization" not in recorded.headers
    assert "x-signature" not in recorded.headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("", None),
        (None, None),
        ("soon", None),
        ("-3", 0.0),
    ],
)
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90)
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
