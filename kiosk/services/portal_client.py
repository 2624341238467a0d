"""HTTP client for the provincial portal's kiosk intake API (/work/shared/portal-api.yaml).

Every call either returns a typed result or raises one of four typed errors, so that an
outbox can decide without looking at HTTP:

- Transient: retry later with backoff (timeouts, connection errors, 5xx, 429). `retry_after`
  is the server's Retry-After in seconds when it sent one; `ambiguous` is True when the
  request may have reached the portal and been acted on, so a dossier must be replayed with
  the same bytes and Idempotency-Key, never changed.
- Permanent: 400, 409, 413, 415, 422: this body will never be accepted; a clerk must look.
- AuthBlocked: 401/403: credentials wrong, revoked, kiosk disabled or clock off; stop sending.
- NotFound: 404.

The client sends bodies exactly as given (a dossier is serialised once, when the citizen
confirms) and signs the exact bytes and path it sends. It never logs bodies: they hold
personal data. One PortalClient is meant for one thread at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

log = logging.getLogger(__name__)

EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf", "audio/wav", "audio/ogg")
AUTH_ERRORS = ("unauthorized", "bad_signature", "clock_skew", "revoked", "kiosk_disabled")
PERMANENT_STATUSES = (400, 409, 413, 415, 422)


# --- signing ------------------------------------------------------------------------------
def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def format_timestamp(epoch: float) -> str:
    """RFC 3339 in UTC with a Z, whole seconds: 2026-11-23T04:40:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """X-Signature: hex HMAC-SHA256(secret, METHOD\\nPATH\\nX-Timestamp\\nhex(sha256(body))).

    path is the request path as sent (percent-encoded, with /api/v1, without the query).
    """
    message = f"{method}\n{path}\n{timestamp}\n{body_sha256(body)}"
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    `now` (epoch seconds) is the current time on the server's clock, for the date form.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)  # lenient: "1.5"
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is no advice
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


# --- results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Health:
    status: str
    server_time: datetime
    skew: float  # server clock minus this machine's clock, seconds
    round_trip: float  # seconds the /health call took


@dataclass(frozen=True)
class Delivered:
    """The portal has the dossier. replay=True: it had it already (200, original receipt)."""

    dossier_code: str  # opaque: store and show as given
    received_at: str  # RFC 3339, as the portal gave it
    expected_result_date: str | None  # YYYY-MM-DD or None
    replay: bool
    status: str = "received"


@dataclass(frozen=True)
class Uploaded:
    sha256: str
    created: bool  # False: the portal already had it (200)


@dataclass(frozen=True)
class DossierStatus:
    dossier_code: str
    status: str  # received | processing | needs_info | completed | rejected
    updated_at: str
    message: dict[str, str]  # per language tag; may be empty


@dataclass(frozen=True)
class Catalogue:
    as_of: str  # pass back as `since` next time, exactly as given
    procedures: list[dict[str, Any]]


# --- errors -------------------------------------------------------------------------------
class PortalError(Exception):
    """Base of the typed errors. `key` is a translation key for a clerk's screen; `detail`
    is plain English for logs and holds no personal data."""

    key = "portal.error"

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class Transient(PortalError):
    key = "portal.error.transient"

    def __init__(
        self, status: int | None, retry_after: float | None, ambiguous: bool, detail: str
    ) -> None:
        super().__init__(detail, status)
        self.retry_after = retry_after
        self.ambiguous = ambiguous

    def __repr__(self) -> str:
        return (
            f"Transient(status={self.status}, retry_after={self.retry_after}, "
            f"ambiguous={self.ambiguous}, detail={self.detail!r})"
        )


class Permanent(PortalError):
    key = "portal.error.permanent"

    def __init__(
        self, status: int, error: str, details: list[dict[str, str]], detail: str = ""
    ) -> None:
        super().__init__(detail or f"HTTP {status} {error}", status)
        self.error = error
        self.details = details

    def __repr__(self) -> str:
        return f"Permanent(status={self.status}, error={self.error!r}, details={self.details})"


class AuthBlocked(PortalError):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"HTTP {status} {error}", status)
        self.error = error

    @property
    def key(self) -> str:  # type: ignore[override]
        return (
            f"portal.error.auth.{self.error}" if self.error in AUTH_ERRORS else "portal.error.auth"
        )

    def __repr__(self) -> str:
        return f"AuthBlocked(status={self.status}, error={self.error!r})"


