"""HTTP client for the provincial portal's kiosk intake API (docs/portal-api.yaml).

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

A hostile or broken server cannot hold it or fill its memory:
- every request has one total deadline (connect + send + the whole answer), by default the
  connect timeout plus the read timeout, and never later than `deadline` (a monotonic
  time set by the caller); a watchdog closes the socket when it passes, so a server that
  drips one byte every few seconds is cut off on time;
- answers are read as a stream with a cap (contract 1.1: 4 MiB JSON, 10 MiB recordings,
  100 MiB language packs); gzip and deflate are inflated only up to the cap;
- every answer's shape is checked: what the kiosk stores is of the type it expects;
- it refuses to talk to an http:// portal unless the host is this machine (InsecureURL).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

log = logging.getLogger(__name__)

EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf")
AUTH_ERRORS = ("unauthorized", "bad_signature", "clock_skew", "revoked", "kiosk_disabled")
PERMANENT_STATUSES = (400, 409, 413, 415, 422)
PORTAL_STATUSES = ("received", "processing", "needs_info", "completed", "rejected")
MIB = 1024 * 1024
JSON_LIMIT = 4 * MIB  # contract 1.1: the largest JSON answer
RECORDING_LIMIT = 10 * MIB
PACK_LIMIT = 100 * MIB
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
_CHUNK = 64 * 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- the https rule ---------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """None when the portal URL may be used, else the translation key (resources/i18n/*/
    delivery.json) of what is wrong: the token and personal data must not travel in clear,
    so http:// is allowed only to this machine (the demo and the tests)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "delivery.url.invalid"
    if parts.scheme not in ("http", "https") or not host:
        return "delivery.url.invalid"
    if parts.scheme == "http" and not is_loopback(host):
        return "delivery.url.https_required"
    return None


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
    ignored: tuple[str, ...] = ()  # answer fields of the wrong shape, dropped


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


class InsecureURL(PortalError):
    """The portal URL is not https:// (nor loopback): nothing is sent."""

    def __init__(self, url: str) -> None:
        problem = url_problem(url) or "delivery.url.invalid"
        super().__init__(
            "the portal URL must start with https:// (http:// only to this machine)"
            if problem == "delivery.url.https_required"
            else "the portal URL is not an http(s) URL"
        )
        self.problem = problem

    @property
    def key(self) -> str:  # type: ignore[override]
        return self.problem


# --- deadline and size limits ------------------------------------------------------------
class _Watch:
    """The request in flight on one client, and a thread that cuts it at its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._wake_at = float("inf")
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.expired = False

    def arm(self, deadline: float) -> None:
        with self._cond:
            self._deadline, self._conn, self.expired = deadline, None, False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="portal-deadline", daemon=True
                )
                self._thread.start()
            elif deadline < self._wake_at:
                self._cond.notify()

    def attach(self, conn: Any) -> None:
        """The connection this request uses (called by it, on the requesting thread)."""
        with self._cond:
            self._conn = conn
            if self.expired:
                _abort(conn)

    def disarm(self) -> None:
        with self._cond:
            self._deadline, self._conn = None, None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._wake_at = float("inf")
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._wake_at = self._deadline
                    self._cond.wait(left)
                    continue
                self.expired, self._deadline = True, None
                if self._conn is not None:
                    _abort(self._conn)


def _abort(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_ACTIVE = threading.local()  # the _Watch of the request this thread is making


class _WatchedMixin:
    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None:
            watch.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None and getattr(self, "sock", None) is not None:
            watch.attach(self)  # a kept-alive connection: no connect() this time
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """Connections the watchdog can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


class TooLarge(ValueError):
    pass


def read_capped(response: requests.Response, limit: int, deadline: float) -> bytes:
    """The whole body of a streamed answer, at most `limit` bytes once decoded (gzip and
    deflate are inflated here, never beyond the limit). TooLarge beyond it; Transient
    when the deadline passes."""
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise TooLarge(f"answer of {int(declared)} bytes (limit {limit})")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj(zlib.MAX_WBITS + 32)  # zlib or gzip header
    else:
        raise TooLarge(f"answer in an unknown encoding ({encoding[:20]})")
    raw = response.raw
    parts: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise Transient(None, None, True, "the whole answer did not come in time")
        chunk = raw.read(_CHUNK, decode_content=False)
        if not chunk:
            break
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error:
                raise TooLarge("answer: corrupt compressed data") from None
            if inflater.unconsumed_tail:
                raise TooLarge(f"answer inflates beyond {limit} bytes")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"answer beyond {limit} bytes")
        parts.append(chunk)
    if inflater is not None:
        tail = inflater.flush(limit + 1 - size) if size <= limit else b""
        size += len(tail)
        if size > limit:
            raise TooLarge(f"answer inflates beyond {limit} bytes")
        parts.append(tail)
    return b"".join(parts)


@dataclass
class Answer:
    """A read answer: status, headers and the decoded body (never beyond the limit)."""

    status_code: int
    headers: Any
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


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
        {
            "field": _clean(str(i.get("field", "")), 200),
            "message": _clean(str(i.get("message", "")), 500),
        }
        for i in items[:100]
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
        deadline: float | None = None,
    ) -> None:
        """base_url includes the API prefix, e.g. https://portal.example.gov.vn/api/v1.

        clock_offset (seconds) is added to `clock()` for X-Timestamp; health() measures it.
        Each request ends within connect_timeout + read_timeout, answer included, and not
        after `deadline` (monotonic seconds) when one is set.
        """
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._secret = secret
        self._auth = _Bearer(token)
        self.timeout = (connect_timeout, read_timeout)
        self.budget = connect_timeout + read_timeout
        self.deadline = deadline
        self.verify: str | bool = ca_bundle or True
        self.clock_offset = clock_offset
        self._clock = clock
        self._owns_session = session is None
        self.session = session or requests.Session()
        adapter = _Adapter()
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._watch = _Watch()
        self._user_agent = user_agent
        self._settings: dict[str, Any] | None = None
        self._url_problem = url_problem(self.base_url)

    def close(self) -> None:
        self._watch.close()
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
        limit: int = JSON_LIMIT,
    ) -> Answer:
        if self._url_problem is not None:
            raise InsecureURL(self.base_url)
        start = time.monotonic()
        deadline = start + self.budget
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        if deadline <= start:
            raise Transient(None, None, False, "no time left for a request")
        url = self.base_url + path + (f"?{query}" if query else "")
        request = requests.Request(
            method,
            url,
            data=body or None,
            headers={
                "User-Agent": self._user_agent,
                "Accept-Encoding": "gzip, deflate",
                **(headers or {}),
            },
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
            self._settings["stream"] = True  # read here, with a cap and the deadline
        left = deadline - time.monotonic()
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        watch = self._watch
        watch.arm(deadline)
        _ACTIVE.watch = watch
        response: requests.Response | None = None
        try:
            response = self.session.send(
                prepared, timeout=timeout, allow_redirects=False, **self._settings
            )
            content = read_capped(response, limit, deadline)
            if watch.expired:  # cut at the deadline: what came may be a part only
                raise Transient(None, None, True, f"no whole answer within {self.budget:g} s")
            return Answer(response.status_code, response.headers, content)
        except requests.RequestException as exc:
            error = (
                Transient(None, None, True, f"no whole answer within {self.budget:g} s")
                if watch.expired
                else transport_error(exc)
            )
            log.info("%s %s: no answer (%s)", method, path, error.detail)
            raise error from exc
        except TooLarge as exc:
            log.info("%s %s: answer refused (%s)", method, path, exc)
            status = response.status_code if response is not None else None
            raise Transient(status, None, True, f"answer refused: {exc}") from None
        except Transient as exc:
            log.info("%s %s: no answer (%s)", method, path, exc.detail)
            raise
        except (urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
            # The answer broke off (shorter than announced, cut by the watchdog, garbled).
            error = Transient(
                None,
                None,
                True,
                f"no whole answer within {self.budget:g} s"
                if watch.expired
                else f"answer broken off ({type(exc).__name__})",
            )
            log.info("%s %s: no answer (%s)", method, path, error.detail)
            raise error from exc
        except OSError as exc:  # the watchdog shut the socket while the body was read
            error = Transient(None, None, True, f"no whole answer within {self.budget:g} s")
            log.info("%s %s: no answer (%s)", method, path, type(exc).__name__)
            raise error from exc
        finally:
            _ACTIVE.watch = None
            watch.disarm()
            if response is not None:
                response.close()  # a connection read to the end is back in the pool already

    def _check(self, answer: Answer, what: str) -> Any:
        """The JSON payload of a 200/201 answer, or the typed error for any other."""
        status = answer.status_code
        try:
            payload = answer.json()
        except ValueError:
            payload = None
        if status in (200, 201):
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        error = _clean(error, 64) if isinstance(error, str) else ""
        log.info("%s: HTTP %s %s", what, status, error)
        if status in PERMANENT_STATUSES:
            raise Permanent(status, error or f"http_{status}", _details(payload))
        if status in (401, 403):
            raise AuthBlocked(status, error or ("unauthorized" if status == 401 else "forbidden"))
        if status == 404:
            raise NotFound(f"{what}: HTTP 404")
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), self.now())
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
    def _malformed(answer: Answer, what: str, why: str = "") -> Transient:
        # A 2xx that is not the contract's JSON (a captive portal page, a proxy): nothing
        # is known about the item, so replay it later.
        detail = f"{what}: malformed answer" + (f" ({why})" if why else "")
        return Transient(answer.status_code, None, True, detail)

    # --- the contract ---------------------------------------------------------------------
    def health(self, apply: bool = True) -> Health:
        """Server time; measures the clock skew and, with apply, corrects X-Timestamp."""
        start = self._clock()
        answer = self._send("GET", "/health", signed=False)
        end = self._clock()
        payload = self._check(answer, "health")
        try:
            server_time = datetime.fromisoformat(payload["server_time"])
            if server_time.tzinfo is None:
                raise ValueError("server_time has no offset")
        except (TypeError, KeyError, ValueError) as exc:
            raise self._malformed(answer, "health", "server_time") from exc
        skew = server_time.timestamp() - (start + end) / 2
        if apply:
            self.clock_offset = skew
        status = payload.get("status")
        return Health(status if isinstance(status, str) else "", server_time, skew, end - start)

    def submit_dossier(self, body_bytes: bytes, client_ref: str) -> Delivered:
        """POST /dossiers with exactly these bytes and Idempotency-Key = client_ref.

        The receipt must carry a dossier_code (else: a malformed answer, Transient, the
        dossier is replayed later); a received_at, expected_result_date or status of the
        wrong shape is dropped and named in `Delivered.ignored`."""
        if not isinstance(body_bytes, bytes):
            raise TypeError("body_bytes must be the stored bytes of the dossier")
        if not client_ref:
            raise ValueError("client_ref is required")
        answer = self._send(
            "POST",
            "/dossiers",
            body=body_bytes,
            headers={"Content-Type": "application/json", "Idempotency-Key": client_ref},
        )
        what = f"dossier {client_ref}"
        payload = self._check(answer, what)
        if not isinstance(payload, dict):
            raise self._malformed(answer, what, "not a JSON object")
        code = payload.get("dossier_code")
        if not isinstance(code, str) or not 0 < len(code) <= 64 or not code.isprintable():
            raise self._malformed(answer, what, "dossier_code")
        ignored = []
        received_at = payload.get("received_at")
        if not isinstance(received_at, str) or not _is_timestamp(received_at):
            ignored.append("received_at")
            received_at = ""
        expected = payload.get("expected_result_date")
        if expected is not None and not _is_date(expected):
            ignored.append("expected_result_date")
            expected = None
        status = payload.get("status", "received")
        if status not in PORTAL_STATUSES:
            ignored.append("status")
            status = "received"
        if ignored:
            log.warning("%s: malformed %s in the receipt, ignored", what, ", ".join(ignored))
        replay = answer.status_code == 200
        log.info("dossier %s delivered as %s (HTTP %s)", client_ref, code, answer.status_code)
        return Delivered(code, received_at, expected, replay, status, tuple(ignored))

    def upload_attachment(self, sha256: str, data: bytes, content_type: str) -> Uploaded:
        """PUT /attachments/{sha256} (idempotent). 413/415/422 raise Permanent."""
        answer = self._send(
            "PUT",
            f"/attachments/{quote(sha256, safe='')}",
            body=data,
            headers={"Content-Type": content_type},
        )
        self._check(answer, f"attachment {sha256[:12]}")
        return Uploaded(sha256, answer.status_code == 201)

    def dossier_status(self, code: str) -> DossierStatus:
        answer = self._send("GET", f"/dossiers/{quote(code, safe='')}")
        what = f"status {code}"
        payload = self._check(answer, what)
        if not isinstance(payload, dict) or payload.get("status") not in PORTAL_STATUSES:
            raise self._malformed(answer, what, "status")
        updated = payload.get("updated_at")
        message = payload.get("message")
        return DossierStatus(
            code,
            payload["status"],
            updated if isinstance(updated, str) and _is_timestamp(updated) else "",
            {
                str(k)[:16]: v[:4000]
                for k, v in message.items()
                if isinstance(v, str) and isinstance(k, str)
            }
            if isinstance(message, dict)
            else {},
        )

    def procedures(self, since: str | datetime | None = None) -> Catalogue:
        """The catalogue, or only what changed after `since` (the previous as_of)."""
        if isinstance(since, datetime):
            since = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        query = f"since={quote(since, safe='')}" if since else ""
        answer = self._send("GET", "/procedures", query=query)
        payload = self._check(answer, "procedures")
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("procedures"), list)
            or not isinstance(payload.get("as_of"), str)
            or not _is_timestamp(payload["as_of"])
        ):
            raise self._malformed(answer, "procedures")
        return Catalogue(
            payload["as_of"], [p for p in payload["procedures"] if isinstance(p, dict)]
        )

    def language_packs(self) -> list[PublishedPack]:
        """GET /language-packs: the newest published pack of each language (malformed
        entries are left out; the list itself must have the contract's shape)."""
        answer = self._send("GET", "/language-packs")
        payload = self._check(answer, "language packs")
        if not isinstance(payload, dict) or not isinstance(payload.get("packs"), list):
            raise self._malformed(answer, "language packs")
        packs = []
        for entry in payload["packs"]:
            pack = PublishedPack.parse(entry)
            if pack is None:
                log.info("language packs: an entry without the contract's fields was skipped")
            else:
                packs.append(pack)
        return packs

    def offer_language_pack(self, sha256: str, data: bytes) -> bool:
        """PUT /language-packs/contributions/{sha256}: True if stored now, False if it was
        there already."""
        answer = self._send(
            "PUT",
            f"/language-packs/contributions/{quote(sha256, safe='')}",
            body=data,
            headers={"Content-Type": "application/zip"},
        )
        self._check(answer, "language pack contribution")
        return answer.status_code == 201

    def media(self, sha256: str, limit: int = RECORDING_LIMIT) -> bytes:
        """GET /media/{sha256}: the bytes, checked against their hash, at most `limit`
        (RECORDING_LIMIT, or PACK_LIMIT for a language pack)."""
        answer = self._send("GET", f"/media/{quote(sha256, safe='')}", limit=limit)
        if answer.status_code != 200:
            self._check(answer, f"media {sha256[:12]}")
        if hashlib.sha256(answer.content).hexdigest() != sha256.lower():
            raise self._malformed(answer, f"media {sha256[:12]}", "sha256 differs")
        return answer.content


@dataclass(frozen=True)
class PublishedPack:
    """One entry of GET /language-packs (contract 1.1)."""

    language: str
    version: int
    sha256: str
    size: int
    published_at: str
    base_catalogue_version: str
    publisher: str = ""
    withdrawn: bool = False

    @classmethod
    def parse(cls, entry: Any) -> PublishedPack | None:
        if not isinstance(entry, dict):
            return None
        lang, version, sha = entry.get("language"), entry.get("version"), entry.get("sha256")
        size, base = entry.get("size"), entry.get("base_catalogue_version")
        if not (
            isinstance(lang, str)
            and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and version >= 1
            and isinstance(sha, str)
            and re.fullmatch(r"[0-9a-f]{64}", sha)
            and isinstance(size, int)
            and 0 < size <= PACK_LIMIT
            and isinstance(entry.get("published_at"), str)
            and isinstance(base, str)
        ):
            return None
        publisher = entry.get("publisher")
        return cls(
            lang,
            version,
            sha,
            size,
            entry["published_at"][:40],
            base[:64],
            _clean(publisher, 200) if isinstance(publisher, str) else "",
            entry.get("withdrawn") is True,
        )


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_timestamp(value: str) -> bool:
    if len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _clean(text_value: str, limit: int) -> str:
    """A portal-supplied name for logs and the database: printable, one line, short."""
    return "".join(ch if ch.isprintable() else "?" for ch in text_value[:limit])
