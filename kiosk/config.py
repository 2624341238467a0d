"""Typed settings, declared once with their defaults.

Sources, later ones win: the defaults below, a TOML file (path from KIOSK_CONFIG, else
`settings.toml` in the platform config folder), then environment variables. In the TOML
file a setting is written either flat (`portal_url = "..."`) or in a table whose name is
its prefix (`[portal]` + `url = "..."`). Every setting has an environment variable,
`KIOSK_<NAME>` unless named otherwise below. A wrong value stops start-up with a
`SettingsError` that names the setting, the value and what is allowed.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs

from kiosk.files import write_atomic
from kiosk.services.i18n import LANGUAGES
from kiosk.services.langpacks import LANG_TAG
from kiosk.services.receipt_code import ReceiptCodeError, validate_prefix

APP_NAME = "commune-kiosk"


@dataclass(frozen=True)
class Source:
    """Where a setting's value came from: "file" (where = its path), "env" (where = the
    variable's name), "argument", or "default" (where = the settings file to set it in)."""

    kind: str = "default"
    where: str = ""


class SettingsError(ValueError):
    def __init__(
        self, name: str, value: object, allowed: str, source: str = "", origin: Source = Source()
    ) -> None:
        where = f" (from {source})" if source else ""
        super().__init__(f"setting {name!r}{where}: {value!r} is not valid; allowed: {allowed}")
        self.name, self.value, self.allowed, self.origin = name, value, allowed, origin


