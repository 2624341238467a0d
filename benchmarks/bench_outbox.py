"""Outbox throughput and confirm latency, with the production durability settings (SQLite
WAL + synchronous=FULL) and encryption on.

- confirm: p50/p95/p99 of DossierService.confirm (one durable transaction per dossier,
  fsync included), idle and while the sync worker drains in the same process;
- drain: dossiers per second for delivering N dossiers to the reference portal on loopback,
  which runs in its own process (`python -m kiosk portal`) so the two do not share a GIL.
  The portal checks every body against the shipped catalogue.

    .venv/bin/python benchmarks/bench_outbox.py [--count 10000] [--batch 25]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.commands.outbox import synthetic_draft  # noqa: E402
from kiosk.services.crypto import DataCipher, load_or_create_keyring  # noqa: E402
from kiosk.services.dossiers import DossierService  # noqa: E402
from kiosk.services.models import DELIVERED  # noqa: E402
from kiosk.services.outbox import Outbox, PortalConfig  # noqa: E402
from kiosk.services.store import Store  # noqa: E402
from kiosk.services.sync import SyncWorker  # noqa: E402

KIOSK_ID, SECRET, TOKEN = "BENCH-K01", "bench-secret", "bench-token"


def start_portal(db: Path) -> tuple[subprocess.Popen, str]:
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


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(len(s) * q))] * 1000  # noqa: E731
    return (
        f"p50 {statistics.median(s) * 1000:6.2f} ms  p95 {p(0.95):6.2f} ms  "
        f"p99 {p(0.99):6.2f} ms  max {s[-1] * 1000:6.2f} ms  (n={len(s)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="dossiers to drain")
    parser.add_argument("--confirms", type=int, default=300, help="timed confirms when idle")
    parser.add_argument("--batch", type=int, default=25, help="dossiers claimed at a time")
    parser.add_argument("--senders", type=int, default=1, help="dossiers sent at the same time")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval (seconds), to try a shorter GIL slice",
    )
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    portal_proc, url = start_portal(work / "portal.sqlite3")
    store = Store(f"sqlite:///{work / 'kiosk.db'}")
    assert store.writer_pragma("synchronous") == 2 and store.writer_pragma("journal_mode") == "wal"
    cipher = DataCipher(load_or_create_keyring(work / "keys" / "data.key", create=True))
    dossiers = DossierService(store, cipher, KIOSK_ID, "BE01", work / "attachments")
    rng = random.Random(1)
    print(f"portal {url}, {os.cpu_count()} CPUs, data in {work}", flush=True)
    print(
        "SQLite WAL, synchronous=FULL, AES-GCM encryption of personal data and bodies", flush=True
    )
    try:
        # 1. confirm latency, idle (one durable transaction each).
        idle = []
        for _ in range(args.confirms):
            draft = synthetic_draft(rng)
            t0 = time.perf_counter()
            dossiers.confirm(draft)
            idle.append(time.perf_counter() - t0)
        print(f"confirm, idle              {percentiles(idle)}", flush=True)

        # The rest of the dossiers in bulk (same code, many per transaction), to save time.
        remaining = args.count - args.confirms
        t0 = time.perf_counter()
        while remaining > 0:
            drafts = [synthetic_draft(rng) for _ in range(min(500, remaining))]
            store.write_sync(lambda s, ds=drafts: [dossiers._confirm(s, d) for d in ds])
            remaining -= len(drafts)
        print(
            f"seeded {args.count} dossiers in total ({time.perf_counter() - t0:.1f} s bulk)",
            flush=True,
        )

        # 2. drain all of them, with confirms going on meanwhile (as at a busy kiosk).
        outbox = Outbox(
            store,
            dossiers,
            PortalConfig(url, KIOSK_ID, SECRET, TOKEN),
            batch_size=args.batch,
            senders=args.senders,
        )
        worker = SyncWorker(
            outbox, catalogue_interval=None, status_interval=None, idle_interval=0.5
        )
        busy: list[float] = []
        stop = threading.Event()

        def confirm_meanwhile() -> None:
            local = random.Random(2)
            while not stop.wait(0.05):
                draft = synthetic_draft(local)
                t = time.perf_counter()
                dossiers.confirm(draft)
                busy.append(time.perf_counter() - t)

        start = time.perf_counter()
        worker.start()
        confirmer = threading.Thread(target=confirm_meanwhile)
        confirmer.start()
        total = args.count
        last_print = start
        while True:
            time.sleep(0.25)
            delivered = outbox.counts()[DELIVERED]
            now = time.perf_counter()
            if now - last_print >= 5:
                last_print = now
                print(f"  ... {delivered} delivered, {delivered / (now - start):.0f}/s", flush=True)
            if delivered >= total:
                break
        elapsed = time.perf_counter() - start
        stop.set()
        confirmer.join()
        worker.wake()
        while outbox.has_work():
            time.sleep(0.05)
        worker.stop()
        outbox.close()
        print(
            f"drain {total} dossiers         {total / elapsed:6.0f} /s  ({elapsed:.1f} s, "
            f"batch {args.batch}, {args.senders} senders)",
            flush=True,
        )
        print(f"confirm, while draining    {percentiles(busy)}", flush=True)
        final = outbox.counts()
        print(f"final states: {final}", flush=True)
        if final[DELIVERED] != total + len(busy):
            print("ERROR: not everything was delivered", flush=True)
            return 1
    finally:
        store.close()
        portal_proc.terminate()
        portal_proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