class NotFound(PortalError):
    key = "portal.error.not_found"

    def __init__(self, detail: str = "HTTP 404") -> None:
        super().__init__(detail, 404)


# --- the client ---------------------------------------------------------------------------
class _Bearer(AuthBase):
    # Passing auth explicitly also stops requests from substituting ~/.netrc credentials.
    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ]
        todo.extend(e for e in linked if isinstance(e, BaseException))


def transport_error(exc: requests.RequestException) -> Transient:
    """Classify a failure with no HTTP answer. Ambiguous unless the request surely never
    left (no connection, TLS handshake refused)."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Transient(None, None, False, "connect timeout")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Transient(None, None, True, "read timeout: the portal may have acted on it")
    if isinstance(exc, requests.exceptions.SSLError):
        return Transient(None, None, False, "TLS failure (certificate or handshake)")
    if isinstance(exc, requests.exceptions.ConnectionError):
        never_sent = (NewConnectionError, NameResolutionError, ConnectTimeoutError)
        if any(isinstance(e, never_sent) for e in _causes(exc)):
            return Transient(None, None, False, "cannot connect to the portal")
        return Transient(None, None, True, "connection lost: the portal may have acted on it")
    return Transient(None, None, True, f"transport error ({name})")


def _details(payload: Any) -> list[dict[str, str]]:
    items = payload.get("details") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    return [
        {"field": str(i.get("field", "")), "message": str(i.get("message", ""))}
        for i in items
        if isinstance(i, dict)
    ]


class PortalClient:
    def __init__(
        self,
        base_url: str,
        kiosk_id: str,
        secret: str,
        token: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        ca_bundle: str | None = None,
        clock_offset: float = 0.0,
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.time,
        user_agent: str = "commune-kiosk",
    ) -> None:
        """base_url includes the API prefix, e.g. https://portal.example.gov.vn/api/v1.

        clock_offset (seconds) is added to `clock()` for X-Timestamp; health() measures it.
        """
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._secret = secret
        self._auth = _Bearer(token)
        self.timeout = (connect_timeout, read_timeout)
        self.verify: str | bool = ca_bundle or True
        self.clock_offset = clock_offset
        self._clock = clock
        self._owns_session = session is None
        self.session = session or requests.Session()
        self._user_agent = user_agent
        self._settings: dict[str, Any] | None = None

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> float:
        """Epoch seconds on the portal's clock, as far as this client knows it."""
        return self._clock() + self.clock_offset

    # --- plumbing -------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        query: str = "",
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> requests.Response:
        url = self.base_url + path + (f"?{query}" if query else "")
        request = requests.Request(
            method,
            url,
            data=body or None,
            headers={"User-Agent": self._user_agent, **(headers or {})},
            auth=self._auth if signed else _Bearer(None),
        )
        prepared = self.session.prepare_request(request)
        if signed:
            # Sign what goes on the wire: the path after requests has prepared the URL, and
            # the body bytes it will send.
            sent = prepared.body if isinstance(prepared.body, bytes) else b""
            if sent != body:
                raise TypeError("the request body was altered before sending")
            stamp = format_timestamp(self.now())
            wire_path = urlsplit(prepared.url).path
            prepared.headers["X-Kiosk-Id"] = self.kiosk_id
            prepared.headers["X-Timestamp"] = stamp
            prepared.headers["X-Signature"] = sign(self._secret, method, wire_path, stamp, body)
        if self._settings is None:
            # Proxy and CA settings from the environment, looked up once: scanning
            # os.environ on every call cost more than the rest of a request.
            self._settings = self.session.merge_environment_settings(
                prepared.url, {}, False, self.verify, None
            )
        try:
            return self.session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **self._settings
            )
        except requests.RequestException as exc:
            error = transport_error(exc)
            log.info("%s %s: no answer (%s)", method, path, error.detail)
            raise error from exc

    def _check(self, response: requests.Response, what: str) -> Any:
        """The JSON payload of a 200/201 answer, or the typed error for any other."""
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if status in (200, 201):
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, str) else ""
        log.info("%s: HTTP %s %s", what, status, error)
        if status in PERMANENT_STATUSES:
            raise Permanent(status, error or f"http_{status}", _details(payload))
        if status in (401, 403):
            raise AuthBlocked(status, error or ("unauthorized" if status == 401 else "forbidden"))
        if status == 404:
            raise NotFound(f"{what}: HTTP 404")
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.now())
        if status in (408, 429, 503):
            # The portal (or its gateway) says it did not take the request on.
            raise Transient(status, retry_after, False, f"HTTP {status}")
        if status >= 500:
            raise Transient(
                status, retry_after, True, f"HTTP {status}: the portal may have acted on it"
            )
        # Redirects and unlisted codes: likely a misconfigured URL or a captive portal.
        # Keep the dossier queued rather than calling it rejected.
        raise Transient(status, retry_after, True, f"unexpected HTTP {status}")

    @staticmethod
    def _malformed(response: requests.Response, what: str) -> Transient:
        # A 2xx that is not the contract's JSON (a captive portal page, a proxy): nothing
        # is known about the dossier, so replay it later.
        return Transient(response.status_code, None, True, f"{what}: malformed answer")

    # --- the contract ---------------------------------------------------------------------
    def health(self, apply: bool = True) -> Health:
        """Server time; measures the clock skew and, with apply, corrects X-Timestamp."""
        start = self._clock()
        response = self._send("GET", "/health", signed=False)
        end = self._clock()
        payload = self._check(response, "health")
        try:
            server_time = datetime.fromisoformat(payload["server_time"])
            if server_time.tzinfo is None:
                raise ValueError("server_time has no offset")
        except (TypeError, KeyError, ValueError) as exc:
            raise self._malformed(response, "health") from exc
        skew = server_time.timestamp() - (start + end) / 2
        if apply:
            self.clock_offset = skew
        return Health(str(payload.get("status", "")), server_time, skew, end - start)

    def submit_dossier(self, body_bytes: bytes, client_ref: str) -> Delivered:
        """POST /dossiers with exactly these bytes and Idempotency-Key = client_ref."""
        if not isinstance(body_bytes, bytes):
            raise TypeError("body_bytes must be the stored bytes of the dossier")
        if not client_ref:
            raise ValueError("client_ref is required")
        response = self._send(
            "POST",
            "/dossiers",
            body=body_bytes,
            headers={"Content-Type": "application/json", "Idempotency-Key": client_ref},
        )
        payload = self._check(response, f"dossier {client_ref}")
        if not isinstance(payload, dict) or not isinstance(payload.get("dossier_code"), str):
            raise self._malformed(response, f"dossier {client_ref}")
        replay = response.status_code == 200
        log.info(
            "dossier %s delivered as %s (HTTP %s)",
            client_ref,
            payload["dossier_code"],
            response.status_code,
        )
        return Delivered(
            payload["dossier_code"],
            str(payload.get("received_at", "")),
            payload.get("expected_result_date"),
            replay,
            str(payload.get("status", "received")),
        )

    def upload_attachment(self, sha256: str, data: bytes, content_type: str) -> Uploaded:
        """PUT /attachments/{sha256} (idempotent). 413/415/422 raise Permanent."""
        response = self._send(
            "PUT",
            f"/attachments/{quote(sha256, safe='')}",
            body=data,
            headers={"Content-Type": content_type},
        )
        self._check(response, f"attachment {sha256[:12]}")
        return Uploaded(sha256, response.status_code == 201)

    def dossier_status(self, code: str) -> DossierStatus:
        response = self._send("GET", f"/dossiers/{quote(code, safe='')}")
        payload = self._check(response, f"status {code}")
        if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
            raise self._malformed(response, f"status {code}")
        message = payload.get("message")
        return DossierStatus(
            str(payload.get("dossier_code", code)),
            payload["status"],
            str(payload.get("updated_at", "")),
            {str(k): str(v) for k, v in message.items()} if isinstance(message, dict) else {},
        )

    def procedures(self, since: str | datetime | None = None) -> Catalogue:
        """The catalogue, or only what changed after `since` (the previous as_of)."""
        if isinstance(since, datetime):
            since = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        query = f"since={quote(since, safe='')}" if since else ""
        response = self._send("GET", "/procedures", query=query)
        payload = self._check(response, "procedures")
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("procedures"), list)
            or not isinstance(payload.get("as_of"), str)
        ):
            raise self._malformed(response, "procedures")
        return Catalogue(
            payload["as_of"], [p for p in payload["procedures"] if isinstance(p, dict)]
        )
