"""Citizens' feedback: ms per confirm (check, encrypt, store; with and without a recording)
and feedback/s delivered to the loopback reference portal (recording first, then the
feedback). Prints its figures.

    .venv/bin/python benchmarks/bench_feedback.py [--count 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.commands.feedback import synthetic_voice
from kiosk.portal import ReferencePortal
from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.feedback import FeedbackDraft, FeedbackService
from kiosk.services.feedback_delivery import FeedbackOutbox
from kiosk.services.portal_client import PortalClient
from kiosk.services.store import Store


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(1)
    take = synthetic_voice(rng, 20.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store(f"sqlite:///{folder / 'kiosk.db'}")
        cipher = DataCipher(load_or_create_keyring(folder / "data.key", create=True))
        service = FeedbackService(store, cipher, "BENCH-K1", folder / "attachments")
        text_ms, voice_ms = [], []
        for n in range(args.count):
            with_voice = n % 3 == 2
            start = time.perf_counter()
            service.confirm(
                FeedbackDraft(
                    topic="roads",
                    language="vi",
                    text=None if with_voice else f"phản ánh số {n}",
                    recording=take if with_voice else None,
                )
            )
            (voice_ms if with_voice else text_ms).append((time.perf_counter() - start) * 1000)
        portal = ReferencePortal(
            folder / "portal.db", kiosks={"BENCH-K1": "s"}, tokens=["t"], procedures=[]
        )
        url = portal.start()
        try:
            outbox = FeedbackOutbox(service, batch_size=50)
            with PortalClient(url, "BENCH-K1", "s", "t") as client:
                start = time.perf_counter()
                while outbox.run_once(client).claimed:
                    pass
                elapsed = time.perf_counter() - start
        finally:
            portal.stop()
        delivered = service.counts().get("delivered", 0)
        store.close()

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    print(
        f"confirm, text only:        median {statistics.median(text_ms):.1f} ms, p95 {p95(text_ms):.1f} ms"
    )
    print(
        f"confirm, 20 s recording:   median {statistics.median(voice_ms):.1f} ms, p95 {p95(voice_ms):.1f} ms"
    )
    print(
        f"delivered {delivered}/{args.count} in {elapsed:.2f} s: {delivered / elapsed:.0f} feedback/s"
    )
    return 0 if delivered == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
