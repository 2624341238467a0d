"""The scan command on zxing-cpp's own QR test photos, against zxing-cpp alone and zbar.

    .venv/bin/python benchmarks/bench_qr_peers.py SAMPLES_DIR [--show]

SAMPLES_DIR holds zxing-cpp's test/samples/qrcode-* folders (real photos and scans:
perspective, curvature, damage, unusual encodings), each image beside a .txt with its
expected text. They are not in zxing-cpp's PyPI package and are not part of this
repository; README.md ("QR peer samples") says how to get them. Images without an
expected .txt (structured-append parts) are skipped.

For each image: the kiosk's scan command pipeline (`kiosk.commands.scan.scan_file`: the
file decoded as the command does, every pass, its QR texts), zxing-cpp alone (its own
defaults, QR only) and zbar alone (pyzbar, QR only, with the kiosk's repair of zbar's
Shift-JIS guess). Counted: exact (the expected text among the texts read), wrong (texts
read, none of them the expected one), and images that zxing-cpp or zbar read but the
scan command does not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.commands.scan import still_pipeline  # noqa: E402
from kiosk.hardware.decoders import decode_zbar  # noqa: E402
from kiosk.services.text import nfc  # noqa: E402

IMAGES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".pgm")
TARGET_EXACT = 125


def samples(folder: Path) -> list[tuple[Path, str]]:
    out = []
    for image in sorted(folder.rglob("*")):
        if image.suffix.lower() not in IMAGES or not image.parent.name.startswith("qrcode-"):
            continue
        expected = image.with_suffix(".txt")
        if expected.exists():
            out.append((image, expected.read_bytes().decode("utf-8")))
    return out


def zxing_alone(gray: np.ndarray) -> list[str]:
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)]


def zbar_alone(gray: np.ndarray) -> list[str]:
    return [d.text for d in decode_zbar(gray)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("samples_dir", type=Path)
    ap.add_argument("--show", action="store_true", help="list the images each one misses")
    args = ap.parse_args(argv)
    found = samples(args.samples_dir)
    if not found:
        print(f"no qrcode-*/ images with an expected .txt under {args.samples_dir}")
        return 2
    pipeline = still_pipeline()
    names = ("scan command", "zxing-cpp", "zbar")
    exact = dict.fromkeys(names, 0)
    wrong = dict.fromkeys(names, 0)
    misses: dict[str, list[str]] = {n: [] for n in names}
    ms: list[float] = []
    read_by: dict[str, set[str]] = {n: set() for n in names}
    for image, expected in found:
        data = np.fromfile(str(image), np.uint8)
        gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        label = f"{image.parent.name}/{image.name}"
        t0 = time.perf_counter()
        kiosk = [d.text for d in pipeline.decode(gray)] if gray is not None else []
        ms.append((time.perf_counter() - t0) * 1000)
        results = {
            "scan command": kiosk,
            "zxing-cpp": zxing_alone(gray) if gray is not None else [],
            "zbar": zbar_alone(gray) if gray is not None else [],
        }
        for name, texts in results.items():
            # The scan command NFC-normalises all text (as Vietnamese needs): the
            # expected text is compared in the same form for every decoder.
            texts = [nfc(t) for t in texts]
            if nfc(expected) in texts:
                exact[name] += 1
                read_by[name].add(label)
            else:
                misses[name].append(label)
                wrong[name] += bool(texts)
    n = len(found)
    print(f"zxing-cpp QR samples: {n} images with an expected text, in {args.samples_dir}")
    print()
    print(f"{'decoder':<14}{'exact':>8}{'wrong':>8}{'missed':>8}")
    for name in names:
        print(f"{name:<14}{exact[name]:>8}{wrong[name]:>8}{n - exact[name] - wrong[name]:>8}")
    print()
    either = read_by["zxing-cpp"] | read_by["zbar"]
    lost = sorted(either - read_by["scan command"])
    print(
        f"read by zxing-cpp or zbar: {len(either)}; of those, not by the scan command: {len(lost)}"
    )
    for label in lost:
        print(f"  {label}")
    print(
        f"scan command time per image: median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms"
    )
    if args.show:
        for name in names:
            print(f"{name} misses: {', '.join(misses[name])}")
    checks = [
        (f"scan command exact >= {TARGET_EXACT} of {n}", exact["scan command"] >= TARGET_EXACT),
        ("zero wrong texts", wrong["scan command"] == 0),
        ("reads every image zxing-cpp or zbar reads", not lost),
    ]
    print()
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
