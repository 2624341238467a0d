"""`kiosk chip read` with the simulated card, and doctor's card-reader check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, env_extra=None, lang=None):
    env = {**os.environ, **(env_extra or {})}
    before = ["--lang", lang] if lang else []
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *before, "chip", "read", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_without_id_the_qr_is_scanned_first():
    sample = ROOT / "resources" / "samples" / "cccd_sample.png"
    done = _run(
        "--sim",
        "--json",
        env_extra={"KIOSK_CAMERA": "sim", "KIOSK_CAMERA_SIM_SOURCE": str(sample)},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["level"] == "chip_verified"  # the demo card's own test CSCA
    assert out["dg13"]["id_number"] == "001190012345"
    assert out["dg13"]["full_name"] == "Nguyễn Thị Hồng Nhung"


def test_text_output_and_wrong_birth_date():
    ok = _run("--sim", "--id", "001190012345", "--dob", "1990-02-01", lang="en")
    assert ok.returncode == 0 and "Assurance level: chip_verified" in ok.stdout
    assert "DG13  sha256" in ok.stdout and "matched" in ok.stdout
    refused = _run("--sim", "--json", "--id", "001190012345", "--dob", "1990-02-02")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"] == "chip.error.bac"
    bad = _run("--sim", "--id", "12345", "--dob", "1990-02-01", lang="en")
    assert bad.returncode == 1 and "12-digit" in bad.stderr


def test_text_output_speaks_vietnamese_by_default():
    ok = _run("--sim", "--id", "001190012345", "--dob", "1990-02-01")
    assert ok.returncode == 0 and "Mức xác thực: chip_verified" in ok.stdout
    assert "khớp" in ok.stdout and "matched" not in ok.stdout
    refused = _run("--sim", "--id", "001190012345", "--dob", "1990-02-02")
    assert refused.returncode == 1
    assert "Không đọc được chip: Chip không mở được với các ngày của thẻ" in refused.stdout
    bad = _run("--sim", "--id", "12345", "--dob", "1990-02-01")
    assert bad.returncode == 1 and "12 chữ số" in bad.stderr
    half = _run("--sim", "--id", "001190012345")
    assert half.returncode == 1 and "đi cùng nhau" in half.stderr


def test_doctor_card_reader_check(settings, tmp_path):
    from kiosk.commands.doctor import FAIL, OK, WARN, Check, Doctor, check_card_reader
    from tests.chip_helpers import pki

    def check(s, names=None):
        doctor = Doctor(s)
        listed = (lambda: names) if names is not None else None
        status, key, values = check_card_reader(doctor, listed)
        return doctor.explain(Check("card_reader", status, key, values))

    real = ["ACS ACR1252 1S CL Reader [ACR1252 Dual Reader PICC] 00 00"]
    no_csca = check(settings, real)
    assert no_csca.status == WARN and "chip_unverified" in no_csca.detail and no_csca.fix
    (tmp_path / "vn.pem").write_bytes(pki().csca_pem())
    trusted = replace(settings, chip_csca=str(tmp_path))
    ok = check(trusted, real)
    assert ok.status == OK and "ACR1252" in ok.detail and "1" in ok.detail
    virtual = ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    refused = check(trusted, virtual)
    assert refused.status == FAIL and "Virtual PCD 00 00" in refused.detail
    assert "vsmartcard-vpcd" in refused.fix
    assert check(replace(trusted, demo=True), virtual).status == OK
    assert check(replace(settings, card_reader="sim")).status == FAIL
    assert check(replace(settings, card_reader="sim", demo=True)).status == WARN
    assert check(settings, []).status == WARN


def test_emulate_speaks_vpcd_protocol_to_a_vpcd_socket():
    """`kiosk chip emulate` as vpcd's card side: vpcd (here a stand-in on 127.0.0.1) asks
    for the ATR and sends APDUs, each message prefixed with its 2-byte length."""
    import socket
    import struct

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(60)
    port = server.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "chip", "emulate", "--vpcd", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        conn, _ = server.accept()
        conn.settimeout(30)

        def ask(message: bytes) -> bytes:
            conn.sendall(struct.pack(">H", len(message)) + message)
            size = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))[0]
            return conn.recv(size, socket.MSG_WAITALL)

        conn.sendall(b"\x00\x01\x01")  # power on: no answer
        atr = ask(b"\x04")
        assert atr[0] == 0x3B and len(atr) > 4
        assert ask(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
        challenge = ask(bytes.fromhex("0084000008"))
        assert len(challenge) == 10 and challenge[-2:] == b"\x90\x00"
        assert ask(bytes.fromhex("00B0000004")) == b"\x69\x82"  # no reading before BAC
        conn.close()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
