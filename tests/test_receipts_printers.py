"""Printer backends: PDF folder, ESC/POS over TCP (a test printer on 127.0.0.1) and a
serial port (a pseudo-terminal), raster content, status handling and failures."""

from __future__ import annotations

import errno
import os
import pty
import threading
import time
import tty
from pathlib import Path

import pytest

from kiosk.hardware.printers import (
    KEY_FAILED,
    KEY_OFFLINE,
    KEY_PAPER_LOW,
    KEY_PAPER_OUT,
    KEY_READY,
    EscPosPrinter,
    FailingPrinter,
    PaperOut,
    PdfFolderPrinter,
    PrinterError,
    PrinterFailed,
    PrinterOffline,
    SimulatedPrinter,
    make_printer,
    parse_target,
    rasterise_pdf,
)
from kiosk.services.i18n import Translator
from kiosk.services.receipts import build_receipt_pdf, build_ticket_pdf
from tests.receipt_helpers import (
    FakeEscPos,
    decode_qr,
    parse_gs_v0,
    refused_port,
    sample_data,
    sample_ticket_data,
    stack,
)


@pytest.fixture(scope="module")
def receipt_pdf() -> bytes:
    return build_receipt_pdf(sample_data(lang="en"), "80mm", Translator.from_resources())


@pytest.fixture
def escpos_server():
    with FakeEscPos() as server:
        yield server


# --- PDF folder --------------------------------------------------------------------


def test_pdf_folder_writes_the_job_atomically(tmp_path, receipt_pdf):
    printer = PdfFolderPrinter(tmp_path)
    assert printer.status().ready and printer.status().key == KEY_READY
    printer.print_pdf(receipt_pdf, "QN01-000123-J")
    printer.print_pdf(receipt_pdf, "QN01-000123-J")  # same job twice: two files
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2, files  # and no temporary ".part" left behind
    assert all(f.suffix == ".pdf" and "QN01-000123-J" in f.name for f in files)
    assert printer.last_path in files
    assert files[0].read_bytes() == receipt_pdf


def test_pdf_folder_job_name_cannot_escape_the_folder(tmp_path, receipt_pdf):
    printer = PdfFolderPrinter(tmp_path / "out", create=True)
    printer.print_pdf(receipt_pdf, "../../etc/passwd")
    assert printer.last_path is not None and printer.last_path.parent == tmp_path / "out"


def test_pdf_folder_missing_folder_fails(tmp_path, receipt_pdf):
    printer = PdfFolderPrinter(tmp_path / "absent")
    status = printer.status()
    assert not status.ready and status.key == KEY_FAILED
    with pytest.raises(PrinterFailed) as info:
        printer.print_pdf(receipt_pdf, "job")
    assert info.value.key == KEY_FAILED and "does not exist" in info.value.detail


def test_pdf_folder_that_is_a_file_fails(tmp_path, receipt_pdf):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(PrinterFailed, match="not a folder"):
        PdfFolderPrinter(not_a_folder, create=True).print_pdf(receipt_pdf, "job")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_pdf_folder_read_only_fails_for_real(tmp_path, receipt_pdf):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        printer = PdfFolderPrinter(folder)
        assert not printer.status().ready
        with pytest.raises(PrinterFailed, match="not writable"):
            printer.print_pdf(receipt_pdf, "job")
    finally:
        folder.chmod(0o755)


def test_pdf_folder_read_only_filesystem_fails(tmp_path, receipt_pdf, monkeypatch):
    # Running as root, a read-only mount is the way a folder refuses writes.
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("kiosk.files.tempfile.mkstemp", refuse)
    with pytest.raises(PrinterFailed, match="not writable"):
        PdfFolderPrinter(tmp_path).print_pdf(receipt_pdf, "job")
    assert list(tmp_path.iterdir()) == []


def test_pdf_folder_full_disk_fails_clearly_and_leaves_nothing(tmp_path, receipt_pdf, monkeypatch):
    real_fsync = os.fsync

    def full(fd):
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr("kiosk.files.os.fsync", full)
    with pytest.raises(PrinterFailed) as info:
        PdfFolderPrinter(tmp_path).print_pdf(receipt_pdf, "job")
    assert "disk full" in info.value.detail
    assert list(tmp_path.iterdir()) == []  # the partial file was removed


def test_a_non_pdf_job_is_refused(tmp_path):
    with pytest.raises(PrinterFailed, match="not a PDF"):
        PdfFolderPrinter(tmp_path).print_pdf(b"hello", "job")


# --- stand-ins and factory ---------------------------------------------------------------


def test_simulated_and_failing_printers(receipt_pdf):
    sim = SimulatedPrinter()
    sim.print_pdf(receipt_pdf, "a")
    assert sim.jobs == [("a", receipt_pdf)] and sim.status().ready
    sim.paper = False
    with pytest.raises(PaperOut):
        sim.print_pdf(receipt_pdf, "b")
    assert sim.status().key == KEY_PAPER_OUT
    failing = FailingPrinter(PrinterOffline("unplugged"))
    with pytest.raises(PrinterOffline, match="unplugged"):
        failing.print_pdf(receipt_pdf, "c")
    assert failing.status().key == KEY_OFFLINE


