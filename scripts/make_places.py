"""Write resources/places/communes_2025.json and communes_before_2025.json.

The communes (xã, phường, đặc khu) of the 34 provinces since 1 July 2025, and for every
commune of before the merger (province, district, commune) the commune of today it became,
are taken from the data files of the `vietnamadminunits` package (PyPI, MIT licence,
https://github.com/tranngocminhhieu/vietnamadminunits). Only its data is read; the kiosk
does not depend on the package.

    .venv/bin/python scripts/make_places.py            # downloads the pinned wheel with pip
    .venv/bin/python scripts/make_places.py --wheel vietnamadminunits-1.0.4-py3-none-any.whl

The wheel's sha256 is checked, so the same input always gives the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "places"
PACKAGE = "vietnamadminunits"
VERSION = "1.0.4"
SHA256 = "737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35"
SOURCE = (
    f"{PACKAGE} {VERSION} (PyPI; MIT licence, Copyright (c) 2025 Tran Ngoc Minh Hieu; "
    "https://github.com/tranngocminhhieu/vietnamadminunits), its files data/dataset.db and "
    "data/converter_2025.json, converted by scripts/make_places.py. The arrangement itself is "
    "that of the National Assembly Standing Committee's resolutions of 2025 on the "
    "arrangement of commune-level units of each province."
)


def fetch_wheel(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(folder),
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )
    return next(folder.glob(f"{PACKAGE}-{VERSION}-*.whl"))


def read_wheel(wheel: Path, folder: Path) -> tuple[sqlite3.Connection, dict]:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{wheel.name}: sha256 {digest}, expected {SHA256}")
    with zipfile.ZipFile(wheel) as z:
        licence = z.read(f"{PACKAGE}-{VERSION}.dist-info/licenses/LICENSE").decode()
        if not licence.startswith("MIT License"):
            raise SystemExit(f"{wheel.name}: not the MIT licence any more")
        db = folder / "dataset.db"
        db.write_bytes(z.read(f"{PACKAGE}/data/dataset.db"))
        converter = json.loads(z.read(f"{PACKAGE}/data/converter_2025.json"))
    return sqlite3.connect(db), converter


def communes_today(db: sqlite3.Connection) -> tuple[dict, dict]:
    """{province code: [[commune code, name], ...]} and {(province key, ward key): code}."""
    by_province: dict[str, list[list[str]]] = {}
    codes: dict[tuple[str, str], str] = {}
    rows = db.execute(
        "SELECT provinceCode, ward, wardCode, provinceKey, wardKey FROM admin_units"
        " ORDER BY provinceCode, wardCode"
    )
    for province, ward, code, pkey, wkey in rows:
        by_province.setdefault(province, []).append([code, ward])
        codes[(pkey, wkey)] = code
    return by_province, codes


def communes_before(db: sqlite3.Connection, converter: dict, codes: dict) -> dict:
    """{old province code (3 digits): {district: {commune: [code of today, ...]}}}; the first
    code is where the old commune went (most of its land), any others took parts of it."""
    province_of = {}  # old province key -> new province key
    for new, olds in converter["DICT_PROVINCE"].items():
        for old in olds:
            province_of[old] = new
    target: dict[str, list[str]] = {}
    for new_province, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward, olds in wards.items():
            for old in olds:
                target.setdefault(old, []).append(codes[(new_province, new_ward)])
    for new_province, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in olds.items():
            ordered = sorted(parts, key=lambda p: not p["isDefaultNewWard"])
            target[old] = [codes[(new_province, p["newWardKey"])] for p in ordered]
    special = {  # islands that were districts without communes: today a special zone
        (row[0], row[1]): row[2]
        for row in db.execute(
            "SELECT provinceCode, wardShort, wardCode FROM admin_units WHERE wardType = 'Đặc khu'"
        )
    }
    new_code_of = {v: k for k, v in codes.items()}
    before: dict[str, dict[str, dict[str, list[str]]]] = {}
    rows = db.execute(
        "SELECT provinceCode, district, districtShort, ward, provinceKey, districtKey, wardKey"
        " FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    )
    missing = []
    for province, district, district_short, ward, pkey, dkey, wkey in rows:
        if ward is None:
            new_province = province_of[pkey]
            code = next((c for (p, short), c in special.items() if short == district_short), None)
            if code is None or new_code_of[code][0] != new_province:
                missing.append(district)
                continue
            found = [code]
        else:
            found = target.get(f"{pkey}_{dkey}_{wkey}")
            if not found:
                missing.append(f"{ward}, {district}")
                continue
        before.setdefault(f"0{province}", {}).setdefault(district, {})[ward or ""] = found
    if missing:
        raise SystemExit(f"communes of before the merger without a commune of today: {missing}")
    return before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {PACKAGE}-{VERSION} wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="places-") as tmp:
        folder = Path(tmp)
        wheel = args.wheel or fetch_wheel(folder)
        db, converter = read_wheel(wheel, folder)
        today, codes = communes_today(db)
        before = communes_before(db, converter, codes)
        db.close()
    provinces = json.loads((OUT / "provinces_2025.json").read_text("utf-8"))["provinces"]
    if sorted(p["code"] for p in provinces) != sorted(today):
        raise SystemExit("the package's provinces are not those of provinces_2025.json")
    (OUT / "communes_2025.json").write_text(
        json.dumps(
            {
                "_comment": "The communes, wards and special zones of each province since 1 July"
                " 2025, by province code (provinces_2025.json): [commune code, official name].",
                "_source": SOURCE,
                "communes": today,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n",
        "utf-8",
    )
    (OUT / "communes_before_2025.json").write_text(
        json.dumps(
            {
                "_comment": "Every commune of before 1 July 2025, by its province's code (the first"
                " three digits of a CCCD number), district and name: the codes of the communes"
                " of today it went into (communes_2025.json), the one that took most of it first."
                " A district that was one island without communes has the name ''.",
                "_source": SOURCE,
                "before": before,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n",
        "utf-8",
    )
    total = sum(len(v) for v in today.values())
    old = sum(len(w) for d in before.values() for w in d.values())
    print(f"{total} communes today in {len(today)} provinces; {old} communes of before mapped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
