"""`python -m kiosk setup`: first run of a production kiosk (no default PIN exists).

Creates the first admin, writes the service point's portal credentials to the settings
file (owner-only, 0600), makes the data key or imports the centre's key, records
`setup_done`, then runs `doctor`. Interactive in a terminal: each answer is checked as
soon as it is typed and the question asked again; no demo value is offered; the PIN is
read without echo, twice. `--from FILE` takes everything from a TOML file for mass
deployment (without a terminal and without a file, setup says so in one line, exit 2):

    [admin]
    username = "admin"
    display_name = "Nguyễn Văn An"
    pin = "482913"            # delete this file once the kiosk is set up

    [settings]                # any setting of kiosk/config.py, written to the settings file
    kiosk_id = "QN-BL-DONGVAN-01"
    portal_url = "https://portal.example.gov.vn/api/v1"
    portal_token = "..."
    secret = "..."
    commune_name = "UBND xã Đồng Văn"
    receipt_prefix = "DV01"
    support_phone = "0215 3800 123"

    [key]
    import = "/media/usb/centre-data.key"   # optional: the centre's data key

A data folder where the demo ran (KIOSK_DEMO) is refused: its demo-admin and printed PIN
must never become production accounts; `--wipe-demo` erases the demo's database, key and
files first. The data key is made only for a brand-new folder; an existing one is checked
against the database. On a machine joining a centre whose shared database already has an
admin, setup asks that admin's PIN instead of creating one. `--export-key FILE` writes this machine's data
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

from kiosk.clitext import Cli, T, cli_of

EXIT_FAILED, EXIT_NO_TERMINAL = 1, 2
DEMO_KIOSK_ID = "KIOSK-DEMO-01"
REQUIRED = ("kiosk_id", "portal_url", "portal_token", "secret")
# Asked in this order; each must be given (typed, in the file, or set already).
PROMPTED = (
    "kiosk_id",
    "portal_url",
    "portal_token",
    "secret",
    "commune_name",
    "receipt_prefix",
    "support_phone",
)
SECRET_NAMES = ("portal_token", "secret")


def register(subparsers) -> None:
    p = subparsers.add_parser("setup", help="cli.setup.help", description="cli.setup.description")
    p.add_argument(
        "--from", dest="from_file", type=Path, metavar="FILE.toml", help="cli.setup.opt.from"
    )
    p.add_argument("--import-key", type=Path, metavar="FILE", help="cli.setup.opt.import_key")
    p.add_argument("--export-key", type=Path, metavar="FILE", help="cli.setup.opt.export_key")
    p.add_argument("--admin", metavar="USER", help="cli.setup.opt.admin")
    p.add_argument("--config", type=Path, metavar="FILE", help="cli.setup.opt.config")
    p.add_argument("--status", action="store_true", help="cli.setup.opt.status")
    p.add_argument("--no-doctor", action="store_true", help="cli.setup.opt.no_doctor")
    p.add_argument("--wipe-demo", action="store_true", help="cli.setup.opt.wipe_demo")
    p.set_defaults(func=handle)


class SetupFailed(Exception):
    """Setup stops: a catalogue key and its values say why and what to do."""

    def __init__(self, key: str, code: int = EXIT_FAILED, **values: Any) -> None:
        super().__init__(key)
        self.key, self.code, self.values = key, code, values


def has_terminal() -> bool:
    """Whether a person can answer questions here (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def config_path(args) -> Path:
    from kiosk.config import default_config_path

    if getattr(args, "config", None):
        return Path(args.config)
    env = os.environ.get("KIOSK_CONFIG")
    return Path(env) if env else default_config_path()


# Questions ---------------------------------------------------------------------------------


def read_line(prompt: str, secret: bool = False) -> str:
    try:
        return (getpass.getpass if secret else input)(prompt).strip()
    except EOFError:
        print()
        raise SetupFailed("cli.setup.input_ended", EXIT_NO_TERMINAL) from None


def ask(cli: Cli, label: str, default: str = "", secret: bool = False, check=None) -> str:
    """Ask until the answer passes `check` (a function returning a Text problem or None)."""
    shown = ""
    if default:
        shown = f" [{cli.tr('cli.setup.kept_secret') if secret else default}]"
    while True:
        text = read_line(f"{label}{shown}: ", secret) or default
        if not text:
            cli.say("cli.setup.required")
            continue
        problem = check(text) if check else None
        if problem is None:
            return text
        cli.say("cli.setup.try_again", problem=problem)


def allowed(cli: Cli, name: str, fallback: str):
    """What setting `name` may be, in the reader's language where the catalogue says it."""
    key = f"cli.allowed.{name}"
    return T(key) if cli.translator.has(key, "vi") else fallback


def setting_problem(cli: Cli, name: str):
    """A check for one setting as typed: the kiosk's own rules for it."""
    from kiosk.config import SettingsError, check_setting

    def check(text: str):
        try:
            check_setting(name, text)
        except SettingsError as exc:
            return T("cli.setup.not_valid", value=text, allowed=allowed(cli, name, exc.allowed))
        if name == "kiosk_id" and text == DEMO_KIOSK_ID:
            return T("cli.setup.demo_id")
        return None

    return check


def pin_problem(pin: str):
    from kiosk.services.installation import weak_pin

    if weak_pin(pin) is None:
        return None
    if not (pin.isdigit() and 6 <= len(pin) <= 12):
        return T("cli.setup.pin.format")
    if len(set(pin)) == 1:
        return T("cli.setup.pin.repeated")
    return T("cli.setup.pin.run")


def ask_pin_twice(cli: Cli) -> str:
    while True:
        pin = ask(cli, cli.tr("cli.setup.ask.pin"), secret=True, check=pin_problem)
        if read_line(cli.tr("cli.setup.ask.pin_again") + ": ", secret=True) != pin:
            cli.say("cli.setup.pin.differ")
            continue
        return pin


def ask_admin(
    cli: Cli,
    store,
    machine: str,
    action: str,
    username: str | None = None,
    pin: str | None = None,
):
    """Authenticate an admin (PIN without echo)."""
    from kiosk.services.clerks import ClerkError, ClerkService
    from kiosk.services.installation import authenticate_admin

    clerks = ClerkService(store, machine=machine)
    username = username or ask(cli, cli.tr("cli.setup.ask.admin_user"))
    pin = pin if pin is not None else read_line(cli.tr("cli.setup.ask.admin_pin") + ": ", True)
    try:
        return clerks, authenticate_admin(clerks, username, pin, action)
    except ClerkError as exc:
        raise SetupFailed("cli.setup.admin_refused", error=exc.detail) from None


# The command -------------------------------------------------------------------------------


def handle(args) -> int:
    cli = cli_of(args)
    try:
        if args.status:
            return status(args, cli)
        if args.export_key:
            return export(args, cli)
        return setup(args, cli)
    except SetupFailed as exc:
        print(cli.tr("cli.setup.failed", reason=T(exc.key, **exc.values)), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print()
        print(cli.tr("cli.setup.interrupted"), file=sys.stderr)
        return 130


def _settings(cli: Cli, path: Path | None = None):
    """Settings as the kiosk would load them with the settings file at `path`."""
    from kiosk.config import SettingsError, load_settings

    # The file may not exist yet (setup writes it): KIOSK_CONFIG must not insist on it.
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    if path is None or not path.exists():
        path = Path(tempfile.gettempdir()) / "kiosk-setup-absent" / "settings.toml"
    try:
        return load_settings(env=env, config_path=path)
    except SettingsError as exc:
        raise SetupFailed("cli.setup.settings", message=cli.settings_error(exc)) from None


def status(args, cli: Cli) -> int:
    from kiosk.services.datakey import database_exists
    from kiosk.services.installation import setup_state
    from kiosk.services.store import Store

    settings = _settings(cli, config_path(args))
    # Only read: no database made, none migrated (an upgrade may need the data key).
    store = Store(settings.database_url, migrate=False)
    try:
        state = setup_state(
            store if database_exists(settings.database_url) else None,
            settings.data_key_path,
            settings.secret,
            settings.portal_token,
            settings.demo,
        )
    finally:
        store.close()
    if state.done:
        cli.say("cli.setup.status.done")
        return 0
    from kiosk.commands.doctor import Doctor

    doctor = Doctor(settings, cli=cli)  # doctor's setup check says what is missing
    try:
        [check] = doctor.run(["setup"])
    finally:
        doctor.close()
    cli.say("cli.setup.status.not_done", detail=check.detail)
    return 1


def export(args, cli: Cli) -> int:
    from kiosk.services.installation import export_key

    settings = _settings(cli, config_path(args))
    if not settings.data_key_path.exists():
        raise SetupFailed("cli.setup.no_key", path=settings.data_key_path)
    store = _open_with_key(settings)
    try:
        clerks, admin = ask_admin(cli, store, settings.kiosk_id, "key.export", args.admin)
        export_key(settings.data_key_path, args.export_key)
        clerks.audit(admin, "key.export")
    finally:
        store.close()
    cli.say("cli.setup.exported", path=args.export_key)
    return 0


def prepare_data_folder(cli: Cli, new, key_source: Path | None, wipe_demo: bool):
    """The store of a kiosk being set up, with its data key decided and checked.

    A data folder with demo data is refused (its demo admin and printed PIN must never
    become production accounts) unless `wipe_demo`. The key: imported, the one here
    (checked against the database), or a new one only where the database holds no
    encrypted data and no other key's check value.
    """
    from kiosk.services import datakey
    from kiosk.services.clerks import ClerkService
    from kiosk.services.crypto import DataCipher, DataKeyError, load_or_create_keyring
    from kiosk.services.hardening import SetupRefused, has_demo_data, wipe_data_folder
    from kiosk.services.installation import import_key, newest_encrypted, ring_opens, setup_state
    from kiosk.services.store import Store

    new.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        ring = None
        if key_source is not None:
            ring = load_or_create_keyring(key_source)
        elif new.data_key_path.exists():
            ring = load_or_create_keyring(new.data_key_path)
        cipher = DataCipher(ring) if ring is not None else None
        store = Store(new.database_url, cipher=cipher, attachments_dir=new.attachments_dir)
    except DataKeyError as exc:
        raise SetupFailed("cli.setup.key_error", error=str(exc)) from None
    try:
        if has_demo_data(store):
            if not wipe_demo:
                raise SetupFailed("cli.setup.demo_data")
            store.close()
            try:
                removed = wipe_data_folder(new)
            except SetupRefused:
                raise SetupFailed("cli.setup.demo_shared_database") from None
            cli.say("cli.setup.demo_wiped", files=", ".join(removed))
            store = Store(new.database_url, attachments_dir=new.attachments_dir)
        if setup_state(store, new.data_key_path, new.secret, new.portal_token).done:
            raise SetupFailed("cli.setup.already")
        check = datakey.stored_check(new.database_url)
        if key_source is not None:
            aside = import_key(key_source, new.data_key_path, store)
            if aside:
                cli.say("cli.setup.key_kept_aside", path=aside)
        elif new.data_key_path.exists():
            ring = load_or_create_keyring(new.data_key_path)
            if not ring_opens(ring, newest_encrypted(store)):
                raise SetupFailed("cli.setup.key_does_not_open")
            datakey.verify(ring, check, new.data_key_path)
        elif newest_encrypted(store) is not None or check is not None:
            raise SetupFailed("cli.setup.shared_database")
        else:
            load_or_create_keyring(new.data_key_path, create=True)
        store.cipher = DataCipher(load_or_create_keyring(new.data_key_path))
        datakey.record_check(store, store.cipher)
        ClerkService(store).wrap_legacy_hashes()
    except DataKeyError as exc:
        store.close()
        raise SetupFailed("cli.setup.key_error", error=str(exc)) from None
    except BaseException:
        store.close()
        raise
    return store


def _open_with_key(settings):
    """The store opened with its data key (PIN hashes are keyed with it)."""
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.datakey import open_store

    try:
        store, _cipher = open_store(settings)
    except DataKeyError as exc:
        raise SetupFailed("cli.setup.key_error", error=str(exc)) from None
    return store


def _from_file(args, cli: Cli, current) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    from kiosk.config import SettingsError, check_setting
    from kiosk.services.installation import flatten

    try:
        doc = tomllib.loads(args.from_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SetupFailed("cli.setup.file_unreadable", path=args.from_file, error=exc) from None
    values = flatten(dict(doc.get("settings", {})))
    admin = {k: str(v) for k, v in doc.get("admin", {}).items()}
    key = doc.get("key", {}).get("import")
    key_path = args.import_key or (Path(key) if key else None)
    # No demo value slips into a production kiosk: each asked setting is in the file or
    # was set already (settings file, environment).
    missing = [
        n
        for n in PROMPTED
        if not values.get(n) and (n in REQUIRED or current.source(n).kind == "default")
    ]
    if missing:
        raise SetupFailed("cli.setup.file_lacks", path=args.from_file, names=", ".join(missing))
    for name, raw in values.items():
        try:
            check_setting(name, raw)
        except KeyError:
            raise SetupFailed("cli.setup.file_unknown", path=args.from_file, name=name) from None
        except SettingsError as exc:
            raise SetupFailed(
                "cli.setup.file_bad_value",
                path=args.from_file,
                name=name,
                value=repr(raw),
                allowed=allowed(cli, name, exc.allowed),
            ) from None
    if values.get("kiosk_id") == DEMO_KIOSK_ID:
        raise SetupFailed("cli.setup.demo_id")
    return values, admin, key_path


def _interactive(args, cli: Cli, current) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    if not has_terminal():
        raise SetupFailed("cli.setup.no_terminal", EXIT_NO_TERMINAL)
    cli.say("cli.setup.intro")
    values = {}
    for name in PROMPTED:
        value = getattr(current, name)
        # Offer what this machine's settings already hold, never the built-in demo values.
        given = current.source(name).kind != "default" and value != DEMO_KIOSK_ID
        default = str(value) if given and value else ""
        values[name] = ask(
            cli,
            cli.tr(f"cli.setup.ask.{name}"),
            default,
            secret=name in SECRET_NAMES,
            check=setting_problem(cli, name),
        )
    return values, {}, args.import_key


def _validate(cli: Cli, path: Path, values: dict[str, Any], origin):
    """The settings the kiosk will load once `values` are in the file at `path`. A problem
    is reported as coming from `origin` (the answers or the setup file), not from the
    trial copy this checks."""
    from kiosk.config import SettingsError
    from kiosk.services.installation import write_settings_file

    with tempfile.TemporaryDirectory(prefix="kiosk-setup-") as tmp:
        trial = Path(tmp) / "settings.toml"
        if path.exists():
            trial.write_bytes(path.read_bytes())
        try:
            write_settings_file(trial, values)
        except SettingsError as exc:
            if exc.name in values:
                exc.origin = origin
            raise SetupFailed("cli.setup.settings", message=cli.settings_error(exc)) from None
        except (TypeError, tomllib.TOMLDecodeError) as exc:
            raise SetupFailed("cli.setup.settings", message=str(exc)) from None
        return _settings(cli, trial)


def setup(args, cli: Cli) -> int:
    from kiosk.config import Source
    from kiosk.services.clerks import ClerkService
    from kiosk.services.installation import (
        mark_setup_done,
        write_settings_file,
    )

    path = config_path(args)
    current = _settings(cli, path)
    if current.demo:
        raise SetupFailed("cli.setup.demo_setting", source=current.source("demo"))
    if args.from_file:
        values, admin_fields, key_source = _from_file(args, cli, current)
    else:
        values, admin_fields, key_source = _interactive(args, cli, current)
    origin = Source("file", str(args.from_file)) if args.from_file else Source("argument")
    new = _validate(cli, path, values, origin)
    if new.demo:
        raise SetupFailed("cli.setup.demo_setting", source=new.source("demo"))
    store = prepare_data_folder(cli, new, key_source, args.wipe_demo)
    try:
        # The admin: the first one, or (joining a centre) an existing one says yes.
        clerks = ClerkService(store, machine=new.kiosk_id)
        if clerks.any_admin():
            cli.say("cli.setup.admin_exists")
            clerks, admin = ask_admin(
                cli,
                store,
                new.kiosk_id,
                "setup",
                admin_fields.get("username"),
                admin_fields.get("pin"),
            )
        else:
            admin = _first_admin(args, cli, clerks, admin_fields)
        write_settings_file(path, values)
        mark_setup_done(store, new.kiosk_id)
        clerks.audit(admin, "setup.done", detail=new.kiosk_id)
    finally:
        store.close()
    cli.say("cli.setup.done", kiosk_id=new.kiosk_id, path=path, key=new.data_key_path)
    if args.from_file:
        cli.say("cli.setup.delete_file", path=args.from_file)
    if not args.no_doctor:
        _doctor(cli, _settings(cli, path))
    cli.say("cli.setup.restart")
    return 0


def _first_admin(args, cli: Cli, clerks, fields: dict[str, str]):
    from kiosk.services.clerks import ClerkError

    if args.from_file:
        username, pin = fields.get("username"), fields.get("pin")
        if not username or pin is None:
            raise SetupFailed("cli.setup.file_lacks_admin", path=args.from_file)
        display = fields.get("display_name") or username
        problem = pin_problem(pin)
        if problem:
            raise SetupFailed("cli.setup.file_bad_pin", path=args.from_file, problem=problem)
    else:
        username = ask(cli, cli.tr("cli.setup.ask.admin_user"), "admin")
        display = ask(cli, cli.tr("cli.setup.ask.admin_name"), username)
        pin = ask_pin_twice(cli)
    try:
        return clerks.create(username, display, "admin", pin)
    except ClerkError as exc:
        raise SetupFailed("cli.setup.admin_not_created", error=exc.detail) from None


def _doctor(cli: Cli, settings) -> None:
    """Setup ends with doctor: what works, what to fix before the kiosk serves citizens."""
    from kiosk.commands.doctor import FAIL, Doctor, render

    cli.say("cli.setup.doctor")
    doctor = Doctor(settings, cli=cli)
    try:
        results = doctor.run()
    finally:
        doctor.close()
    render(results, cli)
    if any(c.status == FAIL for c in results):
        cli.say("cli.setup.doctor_failed")
