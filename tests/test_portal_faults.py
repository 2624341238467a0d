"""Each injected fault, and how the client classifies it (Transient ambiguous or not,
Retry-After), plus answers that are not the contract's at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from portal_helpers import make_dossier, new_client, new_portal, png_bytes, to_bytes

from kiosk.portal import Faults
from kiosk.services.portal_client import Delivered, Transient

HANG = 3.0  # the portal's hang; the client's read timeout is well below it
READ_TIMEOUT = 0.4


@pytest.fixture
def portal(tmp_path):
    portal = new_portal(tmp_path, faults=Faults(hang_seconds=HANG))
    yield portal
    portal.stop()


@pytest.fixture
def client(portal):
    client = new_client(portal.url, read_timeout=READ_TIMEOUT)
    yield client
    client.close()


def submit_expecting_transient(client, doc) -> Transient:
    with pytest.raises(Transient) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    return caught.value


@pytest.mark.parametrize(
    ("kind", "status", "ambiguous"),
    [
        ("error500", 500, True),
        ("error502", 502, True),
        ("error503", 503, False),
        ("rate_limit", 429, False),
    ],
)
def test_error_answers(portal, client, kind, status, ambiguous):
    portal.set_faults(script=[kind], retry_after=7)
    doc = make_dossier()
    error = submit_expecting_transient(client, doc)
    assert (error.status, error.ambiguous) == (status, ambiguous)
    assert error.retry_after == (7.0 if status in (429, 503) else None)
    assert error.key == "portal.error.transient"
    assert portal.dossiers() == []
    [recorded] = portal.requests(doc["client_ref"])
    assert (recorded.status, recorded.fault, recorded.outcome) == (status, kind, "answered")
    # The script is used up: the same bytes now go through.
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False


def test_retry_after_as_http_date(portal, client):
    portal.set_faults(
        script=["rate_limit", "error503"], retry_after=120, retry_after_http_date=True
    )
    for _ in range(2):
        error = submit_expecting_transient(client, make_dossier())
        assert error.retry_after == pytest.approx(120, abs=2)


def test_no_retry_after_header(portal, client):
    portal.set_faults(script=["error503"], retry_after=None)
    assert submit_expecting_transient(client, make_dossier()).retry_after is None


def test_drop_before_storing(portal, client):
    portal.set_faults(script=["drop"])
    doc = make_dossier()
    error = submit_expecting_transient(client, doc)
    assert (error.status, error.ambiguous) == (None, True)
    assert portal.dossiers() == []
    assert portal.requests(doc["client_ref"])[0].outcome == "dropped"
    # The next call opens a new connection by itself.
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False


def test_drop_after_storing_is_the_ambiguous_case(portal, client):
    portal.set_faults(script=["drop_after_store"])
    doc = make_dossier()
    error = submit_expecting_transient(client, doc)
    assert (error.status, error.ambiguous) == (None, True)
    [stored] = portal.dossiers()
    replay = client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert (replay.replay, replay.dossier_code) == (True, stored.code)
    assert [(r.status, r.outcome) for r in portal.requests(doc["client_ref"])] == [
        (201, "dropped_after_store"),
        (200, "answered"),
    ]


def test_hang_before_storing_is_a_read_timeout(portal, client):
    portal.set_faults(script=["hang"])
    doc = make_dossier()
    started = time.monotonic()
    error = submit_expecting_transient(client, doc)
    assert time.monotonic() - started < HANG
    assert (error.status, error.ambiguous) == (None, True)
    assert "timeout" in error.detail
    assert portal.dossiers() == []


def test_hang_after_storing(portal, client):
    portal.set_faults(script=["hang_after_store"])
    doc = make_dossier()
    error = submit_expecting_transient(client, doc)
    assert error.ambiguous is True
    assert len(portal.dossiers()) == 1
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is True


def test_faults_apply_to_other_endpoints_too(portal, client):
    data = png_bytes(3)
    sha = hashlib.sha256(data).hexdigest()
    portal.set_faults(script=["drop_after_store"])
    with pytest.raises(Transient):
        client.upload_attachment(sha, data, "image/png")
    assert portal.attachment(sha) is not None
    assert client.upload_attachment(sha, data, "image/png").created is False
    portal.set_faults(script=["error503"])
    with pytest.raises(Transient):
        client.procedures()


def test_endpoint_scope(portal, client):
    portal.set_faults(error_rate=1.0, endpoints=["attachments"])
    doc = make_dossier()
    assert client.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False
    client.health()
    data = png_bytes(4)
    with pytest.raises(Transient):
        client.upload_attachment("00" * 32, data, "image/png")


def test_latency(portal, client):
    portal.set_faults(latency=0.3, endpoints=["dossiers"])
    doc = make_dossier()
    started = time.monotonic()
    client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.procedures()
    assert time.monotonic() - started < 0.3


def test_seeded_rates_are_reproducible(tmp_path):
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        portal = new_portal(
            tmp_path / name, faults=Faults(error_rate=0.3, rate_limit_rate=0.2, seed=42)
        )
        try:
            client = new_client(portal.url)
            outcomes = []
            for _ in range(30):
                doc = make_dossier()
                try:
                    client.submit_dossier(to_bytes(doc), doc["client_ref"])
                    outcomes.append(201)
                except Transient as exc:
                    outcomes.append(exc.status)
            runs.append(outcomes)
        finally:
            portal.stop()
    assert runs[0] == runs[1]
    assert {201, 429} <= set(runs[0]) and len(set(runs[0])) >= 3


def test_replays_send_identical_bytes_through_every_fault(portal, client):
    portal.set_faults(
        script=["error503", "drop", "drop_after_store", "hang_after_store", "rate_limit"]
    )
    doc = make_dossier()
    body = to_bytes(doc)
    results = []
    for _ in range(7):
        try:
            results.append(client.submit_dossier(body, doc["client_ref"]))
        except Transient as exc:
            results.append(exc)
    assert [type(r) for r in results] == [Transient] * 5 + [Delivered] * 2
    assert all(r.replay for r in results[5:])
    recorded = portal.requests(doc["client_ref"])
    assert len(recorded) == 7
    assert all(r.body == body for r in recorded)
    assert len({r.headers["idempotency-key"] for r in recorded}) == 1
    assert len(portal.dossiers()) == 1


def test_connection_refused_is_not_ambiguous(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = new_client(f"http://127.0.0.1:{port}/api/v1")
    doc = make_dossier()
    with pytest.raises(Transient) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert (caught.value.status, caught.value.ambiguous) == (None, False)


def test_connect_timeout_is_not_ambiguous():
    # A listener that never accepts, its queue filled: further SYNs go unanswered.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            client = new_client(f"http://127.0.0.1:{port}/api/v1", connect_timeout=0.3)
            with pytest.raises(Transient) as caught:
                client.procedures()
            assert (caught.value.status, caught.value.ambiguous) == (None, False)
            assert caught.value.detail == "connect timeout"
        finally:
            for filler in fillers:
                filler.close()


def test_portal_stopped_mid_session(tmp_path):
    portal = new_portal(tmp_path)
    client = new_client(portal.url)
    client.procedures()
    portal.stop()
    with pytest.raises(Transient) as caught:
        client.procedures()
    assert caught.value.status is None


class _Stub(BaseHTTPRequestHandler):
    """Something between the kiosk and the portal that does not speak the contract."""

    protocol_version = "HTTP/1.1"
    answers: dict[str, tuple[int, dict[str, str], bytes]] = {}  # noqa: RUF012  (set per test)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, body = self.answers["POST"]
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("answer", "status", "ambiguous"),
    [
        ((200, {"Content-Type": "text/html"}, b"<html>Wi-Fi login</html>"), 200, True),
        ((201, {"Content-Type": "application/json"}, b'{"status": "received"}'), 201, True),
        ((302, {"Location": "http://login.example/"}, b""), 302, True),
        ((408, {}, b""), 408, False),
        ((504, {}, b"gateway timeout"), 504, True),
        ((418, {}, b""), 418, True),
    ],
)
def test_answers_outside_the_contract_stay_transient(stub, answer, status, ambiguous):
    _Stub.answers = {"POST": answer}
    client = new_client(f"http://127.0.0.1:{stub.server_address[1]}/api/v1")
    doc = make_dossier()
    with pytest.raises(Transient) as caught:
        client.submit_dossier(to_bytes(doc), doc["client_ref"])
    assert (caught.value.status, caught.value.ambiguous) == (status, ambiguous)


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reference portal")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_is_verified(tmp_path):
    cert, key = _self_signed(tmp_path)
    portal = new_portal(tmp_path, certfile=cert, keyfile=key)
    try:
        assert portal.url.startswith("https://")
        doc = make_dossier()
        with pytest.raises(Transient) as caught:
            new_client(portal.url).submit_dossier(to_bytes(doc), doc["client_ref"])
        assert (caught.value.ambiguous, caught.value.status) == (False, None)
        assert "TLS" in caught.value.detail
        assert portal.dossiers() == []
        trusted = new_client(portal.url, ca_bundle=str(cert))
        assert trusted.submit_dossier(to_bytes(doc), doc["client_ref"]).replay is False
        assert trusted.health().status == "ok"
    finally:
        portal.stop()
