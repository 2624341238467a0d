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

from kiosk.clitext import Cli, cli_of

SIZES = ("80mm", "a5", "a4")
LANGS = ("vi", "en", "tyz", "ium", "bru")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "receipt",
        help="cli.receipt.help",
        description="cli.receipt.description",
    )
    parser.add_argument("--sample", action="store_true", required=True, help="cli.receipt.sample")
    parser.add_argument("--ticket", action="store_true", help="cli.receipt.ticket")
    parser.add_argument("--lang", default="vi", choices=LANGS, help="cli.receipt.lang")
    parser.add_argument("--size", default="80mm", choices=SIZES, help="cli.receipt.size")
    parser.add_argument("--out", type=Path, help="cli.receipt.out")
    parser.add_argument("--raster", type=Path, metavar="PNG", help="cli.receipt.raster")
    parser.add_argument("--print", dest="do_print", action="store_true", help="cli.receipt.print")
    parser.add_argument(
        "--printer",
        default="pdf",
        choices=("pdf", "escpos", "system", "simulated"),
        help="cli.receipt.printer",
    )
    parser.add_argument("--target", default="", help="cli.receipt.target")
    parser.add_argument(
        "--folder", type=Path, default=Path("printed-receipts"), help="cli.receipt.folder"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    cli = cli_of(args)
    if not (args.out or args.do_print or args.raster):
        cli.error("cli.receipt.nothing_to_do")
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
        data = sample_receipt(args.lang)
        pdf = build_receipt_pdf(data, args.size, translator)
        job_name = data.receipt_code

    if args.out:
        args.out.write_bytes(pdf)
        cli.say("cli.receipt.wrote_pdf", path=args.out, size=len(pdf))

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
        cli.say("cli.receipt.wrote_raster", path=args.raster, w=first.width, h=first.height)

    if args.do_print:
        return _print(pdf, job_name, args, cli)
    return 0


def _print(pdf: bytes, job_name: str, args: argparse.Namespace, cli: Cli) -> int:
    from kiosk.hardware.printers import PrinterError, make_printer

    system = None
    if args.printer == "system":
        import os

        # Printing needs a Qt application object but no window.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtGui import QGuiApplication

        from kiosk.qt.app import system_printer as system

        _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    try:
        printer = make_printer(args.printer, args.target, args.folder, system)
    except ValueError as exc:
        cli.error("cli.receipt.bad_printer", error=str(exc))
        return 2
    try:
        printer.print_pdf(pdf, job_name)
    except PrinterError as exc:
        # In the installer's language: the printer's state, then the technical detail.
        cli.error(
            "cli.receipt.print_failed",
            message=cli.tr(exc.key),
            kind=type(exc).__name__,
            detail=exc.detail,
        )
        return 1
    where = getattr(printer, "last_path", None) or printer.name
    cli.say("cli.receipt.sent", where=where)
    return 0
