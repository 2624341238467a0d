"""Throughput of the reference portal and of PortalClient on loopback.

Runs `python -m kiosk portal` in its own process (so client and server do not share a GIL)
and prints dossiers per second on one keep-alive connection:
- raw: a bare http.client connection, signing by hand: the portal's own capacity;
- client: PortalClient (requests), what a sync worker gets;
- replay: the same dossiers again (200 answers);
- threads: four PortalClients at once;
plus attachment upload speed.

    .venv/bin/python benchmarks/bench_portal.py [--count 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.services.portal_client import PortalClient, format_timestamp, sign  # noqa: E402

KIOSK_ID, SECRET, TOKEN = "BENCH-K01", "bench-secret", "bench-token"


def dossier(client_ref: str) -> bytes:
    doc = {
        "client_ref": client_ref,
        "kiosk_id": KIOSK_ID,
        "procedure_code": "BENCH.1",
        "procedure_version": 1,
        "submitted_at": "2026-11-23T04:40:00Z",
        "language": "vi",
        "applicant": {
            "id_number": "001099012345",
            "full_name": "Nguyễn Thị Hoà",
            "date_of_birth": "1990-05-17",
            "sex": "female",
            "address": "Thôn 2, xã Hướng Hoá, Quảng Trị",
            "id_source": "qr_scan",
        },
        "fields": {
            "child_full_name": "Nguyễn Minh Khôi",
            "child_date_of_birth": "2026-11-01",
            "child_sex": "male",
            "note": "x" * 400,
        },
        "attachments": [],
        "consent": {"given_at": "2026-11-23T04:39:30Z", "text_version": "2026-01"},
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def start_portal(db: Path) -> tuple[subprocess.Popen, str]:
    empty = db.parent / "catalogue"  # no procedures: fields are not checked
    empty.mkdir()
    proc = subprocess.Popen(
        [
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
            "--procedures",
            str(empty),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("portal listening on "):
            return proc, line.split()[-1]
    raise SystemExit(f"portal did not start (exit {proc.wait()})")


def report(name: str, count: int, seconds: float, latencies: list[float] | None = None) -> None:
    line = f"{name:<28} {count / seconds:8.0f} /s  ({count} in {seconds:.2f} s)"
    if latencies:
        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        line += f"  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
    print(line, flush=True)


def bench_raw(url: str, bodies: list[tuple[str, bytes]]) -> None:
    parts = urlsplit(url)
    path = parts.path + "/dossiers"
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    latencies = []
    start = time.perf_counter()
    for ref, body in bodies:
        t0 = time.perf_counter()
        stamp = format_timestamp(time.time())
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Idempotency-Key": ref,
                "X-Kiosk-Id": KIOSK_ID,
                "X-Timestamp": stamp,
                "X-Signature": sign(SECRET, "POST", path, stamp, body),
            },
        )
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise SystemExit(f"raw: unexpected {response.status}")
        latencies.append(time.perf_counter() - t0)
    report("raw http.client, new", len(bodies), time.perf_counter() - start, latencies)
    conn.close()


def bench_client(url: str, bodies: list[tuple[str, bytes]], name: str, replay: bool) -> None:
    with PortalClient(url, KIOSK_ID, SECRET, TOKEN) as client:
        client.health()
        latencies = []
        start = time.perf_counter()
        for ref, body in bodies:
            t0 = time.perf_counter()
            if client.submit_dossier(body, ref).replay is not replay:
                raise SystemExit(f"{name}: unexpected replay flag")
            latencies.append(time.perf_counter() - t0)
        report(name, len(bodies), time.perf_counter() - start, latencies)


def bench_threads(url: str, count: int, threads: int = 4) -> None:
    per = count // threads
    work = [
        [(r, dossier(r)) for r in (str(uuid.uuid4()) for _ in range(per))] for _ in range(threads)
    ]

    def run(items: list[tuple[str, bytes]]) -> None:
        with PortalClient(url, KIOSK_ID, SECRET, TOKEN) as client:
            for ref, body in items:
                client.submit_dossier(body, ref)

    pool = [threading.Thread(target=run, args=(items,)) for items in work]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    report(f"PortalClient x{threads} threads", per * threads, time.perf_counter() - start)


def bench_attachments(url: str, count: int = 20, size: int = 1 << 20) -> None:
    with PortalClient(url, KIOSK_ID, SECRET, TOKEN) as client:
        blobs = [os.urandom(size) for _ in range(count)]
        start = time.perf_counter()
        for data in blobs:
            client.upload_attachment(hashlib.sha256(data).hexdigest(), data, "image/jpeg")
        seconds = time.perf_counter() - start
    print(
        f"{'attachments 1 MiB':<28} {count / seconds:8.1f} /s  "
        f"({count * size / seconds / 1e6:.0f} MB/s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_portal(Path(tmp) / "portal.sqlite3")
        try:
            print(f"portal {url}, {os.cpu_count()} CPUs, {args.count} dossiers per run")
            warm = [(r, dossier(r)) for r in (str(uuid.uuid4()) for _ in range(200))]
            bench_raw(url, warm)
            raw = [(r, dossier(r)) for r in (str(uuid.uuid4()) for _ in range(args.count))]
            bench_raw(url, raw)
            fresh = [(r, dossier(r)) for r in (str(uuid.uuid4()) for _ in range(args.count))]
            bench_client(url, fresh, "PortalClient, new", replay=False)
            bench_client(url, fresh, "PortalClient, replay (200)", replay=True)
            bench_threads(url, args.count)
            bench_attachments(url)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
