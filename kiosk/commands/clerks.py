"""`python -m kiosk clerks list|deactivate|reactivate|unlock NAME`: account care from the
OS console, for the user who owns the data folder (the OS login is the proof: nobody at
the touchscreen can lock the only admin out for good). Every change is audited, naming
the OS user. Messages in the kiosk's language (resources/i18n/<lang>/cli.json)."""

from __future__ import annotations

import getpass
import os

from kiosk.clitext import cli_of, key_failure

ACTIONS = ("deactivate", "reactivate", "unlock")
EXIT_NOT_OWNER = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "clerks", help="cli.clerks.help", description="cli.clerks.description"
    )
    sub = p.add_subparsers(dest="clerks_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="cli.clerks.list.help").set_defaults(func=handle, action="list")
    for action in ACTIONS:
        a = sub.add_parser(action, help=f"cli.clerks.{action}.help")
        a.add_argument("name", metavar="NAME", help="cli.clerks.opt.name")
        a.set_defaults(func=handle, action=action)


def console_user(data_dir) -> str | None:
    """The OS user running this command when they own the data folder, else None."""
    user = getpass.getuser()
    if not hasattr(os, "getuid"):  # Windows: the folder's ACL admits only its user
        return user
    try:
        owner = data_dir.stat().st_uid
    except OSError:
        return None
    return user if os.getuid() == owner else None


def handle(args) -> int:
    from kiosk.config import SettingsError, load_settings
    from kiosk.services.clerks import UNTIL_UNLOCKED, ClerkError, ClerkService
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.datakey import database_exists, open_store

    cli = cli_of(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        cli.error("cli.clerks.failed", reason=cli.settings_error(exc))
        return 2
    if not database_exists(settings.database_url):
        cli.error("cli.clerks.no_database", folder=settings.data_dir)
        return 2
    user = console_user(settings.data_dir)
    if user is None:
        cli.error("cli.clerks.not_owner", folder=settings.data_dir)
        return EXIT_NOT_OWNER
    try:
        store, _cipher = open_store(settings)
    except DataKeyError as exc:
        return key_failure(cli, "kiosk clerks", exc)
    try:
        clerks = ClerkService(store, machine=f"console:{settings.kiosk_id}")
        if args.action == "list":
            for a in clerks.accounts():
                state = cli.tr("cli.clerks.active" if a.active else "cli.clerks.inactive")
                if a.locked_until and a.locked_until >= UNTIL_UNLOCKED:
                    state += ", " + cli.tr("cli.clerks.locked_for_good")
                elif a.locked_until:
                    until = f"{a.locked_until:%Y-%m-%d %H:%M}"
                    state += ", " + cli.tr("cli.clerks.locked", until=until)
                role = cli.tr(f"cli.clerks.role.{a.info.role}")
                print(f"{a.info.username}\t{role}\t{state}")
            return 0
        try:
            if args.action == "unlock":
                clerks.unlock(args.name, None, console=user)
            else:
                clerks.set_active(args.name, args.action == "reactivate", None, console=user)
        except ClerkError as exc:
            cli.error("cli.clerks.refused", error=exc.detail)
            return 1
        cli.say(f"cli.clerks.done.{args.action}", name=args.name)
        return 0
    finally:
        store.close()
