"""`python -m kiosk vietqr --bin B --account A --amount N --purpose TEXT [--png FILE]`.

Prints the VietQR payload for one transfer (made offline) and, with --png, writes its QR
image, so a payload can be checked with any bank app or decoder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.clitext import cli_of


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vietqr",
        help="cli.vietqr.help",
        description="cli.vietqr.description",
    )
    parser.add_argument("--bin", required=True, help="cli.vietqr.bin")
    parser.add_argument("--account", required=True, help="cli.vietqr.account")
    parser.add_argument("--amount", required=True, help="cli.vietqr.amount")
    parser.add_argument("--purpose", default="", help="cli.vietqr.purpose")
    parser.add_argument("--bill", default="", help="cli.vietqr.bill")
    parser.add_argument("--png", type=Path, help="cli.vietqr.png")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from kiosk.services.banks import find_bank
    from kiosk.services.vietqr import VietQRError, build_payload, qr_png

    cli = cli_of(args)
    if len(args.bin.strip()) == 6 and find_bank(args.bin) is None:
        cli.error("cli.vietqr.error", message=cli.tr("fees.bin_unknown"), detail=args.bin)
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
        cli.error("cli.vietqr.error", message=cli.tr(exc.key), detail=exc.detail)
        return 2
    print(payload)  # the payload alone on stdout, for scripts
    if args.png:
        qr_png(payload, args.png)
        cli.error("cli.vietqr.wrote_png", path=args.png)  # stderr: stdout stays the payload
    return 0
