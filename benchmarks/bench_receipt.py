"""Receipt timings: build the PDF per paper size (target <= 100 ms) and rasterise the
80 mm receipt for a thermal printer (plus the full ESC/POS job).

    .venv/bin/python benchmarks/bench_receipt.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 100.0


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    fn()  # warm-up: font registration, pdfium start-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, times[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    from kiosk.hardware.printers import EscPosPrinter, rasterise_pdf
    from kiosk.services.i18n import Translator
    from kiosk.services.receipts import (
        build_receipt_pdf,
        build_ticket_pdf,
        sample_receipt,
        sample_ticket,
    )

    started = time.perf_counter()
    translator = Translator.from_resources()
    build_receipt_pdf(sample_receipt("en"), "80mm", translator)
    first_ms = (time.perf_counter() - started) * 1000

    print(f"receipt benchmark, {args.runs} runs each (ms; target <= {TARGET_MS:.0f} ms per PDF)")
    print(f"first receipt in a fresh process (catalogues + fonts): {first_ms:.1f}")
    print(f"{'task':44} {'median':>8} {'p95':>8} {'max':>8}")
    failed = False
    rows: list[tuple[str, Callable[[], object], bool]] = []
    for lang in ("vi", "en"):
        data = sample_receipt(lang)
        for size in ("80mm", "a5", "a4"):
            rows.append(
                (
                    f"build receipt PDF {size} ({lang})",
                    lambda d=data, s=size: build_receipt_pdf(d, s, translator),
                    True,
                )
            )
    ticket = sample_ticket("en")
    rows.append(
        ("build ticket PDF 80mm (en)", lambda: build_ticket_pdf(ticket, "80mm", translator), True)
    )

    pdf = build_receipt_pdf(sample_receipt("en"), "80mm", translator)
    rows.append(("rasterise 80mm receipt to 576 dots", lambda: rasterise_pdf(pdf), False))
    printer = EscPosPrinter("tcp://127.0.0.1:9100")
    rows.append(
        ("ESC/POS job bytes (raster + GS v 0 + cut)", lambda: printer.render_job(pdf), False)
    )
    a4 = build_receipt_pdf(sample_receipt("en"), "a4", translator)
    rows.append(("rasterise A4 receipt to 576 dots", lambda: rasterise_pdf(a4), False))

    for label, fn, is_pdf in rows:
        median, p95, worst = measure(fn, args.runs)
        mark = ""
        if is_pdf and p95 > TARGET_MS:
            mark = "  OVER TARGET"
            failed = True
        print(f"{label:44} {median:8.1f} {p95:8.1f} {worst:8.1f}{mark}")

    image = rasterise_pdf(pdf)[0]
    job = printer.render_job(pdf)
    print(
        f"80mm raster: {image.width}x{image.height} dots; ESC/POS job {len(job) / 1024:.0f} KiB; "
        f"PDF {len(pdf) / 1024:.0f} KiB"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
