"""`python -m kiosk [command]`: with no command, start the kiosk window.

Sub-commands live one per module in kiosk/commands/ and are discovered here, so a new
command needs no edit to this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import kiosk.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Commune public-service kiosk")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open every screen offscreen and exit 0 if all works",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(kiosk.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"kiosk.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from kiosk.services.hardening import private_umask

    private_umask()  # everything this process writes is owner-only (personal data)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from kiosk.commands.selftest import run_self_test

        return run_self_test(args)
    if args.command is None:
        from kiosk.commands.run import run_kiosk

        return run_kiosk(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
