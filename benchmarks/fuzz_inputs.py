"""Fuzz the kiosk's input paths with plain random inputs (seeded, reproducible):

- the ID-card QR parser (`kiosk.services.cccd.parse`): mutated real payloads and random
  field soups with control, format, bidi and zero-width characters, huge fields;
- the field validators (`kiosk.services.catalogue.validate_value`) of every field type:
  random digits, separators, signs, scripts, huge inputs;
- the scan command (`kiosk.commands.scan.scan_file`): image files with mutated PNG, JPEG,
  BMP and GIF headers (claimed sizes up to 65535x65535), truncated and random bytes,
  and small real QR images.

For each it prints the cases run, crashes (an exception: a bug) and accepted garbage (an
input that was accepted although it should not have been: a parsed card with control
characters or a name that is not a name, a validated value outside its contract, a scan
that "found" a card in noise).

    .venv/bin/python benchmarks/fuzz_inputs.py [--cases 100000] [--seed 14]

Exit status 1 on any crash or accepted garbage.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import time
import traceback
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SAMPLE = (
    "001190012345|012345678|Nguyễn Thị Hồng Nhung|01021990|Nữ|"
    "Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội|15082021"
)
NASTY = [
    "\x00",
    "\x1b",
    "\x1b[31m",
    "\x07",
    "\r",
    "\n",
    "\t",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\ufffd",
    "\ud800",
    "\U0010ffff",
    "|",
    "||",
    "Nam",
    "Nữ",
    "A",
    "'",
    "-",
    "Иван",
    "山田",
    "ﷺ",
    "\u0301",
    "e\u0301",
    "9" * 12,
    "0" * 9,
    "31121999",
    "29022001",
    "x" * 400,
]
VI = "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"
TODAY = date(2026, 11, 23)


@dataclass
class Report:
    name: str
    cases: int = 0
    crashes: list[str] = field(default_factory=list)
    garbage: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.cases / self.seconds if self.seconds else 0
        return (
            f"{self.name:<16} cases {self.cases:>8}  crashes {len(self.crashes):>4}  "
            f"accepted garbage {len(self.garbage):>4}  ({self.seconds:.1f} s, {rate:,.0f}/s)"
        )


def _random_text(rng: random.Random, max_len: int = 40) -> str:
    pool = VI + VI.upper() + "0123456789 ,./-'|" + "".join(NASTY[:16])
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, max_len)))


def _mutate_payload(rng: random.Random) -> str:
    fields = SAMPLE.split("|")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randrange(len(fields))
        if op == 0:
            pos = rng.randint(0, len(fields[i]))
            fields[i] = fields[i][:pos] + rng.choice(NASTY) + fields[i][pos:]
        elif op == 1:
            fields.insert(i, rng.choice(NASTY))
        elif op == 2 and len(fields) > 1:
            fields.pop(i)
        elif op == 3:
            fields[i] = _random_text(rng)
        elif op == 4:
            j = rng.randrange(len(fields))
            fields[i], fields[j] = fields[j], fields[i]
        elif op == 5:
            fields[i] = fields[i] * rng.randint(2, 50)
        else:
            fields[i] = "".join(rng.choice([c.upper(), c.lower()]) for c in fields[i])
    text = "|".join(fields)
    if rng.random() < 0.05:
        text = text.encode("utf-8", "surrogatepass")[: rng.randint(0, 200)].decode(
            "utf-8", "replace"
        )
    return text


def _bad_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "C"


def fuzz_cards(cases: int, rng: random.Random) -> Report:
    from kiosk.services.cccd import CitizenRecord, _is_name, parse

    report = Report("card parser")
    started = time.perf_counter()
    for _ in range(cases):
        text = _mutate_payload(rng) if rng.random() < 0.8 else _random_text(rng, 300)
        report.cases += 1
        try:
            result = parse(text, today=TODAY)
        except Exception:
            report.crashes.append(f"{text!r}: {traceback.format_exc(limit=2)}")
            continue
        if isinstance(result, CitizenRecord):
            fields = (result.full_name, result.address, result.id_number, result.old_id_number)
            if any(f and any(_bad_char(c) for c in f) for f in fields) or not _is_name(
                result.full_name
            ):
                report.garbage.append(repr(text))
    report.seconds = time.perf_counter() - started
    return report


def _field_cases():
    from kiosk.services.catalogue import Choice, Field

    def make(ftype: str, **extra):
        return Field(key="f", type=ftype, required=True, labels={"vi": "Ô", "en": "Box"}, **extra)

    sex = (Choice("male", {"vi": "Nam", "en": "Male"}), Choice("female", {"vi": "Nữ"}))
    return [
        make("text", max_length=80),
        make("phone"),
        make("id_number"),
        make("date", max_today=True),
        make("number", min=0, max=100),
        make("number", decimals=2),
        make("checkbox"),
        make("choice", choices=sex),
    ]


def _valid(field, value) -> bool:
    """Whether an accepted value keeps to the contract of its field type."""
    t = field.type
    if t == "text":
        return (
            isinstance(value, str)
            and 0 < len(value) <= (field.max_length or 10_000)
            and not any(_bad_char(c) and c not in "\t" for c in value)
        )
    if t == "phone":
        return isinstance(value, str) and len(value) == 10 and value.isascii() and value.isdigit()
    if t == "id_number":
        return isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit()
    if t == "date":
        try:
            return date.fromisoformat(value) <= TODAY
        except (TypeError, ValueError):
            return False
    if t == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and field.min is not None:
            ok = float(field.min) <= value <= float(field.max)
        return ok
    if t == "checkbox":
        return value is True
    if t == "choice":
        return value in {c.key for c in field.choices}
    return False


def _field_input(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 20)))
    if kind == 1:
        return "".join(rng.choice("0123456789 .,+-/") for _ in range(rng.randint(0, 30)))
    if kind == 2:
        return rng.choice(["9" * rng.randint(100, 6000), "-" + "1" * 5000, "1e999", "nan", "inf"])
    if kind == 3:
        return rng.choice(NASTY) + _random_text(rng) + rng.choice(NASTY)
    if kind == 4:
        return f"{rng.randint(0, 40):02d}/{rng.randint(0, 14):02d}/{rng.randint(1800, 2200)}"
    return _random_text(rng, 200)


def fuzz_fields(cases: int, rng: random.Random) -> Report:
    from kiosk.services.catalogue import validate_value

    report = Report("field validators")
    fields = _field_cases()
    started = time.perf_counter()
    for _ in range(cases):
        f = rng.choice(fields)
        text = _field_input(rng)
        report.cases += 1
        try:
            value, error = validate_value(f, text, "vi", today=TODAY)
        except Exception:
            report.crashes.append(f"{f.type} {text[:80]!r}: {traceback.format_exc(limit=2)}")
            continue
        if error is None and value is not None and not _valid(f, value):
            report.garbage.append(f"{f.type} {text[:80]!r} -> {value!r}")
    report.seconds = time.perf_counter() - started
    return report


def _png(width: int, height: int, rng: random.Random) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, rng.choice([0, 2, 6]), 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = zlib.compress(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
    idat = b"IDAT" + body
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(body))
        + idat
        + struct.pack(">I", zlib.crc32(idat))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def _jpeg(width: int, height: int, rng: random.Random) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))


def _image_bytes(rng: random.Random, real: list[bytes]) -> bytes:
    kind = rng.randrange(7)
    big = rng.choice([1, 7, 640, 4000, 9000, 30000, 65535])
    other = rng.choice([1, 7, 480, 4000, 9000, 30000, 65535])
    if kind == 0:
        return _png(big, other, rng)
    if kind == 1:
        return _jpeg(big, other, rng)
    if kind == 2:
        return b"BM" + struct.pack("<IHHIIii", 54, 0, 0, 54, 40, big, -other) + b"\x00" * 16
    if kind == 3:
        return b"GIF89a" + struct.pack("<HH", big, other) + b"\x00" * 16
    if kind == 4:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 256)))
    data = bytearray(rng.choice(real))
    if kind == 5:  # a real image with a few bytes flipped or cut short
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        return bytes(data[: rng.randint(8, len(data))])
    return bytes(data)


def _real_images() -> list[bytes]:
    import cv2
    import numpy as np
    import segno

    out = []
    for text in (SAMPLE, "https://example.com/menu", "QN01"):
        qr = segno.make(text, encoding="utf-8", error="m")
        matrix = np.array(list(qr.matrix_iter(border=4)), dtype=np.uint8)
        gray = np.where(matrix > 0, 0, 255).astype(np.uint8)
        gray = cv2.resize(gray, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        for ext in (".png", ".jpg", ".bmp"):
            ok, buf = cv2.imencode(ext, gray)
            if ok:
                out.append(buf.tobytes())
    return out


def fuzz_scan(cases: int, rng: random.Random) -> Report:
    from kiosk.commands.scan import scan_file
    from kiosk.hardware.decoders import QrPipeline

    report = Report("scan command")
    real = _real_images()
    pipeline = QrPipeline(budget_ms=50.0)
    with tempfile.TemporaryDirectory(prefix="kiosk-fuzz-") as tmp:
        path = Path(tmp) / "image"
        started = time.perf_counter()
        with _quiet_stderr():  # libpng and OpenCV print every broken header
            _scan_loop(cases, rng, real, pipeline, path, report, scan_file)
        report.seconds = time.perf_counter() - started
    return report


class _quiet_stderr:
    def __enter__(self):
        import os

        sys.stderr.flush()
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        import os

        os.dup2(self.saved, 2)
        os.close(self.saved)


def _scan_loop(cases, rng, real, pipeline, path, report, scan_file) -> None:
    for _ in range(cases):
        data = _image_bytes(rng, real)
        path.write_bytes(data)
        report.cases += 1
        try:
            record, _readable = scan_file(str(path), pipeline)
        except Exception:
            report.crashes.append(f"{data[:32]!r}: {traceback.format_exc(limit=3)}")
            continue
        if record.get("kind") == "cccd" and not any(data == r for r in real):
            # Only an intact sample image may yield a card.
            citizen = record.get("citizen") or {}
            if citizen.get("id_number") != "001190012345":
                report.garbage.append(f"{data[:32]!r} -> {record}")


def run(
    cases: int, seed: int, scan_cases: int | None = None, out: Callable[[str], None] = print
) -> list[Report]:
    reports = [
        fuzz_cards(cases, random.Random(seed)),
        fuzz_fields(cases, random.Random(seed + 1)),
        fuzz_scan(cases if scan_cases is None else scan_cases, random.Random(seed + 2)),
    ]
    for r in reports:
        out(r.line())
        for sample in (r.crashes[:3], r.garbage[:3]):
            for line in sample:
                out("    " + line.strip().replace("\n", "\n    ")[:600])
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="cases per input path")
    parser.add_argument("--scan-cases", type=int, default=None, help="default: --cases")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    reports = run(args.cases, args.seed, args.scan_cases)
    bad = sum(len(r.crashes) + len(r.garbage) for r in reports)
    print(f"total: {sum(r.cases for r in reports)} cases, {bad} crashes or accepted garbage")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
