"""`python -m kiosk scan --json FILE...`: decode QR codes in image files.

One JSON object per file and line: file, ok, kind (cccd, receipt, other_qr, none,
invalid_cccd), raw (the decoded text or null), citizen (for a CCCD), error, ms.
Exit status 1 when a file cannot be read as an image, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.hardware.decoders import QrPipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="cli.scan.help",
        description="cli.scan.description",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="cli.scan.opt.files")
    parser.add_argument("--json", action="store_true", help="cli.scan.opt.json")
    parser.set_defaults(func=handle)


def scan_file(path: str, pipeline: QrPipeline | None = None) -> tuple[dict[str, object], bool]:
    """The JSON object for one file, and whether the file could be read."""
    import cv2
    import numpy as np

    from kiosk.hardware.decoders import QrPipeline
    from kiosk.services.cccd import interpret

    # A still image has time for every pass, without the live frame budget.
    pipeline = pipeline or QrPipeline(budget_ms=1000.0)
    started = time.perf_counter()
    out: dict[str, object] = {"file": path}
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        data, reason = None, exc.strerror or type(exc).__name__
    else:
        reason = "not an image file"
    too_large = pixel_limit_error(data) if data is not None else None
    if too_large:  # refused before decoding; the batch goes on
        out.update(ok=False, kind="none", raw=None, error=too_large, ms=_ms(started))
        out["error_key"] = "scan.too_large"
        return out, False
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data is not None and data.size else None
    except cv2.error:
        image = None
    if image is None:
        out.update(ok=False, kind="none", raw=None, error=f"cannot read: {reason}", ms=_ms(started))
        return out, False
    found = pipeline.decode(image)
    if not found:
        out.update(ok=False, kind="none", raw=None, error="no QR code found", ms=_ms(started))
        return out, True
    raw = found[0].text
    result = interpret(raw)
    out.update(ok=result.kind != "invalid_cccd", kind=result.kind, raw=raw)
    if len(found) > 1:
        out["others"] = [d.text for d in found[1:]]
    if result.citizen is not None:
        out["citizen"] = result.citizen.to_json()
    if result.receipt is not None:
        out["receipt"] = result.receipt.text
    if result.kind == "invalid_cccd" and result.error is not None:
        out["error"] = result.error.detail
        out["error_key"] = result.error.key
    out["ms"] = _ms(started)
    return out, True


MAX_PIXELS = 50_000_000  # a 50-Mpixel phone photo decodes in well under a second


def pixel_limit_error(data) -> str | None:
    """Why an image is refused before decoding (its header claims too many pixels), or
    None. Reads the sizes PNG, JPEG, BMP, GIF and WebP headers declare; others are left
    to OpenCV's own limit (its error is caught by the caller)."""
    import struct

    head = bytes(data[:65536])
    size = None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        size = struct.unpack(">II", head[16:24])
    elif head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        size = (abs(w), abs(h))
    elif head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        size = struct.unpack("<HH", head[6:10])
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        size = (w, h)
    elif head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                break
            marker = head[i + 1]
            length = int.from_bytes(head[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", head[i + 5 : i + 9])
                size = (w, h)
                break
            i += 2 + length
    if size is None or size[0] * size[1] <= MAX_PIXELS:
        return None
    return f"image too large: {size[0]}x{size[1]} pixels (limit {MAX_PIXELS // 1_000_000} Mpixel)"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def handle(args: argparse.Namespace) -> int:
    from kiosk.hardware.decoders import QrPipeline

    pipeline = QrPipeline(budget_ms=1000.0)  # see scan_file
    status = 0
    for path in args.files:
        record, readable = scan_file(path, pipeline)
        if not readable:
            status = 1
        # Bytes, so Vietnamese prints the same whatever the terminal's locale.
        sys.stdout.buffer.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        sys.stdout.buffer.flush()
    return status
