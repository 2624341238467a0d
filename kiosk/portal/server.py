"""The reference portal: the whole kiosk intake contract (/api/v1) over HTTP/1.1 keep-alive,
with its own SQLite file, fault injection and a small admin API (/_admin) for tests and
demos. It serves loopback clients; it is not the provincial portal.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from kiosk.portal.catalogue import VIETNAM, expected_result_date, load_procedure_files
from kiosk.portal.faults import PRE_KINDS, FaultPlan, Faults
from kiosk.portal.feedback import PortalFeedback
from kiosk.portal.store import PortalStore, RecordedRequest, StoredDossier
from kiosk.portal.validation import (
    ATTACHMENT_TYPES,
    SHA256_RE,
    parse_datetime,
    validate_dossier,
    validate_payment,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/_admin"
MAX_BODY = 10 * 1024 * 1024
PACK_BODY = 100 * 1024 * 1024  # a language pack contribution (contract 1.1)
CONTRIBUTIONS = "/language-packs/contributions"
SKEW_LIMIT = 300.0
STATUSES = ("received", "processing", "needs_info", "completed", "rejected")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LOGGED_HEADERS = (
    "authorization",
    "content-type",
    "content-length",
    "idempotency-key",
    "x-kiosk-id",
    "x-timestamp",
    "x-signature",
    "user-agent",
    "connection",
)


def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def iso_us(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def canonical_json(doc: Any) -> str:
    """One spelling per parsed JSON value: key order and white space do not matter."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Answer:
    status: int
    payload: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    kiosk_id: str | None = None

    @property
    def error(self) -> str | None:
        return self.payload.get("error") if isinstance(self.payload, dict) else None

    def body(self) -> bytes:
        if isinstance(self.payload, bytes):
            return self.payload
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


def _error(
    status: int, error: str, details: list[dict[str, str]] | None = None, **headers: str
) -> Answer:
    payload: dict[str, Any] = {"error": error}
    if details is not None:
        payload["details"] = details
    return Answer(status, payload, dict(headers))


@dataclass
class _Request:
    method: str
    path: str  # as sent, still percent-encoded, without the query
    query: str
    headers: Any  # http.client.HTTPMessage
    body: bytes
    size: int
    oversize: bool


