"""`python -m kiosk clerks list|deactivate|reactivate|unlock NAME`: account care from the
OS console, for the user who owns the data folder (the OS login is the proof: nobody at
the touchscreen can lock the only admin out for good). Every change is audited, naming
the OS user."""

from __future__ import annotations

import getpass
import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "clerks", help="list, deactivate, reactivate or unlock clerk accounts (OS console)"
    )
    sub = p.add_subparsers(dest="clerks_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="every account: role, active, locked").set_defaults(
        func=handle, action="list"
    )
    for action, text in (
        ("deactivate", "the account can no longer log in"),
        ("reactivate", "the account can log in again"),
        ("unlock", "lift a lock-out after wrong PINs"),
    ):
        a = sub.add_parser(action, help=text)
        a.add_argument("name", metavar="NAME", help="the account's user name")
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
    from kiosk.cli_messages import key_failure, say
    from kiosk.config import SettingsError, load_settings
    from kiosk.services.clerks import ClerkError, ClerkService
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.datakey import database_exists, open_store

    prog = "kiosk clerks"
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if not database_exists(settings.database_url):
        say(prog, "security.clerks.no_database")
        return 2
    user = console_user(settings.data_dir)
    if user is None:
        say(prog, "security.clerks.not_owner", folder=str(settings.data_dir))
        return 3
    try:
        store, _cipher = open_store(settings)
    except DataKeyError as exc:
        return key_failure(prog, exc)
    try:
        clerks = ClerkService(store, machine=f"console:{settings.kiosk_id}")
        if args.action == "list":
            for a in clerks.accounts():
                state = "active" if a.active else "inactive"
                locked = (
                    f", locked until {a.locked_until:%Y-%m-%d %H:%M} UTC" if a.locked_until else ""
                )
                print(f"{a.info.username}\t{a.info.role}\t{state}{locked}")
            return 0
        try:
            if args.action == "unlock":
                clerks.unlock(args.name, None, console=user)
            else:
                clerks.set_active(args.name, args.action == "reactivate", None, console=user)
        except ClerkError as exc:
            say(prog, "security.clerks.refused", exc.detail)
            return 1
        print(f"{prog}: " + _done(args.action, args.name))
        return 0
    finally:
        store.close()


def _done(action: str, name: str) -> str:
    from kiosk.cli_messages import message

    return message(f"security.clerks.done.{action}", name=name)
