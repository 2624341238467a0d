"""The contract 1.1 calls for notices, media and citizens' feedback, on a PortalClient.

Same signing, same typed errors as the dossier calls (kiosk.services.portal_client).
Media are checked against their sha256 before they are returned.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kiosk.services.portal_client import PortalClient, Transient

log = logging.getLogger(__name__)

MAX_MEDIA = 10 * 1024 * 1024


class MediaMismatch(Exception):
    """The bytes fetched for a sha256 do not hash to it: they are not used."""

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(f"media {sha256[:12]} hashed to {actual[:12]}")
        self.sha256, self.actual = sha256, actual


@dataclass(frozen=True)
class NoticeFeed:
    as_of: str
    notices: list[dict[str, Any]]


@dataclass(frozen=True)
class FeedbackReceipt:
    feedback_code: str
    received_at: str
    replay: bool


@dataclass(frozen=True)
class FeedbackStatus:
    feedback_code: str
    status: str
    updated_at: str
    answer: dict[str, Any] | None = field(default=None)


def fetch_notices(client: PortalClient, since: str | None = None) -> NoticeFeed:
    query = f"since={quote(since, safe='')}" if since else ""
    response = client._send("GET", "/notices", query=query)
    payload = client._check(response, "notices")
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("notices"), list)
        or not isinstance(payload.get("as_of"), str)
    ):
        raise client._malformed(response, "notices")
    return NoticeFeed(payload["as_of"], [n for n in payload["notices"] if isinstance(n, dict)])


def fetch_media(client: PortalClient, sha256: str) -> tuple[str, bytes]:
    """(content_type, bytes) of a medium whose bytes hash to sha256, else MediaMismatch."""
    response = client._send("GET", f"/media/{quote(sha256, safe='')}")
    if response.status_code != 200:
        client._check(response, f"media {sha256[:12]}")
        raise Transient(response.status_code, None, False, "media: unexpected answer")
    data = response.content
    if len(data) > MAX_MEDIA:
        raise MediaMismatch(sha256, "oversize")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        log.warning("media %s: the bytes do not match their hash; not used", sha256[:12])
        raise MediaMismatch(sha256, actual)
    ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    return ctype, data


def submit_feedback(client: PortalClient, body: bytes, client_ref: str) -> FeedbackReceipt:
    """POST /feedback with exactly these bytes and Idempotency-Key = client_ref."""
    response = client._send(
        "POST",
        "/feedback",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": client_ref},
    )
    payload = client._check(response, f"feedback {client_ref}")
    if not isinstance(payload, dict) or not isinstance(payload.get("feedback_code"), str):
        raise client._malformed(response, f"feedback {client_ref}")
    log.info("feedback %s delivered (HTTP %s)", client_ref, response.status_code)
    return FeedbackReceipt(
        payload["feedback_code"], str(payload.get("received_at", "")), response.status_code == 200
    )


def feedback_status(client: PortalClient, code: str) -> FeedbackStatus:
    response = client._send("GET", f"/feedback/{quote(code, safe='')}")
    payload = client._check(response, "feedback status")
    if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
        raise client._malformed(response, "feedback status")
    answer = payload.get("answer")
    return FeedbackStatus(
        str(payload.get("feedback_code", code)),
        payload["status"],
        str(payload.get("updated_at", "")),
        answer if isinstance(answer, dict) else None,
    )
