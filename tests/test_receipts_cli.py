"""`python -m kiosk receipt`: sample receipt to a file, and to printers; Qt-free layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main
from tests.receipt_helpers import (
    FakeEscPos,
    decode_qr,
    flat,
    page_sizes_pt,
    parse_gs_v0,
    pdf_text,
    refused_port,
    render_page,
)

ROOT = Path(__file__).resolve().parent.parent


def test_sample_receipt_to_file_in_a_fresh_process(tmp_path):
    out = tmp_path / "sample.pdf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk",
            "receipt",
            "--sample",
            "--out",
            str(out),
            "--lang",
            "en",
            "--size",
            "a5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pdf = out.read_bytes()
    text = flat(pdf_text(pdf))
    assert "Nguyễn Thị Hồng Nhung" in text and "Đăng ký khai sinh" in text
    assert "Birth registration" in text and "BẢN THỬ" in text
    assert page_sizes_pt(pdf)[0][0] == pytest.approx(148 * 72 / 25.4, abs=0.5)
    assert decode_qr(render_page(pdf))[0].endswith("/r/QN01-000123-J")


def test_sample_ticket_and_raster(tmp_path, capsys):
    out, png = tmp_path / "t.pdf", tmp_path / "t.png"
    assert main(["receipt", "--sample", "--ticket", "--out", str(out), "--raster", str(png)]) == 0
    assert "A012" in pdf_text(out.read_bytes())
    from PIL import Image

    with Image.open(png) as image:
        assert image.width == 576


def test_sample_printed_on_escpos(capsys):
    with FakeEscPos() as server:
        code = main(
            ["receipt", "--sample", "--print", "--printer", "escpos", "--target", server.target]
        )
        assert code == 0
        (job,) = server.wait_jobs(1)
    blocks, _ = parse_gs_v0(job)
    assert blocks and blocks[0].width_bytes == 72


def test_printer_error_is_shown_translated_with_detail(capsys):
    code = main(
        [
            "--lang",
            "en",
            "receipt",
            "--sample",
            "--print",
            "--printer",
            "escpos",
            "--lang",
            "en",
            "--target",
            f"tcp://127.0.0.1:{refused_port()}",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "The printer is not ready" in err and "PrinterOffline" in err


def test_sample_to_pdf_folder(tmp_path, capsys):
    folder = tmp_path / "demo-prints"
    assert main(["receipt", "--sample", "--print", "--folder", str(folder)]) == 0
    (file,) = folder.iterdir()
    assert file.read_bytes().startswith(b"%PDF-")


def test_needs_an_output(capsys):
    assert main(["receipt", "--sample"]) == 2


def test_services_and_hardware_do_not_import_qt():
    code = (
        "import sys\n"
        "import kiosk.services.receipts, kiosk.hardware.printers, kiosk.commands.receipt\n"
        "from kiosk.hardware.printers import EscPosPrinter, rasterise_pdf\n"
        "from kiosk.services.i18n import Translator\n"
        "from kiosk.services.receipts import build_receipt_pdf, sample_receipt\n"
        "pdf = build_receipt_pdf(sample_receipt(), '80mm', Translator.from_resources())\n"
        "rasterise_pdf(pdf)\n"
        "EscPosPrinter('tcp://127.0.0.1:9').render_job(pdf)\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
