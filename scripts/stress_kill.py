"""kill -9 stress test of the outbox: `python -m kiosk outbox drain` is killed at random
moments (most of them while dossiers are in flight), restarted, killed again, ... then
run to the end. Prints whether every dossier reached the reference portal exactly once
with byte-identical bodies.

    .venv/bin/python scripts/stress_kill.py [--kills 200] [--count 1500]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.portal import Faults  # noqa: E402
from tests.outbox_helpers import (  # noqa: E402
    DRAIN_FAST,
    assert_exactly_once,
    counts,
    drain_env,
    finish_drain,
    kill_loop,
    new_portal,
    open_kiosk,
    seed,
    start_drain,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--count", type=int, default=3000, help="dossiers (1 in 3 with a file)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.04,
        help="seconds the portal adds to each request (kills land mid-send)",
    )
    parser.add_argument(
        "--drop-after-store",
        type=float,
        default=0.03,
        help="share of answers lost after the portal stored the dossier",
    )
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed_value = args.seed if args.seed is not None else random.randrange(10**9)
    rng = random.Random(seed_value)
    work = Path(tempfile.mkdtemp(prefix="stress-kill-"))
    portal = new_portal(
        work,
        faults=Faults(
            latency=args.latency,
            drop_after_store_rate=args.drop_after_store,
            endpoints=["attachments", "dossiers"],
            seed=seed_value,
        ),
    )
    kiosk = open_kiosk(work / "data")
    try:
        seed(kiosk, args.count, attachment_every=3, seed_value=seed_value)
        print(
            f"{args.count} dossiers queued in {work}; portal {portal.url}; seed {seed_value}",
            flush=True,
        )
        env = drain_env(kiosk, portal.url)

        def progress(done: int) -> None:
            if done % 10 == 0:
                print(f"  {done} kills, {counts(kiosk).get('delivered', 0)} delivered", flush=True)

        report = kill_loop(portal, env, args.kills, rng=rng, on_kill=progress)
        print(
            f"{report.kills} kills ({report.killed_while_sending} while sending) in "
            f"{report.seconds:.0f} s; now the last drain, to the end",
            flush=True,
        )
        portal.set_faults(Faults())  # the last run at full speed
        final = finish_drain(start_drain(env, *DRAIN_FAST), timeout=600)
        if final["returncode"] != 0:
            print(final["stderr"][-3000:])
            print(f"FAILED: the last drain ended with {final['returncode']}: {final['counts']}")
            return 1
        per_key = assert_exactly_once(portal, kiosk)
        posts = Counter(len(requests) for requests in per_key.values())
        outcomes = Counter((r.status, r.outcome) for rs in per_key.values() for r in rs)
        print(
            f"OK: {len(portal.dossiers())} dossiers at the portal = {args.count} in the "
            f"outbox, each stored once; every replay byte-identical, no 409"
        )
        print(f"POSTs per dossier: {dict(sorted(posts.items()))}")
        print(f"answers (status, outcome): {dict(outcomes)}")
        return 0
    except AssertionError as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        kiosk.close()
        portal.stop()
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
