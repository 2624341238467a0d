"""Speed and accuracy of the document-photo pipeline on generated camera frames.

    .venv/bin/python benchmarks/bench_docscan.py [--n 60] [--quick]

Prints median/p95 milliseconds of process(), find_page() and the live tracker on
1280x720 and 1920x1080 frames, the encoding time, and over a generated set: detection
rate, aspect-ratio error distribution, corner error, and how often each kind of bad
capture is refused with the right reason.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from docscan_helpers import (  # noqa: E402
    A4,
    RECEIPT,
    add_glare,
    empty_scene,
    make_scene,
    random_scene,
)

from kiosk.services import docscan  # noqa: E402

SIZES = ((1280, 720), (1920, 1080))


def stats_ms(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"median {np.median(a):6.1f} ms   p95 {np.percentile(a, 95):6.1f} ms   (n={len(a)})"


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def motion_blur(frame: np.ndarray, length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = math.cos(math.radians(angle)) * c, math.sin(math.radians(angle)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return cv2.filter2D(frame, -1, k / k.sum(), borderType=cv2.BORDER_REPLICATE)


def bench_speed(frames: int, rounds: int) -> None:
    print("== speed ==")
    for size in SIZES:
        scenes = [random_scene(500 + i, size).frame for i in range(frames)]
        proc, find, track = [], [], []
        for _ in range(rounds):
            for f in scenes:
                proc.append(timed(docscan.process, f)[1])
                find.append(timed(docscan.find_page, f)[1])
        tracker = docscan.LivePageTracker()
        rng = np.random.default_rng(0)
        for f in scenes:
            for _ in range(rounds * 3):
                noisy = np.clip(
                    f.astype(np.int16) + rng.integers(-3, 4, f.shape, dtype=np.int16), 0, 255
                ).astype(np.uint8)
                track.append(timed(tracker.update, noisy)[1])
        label = f"{size[0]}x{size[1]}"
        print(f"process()          {label:>9}: {stats_ms(proc)}")
        print(f"find_page()        {label:>9}: {stats_ms(find)}")
        print(f"LivePageTracker    {label:>9}: {stats_ms(track)}")
    pages = [docscan.process(random_scene(600 + i, (1920, 1080)).frame).image for i in range(3)]
    one = [timed(docscan.encode_attachment, pages[:1], "x")[1] for _ in range(10)]
    three = [timed(docscan.encode_attachment, pages, "x")[1] for _ in range(10)]
    a1 = docscan.encode_attachment(pages[:1], "x")
    a3 = docscan.encode_attachment(pages, "x")
    print(f"encode 1 page JPEG ({a1.size / 1024:.0f} KiB): {stats_ms(one)}")
    print(f"encode 3 page PDF  ({a3.size / 1024:.0f} KiB): {stats_ms(three)}")


def bench_accuracy(n: int) -> None:
    print(
        f"\n== accuracy: {n} generated angled scenes per size "
        "(A4 / receipt 1:2 / landscape A4, tilted 20-35 deg, cluttered desk) =="
    )
    for size in SIZES:
        found = accepted = 0
        errors, corner_err = [], []
        methods: Counter[str] = Counter()
        refused_as: Counter[str] = Counter()
        for i in range(n):
            scene = random_scene(i, size)
            r = docscan.process(scene.frame)
            if r.quad is None:
                continue
            found += 1
            accepted += r.ok
            refused_as.update(r.codes)
            methods[str(r.metrics.get("aspect_method"))] += 1
            errors.append(abs(r.image.shape[1] / r.image.shape[0] / scene.page.aspect - 1))
            corner_err.append(
                float(np.abs(r.quad.array() - docscan.order_corners(scene.corners)).max())
            )
        e = np.array(errors) * 100
        c = np.array(corner_err)
        print(
            f"{size[0]}x{size[1]}: page found {found}/{n}, accepted {accepted}/{n}"
            + (f" (false refusals: {dict(refused_as)})" if refused_as else "")
        )
        print(
            f"  aspect error %: median {np.median(e):.2f}  p95 {np.percentile(e, 95):.2f}  "
            f"max {e.max():.2f}  within 2 %: {np.mean(e < 2) * 100:.0f} %  "
            f"within 1 %: {np.mean(e < 1) * 100:.0f} %"
        )
        print(
            f"  corner error px: median {np.median(c):.2f}  p95 {np.percentile(c, 95):.2f}  "
            f"max {c.max():.2f}"
        )
        print(f"  focal length: {dict(methods)}")


def bench_refusals(n: int) -> None:
    print(f"\n== correct refusals ({n} frames each, 1280x720) ==")

    def rate(name: str, expected: str, frames, exact: bool = False) -> None:
        hits, seen = 0, Counter()
        for f in frames:
            codes = docscan.process(f).codes
            seen.update(codes or ["ok"])
            hits += (codes == [expected]) if exact else (expected in codes)
        others = {k: v for k, v in seen.items() if k != expected}
        print(
            f"  {name:<26} -> '{expected}': {hits}/{n}" + (f"   other: {others}" if others else "")
        )

    scenes = [random_scene(700 + i) for i in range(n)]
    rate("Gaussian blur sigma 3", "blurred", (cv2.GaussianBlur(s.frame, (0, 0), 3) for s in scenes))
    rate(
        "motion blur 15 px",
        "blurred",
        (motion_blur(s.frame, 15, 37 * i) for i, s in enumerate(scenes)),
    )

    def glare(s):
        c = s.corners.mean(axis=0)
        return add_glare(s.frame, (c[0] + 20, c[1] - 30), 45)

    rate("glare spot", "glare", (glare(s) for s in scenes))
    rate(
        "page off the side",
        "cut_off",
        (
            make_scene(
                aspect=(A4, RECEIPT)[i % 2],
                tilt_deg=25,
                yaw_deg=10,
                fill=0.8,
                offset=(0.35 if i % 2 else -0.35, 0),
                seed=i,
            ).frame
            for i in range(n)
        ),
    )
    rate(
        "page bigger than frame",
        "cut_off",
        (
            make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=1.3, offset=(0, 0.1), seed=i).frame
            for i in range(n)
        ),
    )
    rate("empty cluttered desk", "no_page", (empty_scene(i) for i in range(n)), exact=True)
    rate(
        "page far away",
        "too_far",
        (
            make_scene(aspect=(A4, RECEIPT)[i % 2], tilt_deg=25, yaw_deg=10, fill=0.3, seed=i).frame
            for i in range(n)
        ),
    )
    rate(
        "dim room (x0.25)",
        "too_dark",
        (
            make_scene(aspect=A4, tilt_deg=25, yaw_deg=10, fill=0.7, seed=i, dim=0.25).frame
            for i in range(n)
        ),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="scenes per accuracy set")
    ap.add_argument("--quick", action="store_true", help="small sets, for a smoke run")
    args = ap.parse_args()
    n = 12 if args.quick else args.n
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"opencv {cv2.__version__}, numpy {np.__version__}, cv2 threads {cv2.getNumThreads()}, "
        f"cpus {os.cpu_count()}, load average {load} (timings scale with other load)"
    )
    bench_speed(frames=6 if args.quick else 15, rounds=1 if args.quick else 2)
    bench_accuracy(n)
    bench_refusals(max(6, n // 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
