"""SystemPrinter (QtPrintSupport): the painting path, checked by printing into a PDF file."""

from __future__ import annotations

import pytest

from kiosk.hardware.printers import KEY_OFFLINE, PrinterFailed, PrinterOffline
from kiosk.services.i18n import Translator
from kiosk.services.receipts import build_receipt_pdf
from tests.receipt_helpers import decode_qr, page_sizes_pt, render_page, sample_data


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translator.from_resources()


@pytest.mark.parametrize("size", ["80mm", "a5"])
def test_system_printer_paints_every_page_on_white(qapp, tmp_path, tr, size):
    from kiosk.qt.printing import SystemPrinter

    pdf = build_receipt_pdf(sample_data(lang="en"), size, tr)
    out = tmp_path / "printed.pdf"
    printer = SystemPrinter(output_file=out, dpi=200)
    assert printer.status().ready
    printer.print_pdf(pdf, "QN01-000123-J")

    printed = out.read_bytes()
    (source_size,) = page_sizes_pt(pdf)
    (printed_size,) = page_sizes_pt(printed)
    assert printed_size == pytest.approx(source_size, abs=1.5)
    image = render_page(printed, dpi=150)
    assert decode_qr(image) == [sample_data().status_url]
    # Painted on white: the page is mostly white, not transparent-turned-black.
    histogram = image.histogram()
    assert sum(histogram[200:]) / sum(histogram) > 0.6


def test_system_printer_multi_page(qapp, tmp_path, tr):
    from kiosk.qt.printing import SystemPrinter

    many = [{"vi": f"Bản sao giấy tờ số {i}"} for i in range(45)]
    pdf = build_receipt_pdf(sample_data(documents=many), "a5", tr)
    pages = len(page_sizes_pt(pdf))
    assert pages >= 2
    out = tmp_path / "printed.pdf"
    SystemPrinter(output_file=out, dpi=100).print_pdf(pdf, "job")
    assert len(page_sizes_pt(out.read_bytes())) == pages


def test_unknown_system_printer_is_offline(qapp, tr):
    from kiosk.qt.printing import SystemPrinter

    printer = SystemPrinter("kiosk-test-no-such-printer")
    status = printer.status()
    assert not status.ready and status.key == KEY_OFFLINE
    with pytest.raises(PrinterOffline, match="no system printer"):
        printer.print_pdf(build_receipt_pdf(sample_data(), "80mm", tr), "job")


def test_not_a_pdf_is_refused(qapp, tmp_path):
    from kiosk.qt.printing import SystemPrinter

    with pytest.raises(PrinterFailed):
        SystemPrinter(output_file=tmp_path / "x.pdf").print_pdf(b"not a pdf", "job")
    assert not (tmp_path / "x.pdf").exists()


def test_make_printer_system_is_lazy(qapp):
    from kiosk.hardware.printers import make_printer
    from kiosk.qt.app import system_printer
    from kiosk.qt.printing import SystemPrinter

    with pytest.raises(ValueError, match="window"):
        make_printer("system", "kiosk-test-no-such-printer")  # hardware imports no Qt
    printer = make_printer("system", "kiosk-test-no-such-printer", system=system_printer)
    assert isinstance(printer, SystemPrinter)
    assert printer.printer_name == "kiosk-test-no-such-printer"