def _setting(
    default: Any,
    help: str,
    env: str | None = None,
    choices: tuple = (),
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    meta = {"help": help, "env": env, "choices": choices, "check": check}
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def _url(value: str) -> str | None:
    u = urlparse(value)
    return None if u.scheme in ("http", "https") and u.netloc else "an http:// or https:// URL"


def _db_url(value: str) -> str | None:
    ok = value == "" or value.startswith(("sqlite:", "postgresql"))
    return (
        None
        if ok
        else "empty (SQLite in the data folder), sqlite:///FILE or postgresql+psycopg://..."
    )


def _positive(value: float) -> str | None:
    return None if value > 0 else "a number greater than 0"


def _prefix(value: str) -> str | None:
    try:
        validate_prefix(value)
    except ReceiptCodeError:
        return "2-6 characters of 0-9 and A-Z without I, L, O, U"
    return None


def _languages(value: list[str]) -> str | None:
    # Any language tag: a language added by a language pack needs no code change.
    ok = value and "vi" in value and all(LANG_TAG.match(v) for v in value)
    return None if ok else f"a list containing vi, of language tags such as {', '.join(LANGUAGES)}"


def _phone(value: str) -> str | None:
    digits = "".join(c for c in value if c.isdigit())
    ok = 8 <= len(digits) <= 15 and all(c.isdigit() or c in " +-.()" for c in value)
    return None if ok else "a phone number: 8-15 digits, spaces allowed"


def _fee_bin(value: str) -> str | None:
    from kiosk.services.banks import find_bank

    ok = value == "" or find_bank(value) is not None
    return None if ok else "empty (cash only) or the 6-digit BIN of a bank in resources/banks.json"


def _fee_account(value: str) -> str | None:
    ok = value == "" or (value.isascii() and value.isdigit() and 6 <= len(value) <= 19)
    return None if ok else "empty (cash only) or 6-19 digits, no letters or spaces"


def _statement_columns(value: str) -> str | None:
    from kiosk.services.statements import StatementError, parse_mapping

    try:
        parse_mapping(value)
    except StatementError:
        return "empty (generic statement) or date=HEADER;amount=HEADER;description=HEADER[;reference=HEADER]"
    return None


def _kiosk_id(value: str) -> str | None:
    ok = 1 <= len(value) <= 64 and all(c.isalnum() or c in "-_." for c in value)
    return None if ok else "1-64 letters, digits, '-', '_' or '.'"


@dataclass(frozen=True)
class Settings:
    # Where things live
    data_dir: Path = _setting(
        Path(platformdirs.user_data_dir(APP_NAME)), "data folder: database, keys, attachments"
    )
    log_dir: Path = _setting(Path(platformdirs.user_log_dir(APP_NAME)), "log folder")
    db_url: str = _setting(
        "", "SQLAlchemy URL; empty means SQLite kiosk.db in the data folder", check=_db_url
    )
    key_file: str = _setting("", "data key file; empty means keys/data.key in the data folder")

    # Identity of this service point at the portal
    kiosk_id: str = _setting(
        "KIOSK-DEMO-01", "service point identity (X-Kiosk-Id)", env="KIOSK_ID", check=_kiosk_id
    )
    secret: str = _setting("", "service point signing secret", env="KIOSK_SECRET")
    portal_url: str = _setting("http://127.0.0.1:8400/api/v1", "portal base URL", check=_url)
    portal_token: str = _setting("", "portal bearer token")
    portal_ca_bundle: str = _setting(
        "", "CA bundle file for the portal's TLS certificate; empty = system"
    )
    portal_connect_timeout: float = _setting(5.0, "seconds", check=_positive)
    portal_read_timeout: float = _setting(20.0, "seconds", check=_positive)

    # The centre
    commune_name: str = _setting(
        "UBND xã Minh Khai (bản thử)", "name printed on receipts and tickets"
    )
    province: str = _setting(
        "Tuyên Quang", "the centre's province (today's name; a name from before 2025 also works)"
    )
    receipt_prefix: str = _setting("QN01", "prefix of receipt codes", check=_prefix)
    status_url: str = _setting(
        "https://portal.example.gov.vn/r/", "base of the receipt QR link", check=_url
    )
    support_phone: str = _setting(
        "0203 3800 000", "phone number shown when the kiosk is out of service", check=_phone
    )
    demo: bool = _setting(False, "demo mode: says so on every screen and on receipts")
    # The commune's account for fees paid by VietQR transfer; all empty = cash only.
    fee_bank_bin: str = _setting("", "fee account: the bank's NAPAS BIN", check=_fee_bin)
    fee_account_number: str = _setting("", "fee account number", check=_fee_account)
    fee_account_name: str = _setting("", "fee account holder's name")
    statement_columns: str = _setting(
        "", "bank statement columns; empty = generic", check=_statement_columns
    )

    # Citizen-facing behaviour
    lang: str = _setting("vi", "default language", choices=LANGUAGES)
    languages: list[str] = _setting(list(LANGUAGES), "languages offered", check=_languages)
    idle_timeout_s: int = _setting(
        90, "seconds without a touch before asking 'are you still there?'", check=_positive
    )
    idle_countdown_s: int = _setting(
        15, "seconds of that question before returning home", check=_positive
    )
    clerk_idle_timeout_s: int = _setting(
        600,
        "the same on the clerk's screens (a clerk at the counter reads and talks)",
        check=_positive,
    )
    fullscreen: bool = _setting(True, "full screen without frame (kiosk mode)")

    # Devices
    camera: str = _setting(
        "auto",
        "auto (real camera, else simulated), device, sim, none",
        choices=("auto", "device", "sim", "none"),
    )
    camera_index: int = _setting(0, "OpenCV device index")
    microphone: str = _setting(
        "alsa",
        "microphone: alsa (arecord), pulse (parecord, the sound server) or simulated",
        choices=("alsa", "pulse", "simulated"),
    )
    microphone_device: str = _setting(
        "default", "capture device: ALSA device (alsa) or source name (pulse)"
    )
    camera_width: int = _setting(1280, "capture width", check=_positive)
    camera_height: int = _setting(720, "capture height", check=_positive)
    camera_sim_source: str = _setting(
        "", "image, folder or video for the simulated camera; empty = bundled sample"
    )
    printer: str = _setting(
        "pdf",
        "pdf (folder, for demos and tests: keeps personal data on disk), system, escpos",
        choices=("pdf", "system", "escpos"),
    )
    printer_target: str = _setting(
        "", "escpos: tcp://HOST:PORT, usb://VID:PID or serial:///dev/ttyUSB0; system: printer name"
    )
    printer_pdf_dir: str = _setting(
        "", "folder for the pdf printer; empty = receipts/ in the data folder"
    )
    paper: str = _setting("80mm", "receipt size", choices=("80mm", "a5", "a4"))
    speech: str = _setting(
        "auto",
        "auto (espeak-ng if present), espeak, mock, off",
        choices=("auto", "espeak", "mock", "off"),
    )
    headphones: bool = _setting(False, "headphones attached: personal data may be spoken")
    card_reader: str = _setting(
        "auto",
        "ID-card chip reader: auto (a PC/SC reader if pcscd lists one; in demo mode else "
        "the simulated card), pcsc, sim (the emulated demo card, never for citizens), none",
        choices=("auto", "pcsc", "sim", "none"),
    )
    card_reader_name: str = _setting("", "part of the PC/SC reader's name; empty = any reader")
    chip_csca: str = _setting(
        "",
        "CSCA trust store for the chip's passive authentication: a folder of certificates "
        "(PEM/DER), one certificate file or an ICAO master list; empty = chips read as "
        "chip_unverified",
    )
    chip_timeout_s: float = _setting(
        15.0, "seconds to wait for the card and read its chip", check=_positive
    )

    # Data protection and upkeep
    retention_days: int = _setting(
        365, "days a delivered dossier keeps its personal data", check=_positive
    )
    log_max_bytes: int = _setting(2_000_000, "size of one log file", check=_positive)
    log_backups: int = _setting(5, "rotated log files kept")

    def source(self, name: str) -> Source:
        """Where setting `name` came from (recorded by load_settings; default otherwise)."""
        return self.__dict__.get("_sources", {}).get(name, Source())

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'kiosk.db'}"

    @property
    def data_key_path(self) -> Path:
        return Path(self.key_file) if self.key_file else self.data_dir / "keys" / "data.key"

    @property
    def receipts_dir(self) -> Path:
        return Path(self.printer_pdf_dir) if self.printer_pdf_dir else self.data_dir / "receipts"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def language_packs_dir(self) -> Path:
        return self.data_dir / "language-packs"

    @property
    def fee_account(self):
        """The commune's fee account (kiosk.services.banks.FeeAccount), None: cash only."""
        from kiosk.services.banks import fee_account

        return fee_account(self.fee_bank_bin, self.fee_account_number, self.fee_account_name)


