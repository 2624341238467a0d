"""`python -m kiosk vietqr --bin B --account A --amount N --purpose TEXT [--png FILE]`.

Prints the VietQR payload for one transfer (made offline) and, with --png, writes its QR
image, so a payload can be checked with any bank app or decoder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vietqr",
        help="print a VietQR payment payload (and write its QR image)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bin", required=True, help="the bank's 6-digit NAPAS BIN")
    parser.add_argument("--account", required=True, help="account number, 6-19 digits")
    parser.add_argument("--amount", required=True, help="amount in whole VND")
    parser.add_argument("--purpose", default="", help="purpose, e.g. the receipt code")
    parser.add_argument("--bill", default="", help="bill number (default: the purpose)")
    parser.add_argument("--png", type=Path, help="write the QR image to this PNG file")
    parser.add_argument("--lang", default="en", help="language of error messages (vi, en)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from kiosk.services.banks import find_bank
    from kiosk.services.i18n import Translator
    from kiosk.services.vietqr import VietQRError, build_payload, qr_png

    translator = Translator.from_resources()
    if len(args.bin.strip()) == 6 and find_bank(args.bin) is None:
        print(
            f"vietqr: {translator.tr('fees.bin_unknown', args.lang)} ({args.bin})", file=sys.stderr
        )
        return 2
    try:
        amount = int(args.amount.strip())
    except ValueError:
        amount = args.amount  # check_amount names the problem
    try:
        payload = build_payload(
            args.bin, args.account, amount, args.purpose, args.bill or args.purpose
        )
    except VietQRError as exc:
        print(f"vietqr: {translator.tr(exc.key, args.lang)} ({exc.detail})", file=sys.stderr)
        return 2
    print(payload)
    if args.png:
        qr_png(payload, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return 0