@dataclass
class _Kiosk:
    secret: str
    revoked: bool = False
    disabled: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    portal: ReferencePortal

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can
        # stall for seconds on a machine without network.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ReferencePortal/1.0"
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        portal = self.server.portal
        if portal._ssl is not None:
            self.request.settimeout(10)
            self.request = portal._ssl.wrap_socket(self.request, server_side=True)
        super().setup()
        portal._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.portal._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    # --- plumbing -------------------------------------------------------------------
    def _read_request(self) -> _Request | None:
        portal = self.server.portal
        raw_path, _, query = self.path.partition("?")
        refusal = None
        length = 0
        if self.headers.get("Transfer-Encoding"):
            # Our clients always send Content-Length; chunked bodies are out of scope.
            refusal = _error(411, "length_required")
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                refusal = _error(400, "bad_content_length")
        if refusal is not None:
            # The body's end is unknown, so the connection cannot carry another request.
            self.close_connection = True
            req = _Request(self.command, raw_path, query, self.headers, b"", 0, False)
            portal._log(req, refusal.status, "answered", None, refusal.error)
            self._send(refusal)
            return None
        limit = portal.max_body
        if raw_path.startswith(API_PREFIX + CONTRIBUTIONS + "/"):
            limit = max(limit, PACK_BODY)
        if length <= limit:
            body = self.rfile.read(length)
            return _Request(self.command, raw_path, query, self.headers, body, length, False)
        # Read and discard an oversize body, so the client gets to read the 413 instead
        # of a connection reset while it is still sending.
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(1 << 16, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
        return _Request(self.command, raw_path, query, self.headers, b"", length, True)

    def _send(self, answer: Answer, cut: bool = False) -> None:
        """The answer; `cut`: only its first half, then the connection closes."""
        body = answer.body()
        try:
            reason = HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {answer.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(self.server.portal.now().timestamp(), usegmt=True)}",
            f"Content-Length: {len(body)}",
        ]
        if body:
            lines.append(f"Content-Type: {answer.content_type}")
        lines.extend(f"{k}: {v}" for k, v in answer.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        # One write per answer: headers and body in separate segments would meet the
        # client's delayed ACK and cost tens of milliseconds each.
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if cut:
            self.wfile.write(head + body[: len(body) // 2])
            self.wfile.flush()
            self._drop()
            return
        self.wfile.write(head + body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self) -> None:
        portal = self.server.portal
        req = self._read_request()
        if req is None:
            return
        try:
            if req.path.startswith(ADMIN_PREFIX + "/") and portal.admin_enabled:
                # Its own token: the admin API shows every recorded request (bearer
                # tokens, signatures, personal data) and changes the portal.
                if portal.admin_allowed(req.headers):
                    self._send(portal._admin(req))
                else:
                    self._send(_error(401, "unauthorized"))
            elif req.path == API_PREFIX or req.path.startswith(API_PREFIX + "/"):
                self._api(req)
            else:
                answer = _error(404, "not_found")
                portal._log(req, answer.status, "answered", None, answer.error)
                self._send(answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("reference portal failed on %s %s", req.method, req.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(_error(500, "internal_error"))

    def _api(self, req: _Request) -> None:
        portal = self.server.portal
        route = portal._route(req)
        if isinstance(route, Answer):
            portal._log(req, route.status, "answered", None, route.error)
            self._send(route)
            return
        endpoint, param = route
        kind, delay = portal._plan.choose(endpoint)
        if delay > 0:
            portal._stopping.wait(delay)
        if kind in PRE_KINDS:
            answer = portal._fault_answer(kind)
            if answer is None:
                portal._log(req, None, "dropped" if kind == "drop" else "hang", kind, None)
                if kind == "hang":
                    portal._stopping.wait(portal._plan.faults.hang_seconds)
                self._drop()
            else:
                portal._log(req, answer.status, "answered", kind, answer.error)
                self._send(answer)
            return
        answer = portal._handle(req, endpoint, param)
        if kind == "drop_after_store":
            portal._log(
                req, answer.status, "dropped_after_store", kind, answer.error, answer.kiosk_id
            )
            self._drop()
        elif kind == "cut_after_store":
            portal._log(req, answer.status, "cut", kind, answer.error, answer.kiosk_id)
            self._send(answer, cut=True)
        elif kind == "hang_after_store":
            portal._log(req, answer.status, "late", kind, answer.error, answer.kiosk_id)
            portal._stopping.wait(portal._plan.faults.hang_seconds)
            self._send(answer)
        else:
            portal._log(req, answer.status, "answered", None, answer.error, answer.kiosk_id)
            self._send(answer)


class ReferencePortal:
    """A portal on 127.0.0.1 that serves the contract, for tests, demos and benchmarks.

    `start()` binds (port 0 picks a free port) and returns the API base URL, e.g.
    http://127.0.0.1:8400/api/v1. `procedures`: a JSON file or folder, a list of
    procedure objects, or None for resources/procedures/ when that folder exists.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kiosks: dict[str, str] | None = None,
        tokens: list[str] | tuple[str, ...] | set[str] = (),
        procedures: str | Path | list[dict[str, Any]] | None = None,
        faults: Faults | None = None,
        code_prefix: str = "QN",
        max_body: int = MAX_BODY,
        skew_limit: float = SKEW_LIMIT,
        clock_offset: float = 0.0,
        default_processing_days: int | None = None,
        check_procedures: bool = False,
        record_bodies: bool = True,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        admin: bool = False,
        admin_token: str | None = None,
        payments: bool = True,
    ) -> None:
        """`admin`: serve the /_admin API (off unless asked for), only to requests that
        carry `admin_token` (Authorization: Bearer, or X-Admin-Token). `payments=False`
        plays a 1.0 portal: no /payments, no api_version in /health."""
        if admin and not admin_token:
            raise ValueError("the /_admin API needs its own token (--admin-token)")
        self.store = PortalStore(db_path)
        self.payments_enabled = payments
        self.host, self.port = host, port
        self.code_prefix = code_prefix
        self.max_body = max_body
        self.skew_limit = skew_limit
        self.clock_offset = clock_offset
        self.default_processing_days = default_processing_days
        self.check_procedures = check_procedures
        self.record_bodies = record_bodies
        self.admin_enabled = admin
        self._admin_token = admin_token or ""
        self._plan = FaultPlan(faults or Faults())
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ssl: ssl.SSLContext | None = None
        if certfile:
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
        stored_kiosks, self._tokens = self.store.load_credentials()
        self._kiosks = {k: _Kiosk(*v) for k, v in stored_kiosks.items()}
        for kiosk_id, secret in (kiosks or {}).items():
            self.add_kiosk(kiosk_id, secret)
        for token in tokens:
            self.add_token(token)
        self._procedures: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._last_as_of = datetime.min.replace(tzinfo=UTC)
        self._load_procedures(procedures)
        self.feedback = PortalFeedback(self.store, self.now, iso_us, code_prefix)

    # --- life cycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + API_PREFIX

    def start(self) -> str:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.portal = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="reference-portal",
            daemon=True,
        )
        self._thread.start()
        log.info("reference portal listening on %s", self.url)
        return self.url

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() (True) or the timeout (False); used by the CLI."""
        return self._stopping.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                conns = list(self._conns)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            if self._thread is not None:
                self._thread.join(timeout=5)
            deadline = time.monotonic() + 2
            while self._conns and time.monotonic() < deadline:
                time.sleep(0.01)
            self._server = None
        with self.store.lock:
            self.store.close()

    def __enter__(self) -> ReferencePortal:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # --- clock --------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def set_clock_offset(self, seconds: float) -> None:
        """Shift the portal's clock, to provoke clock_skew without touching the client."""
        self.clock_offset = float(seconds)

    # --- credentials ----------------------------------------------------------------------
    def add_kiosk(self, kiosk_id: str, secret: str) -> None:
        """Register a kiosk identity. A known kiosk keeps its revoked/disabled flags unless
        its secret changes (a new secret is a fresh registration)."""
        with self._lock:
            known = self._kiosks.get(kiosk_id)
            kiosk = known if known is not None and known.secret == secret else _Kiosk(secret)
            self._kiosks[kiosk_id] = kiosk
        self.store.save_kiosk(kiosk_id, secret, kiosk.revoked, kiosk.disabled)

    def _update_kiosk(self, kiosk_id: str, **flags: bool) -> None:
        with self._lock:
            kiosk = self._kiosks.get(kiosk_id)
            if kiosk is None:
                raise KeyError(kiosk_id)
            for name, value in flags.items():
                setattr(kiosk, name, value)
        self.store.save_kiosk(kiosk_id, kiosk.secret, kiosk.revoked, kiosk.disabled)

    def revoke_kiosk(self, kiosk_id: str, revoked: bool = True) -> None:
        self._update_kiosk(kiosk_id, revoked=revoked)

    def disable_kiosk(self, kiosk_id: str, disabled: bool = True) -> None:
        self._update_kiosk(kiosk_id, disabled=disabled)

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)
        self.store.save_token(token, True)

    def remove_token(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)
        self.store.save_token(token, False)

    # --- faults ---------------------------------------------------------------------------
    def get_faults(self) -> Faults:
        return self._plan.faults

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the faults (`faults`), or change some options of the current ones."""
        new = Faults.from_json(changes, base=faults or self._plan.faults)
        self._plan.set(new)
        return new

    def _fault_answer(self, kind: str) -> Answer | None:
        faults = self._plan.faults
        retry = {}
        if faults.retry_after is not None:
            if faults.retry_after_http_date:
                at = self.now().timestamp() + faults.retry_after
                retry = {"Retry-After": formatdate(at, usegmt=True)}
            else:
                retry = {"Retry-After": str(faults.retry_after)}
        if kind == "rate_limit":
            return _error(429, "rate_limited", **retry)
        if kind == "error503":
            return _error(503, "unavailable", **retry)
        if kind == "error502":
            # What a gateway in front of a portal sends: HTML, not the contract's JSON.
            return Answer(
                502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
            )
        if kind == "error500":
            return _error(500, "internal_error")
        return None

    # --- inspection -----------------------------------------------------------------------
    def requests(
        self,
        key: str | None = None,
        *,
        path: str | None = None,
        method: str | None = None,
        after: int = 0,
    ) -> list[RecordedRequest]:
        """Every request received (optionally only one Idempotency-Key, path or method)."""
        return self.store.requests(key=key, path=path, method=method, after=after)

    def clear_requests(self) -> None:
        self.store.clear_requests()

    def dossiers(self) -> list[StoredDossier]:
        return self.store.dossiers()

    def dossier(self, code: str) -> StoredDossier | None:
        return self.store.dossier(code)

    def attachment(self, sha256: str) -> tuple[str, bytes] | None:
        """(content_type, data) of a stored attachment."""
        return self.store.attachment(sha256)

    def set_status(self, code: str, status: str, message: dict[str, str] | None = None) -> None:
        """What a clerk at the portal does: move a dossier on, with a message per language."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if not self.store.set_status(code, status, message, iso_ms(self.now())):
            raise KeyError(code)

    # --- procedures -----------------------------------------------------------------------
    def _load_procedures(self, source: str | Path | list[dict[str, Any]] | None) -> None:
        stored = self.store.procedures()
        for code, (doc, updated_at) in stored.items():
            moment = parse_datetime(updated_at) or self.now()
            self._procedures[code] = (moment, {**json.loads(doc), "updated_at": updated_at})
        if source is None:
            from kiosk.paths import resource

            folder = resource("procedures")
            items = load_procedure_files(folder) if folder.is_dir() else []
        elif isinstance(source, list):
            items = source
        else:
            items = load_procedure_files(Path(source))
        for item in items:
            given = item.get("updated_at")
            doc = canonical_json({k: v for k, v in item.items() if k != "updated_at"})
            known = stored.get(item["code"])
            if known is not None and known[0] == doc and given in (None, known[1]):
                continue  # unchanged since the portal last loaded it: keep its updated_at
            moment = parse_datetime(given)
            if moment is None and given is not None:
                log.warning("procedure %s: updated_at %r is not a date-time", item["code"], given)
            self.upsert_procedure(item, updated_at=given if moment is not None else None)

    def upsert_procedure(
        self, procedure: dict[str, Any], updated_at: str | None = None
    ) -> dict[str, Any]:
        """Add or change a procedure; updated_at defaults to now (after any as_of served)."""
        if not isinstance(procedure.get("code"), str):
            raise ValueError("a procedure needs a string 'code'")
        with self._lock:
            moment = parse_datetime(updated_at) if updated_at else None
            if moment is None:
                # Strictly after every as_of already served, so `since` never misses it.
                moment = max(self.now(), self._last_as_of + timedelta(microseconds=1))
                updated_at = iso_us(moment)
            doc = {k: v for k, v in procedure.items() if k != "updated_at"}
            served = {**doc, "updated_at": updated_at}
            self._procedures[procedure["code"]] = (moment, served)
        self.store.save_procedure(procedure["code"], canonical_json(doc), str(updated_at))
        return served

    def catalogue(self) -> list[dict[str, Any]]:
        """Every procedure as served (with updated_at), by code."""
        with self._lock:
            return sorted((doc for _, doc in self._procedures.values()), key=lambda d: d["code"])

    def _procedures_answer(self, query: str) -> Answer:
        since_values = parse_qs(query).get("since")
        since = None
        if since_values:
            # An unencoded "+" in the offset arrives as a space.
            since = parse_datetime(since_values[0].replace(" ", "+"))
            if since is None:
                return _error(
                    400,
                    "invalid_since",
                    [{"field": "since", "message": "must be an RFC 3339 date-time"}],
                )
        with self._lock:
            as_of = self.now()
            self._last_as_of = max(self._last_as_of, as_of)
            items = [
                doc for moment, doc in self._procedures.values() if since is None or moment > since
            ]
        items.sort(key=lambda d: d["code"])
        return Answer(200, {"as_of": iso_us(as_of), "procedures": items})

    # --- the contract ---------------------------------------------------------------------
    def _route(self, req: _Request) -> tuple[str, str | None] | Answer:
        rest = req.path[len(API_PREFIX) :]
        if rest == "/health":
            endpoint, method, param = "health", "GET", None
        elif rest == "/procedures":
            endpoint, method, param = "procedures", "GET", None
        elif rest.startswith("/attachments/") and rest.count("/") == 2:
            endpoint, method, param = "attachments", "PUT", rest[len("/attachments/") :]
        elif rest == "/dossiers":
            endpoint, method, param = "dossiers", "POST", None
        elif rest.startswith("/dossiers/") and rest.count("/") == 2:
            endpoint, method, param = "status", "GET", rest[len("/dossiers/") :]
        elif rest in ("/notices", "/feedback"):
            endpoint, method, param = rest[1:], "GET" if rest == "/notices" else "POST", None
        elif rest.startswith("/feedback/") and rest.count("/") == 2:
            endpoint, method, param = "feedback_status", "GET", rest[len("/feedback/") :]
        elif rest.startswith("/media/") and rest.count("/") == 2:
            endpoint, method, param = "media", "GET", rest[len("/media/") :]
        elif rest == "/language-packs":
            endpoint, method, param = "language_packs", "GET", None
        elif rest.startswith(CONTRIBUTIONS + "/") and rest.count("/") == 3:
            endpoint, method, param = "contribution", "PUT", rest[len(CONTRIBUTIONS) + 1 :]
        elif rest == "/payments" and self.payments_enabled:
            endpoint, method, param = "payments", "POST", None
        else:
            return _error(404, "not_found")
        if req.method != method:
            return _error(405, "method_not_allowed", Allow=method)
        return endpoint, param

    def _authenticate(self, req: _Request) -> tuple[str | None, Answer | None]:
        """The contract's order: bearer token, size limit, signature, clock skew, then the
        kiosk's standing (revoked 401, disabled 403)."""
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self._tokens:
            return None, _error(401, "unauthorized")
        if req.oversize:
            return None, _error(413, "payload_too_large")
        kiosk_id = req.headers.get("X-Kiosk-Id") or ""
        stamp = req.headers.get("X-Timestamp") or ""
        signature = req.headers.get("X-Signature") or ""
        kiosk = self._kiosks.get(kiosk_id)
        if kiosk is None or not stamp or not signature:
            return None, _error(401, "bad_signature")
        message = "\n".join((req.method, req.path, stamp, hashlib.sha256(req.body).hexdigest()))
        expected = hmac.new(
            kiosk.secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return None, _error(401, "bad_signature")
        if not _TIMESTAMP_RE.match(stamp):
            return None, _error(401, "bad_signature")
        sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((self.now() - sent).total_seconds()) > self.skew_limit:
            return None, _error(401, "clock_skew")
        if kiosk.revoked:
            return None, _error(401, "revoked")
        if kiosk.disabled:
            return None, _error(403, "kiosk_disabled")
        return kiosk_id, None

    def _handle(self, req: _Request, endpoint: str, param: str | None) -> Answer:
        if endpoint == "health":
            if req.oversize:
                return _error(413, "payload_too_large")
            health = {"status": "ok", "server_time": iso_ms(self.now())}
            if self.payments_enabled:
                health["api_version"] = "1.1"
            return Answer(200, health)
        kiosk_id, refusal = self._authenticate(req)
        if refusal is not None:
            return refusal
        assert kiosk_id is not None
        if endpoint == "procedures":
            answer = self._procedures_answer(req.query)
        elif endpoint == "attachments":
            answer = self._put_attachment(req, kiosk_id, param or "")
        elif endpoint == "dossiers":
            answer = self._post_dossier(req, kiosk_id)
        elif endpoint in ("notices", "feedback", "feedback_status"):
            answer = self._feedback_area(req, kiosk_id, endpoint, param or "")
        elif endpoint == "media":
            answer = self._get_media(param or "")
        elif endpoint == "language_packs":
            answer = Answer(200, {"packs": self.store.newest_packs()})
        elif endpoint == "contribution":
            answer = self._put_contribution(req, kiosk_id, param or "")
        elif endpoint == "payments":
            answer = self._post_payment(req, kiosk_id)
        else:
            answer = self._status(kiosk_id, param or "")
        answer.kiosk_id = kiosk_id
        return answer

    # --- media and language packs (contract 1.1) ----------------------------------------
    def _get_media(self, sha256: str) -> Answer:
        found = self.store.media(sha256) if SHA256_RE.match(sha256) else None
        if found is None:
            return _error(404, "not_found")
        content_type, data = found
        return Answer(200, data, content_type=content_type)

    def _put_contribution(self, req: _Request, kiosk_id: str, sha256: str) -> Answer:
        if not SHA256_RE.match(sha256):
            return _error(422, "invalid_sha256")
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/zip" or not req.body.startswith(b"PK"):
            return _error(415, "unsupported_media_type")
        if hashlib.sha256(req.body).hexdigest() != sha256:
            return _error(422, "hash_mismatch")
        created = self.store.put_contribution(sha256, req.body, kiosk_id, iso_ms(self.now()))
        return Answer(201 if created else 200, {"sha256": sha256, "size": len(req.body)})

    def publish_media(self, data: bytes, content_type: str) -> str:
        """Store a recording or a pack as the province would; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        self.store.put_media(sha, content_type, data, iso_ms(self.now()))
        return sha

    def publish_language_pack(
        self, data: bytes, *, publisher: str = "", sha256: str | None = None
    ) -> dict[str, Any]:
        """Publish a language pack (its manifest gives language, version and base)."""
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
        sha = self.publish_media(data, "application/zip")
        entry = {
            "language": manifest["language"],
            "version": manifest["version"],
            "sha256": sha256 or sha,
            "size": len(data),
            "published_at": iso_ms(self.now()),
            "base_catalogue_version": manifest["base_catalogue_version"],
            "publisher": publisher,
            "withdrawn": False,
        }
        self.store.publish_pack(entry)
        return entry

    def withdraw_language_pack(self, language: str, version: int) -> bool:
        return self.store.withdraw_pack(language, version)

    def contributions(self) -> list[tuple[str, str, bytes]]:
        return self.store.contributions()

    def _put_attachment(self, req: _Request, kiosk_id: str, sha256: str) -> Answer:
        if not SHA256_RE.match(sha256):
            return _error(
                400,
                "invalid_sha256",
                [{"field": "sha256", "message": "must be 64 lower-case hex digits"}],
            )
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in ATTACHMENT_TYPES:
            return _error(415, "unsupported_media_type")
        actual = hashlib.sha256(req.body).hexdigest()
        if actual != sha256:
            return _error(
                422,
                "hash_mismatch",
                [{"field": "sha256", "message": f"the body hashes to {actual}"}],
            )
        created = self.store.put_attachment(
            sha256, content_type, req.body, kiosk_id, iso_ms(self.now())
        )
        return Answer(
            201 if created else 200,
            {"sha256": sha256, "size": len(req.body), "content_type": content_type},
        )

    def _post_dossier(self, req: _Request, kiosk_id: str) -> Answer:
        key = req.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "idempotency_key_missing")
        try:
            doc = json.loads(req.body)
        except ValueError:  # also UnicodeDecodeError
            return _error(400, "invalid_json")
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("client_ref"), str)
            and doc["client_ref"] != key
        ):
            return _error(400, "idempotency_key_mismatch")
        known = (
            self._procedures.get(doc.get("procedure_code"))
            if isinstance(doc, dict) and isinstance(doc.get("procedure_code"), str)
            else None
        )
        same_version = known is not None and known[1].get("version") == doc.get("procedure_version")
        details = validate_dossier(
            doc,
            kiosk_id=kiosk_id,
            attachment_size=self.store.attachment_size,
            procedure=known[1] if same_version and known else None,
        )
        if (
            self.check_procedures
            and isinstance(doc, dict)
            and known is None
            and isinstance(doc.get("procedure_code"), str)
        ):
            details.append({"field": "procedure_code", "message": "unknown procedure"})
        if details:
            return _error(422, "validation_failed", details)
        canonical = canonical_json(doc)
        with self.store.lock:  # look-up and insert as one step: one dossier per client_ref
            found = self.store.dossier_by_ref(key)
            if found is not None:
                stored, stored_canonical = found
                if stored_canonical == canonical:
                    return Answer(200, stored.receipt())
                return _error(409, "idempotency_conflict")
            received = self.now()
            days = known[1].get("processing_days") if known else None
            if not isinstance(days, int):
                days = self.default_processing_days
            stored = self.store.insert_dossier(
                prefix=self.code_prefix,
                client_ref=key,
                kiosk_id=kiosk_id,
                canonical=canonical,
                body=req.body,
                received_at=iso_ms(received),
                year=received.astimezone(VIETNAM).year,
                expected_result_date=expected_result_date(received, days),
            )
        return Answer(201, stored.receipt())

    def _feedback_area(self, req: _Request, kiosk_id: str, endpoint: str, param: str) -> Answer:
        area = self.feedback
        if endpoint == "notices":
            return Answer(*area.notices_answer(req.query))
        if endpoint == "feedback":
            key = req.headers.get("Idempotency-Key")
            return Answer(*area.post_feedback(req.body, key, kiosk_id, canonical_json))
        return Answer(*area.feedback_status(kiosk_id, unquote(param)))

    def _post_payment(self, req: _Request, kiosk_id: str) -> Answer:
        """POST /payments: idempotent like dossiers; the dossier must be known (its
        receipt given) and belong to this kiosk, else 422 on `dossier_client_ref` only."""
        key = req.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "idempotency_key_missing")
        try:
            doc = json.loads(req.body)
        except ValueError:
            return _error(400, "invalid_json")
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("client_ref"), str)
            and doc["client_ref"] != key
        ):
            return _error(400, "idempotency_key_mismatch")
        details = validate_payment(doc, kiosk_id=kiosk_id)
        if details:
            return _error(422, "validation_failed", details)
        canonical = canonical_json(doc)
        with self.store.lock:  # look-up and insert as one step: one payment per client_ref
            found = self.store.payment_by_ref(key)
            if found is not None:
                _dossier_ref, stored_canonical, received_at = found
                if stored_canonical == canonical:
                    return Answer(200, {"status": "recorded", "received_at": received_at})
                return _error(409, "idempotency_conflict")
            dossier = self.store.dossier_by_ref(doc["dossier_client_ref"])
            if dossier is None or dossier[0].kiosk_id != kiosk_id:
                return _error(
                    422,
                    "validation_failed",
                    [{"field": "dossier_client_ref", "message": "no such dossier (yet)"}],
                )
            superseded = doc.get("supersedes")
            if superseded is not None:
                older = self.store.payment_by_ref(superseded)
                if older is None or older[0] != doc["dossier_client_ref"]:
                    return _error(
                        422,
                        "validation_failed",
                        [{"field": "supersedes", "message": "no such payment of this dossier"}],
                    )
            received = iso_ms(self.now())
            self.store.insert_payment(
                client_ref=key,
                kiosk_id=kiosk_id,
                dossier_client_ref=doc["dossier_client_ref"],
                canonical=canonical,
                body=req.body,
                received_at=received,
            )
        return Answer(201, {"status": "recorded", "received_at": received})

    def payments(self) -> list[dict[str, Any]]:
        return self.store.payments()

    def _status(self, kiosk_id: str, raw_code: str) -> Answer:
        stored = self.store.dossier(unquote(raw_code))
        if stored is None or stored.kiosk_id != kiosk_id:
            return _error(404, "not_found")  # another kiosk's code is not disclosed
        return Answer(200, stored.status_doc())

    def _log(
        self,
        req: _Request,
        status: int | None,
        outcome: str,
        fault: str | None,
        error: str | None,
        kiosk_id: str | None = None,
    ) -> int:
        headers = {name: req.headers[name] for name in _LOGGED_HEADERS if name in req.headers}
        return self.store.log_request(
            at=time.time(),
            method=req.method,
            path=req.path,
            query=req.query,
            kiosk_id=kiosk_id or req.headers.get("X-Kiosk-Id"),
            idempotency_key=req.headers.get("Idempotency-Key"),
            headers=headers,
            body=req.body if self.record_bodies else b"",
            body_size=req.size,
            status=status,
            outcome=outcome,
            fault=fault,
            error=error,
        )

    # --- admin API (not part of the contract) ---------------------------------------------
    def admin_allowed(self, headers: Any) -> bool:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else ""
        given = given or (headers.get("X-Admin-Token") or "")
        expected = self._admin_token.encode()
        return bool(expected) and hmac.compare_digest(given.encode(), expected)

    def _admin(self, req: _Request) -> Answer:
        parts = [unquote(p) for p in req.path[len(ADMIN_PREFIX) + 1 :].split("/")]
        query = {k: v[0] for k, v in parse_qs(req.query).items()}
        if parts == ["media"]:
            ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                return Answer(*self.feedback.admin("PUT", parts, {}, req.body, ctype))
            except ValueError as exc:
                return _error(422, "invalid", [{"field": "", "message": str(exc)}])
        try:
            data = json.loads(req.body) if req.body else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(400, "invalid_json")
        try:
            handled = self.feedback.admin(req.method, parts, data, req.body, "")
            if handled is not None:
                return Answer(*handled)
            return self._admin_route(req.method, parts, query, data)
        except KeyError as exc:
            return _error(404, "not_found", [{"field": "", "message": str(exc)}])
        except (ValueError, TypeError) as exc:
            return _error(422, "invalid", [{"field": "", "message": str(exc)}])

    def _admin_route(
        self, method: str, parts: list[str], query: dict[str, str], data: Any
    ) -> Answer:
        match method, parts:
            case "GET", ["requests"]:
                found = self.requests(
                    query.get("key"),
                    path=query.get("path"),
                    method=query.get("method"),
                    after=int(query.get("after", 0)),
                )
                return Answer(200, {"requests": [request_json(r) for r in found]})
            case "DELETE", ["requests"]:
                self.clear_requests()
                return Answer(200, {})
            case "GET", ["dossiers"]:
                return Answer(200, {"dossiers": [dossier_json(d) for d in self.dossiers()]})
            case "PUT", ["dossiers", code, "status"]:
                self.set_status(code, data["status"], data.get("message"))
                return Answer(200, dossier_json(self.dossier(code)))  # type: ignore[arg-type]
            case "GET", ["faults"]:
                return Answer(200, self.get_faults().to_json())
            case "PUT", ["faults"]:
                base = Faults() if data.pop("reset", False) else None
                return Answer(200, self.set_faults(base, **data).to_json())
            case "PUT", ["kiosks", kiosk_id]:
                self.add_kiosk(kiosk_id, data["secret"])
                return Answer(200, {})
            case "POST", ["kiosks", kiosk_id, action]:
                flags = {
                    "revoke": ("revoked", True),
                    "unrevoke": ("revoked", False),
                    "disable": ("disabled", True),
                    "enable": ("disabled", False),
                }
                if action not in flags:
                    raise KeyError(action)
                name, value = flags[action]
                self._update_kiosk(kiosk_id, **{name: value})
                return Answer(200, {})
            case "PUT", ["tokens", token]:
                self.add_token(token)
                return Answer(200, {})
            case "DELETE", ["tokens", token]:
                self.remove_token(token)
                return Answer(200, {})
            case "PUT", ["procedures"]:
                return Answer(200, self.upsert_procedure(data, data.get("updated_at")))
            case "PUT", ["clock"]:
                self.set_clock_offset(float(data["offset"]))
                return Answer(200, {"offset": self.clock_offset})
        return _error(404, "not_found")


def request_json(r: RecordedRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": r.at,
        "method": r.method,
        "path": r.path,
        "query": r.query,
        "kiosk_id": r.kiosk_id,
        "idempotency_key": r.idempotency_key,
        "headers": r.headers,
        "body_b64": base64.b64encode(r.body).decode("ascii"),
        "body_size": r.body_size,
        "status": r.status,
        "outcome": r.outcome,
        "fault": r.fault,
        "error": r.error,
    }


def dossier_json(d: StoredDossier) -> dict[str, Any]:
    return {
        "code": d.code,
        "client_ref": d.client_ref,
        "kiosk_id": d.kiosk_id,
        "body_b64": base64.b64encode(d.body).decode("ascii"),
        "received_at": d.received_at,
        "expected_result_date": d.expected_result_date,
        "status": d.status,
        "updated_at": d.updated_at,
        "message": d.message,
    }
