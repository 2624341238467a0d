"""A hostile portal on 127.0.0.1 for the hardening tests: it answers /health properly and
whatever a test sets for the other paths, on a raw socket so it can misbehave in ways a
well-mannered HTTP server would not: drip the answer one byte at a time, stream a body
without end, send a gzip bomb, or send JSON of the wrong shape.

    server = HostilePortal()
    server.on("POST", "/api/v1/dossiers", drip(interval=0.2))
    ...
    server.stop()
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Behaviour = Callable[["Request", socket.socket, threading.Event], None]


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Behaviour:
    """A plain JSON answer (any shape: the point is to send wrong ones)."""

    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        body = json.dumps(payload).encode()
        conn.sendall(
            _head(
                status,
                {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **(headers or {}),
                },
            )
            + body
        )

    return behave


def per_request(choose: Callable[[Request], Behaviour]) -> Behaviour:
    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        choose(request)(request, conn, stop)

    return behave


def drip(interval: float, headers_too: bool = False, limit_s: float = 40.0) -> Behaviour:
    """One byte every `interval` seconds, for `limit_s` at most: a 201 whose body never
    ends (or whose headers never end)."""

    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        head = _head(201, {"Content-Type": "application/json", "Content-Length": "100000"})
        data = head + b" " * 100000
        if not headers_too:
            conn.sendall(head)
            data = data[len(head) :]
        end = time.monotonic() + limit_s
        for i in range(len(data)):
            if stop.is_set() or time.monotonic() > end:
                return
            conn.sendall(data[i : i + 1])
            time.sleep(interval)

    return behave


def endless(total: int, chunk: int = 64 * 1024) -> Behaviour:
    """A 200 JSON answer of `total` bytes, chunked (no Content-Length to refuse early)."""

    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            _head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        )
        piece = b"[" + b"0," * (chunk // 2 - 1) + b"0"
        sent = 0
        while sent < total and not stop.is_set():
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        conn.sendall(b"0\r\n\r\n")

    return behave


def declared(size: int) -> Behaviour:
    """Headers announcing a `size`-byte body, then a trickle of it."""

    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            _head(200, {"Content-Type": "application/json", "Content-Length": str(size)})
            + b"{" * 1024
        )

    return behave


def truncated(status: int = 201) -> Behaviour:
    """Announces 1000 bytes, sends 12, closes."""

    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            _head(status, {"Content-Type": "application/json", "Content-Length": "1000"})
            + b'{"dossier_c'
        )
        conn.shutdown(socket.SHUT_WR)

    return behave


def raw(status: int, data: bytes, content_type: str = "application/octet-stream") -> Behaviour:
    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            _head(status, {"Content-Type": content_type, "Content-Length": str(len(data))}) + data
        )

    return behave


def gzip_bomb(inflated: int) -> bytes:
    """gzip data of `inflated` zero bytes (1 GiB makes about 1 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(inflated // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


def compressed(status: int, data: bytes, encoding: str = "gzip") -> Behaviour:
    def behave(request: Request, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                status,
                {
                    "Content-Type": "application/json",
                    "Content-Encoding": encoding,
                    "Content-Length": str(len(data)),
                },
            )
            + data
        )

    return behave


def health(request: Request, conn: socket.socket, stop: threading.Event) -> None:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    answer(200, {"status": "ok", "server_time": now, "api_version": "1.1"})(request, conn, stop)


class HostilePortal:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.routes: dict[tuple[str, str], Behaviour] = {("GET", "/api/v1/health"): health}
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, behaviour: Behaviour) -> None:
        self.routes[(method, "/api/v1" + path if path.startswith("/") else path)] = behaviour

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", "0") or 0))
                request = Request(method, target.split("?", 1)[0], headers, body)
                self.requests.append(request)
                behaviour = self.routes.get((method, request.path))
                if behaviour is None:
                    behaviour = answer(404, {"error": "not_found"})
                behaviour(request, conn, self._stop)
        except OSError:
            return
        finally:
            reader.close()
            conn.close()
