"""`python -m kiosk [command]`: with no command, start the kiosk window.

Sub-commands live one per module in kiosk/commands/ and are discovered here, so a new
command needs no edit to this file. Every command prints in the kiosk's language
(kiosk/clitext.py): a help text that is a catalogue key (`help="cli.doctor.help"`) is
translated here, and `args.cli` translates and prints for the command.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import kiosk.commands
from kiosk.clitext import Cli, cli_language
from kiosk.services.i18n import LANGUAGES

# argparse's own words (Python 3.11), by the catalogue key that translates them.
ARGPARSE_WORDS = {
    "usage: ": "cli.argparse.usage",
    "positional arguments": "cli.argparse.positional",
    "options": "cli.argparse.options",
    "show this help message and exit": "cli.argparse.help",
    "unrecognized arguments: %s": "cli.argparse.unrecognized",
    "the following arguments are required: %s": "cli.argparse.required",
    "invalid choice: %(value)r (choose from %(choices)s)": "cli.argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "cli.argparse.invalid_value",
    "expected one argument": "cli.argparse.expected_one",
    "argument %(argument_name)s: %(message)s": "cli.argparse.argument",
    "%(prog)s: error: %(message)s\n": "cli.argparse.error",
}


def build_parser(cli: Cli | None = None) -> argparse.ArgumentParser:
    cli = cli or Cli.for_language(cli_language())
    _argparse_speaks(cli)
    parser = argparse.ArgumentParser(prog="kiosk", description="cli.kiosk.description")
    parser.add_argument("--self-test", action="store_true", help="cli.kiosk.self_test")
    parser.add_argument(
        "--lang", dest="cli_lang", choices=LANGUAGES, metavar="LANG", help="cli.kiosk.lang"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(kiosk.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"kiosk.commands.{info.name}")
        module.register(subparsers)
    _translate_help(parser, cli)
    return parser


def _argparse_speaks(cli: Cli) -> None:
    words = {english: cli.tr(key) for english, key in ARGPARSE_WORDS.items()}
    argparse._ = lambda text: words.get(text, text)  # argparse looks its words up here


def _translate_help(parser: argparse.ArgumentParser, cli: Cli) -> None:
    """Help texts and descriptions that are catalogue keys, in the command line's language."""

    def text(value):
        if isinstance(value, str) and cli.translator.has(value, "vi"):
            return cli.tr(value).replace("%", "%%")
        return value

    parser.description = text(parser.description)
    for group in parser._action_groups:
        group.title = text(group.title)
    for action in parser._actions:
        action.help = text(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = text(choice.help)
            for sub in action.choices.values():
                _translate_help(sub, cli)


def main(argv: list[str] | None = None) -> int:
    from kiosk.services.hardening import private_umask

    private_umask()  # everything this process writes is owner-only (personal data)
    argv = sys.argv[1:] if argv is None else list(argv)
    cli = Cli.for_language(cli_language(argv))
    parser = build_parser(cli)
    args = parser.parse_args(argv)
    args.cli = cli
    if args.self_test:
        from kiosk.commands.selftest import run_self_test

        return run_self_test(args)
    if args.command is None:
        from kiosk.commands.run import run_kiosk

        return run_kiosk(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