def env_name(f) -> str:
    return f.metadata.get("env") or f"KIOSK_{f.name.upper()}"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def _origin(source: str) -> Source:
    if source == "argument":
        return Source("argument")
    if source.isidentifier() and source.isupper():  # an environment variable's name
        return Source("env", source)
    return Source("file", source)


def _coerce(f, raw: Any, source: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    try:
        if kind == "Path":
            if not isinstance(raw, str | Path) or not str(raw):
                raise ValueError
            return Path(raw).expanduser()
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if kind == "float":
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if kind == "list[str]":
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return [i.strip() for i in items if i.strip()]
        if not isinstance(raw, str):
            raise ValueError
        return raw
    except (TypeError, ValueError):
        raise SettingsError(
            f.name, raw, f"a value of type {kind}", source, _origin(source)
        ) from None


def _check(f, value: Any, raw: Any, source: str) -> None:
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(f.name, raw, ", ".join(choices), source, _origin(source))
    check = f.metadata.get("check")
    problem = check(value) if check else None
    if problem:
        raise SettingsError(f.name, raw, problem, source, _origin(source))


def check_setting(name: str, raw: Any) -> Any:
    """One setting's value as typed by a person: the value, or SettingsError."""
    f = {f.name: f for f in fields(Settings)}[name]
    value = _coerce(f, raw, "argument")
    _check(f, value, raw, "argument")
    return value


def flatten_table(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """TOML tables as flat setting names: `[portal] url` is `portal_url`."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}_{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten_table(value, name))
        else:
            flat[name] = value
    return flat


def toml_value(value: Any) -> str:
    """A TOML literal for the setting types declared here (tomllib only reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string; DEL must be escaped too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def write_settings_file(path: Path, changes: Mapping[str, Any], header: str) -> None:
    """Merge `changes` (flat setting names) into the settings file, check the result as
    the kiosk will read it (SettingsError names a wrong setting), then replace the file
    atomically, owner-only (0600: it holds the portal secret). Tables of an existing file
    are written back flat; comments are not kept."""
    values: dict[str, Any] = {}
    if path.exists():
        values = flatten_table(tomllib.loads(path.read_text(encoding="utf-8")))
    values.update({k: v for k, v in changes.items() if v is not None})
    lines = [f"# {line}" for line in header.splitlines()] + [""]
    lines += [f"{name} = {toml_value(values[name])}" for name in sorted(values)]
    text = "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as trial:  # read back exactly as the kiosk will
        check = Path(trial) / "settings.toml"
        check.write_text(text, encoding="utf-8")
        load_settings(env={}, config_path=check)
    write_atomic(path, text.encode("utf-8"))


def load_settings(
    env: Mapping[str, str] | None = None, config_path: Path | None = None, **overrides: Any
) -> Settings:
    """Build Settings from defaults, the TOML file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_path or (
        Path(env["KIOSK_CONFIG"]) if env.get("KIOSK_CONFIG") else default_config_path()
    )
    if path.exists():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(
                "KIOSK_CONFIG",
                str(path),
                f"a readable TOML file ({exc})",
                origin=Source("file", str(path)),
            ) from None
        for name, raw in flatten_table(table).items():
            if name not in known:
                raise SettingsError(
                    name,
                    raw,
                    "a known setting: " + ", ".join(sorted(known)),
                    str(path),
                    Source("file", str(path)),
                )
            values[name] = (_coerce(known[name], raw, str(path)), raw, str(path))
    elif env.get("KIOSK_CONFIG"):
        raise SettingsError(
            "KIOSK_CONFIG",
            str(path),
            "the path of an existing TOML file",
            origin=Source("env", "KIOSK_CONFIG"),
        )

    for f in known.values():
        name = env_name(f)
        if name in env:
            values[f.name] = (_coerce(f, env[name], name), env[name], name)
    for name, raw in overrides.items():
        values[name] = (_coerce(known[name], raw, "argument"), raw, "argument")

    for name, (value, raw, source) in values.items():
        _check(known[name], value, raw, source)
    settings = Settings(**{name: value for name, (value, _, _) in values.items()})
    _check_fee_account(settings, {n: _origin(src) for n, (_, _, src) in values.items()})
    if "log_dir" not in values and "data_dir" in values:
        # A data folder chosen by hand keeps its logs beside it, so one folder holds all.
        settings = replace(settings, log_dir=settings.data_dir / "logs")
    sources = {f: Source("default", str(path)) for f in known}
    sources.update({name: _origin(source) for name, (_, _, source) in values.items()})
    object.__setattr__(settings, "_sources", sources)  # frozen: recorded once, here
    return settings


def _check_fee_account(settings: Settings, origins: Mapping[str, Source]) -> None:
    from kiosk.services.banks import fee_account_problems

    problems = fee_account_problems(
        settings.fee_bank_bin, settings.fee_account_number, settings.fee_account_name
    )
    if problems:
        name = problems[0][0]
        raise SettingsError(
            name,
            getattr(settings, name),
            "a fee account is all three of fee_bank_bin, fee_account_number and "
            "fee_account_name (at most 50 characters), or none of them",
            origin=origins.get(name, Source()),
        )
