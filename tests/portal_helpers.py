"""Shared helpers for the portal tests: identities, dossier bodies, raw signed requests and a
reference portal in a separate process."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.portal import ReferencePortal
from kiosk.services.portal_client import PortalClient, format_timestamp, sign

ROOT = Path(__file__).resolve().parent.parent
KIOSK_ID = "QN01-K01"
SECRET = "secret-one-Đ"  # non-ASCII on purpose: the key is the secret's UTF-8 bytes
OTHER_KIOSK_ID = "QN02-K07"
OTHER_SECRET = "secret-two"
TOKEN = "token-province-qn"

PROCEDURE = {
    "code": "1.001193",
    "version": 3,
    "title": {"vi": "Đăng ký khai sinh", "en": "Birth registration"},
    "processing_days": 3,
    "fields": [
        {"key": "child_full_name", "type": "text", "required": True},
        {"key": "child_date_of_birth", "type": "date", "required": True},
        {
            "key": "child_sex",
            "type": "choice",
            "required": True,
            "choices": [
                {"key": "male", "label": {"vi": "Nam"}},
                {"key": "female", "label": {"vi": "Nữ"}},
            ],
        },
        {"key": "copies", "type": "number"},
        {"key": "urgent", "type": "checkbox"},
    ],
}


def new_portal(tmp_path: Path, **options: Any) -> ReferencePortal:
    """A started portal with two kiosks and one token; stop it after the test."""
    options.setdefault("kiosks", {KIOSK_ID: SECRET, OTHER_KIOSK_ID: OTHER_SECRET})
    options.setdefault("tokens", [TOKEN])
    options.setdefault("procedures", [PROCEDURE])
    portal = ReferencePortal(tmp_path / "portal.sqlite3", **options)
    portal.start()
    return portal


def new_client(
    url: str, kiosk_id: str = KIOSK_ID, secret: str = SECRET, token: str = TOKEN, **options: Any
) -> PortalClient:
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("read_timeout", 5.0)
    return PortalClient(url, kiosk_id, secret, token, **options)


def make_dossier(
    kiosk_id: str = KIOSK_ID, client_ref: str | None = None, **overrides: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "client_ref": client_ref or str(uuid.uuid4()),
        "kiosk_id": kiosk_id,
        "procedure_code": "1.001193",
        "procedure_version": 3,
        "submitted_at": "2026-11-23T04:40:00Z",
        "language": "vi",
        "assisted_by": None,
        "applicant": {
            "id_number": "001099012345",
            "old_id_number": None,
            "full_name": "Nguyễn Thị Hoà",
            "date_of_birth": "1990-05-17",
            "sex": "female",
            "address": "Thôn 2, xã Hướng Hoá, Quảng Trị",
            "phone": None,
            "id_source": "qr_scan",
        },
        "fields": {
            "child_full_name": "Nguyễn Minh Khôi",
            "child_date_of_birth": "2026-11-01",
            "child_sex": "male",
            "copies": 2,
            "urgent": False,
        },
        "attachments": [],
        "consent": {"given_at": "2026-11-23T04:39:30Z", "text_version": "2026-01"},
    }
    doc.update(overrides)
    return doc


def to_bytes(doc: Any) -> bytes:
    """Serialise once, as the kiosk does when the citizen confirms."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def signed_headers(
    method: str,
    path: str,
    body: bytes,
    *,
    kiosk_id: str = KIOSK_ID,
    secret: str = SECRET,
    token: str | None = TOKEN,
    when: float | None = None,
    **extra: str,
) -> dict[str, str]:
    stamp = format_timestamp(time.time() if when is None else when)
    headers = {
        "X-Kiosk-Id": kiosk_id,
        "X-Timestamp": stamp,
        "X-Signature": sign(secret, method, path, stamp, body),
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra)
    return headers


def raw_request(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    declared_length: int | None = None,
) -> tuple[int, dict[str, Any] | None, http.client.HTTPResponse]:
    """One request with exactly these headers (path relative to the server root)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        all_headers = dict(headers or {})
        if declared_length is not None:
            all_headers["Content-Length"] = str(declared_length)
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        payload = json.loads(data) if data else None
    except ValueError:
        payload = None
    return response.status, payload, response


def png_bytes(seed: int = 0, size: int = 64) -> bytes:
    # Content only needs to be distinct; the portal checks type and hash, not pixels.
    return b"\x89PNG\r\n\x1a\n" + hashlib.sha256(str(seed).encode()).digest() * (size // 32)


@contextmanager
def portal_process(db: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m kiosk portal --port 0` in a subprocess; yields (process, API URL)."""
    cmd = [
        sys.executable,
        "-m",
        "kiosk",
        "portal",
        "--port",
        "0",
        "--db",
        str(db),
        "--token",
        TOKEN,
        "--kiosk",
        f"{KIOSK_ID}:{SECRET}",
        "--kiosk",
        f"{OTHER_KIOSK_ID}:{OTHER_SECRET}",
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("portal listening on "):
                url = line.split()[-1]
                break
        if url is None:
            raise RuntimeError(f"portal did not start (exit {proc.wait(5)})")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
