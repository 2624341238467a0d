"""`python -m kiosk receipt --sample ...`: a sample receipt or ticket, to test a printer.

    python -m kiosk receipt --sample --out sample.pdf --lang en --size a5
    python -m kiosk receipt --sample --ticket --out ticket.pdf
    python -m kiosk receipt --sample --print --printer escpos --target tcp://127.0.0.1:9100
    python -m kiosk receipt --sample --raster thermal.png   # what a thermal printer gets

The sample citizen is fictitious and the sample is marked "BẢN THỬ / DEMO".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.services.i18n import Translator

SIZES = ("80mm", "a5", "a4")
LANGS = ("vi", "en", "tyz", "ium", "bru")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "receipt",
        help="write or print a sample receipt / queue ticket (printer test)",
        description="Build a sample dossier receipt (or queue ticket) and write it to a PDF "
        "file and/or send it to a printer backend.",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        required=True,
        help="use the built-in fictitious sample (required)",
    )
    parser.add_argument("--ticket", action="store_true", help="a queue ticket instead of a receipt")
    parser.add_argument(
        "--lang", default="vi", choices=LANGS, help="citizen's language (default vi)"
    )
    parser.add_argument("--size", default="80mm", choices=SIZES, help="paper (default 80mm)")
    parser.add_argument(
        "--procedure",
        metavar="CODE",
        help="a procedure of the catalogue, with its fee and the VietQR code to pay it "
        "(to the fee account of the settings, else the demo's)",
    )
    parser.add_argument("--out", type=Path, help="write the PDF to this file")
    parser.add_argument(
        "--raster",
        type=Path,
        metavar="PNG",
        help="write the 1-bit image a thermal printer would receive (576 dots wide)",
    )
    parser.add_argument("--print", dest="do_print", action="store_true", help="send to a printer")
    parser.add_argument(
        "--printer",
        default="pdf",
        choices=("pdf", "escpos", "system", "simulated"),
        help="printer backend for --print (default pdf)",
    )
    parser.add_argument(
        "--target",
        default="",
        help="escpos: tcp://HOST:PORT, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200; "
        "system: printer name (empty = default printer)",
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path("printed-receipts"),
        help="folder for --printer pdf (demo only: files are kept)",
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if not (args.out or args.do_print or args.raster):
        print("receipt: give --out FILE.pdf, --raster FILE.png and/or --print", file=sys.stderr)
        return 2

    from kiosk.services.i18n import Translator
    from kiosk.services.receipts import (
        build_receipt_pdf,
        build_ticket_pdf,
        sample_receipt,
        sample_ticket,
    )

    translator = Translator.from_resources()
    if args.ticket:
        pdf = build_ticket_pdf(sample_ticket(args.lang), args.size, translator)
        job_name = "ticket-A012"
    else:
        try:
            data = sample_receipt(args.lang, procedure=args.procedure, fee_account=_fee_account())
        except ValueError as exc:
            print(f"receipt: {exc}", file=sys.stderr)
            return 2
        pdf = build_receipt_pdf(data, args.size, translator)
        job_name = data.receipt_code

    if args.out:
        args.out.write_bytes(pdf)
        print(f"wrote {args.out} ({len(pdf)} bytes)")

    if args.raster:
        from kiosk.hardware.printers import rasterise_pdf

        pages = rasterise_pdf(pdf)
        first = pages[0]
        if len(pages) > 1:
            from PIL import Image

            stacked = Image.new("1", (first.width, sum(p.height for p in pages)), 1)
            y = 0
            for page in pages:
                stacked.paste(page, (0, y))
                y += page.height
            first = stacked
        first.save(args.raster)
        print(f"wrote {args.raster} ({first.width}x{first.height} dots)")

    if args.do_print:
        return _print(pdf, job_name, args, translator)
    return 0


def _fee_account():
    """The fee account of the settings when they can be read and have one."""
    from kiosk.config import SettingsError, load_settings

    try:
        return load_settings().fee_account
    except SettingsError:
        return None


def _print(pdf: bytes, job_name: str, args: argparse.Namespace, translator: Translator) -> int:
    from kiosk.hardware.printers import PrinterError, make_printer

    if args.printer == "system":
        import os

        # Printing needs a Qt application object but no window.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtGui import QGuiApplication

        _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    try:
        printer = make_printer(args.printer, args.target, args.folder)
    except ValueError as exc:
        print(f"receipt: {exc}", file=sys.stderr)
        return 2
    try:
        printer.print_pdf(pdf, job_name)
    except PrinterError as exc:
        message = translator.tr(exc.key, args.lang)
        print(f"{message}\n({type(exc).__name__}: {exc.detail})", file=sys.stderr)
        return 1
    where = getattr(printer, "last_path", None) or printer.name
    print(f"sent to {where}")
    return 0
