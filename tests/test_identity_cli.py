"""`python -m kiosk scan --json FILE...`, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from identity_helpers import SAMPLE_PAYLOAD, qr_gray

from kiosk.paths import resource
from kiosk.services.receipt_code import make_code, receipt_uri

ROOT = Path(__file__).resolve().parent.parent


def run_scan(*files: str) -> tuple[int, list[dict]]:
    env = {**os.environ, "LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "scan", "--json", *files],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=120,
    )
    lines = proc.stdout.decode("utf-8").splitlines()
    return proc.returncode, [json.loads(line) for line in lines]


def save(path: Path, text: str) -> str:
    frame = np.full((480, 640), 240, np.uint8)
    if text:
        qr = qr_gray(text, scale=4)
        frame[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr
    cv2.imwrite(str(path), frame)
    return str(path)


def test_scan_every_kind(tmp_path):
    receipt = receipt_uri("https://portal.example.gov.vn/r/", make_code("QN01", 42))
    files = [
        str(resource("samples", "cccd_sample.png")),
        save(tmp_path / "receipt.png", receipt),
        save(tmp_path / "other.png", "https://example.com/menu"),
        save(tmp_path / "invalid.png", SAMPLE_PAYLOAD.replace("|Nữ|", "|Nam|")),
        save(tmp_path / "blank.png", ""),
    ]
    code, rows = run_scan(*files)
    assert code == 0
    assert [r["file"] for r in rows] == files
    cccd, rec, other, invalid, blank = rows

    assert cccd["ok"] is True and cccd["kind"] == "cccd"
    assert cccd["raw"] == SAMPLE_PAYLOAD
    assert cccd["citizen"] == {
        "id_number": "001190012345",
        "old_id_number": "012345678",
        "full_name": "Nguyễn Thị Hồng Nhung",
        "date_of_birth": "1990-02-01",
        "sex": "female",
        "address": "Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội",
        "issue_date": "2021-08-15",
        "warnings": [],
    }
    assert "error" not in cccd
    assert isinstance(cccd["ms"], float) and cccd["ms"] >= 0

    assert rec["ok"] is True and rec["kind"] == "receipt" and rec["raw"] == receipt
    assert other["ok"] is True and other["kind"] == "other_qr" and "citizen" not in other
    assert invalid["ok"] is False and invalid["kind"] == "invalid_cccd"
    assert "sex" in invalid["error"] and invalid["raw"].endswith("15082021")
    assert blank["ok"] is False and blank["kind"] == "none" and blank["raw"] is None
    assert blank["error"]


def test_output_is_utf8_not_escaped(tmp_path):
    env = {**os.environ, "LC_ALL": "C"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk",
            "scan",
            "--json",
            str(resource("samples", "cccd_sample.png")),
        ],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert "Nguyễn Thị Hồng Nhung".encode() in proc.stdout
    assert b"\\u" not in proc.stdout


def test_unreadable_file_exits_non_zero(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    code, rows = run_scan(
        str(resource("samples", "cccd_sample.png")), str(broken), str(tmp_path / "missing.jpg")
    )
    assert code != 0
    assert rows[0]["ok"] is True
    assert (
        rows[1]["ok"] is False and rows[1]["kind"] == "none" and "cannot read" in rows[1]["error"]
    )
    assert rows[2]["ok"] is False and "cannot read" in rows[2]["error"]
