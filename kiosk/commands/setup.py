"""`python -m kiosk setup`: first run of a production kiosk (no default PIN exists).

Creates the first admin, writes the service point's portal credentials to the settings
file (owner-only, 0600), makes the data key or imports the centre's key, and records
`setup_done`. Interactive by default (the PIN is read without echo, twice); `--from FILE`
takes everything from a TOML file for mass deployment:

    [admin]
    username = "admin"
    display_name = "Nguyễn Văn An"
    pin = "482913"            # delete this file once the kiosk is set up

    [settings]                # any setting of kiosk/config.py, written to the settings file
    kiosk_id = "QN-BL-DONGVAN-01"
    portal_url = "https://portal.example.gov.vn/api/v1"
    portal_token = "..."
    secret = "..."

    [key]
    import = "/media/usb/centre-data.key"   # optional: the centre's data key

On a machine joining a centre whose shared database already has an admin, setup asks
that admin's PIN instead of creating one. `--export-key FILE` writes this machine's data
key for another machine of the centre (admin PIN asked; audited).
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

REQUIRED = ("kiosk_id", "portal_url", "portal_token", "secret")
PROMPTED = (
    ("kiosk_id", "Service point identity at the portal (X-Kiosk-Id)"),
    ("portal_url", "Portal API URL (https://…/api/v1)"),
    ("portal_token", "Portal bearer token"),
    ("secret", "Signing secret of this service point"),
    ("commune_name", "Commune name printed on receipts"),
    ("receipt_prefix", "Receipt code prefix (2-6 characters)"),
    ("support_phone", "Support phone shown when out of service"),
)
SECRET_NAMES = ("portal_token", "secret")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "setup",
        help="first-run setup: admin, portal credentials, data key",
        description="Set up a production kiosk. Interactive unless --from is given.",
    )
    p.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        metavar="FILE.toml",
        help="take the admin, the settings and the key from this file",
    )
    p.add_argument(
        "--import-key",
        type=Path,
        metavar="FILE",
        help="use this data key (exported from another machine of the centre)",
    )
    p.add_argument(
        "--export-key",
        type=Path,
        metavar="FILE",
        help="write this machine's data key to FILE (asks an admin PIN) and stop",
    )
    p.add_argument("--admin", metavar="USER", help="admin user name (for --export-key)")
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file to write (default: KIOSK_CONFIG or the platform's)",
    )
    p.add_argument(
        "--status", action="store_true", help="say whether this kiosk is set up; exit 0 if it is"
    )
    p.set_defaults(func=handle)


class SetupFailed(Exception):
    pass


def config_path(args) -> Path:
    from kiosk.config import default_config_path

    if getattr(args, "config", None):
        return Path(args.config)
    env = os.environ.get("KIOSK_CONFIG")
    return Path(env) if env else default_config_path()


def ask(label: str, default: str = "", secret: bool = False) -> str:
    shown = f" [{'set' if secret and default else default}]" if default else ""
    while True:
        text = (getpass.getpass if secret else input)(f"{label}{shown}: ").strip()
        if text or default:
            return text or default
        print("  (required)")


def ask_pin_twice(label: str) -> str:
    from kiosk.services.installation import weak_pin

    while True:
        pin = getpass.getpass(f"{label}: ").strip()
        problem = weak_pin(pin)
        if problem:
            print(f"  {problem}; try again")
            continue
        if getpass.getpass("Same PIN again: ").strip() != pin:
            print("  the two PINs differ; try again")
            continue
        return pin


def ask_admin(
    store, machine: str, action: str, username: str | None = None, pin: str | None = None
):
    """Authenticate an admin (PIN without echo); exit code 4 on failure."""
    from kiosk.services.clerks import ClerkError, ClerkService
    from kiosk.services.installation import authenticate_admin

    clerks = ClerkService(store, machine=machine)
    username = username or ask("Admin user name")
    pin = pin if pin is not None else getpass.getpass("Admin PIN: ").strip()
    try:
        return clerks, authenticate_admin(clerks, username, pin, action)
    except ClerkError as exc:
        raise SetupFailed(f"admin check failed: {exc.detail}") from None


def handle(args) -> int:
    try:
        if args.status:
            return status(args)
        if args.export_key:
            return export(args)
        return setup(args)
    except SetupFailed as exc:
        print(f"kiosk setup: {exc}", file=sys.stderr)
        return 1


def _settings(path: Path | None = None):
    """Settings as the kiosk would load them with the settings file at `path`."""
    from kiosk.config import SettingsError, load_settings

    # The file may not exist yet (setup writes it): KIOSK_CONFIG must not insist on it.
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    if path is None or not path.exists():
        path = Path(tempfile.gettempdir()) / "kiosk-setup-absent" / "settings.toml"
    try:
        return load_settings(env=env, config_path=path)
    except SettingsError as exc:
        raise SetupFailed(str(exc)) from None


def status(args) -> int:
    from kiosk.services.installation import setup_state
    from kiosk.services.store import Store

    settings = _settings(config_path(args))
    store = Store(settings.database_url)
    try:
        state = setup_state(
            store, settings.data_key_path, settings.secret, settings.portal_token, settings.demo
        )
    finally:
        store.close()
    print("set up" if state.done else f"not set up: {state.reason}")
    return 0 if state.done else 1


def export(args) -> int:
    from kiosk.services.installation import export_key
    from kiosk.services.store import Store

    path = config_path(args)
    settings = _settings(path)
    if not settings.data_key_path.exists():
        raise SetupFailed(f"no data key at {settings.data_key_path}")
    store = Store(settings.database_url)
    try:
        clerks, admin = ask_admin(store, settings.kiosk_id, "key.export", args.admin)
        export_key(settings.data_key_path, args.export_key)
        clerks.audit(admin, "key.export")
    finally:
        store.close()
    print(
        f"data key written to {args.export_key} (owner-only). Carry it on removable media, "
        "import it with `kiosk setup --import-key`, then delete every copy."
    )
    return 0


def _answers(args, current) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    """(settings values, admin fields, key to import)."""
    if args.from_file:
        try:
            doc = tomllib.loads(args.from_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SetupFailed(f"cannot read {args.from_file}: {exc}") from None
        from kiosk.services.installation import flatten

        values = flatten(dict(doc.get("settings", {})))
        admin = {k: str(v) for k, v in doc.get("admin", {}).items()}
        key = doc.get("key", {}).get("import")
        key_path = args.import_key or (Path(key) if key else None)
        missing = [n for n in REQUIRED if not values.get(n)]
        if missing:
            raise SetupFailed(f"{args.from_file}: [settings] lacks {', '.join(missing)}")
        return values, admin, key_path
    print("Kiosk setup. Press Enter to keep the value in brackets.")
    values = {}
    for name, label in PROMPTED:
        default = str(getattr(current, name) or "")
        if name == "kiosk_id" and default == "KIOSK-DEMO-01":
            default = ""
        values[name] = ask(label, default, secret=name in SECRET_NAMES)
    values.update(ask_fee_account(current))
    return values, {}, args.import_key


def ask_fee_account(current, lang: str = "en") -> dict[str, str]:
    """The commune's fee account for VietQR transfers, asked until it is valid; Enter at
    the first question keeps the current one (none: the kiosk offers cash only)."""
    from kiosk.services.banks import default_banks, fee_account_problems
    from kiosk.services.i18n import Translator

    tr = Translator.from_resources()
    while True:
        bank_bin = input(
            f"Fee account: bank BIN (6 digits; Enter = {current.fee_bank_bin or 'none, cash only'}"
            ", ? = list): "
        ).strip()
        if bank_bin == "?":
            for bank in default_banks().values():
                print(f"  {bank.bin}  {bank.short_name}  {bank.name}")
            continue
        if not bank_bin:
            return {}
        account = input("Fee account number (6-19 digits): ").strip()
        holder = input("Fee account holder's name: ").strip()
        problems = fee_account_problems(bank_bin, account, holder)
        if not problems:
            return {
                "fee_bank_bin": bank_bin,
                "fee_account_number": account,
                "fee_account_name": holder,
            }
        for _name, key in problems:
            print(f"  {tr.tr(key, lang)}")


def _validate(path: Path, values: dict[str, Any]):
    """The settings the kiosk will load once `values` are in the file at `path`."""
    from kiosk.config import SettingsError
    from kiosk.services.installation import write_settings_file

    with tempfile.TemporaryDirectory(prefix="kiosk-setup-") as tmp:
        trial = Path(tmp) / "settings.toml"
        if path.exists():
            trial.write_bytes(path.read_bytes())
        try:
            write_settings_file(trial, values)
        except SettingsError as exc:
            raise SetupFailed(str(exc)) from None
        except (TypeError, tomllib.TOMLDecodeError) as exc:
            raise SetupFailed(f"settings: {exc}") from None
        return _settings(trial)


def setup(args) -> int:
    from kiosk.services.clerks import ClerkError, ClerkService
    from kiosk.services.crypto import DataKeyError, load_or_create_keyring
    from kiosk.services.installation import (
        import_key,
        mark_setup_done,
        newest_encrypted,
        read_key_file,
        ring_opens,
        setup_state,
        weak_pin,
        write_settings_file,
    )
    from kiosk.services.store import Store

    path = config_path(args)
    current = _settings(path)
    values, admin_fields, key_source = _answers(args, current)
    new = _validate(path, values)
    if new.kiosk_id == "KIOSK-DEMO-01":
        raise SetupFailed("kiosk_id: choose this service point's own identity, not the demo's")
    if new.demo:
        raise SetupFailed("demo = true in the settings: a production kiosk is not a demo")
    new.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(new.database_url)
    try:
        if setup_state(store, new.data_key_path, new.secret, new.portal_token).done:
            raise SetupFailed("this kiosk is set up already (python -m kiosk doctor checks it)")
        # The data key: the centre's (imported), the one here, or a new one.
        try:
            if key_source is not None:
                aside = import_key(key_source, new.data_key_path, store)
                if aside:
                    print(f"the previous key of this machine was kept as {aside}")
            elif new.data_key_path.exists():
                if not ring_opens(read_key_file(new.data_key_path), newest_encrypted(store)):
                    raise SetupFailed(
                        "the database holds dossiers this machine's key cannot "
                        "open: import the centre's key with --import-key FILE"
                    )
            elif newest_encrypted(store) is not None:
                raise SetupFailed(
                    "the database already holds dossiers (a shared centre "
                    "database?): import the centre's key with --import-key FILE"
                )
            else:
                load_or_create_keyring(new.data_key_path)
        except DataKeyError as exc:
            raise SetupFailed(str(exc)) from None
        # The admin: the first one, or (joining a centre) an existing one says yes.
        clerks = ClerkService(store, machine=new.kiosk_id)
        if clerks.any_admin():
            print("This database has an admin already: an admin confirms this setup.")
            clerks, admin = ask_admin(
                store, new.kiosk_id, "setup", admin_fields.get("username"), admin_fields.get("pin")
            )
        else:
            username = admin_fields.get("username") or ask("First admin's user name", "admin")
            display = admin_fields.get("display_name") or (
                username if args.from_file else ask("First admin's full name", username)
            )
            pin = admin_fields.get("pin")
            if pin is None:
                pin = ask_pin_twice("First admin's PIN (6-12 digits)")
            elif weak_pin(pin):
                raise SetupFailed(f"[admin] pin: {weak_pin(pin)}")
            try:
                admin = clerks.create(username, display, "admin", pin)
            except ClerkError as exc:
                raise SetupFailed(exc.detail) from None
        write_settings_file(path, values)
        mark_setup_done(store, new.kiosk_id)
        clerks.audit(admin, "setup.done", detail=new.kiosk_id)
    finally:
        store.close()
    print(
        f"kiosk set up: service point {new.kiosk_id}, settings in {path} (owner-only), "
        f"data key {new.data_key_path}."
    )
    print("Run `python -m kiosk doctor`, then restart the kiosk.")
    if args.from_file:
        print(f"{args.from_file} holds a PIN and the portal secret: delete it now.")
    return 0