def test_errors_carry_key_and_detail():
    for cls, key in (
        (PaperOut, KEY_PAPER_OUT),
        (PrinterOffline, KEY_OFFLINE),
        (PrinterFailed, KEY_FAILED),
    ):
        err = cls("for the clerk")
        assert isinstance(err, PrinterError) and err.key == key and err.detail == "for the clerk"
    tr = Translator.from_resources()
    for key in (KEY_PAPER_OUT, KEY_OFFLINE, KEY_FAILED, KEY_PAPER_LOW, KEY_READY):
        assert tr.has(key, "vi") and tr.has(key, "en")


def test_make_printer(tmp_path):
    assert isinstance(make_printer("pdf", "", tmp_path / "new"), PdfFolderPrinter)
    assert isinstance(make_printer("escpos", "tcp://127.0.0.1:9100", tmp_path), EscPosPrinter)
    with pytest.raises(ValueError):
        make_printer("escpos", "", tmp_path)
    with pytest.raises(ValueError):
        make_printer("laser", "", tmp_path)


def test_parse_target():
    t = parse_target("tcp://192.168.1.50:9100")
    assert (t.kind, t.host, t.port) == ("tcp", "192.168.1.50", 9100)
    assert parse_target("tcp://printer.local").port == 9100
    u = parse_target("usb://04b8:0e15?out_ep=0x02")
    assert (u.kind, u.vendor_id, u.product_id, u.options["out_ep"]) == (
        "usb",
        0x04B8,
        0x0E15,
        "0x02",
    )
    s = parse_target("serial:///dev/ttyUSB0?baudrate=38400")
    assert (s.kind, s.device, s.baudrate) == ("serial", "/dev/ttyUSB0", 38400)
    assert parse_target("serial:///dev/ttyS1").baudrate == 19200
    for bad in ("192.168.1.5:9100", "lpt://1", "usb://zz:01", "tcp://:9100", "serial://"):
        with pytest.raises(ValueError):
            parse_target(bad)


# --- rasterising -------------------------------------------------------------------


def test_raster_is_576_dots_and_keeps_the_qr_readable(receipt_pdf):
    pages = rasterise_pdf(receipt_pdf)
    assert len(pages) == 1
    image = pages[0]
    assert image.mode == "1" and image.width == 576
    # 203 dpi over the page height, trailing blank rows trimmed.
    from tests.receipt_helpers import page_sizes_pt

    page_dots = page_sizes_pt(receipt_pdf)[0][1] / 72 * 576 / (72 / 25.4)
    assert page_dots * 0.85 < image.height <= page_dots + 2
    assert decode_qr(image) == [sample_data().status_url]


def test_a4_page_is_scaled_to_the_roll(receipt_pdf):
    pdf = build_receipt_pdf(sample_data(), "a4", Translator.from_resources())
    image = rasterise_pdf(pdf, dots=576)[0]
    assert image.width == 576
    assert decode_qr(image) == [sample_data().status_url]


# --- ESC/POS over TCP ----------------------------------------------------------------


def test_escpos_prints_raster_and_cuts(escpos_server, receipt_pdf):
    printer = EscPosPrinter(escpos_server.target, timeout=5)
    printer.print_pdf(receipt_pdf, "QN01-000123-J")
    (job,) = escpos_server.wait_jobs(1)
    # It asked the paper sensor and the online status before sending anything.
    assert escpos_server.queries == [b"\x10\x04\x04", b"\x10\x04\x01"]
    assert job.startswith(b"\x1b@")
    blocks, commands = parse_gs_v0(job)
    assert blocks, "no GS v 0 raster image received"
    assert {b.width_bytes for b in blocks} == {72}  # 576 dots
    expected = rasterise_pdf(receipt_pdf)[0]
    assert sum(b.height for b in blocks) == expected.height
    assert b"\x1dV" in commands[-4:], "the job does not end with a cut (GS V)"
    # What the printer received is the receipt: its QR decodes to the status link.
    printed = stack(blocks)
    assert decode_qr(printed) == [sample_data().status_url]
    assert printed.tobytes() == expected.tobytes()


def test_escpos_ticket_prints(escpos_server):
    pdf = build_ticket_pdf(sample_ticket_data(), "80mm", Translator.from_resources())
    EscPosPrinter(escpos_server.target).print_pdf(pdf, "A012")
    (job,) = escpos_server.wait_jobs(1)
    blocks, _ = parse_gs_v0(job)
    assert blocks and blocks[0].width_bytes == 72


def test_escpos_paper_out_raises_and_sends_no_job(escpos_server, receipt_pdf):
    escpos_server.paper = 0x72  # paper end sensor, as a real printer answers
    escpos_server.online = 0x1A  # and it went offline because of it
    printer = EscPosPrinter(escpos_server.target, timeout=5)
    with pytest.raises(PaperOut) as info:
        printer.print_pdf(receipt_pdf, "job")
    assert info.value.key == KEY_PAPER_OUT and "0x72" in info.value.detail
    (job,) = escpos_server.wait_jobs(1)
    assert parse_gs_v0(job)[0] == []
    status = printer.status()
    assert not status.ready and status.key == KEY_PAPER_OUT


