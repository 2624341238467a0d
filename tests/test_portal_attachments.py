"""PUT /attachments/{sha256}: content-addressed, 10 MiB limit, type and hash checks."""

from __future__ import annotations

import hashlib

import pytest
from portal_helpers import new_client, new_portal, png_bytes, raw_request, signed_headers

from kiosk.portal import MAX_BODY
from kiosk.services.portal_client import Permanent, Uploaded


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    portal = new_portal(tmp_path_factory.mktemp("attachments"))
    yield portal
    portal.stop()


@pytest.fixture
def client(portal):
    client = new_client(portal.url)
    yield client
    client.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_new_then_already_stored(portal, client):
    data = png_bytes(10)
    assert client.upload_attachment(sha(data), data, "image/png") == Uploaded(sha(data), True)
    assert client.upload_attachment(sha(data), data, "image/png") == Uploaded(sha(data), False)
    assert portal.attachment(sha(data)) == ("image/png", data)
    statuses = [r.status for r in portal.requests(path=f"/api/v1/attachments/{sha(data)}")]
    assert statuses == [201, 200]


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "application/pdf", "image/png; charset=binary"]
)
def test_accepted_types(client, content_type):
    data = content_type.encode() * 10
    assert client.upload_attachment(sha(data), data, content_type).created


@pytest.mark.parametrize("content_type", ["image/gif", "text/plain", "application/json", ""])
def test_other_types_are_415(portal, client, content_type):
    data = b"GIF89a" + content_type.encode()
    with pytest.raises(Permanent) as caught:
        client.upload_attachment(sha(data), data, content_type)
    assert (caught.value.status, caught.value.error) == (415, "unsupported_media_type")
    assert portal.attachment(sha(data)) is None


def test_body_not_hashing_to_the_path_is_422(portal, client):
    data = png_bytes(11)
    wrong = sha(data + b"!")
    with pytest.raises(Permanent) as caught:
        client.upload_attachment(wrong, data, "image/png")
    assert (caught.value.status, caught.value.error) == (422, "hash_mismatch")
    assert caught.value.details[0]["field"] == "sha256"
    assert portal.attachment(wrong) is None and portal.attachment(sha(data)) is None


def test_malformed_sha_is_400(client):
    with pytest.raises(Permanent) as caught:
        client.upload_attachment("ABC", b"x", "image/png")
    assert (caught.value.status, caught.value.error) == (400, "invalid_sha256")
    upper = sha(b"x").upper()
    with pytest.raises(Permanent):
        client.upload_attachment(upper, b"x", "image/png")


def test_ten_mib_is_accepted_and_one_byte_more_is_413(portal, client):
    data = b"%PDF-1.7\n" + b"\0" * (MAX_BODY - 9)
    assert len(data) == 10_485_760
    assert client.upload_attachment(sha(data), data, "application/pdf").created
    bigger = data + b"\0"
    with pytest.raises(Permanent) as caught:
        client.upload_attachment(sha(bigger), bigger, "application/pdf")
    assert (caught.value.status, caught.value.error) == (413, "payload_too_large")
    assert portal.attachment(sha(bigger)) is None
    # The connection is still usable afterwards.
    small = png_bytes(12)
    assert client.upload_attachment(sha(small), small, "image/png").created


def test_get_is_not_allowed(portal):
    path = f"/api/v1/attachments/{sha(b'x')}"
    status, payload, response = raw_request(
        portal.url, "GET", path, b"", signed_headers("GET", path, b"")
    )
    assert status == 405 and response.getheader("Allow") == "PUT"