def test_escpos_offline_raises(escpos_server, receipt_pdf):
    escpos_server.online = 0x1A  # e.g. cover open
    with pytest.raises(PrinterOffline, match="offline"):
        EscPosPrinter(escpos_server.target).print_pdf(receipt_pdf, "job")


def test_escpos_paper_near_end_still_prints_and_warns(escpos_server, receipt_pdf):
    escpos_server.paper = 0x1E
    printer = EscPosPrinter(escpos_server.target)
    status = printer.status()
    assert status.ready and status.paper_low and status.key == KEY_PAPER_LOW
    printer.print_pdf(receipt_pdf, "job")
    jobs = escpos_server.wait_jobs(2)
    assert parse_gs_v0(jobs[1])[0]


def test_escpos_refused_connection_is_offline(receipt_pdf):
    printer = EscPosPrinter(f"tcp://127.0.0.1:{refused_port()}", timeout=2)
    with pytest.raises(PrinterOffline) as info:
        printer.print_pdf(receipt_pdf, "job")
    assert info.value.key == KEY_OFFLINE and "refused" in info.value.detail.lower()
    assert printer.status().key == KEY_OFFLINE


def test_escpos_no_status_answer_times_out_as_offline(escpos_server, receipt_pdf):
    escpos_server.answer = False
    printer = EscPosPrinter(escpos_server.target, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PrinterOffline, match="no answer"):
        printer.print_pdf(receipt_pdf, "job")
    assert time.monotonic() - started < 3


def test_escpos_status_check_can_be_skipped(escpos_server, receipt_pdf):
    escpos_server.answer = False
    EscPosPrinter(escpos_server.target, check_status=False).print_pdf(receipt_pdf, "job")
    (job,) = escpos_server.wait_jobs(1)
    assert escpos_server.queries == [] and parse_gs_v0(job)[0]


def test_escpos_garbage_status_answer_fails(escpos_server, receipt_pdf):
    escpos_server.paper = 0xFF  # fixed bits wrong: not a status byte
    with pytest.raises(PrinterFailed, match="unexpected"):
        EscPosPrinter(escpos_server.target).print_pdf(receipt_pdf, "job")


def test_escpos_writes_no_temporary_files(escpos_server, receipt_pdf, tmp_path, monkeypatch):
    import tempfile

    import escpos.printer  # noqa: F401  (its import makes a cache folder of its own)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    EscPosPrinter(escpos_server.target).print_pdf(receipt_pdf, "job")
    escpos_server.wait_jobs(1)
    assert list(tmp_path.iterdir()) == []


# --- ESC/POS over a serial port (a pseudo-terminal stands in for /dev/ttyUSB0) ---------------


def test_escpos_serial_port(receipt_pdf):
    master, slave = pty.openpty()
    tty.setraw(slave)
    received = bytearray()
    stop = threading.Event()

    def printer_side() -> None:
        answered = 0
        while not stop.is_set():
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            received.extend(chunk)
            # Answer the two status queries, which lead the stream.
            while answered < 2 and len(received) >= 3 * (answered + 1):
                os.write(master, b"\x12")
                answered += 1

    thread = threading.Thread(target=printer_side, daemon=True)
    thread.start()
    try:
        path = os.ttyname(slave)
        printer = EscPosPrinter(f"serial://{path}?baudrate=115200&dsrdtr=0", timeout=2)
        started = time.monotonic()
        printer.print_pdf(receipt_pdf, "job")
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 5
        expected = rasterise_pdf(receipt_pdf)[0]
        while time.monotonic() < deadline:
            blocks, _ = parse_gs_v0(bytes(received[6:])) if b"\x1dV" in received else ([], b"")
            if blocks:
                break
            time.sleep(0.05)
        assert bytes(received[:6]) == b"\x10\x04\x04\x10\x04\x01"
        assert sum(b.height for b in blocks) == expected.height
        assert elapsed < 2  # status answers are read byte-wise, no waiting for a timeout
    finally:
        stop.set()
        os.close(slave)
        os.close(master)


def test_escpos_missing_serial_device_is_offline(tmp_path, receipt_pdf):
    printer = EscPosPrinter(f"serial://{tmp_path / 'ttyUSB9'}")
    with pytest.raises(PrinterOffline):
        printer.print_pdf(receipt_pdf, "job")


def test_escpos_missing_usb_device_is_offline(receipt_pdf):
    printer = EscPosPrinter("usb://dead:beef", timeout=1)
    with pytest.raises(PrinterOffline):
        printer.print_pdf(receipt_pdf, "job")


def test_printed_file_has_no_clear_id(tmp_path: Path, receipt_pdf):
    # The bytes a backend writes or sends never hold the full ID number.
    printer = PdfFolderPrinter(tmp_path)
    printer.print_pdf(receipt_pdf, "job")
    assert b"051190004321" not in printer.last_path.read_bytes()
