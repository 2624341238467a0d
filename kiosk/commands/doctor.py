"""`python -m kiosk doctor`: is this kiosk fit to serve citizens? A table for IT staff.

Every check is a small function of the `Doctor` (which holds the settings and what the
checks share: the store, the portal's answer) returning `(status, message key, values)`;
`CHECKS` lists them in the order shown. The message is in the kiosk's language
(resources/i18n/<lang>/cli.json); for anything not OK, the key + ".fix" says what to do.
Devices are checked by using them: a tone through the audio player, a frame from the
camera, the printer's own status, the portal's answers to a signed request. The exit code
is 1 when something a citizen needs is broken (any FAIL). Doctor changes nothing (except
creating the PDF printer's folder, as printing would).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.clitext import Cli, T, cli_of, fix_where

OK, WARN, FAIL = "OK", "WARN", "FAIL"
VIETNAMESE = (
    "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"
)
Result = tuple[str, str, dict[str, Any]]  # (status, message key, values)


@dataclass
class Check:
    name: str
    status: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # the message, in the doctor's language
    fix: str = ""  # what to do, when not OK


class Doctor:
    """What the checks share: settings, the store (never migrated), the portal's answer."""

    def __init__(
        self, settings, min_free_mb: int = 500, timeout: float = 5.0, cli: Cli | None = None
    ) -> None:
        self.s = settings
        self.cli = cli or Cli.for_language(settings.lang)
        self.min_free = min_free_mb * 1024 * 1024
        self.timeout = timeout
        self._store = None
        self._health = None  # (Health | None, error detail)
        self._client = None

    def store(self):
        """The store without migrating (doctor changes nothing), or None if it cannot open."""
        from kiosk.services.store import Store

        if self._store is None:
            if self.s.database_url.startswith("sqlite") and not self.sqlite_path().exists():
                return None
            self._store = Store(self.s.database_url, migrate=False)
        return self._store

    def readable_store(self):
        try:
            store = self.store()
            if store is not None and store.revision() is None:
                return None
            return store
        except Exception:
            return None

    def sqlite_path(self) -> Path:
        return Path(self.s.database_url.split("///", 1)[1])

    def client(self):
        from kiosk.services.portal_client import PortalClient

        if self._client is None:
            s = self.s
            self._client = PortalClient(
                s.portal_url,
                s.kiosk_id,
                s.secret,
                s.portal_token,
                connect_timeout=min(s.portal_connect_timeout, self.timeout),
                read_timeout=min(s.portal_read_timeout, self.timeout),
                ca_bundle=s.portal_ca_bundle or None,
            )
        return self._client

    def health(self):
        from kiosk.services.portal_client import PortalError

        if self._health is None:
            try:
                self._health = (self.client().health(apply=True), "")
            except PortalError as exc:
                self._health = (None, exc.detail)
        return self._health

    def where(self, name: str):
        """What to do about setting `name`: where to change it (file, variable)."""
        return fix_where(name, self.s.source(name))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._client is not None:
            self._client.close()

    def run(self, only: list[str] | None = None) -> list[Check]:
        results = []
        for name, check in CHECKS.items():
            if only and name not in only:
                continue
            try:
                status, key, values = check(self)
            except Exception as exc:  # one broken check must not hide the others
                status, key = FAIL, "cli.doctor.check_failed"
                values = {"error": f"{type(exc).__name__}: {exc}"}
            results.append(self.explain(Check(name, status, key, values)))
        return results

    def explain(self, c: Check) -> Check:
        c.detail = self.cli.tr(c.key, **c.values)
        fix_key = c.key + ".fix"
        if c.status != OK and self.cli.translator.has(fix_key, "vi"):
            c.fix = self.cli.tr(fix_key, **c.values)
        return c


# The checks -------------------------------------------------------------------------------


def check_setup(d: Doctor) -> Result:
    from kiosk.services.installation import DEMO_ADMIN, SETUP_KEY, meta_get

    s = d.s
    if s.demo:
        return WARN, "cli.doctor.setup.demo", {"source": s.source("demo")}
    store = d.readable_store()
    missing = []
    if store is None or meta_get(store, SETUP_KEY) is None:
        missing.append(T("cli.doctor.setup.missing.record"))
    if not s.data_key_path.exists():
        missing.append(T("cli.doctor.setup.missing.key", path=s.data_key_path))
    if not s.secret:
        missing.append(T("cli.doctor.setup.missing.secret", where=d.where("secret")))
    if not s.portal_token:
        missing.append(T("cli.doctor.setup.missing.token", where=d.where("portal_token")))
    if missing:
        return FAIL, "cli.doctor.setup.not_done", {"missing": "; ".join(map(d.cli.render, missing))}
    users = _usernames(store)
    if DEMO_ADMIN in users:
        return WARN, "cli.doctor.setup.demo_admin", {"user": DEMO_ADMIN}
    return OK, "cli.doctor.setup.ok", {"kiosk_id": s.kiosk_id, "count": len(users)}


def _usernames(store) -> list[str]:
    """The clerks' user names, read the same way at every schema version (a database
    the kiosk has not upgraded yet lacks the newer columns of the clerk model)."""
    from sqlalchemy import text

    return store.read(lambda s: [r[0] for r in s.execute(text("SELECT username FROM clerks"))])


def check_data_key(d: Doctor) -> Result:
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.installation import newest_encrypted, read_key_file, ring_opens

    path = d.s.data_key_path
    if not path.exists():
        return FAIL, "cli.doctor.data_key.missing", {"path": path}
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return FAIL, "cli.doctor.data_key.mode", {"path": path, "mode": f"{mode:o}"}
    try:
        ring = read_key_file(path)
    except DataKeyError as exc:
        return FAIL, "cli.doctor.data_key.damaged", {"path": path, "error": str(exc)}
    store = d.readable_store()
    if store is not None and not ring_opens(ring, newest_encrypted(store)):
        return FAIL, "cli.doctor.data_key.wrong", {"path": path}
    return OK, "cli.doctor.data_key.ok", {"path": path, "key": ring.current}


def check_disk(d: Doctor) -> Result:
    folder = d.s.data_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    values = {"free": f"{free / 2**30:.1f}", "folder": d.s.data_dir, "min": d.min_free // 2**20}
    if free < d.min_free:
        return FAIL, "cli.doctor.disk.full", values
    if free < 4 * d.min_free:
        return WARN, "cli.doctor.disk.low", values
    return OK, "cli.doctor.disk.ok", values


def check_database(d: Doctor) -> Result:
    from sqlalchemy import text

    if d.s.database_url.startswith("sqlite"):
        path = d.sqlite_path()
        if not path.exists():
            return FAIL, "cli.doctor.database.missing", {"path": path}
        with d.store().engine.connect() as conn:
            result = [r[0] for r in conn.execute(text("PRAGMA integrity_check")).fetchall()]
        if result != ["ok"]:
            return FAIL, "cli.doctor.database.damaged", {"result": "; ".join(result[:3])}
        size = f"{path.stat().st_size / 2**20:.1f}"
        return OK, "cli.doctor.database.sqlite_ok", {"name": path.name, "size": size}
    try:
        with d.store().engine.connect() as conn:
            version = conn.execute(text("SELECT version()")).scalar()
    except Exception as exc:
        return (
            FAIL,
            "cli.doctor.database.unreachable",
            {"error": type(exc).__name__, "where": d.where("db_url")},
        )
    return OK, "cli.doctor.database.server_ok", {"version": str(version).split(",")[0]}


def check_migrations(d: Doctor) -> Result:
    from alembic.script import ScriptDirectory

    from kiosk.services.store import alembic_config, head_revision

    store = d.store()
    if store is None:
        return FAIL, "cli.doctor.migrations.no_database", {}
    current, head = store.revision(), head_revision()
    values = {"current": current, "head": head}
    if current == head:
        return OK, "cli.doctor.migrations.ok", values
    if current is None:
        return FAIL, "cli.doctor.migrations.empty", values
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if current in {r.revision for r in scripts.walk_revisions()}:
        return WARN, "cli.doctor.migrations.older", values
    return FAIL, "cli.doctor.migrations.newer", values


def check_crashes(d: Doctor) -> Result:
    from kiosk.services.installation import CRASH_FILE, CrashGuard

    guard = CrashGuard(d.s.data_dir / CRASH_FILE)
    recent = guard.recent_crashes()
    if guard.tripped():
        return FAIL, "cli.doctor.crashes.tripped", {"count": len(recent)}
    if recent:
        return WARN, "cli.doctor.crashes.recent", {"count": len(recent)}
    return OK, "cli.doctor.crashes.ok", {}


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Native libraries (OpenCV, V4L, ALSA) write to file descriptor 2 directly, past
    Python's sys.stderr: send it to nowhere for the duration."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_camera(d: Doctor) -> Result:
    from kiosk.hardware.camera import CameraError, OpenCvCamera, SimulatedCamera
    from kiosk.paths import resource

    s = d.s
    where = d.where("camera")
    if s.camera == "none":
        return WARN, "cli.doctor.camera.off", {"where": where}
    if s.camera == "sim":
        cam = SimulatedCamera(s.camera_sim_source or resource("samples", "camera"), fps=1000)
    else:
        cam = OpenCvCamera(s.camera_index, s.camera_width, s.camera_height)
    try:
        with quiet_stderr():
            cam.open()
            frame = cam.read()
    except CameraError as exc:
        values = {"device": cam.name, "error": exc.detail, "where": where}
        if s.camera == "sim":
            values["where"] = d.where("camera_sim_source")
            return FAIL, "cli.doctor.camera.sim_failed", values
        if s.camera == "auto":
            return FAIL, "cli.doctor.camera.auto_failed", values
        return FAIL, "cli.doctor.camera.failed", values
    finally:
        with quiet_stderr():
            cam.close()
    values = {"device": cam.name, "width": frame.shape[1], "height": frame.shape[0]}
    if s.camera == "sim":
        return WARN, "cli.doctor.camera.simulated", {**values, "where": where}
    return OK, "cli.doctor.camera.ok", values


def check_printer(d: Doctor) -> Result:
    from kiosk.hardware.printers import make_printer
    from kiosk.qt.app import system_printer

    s = d.s
    where = d.where("printer_target")
    if s.printer == "system":
        _gui_app()  # Qt's printer list needs an application
    try:
        printer = make_printer(s.printer, s.printer_target, s.receipts_dir, system_printer)
    except ValueError as exc:
        return FAIL, "cli.doctor.printer.bad_setting", {"error": str(exc), "where": where}
    if s.printer == "pdf":
        problem = _probe_folder(s.receipts_dir)
        if problem:
            values = {"problem": problem, "where": d.where("printer_pdf_dir")}
            return FAIL, "cli.doctor.printer.pdf_folder", values
    status = printer.status()  # asks the printer itself (ESC/POS status bytes, spooler)
    values = {"printer": printer.name, "error": status.detail, "where": where}
    if not status.ready:
        case = {"receipt.printer.paper_out": "paper_out", "receipt.printer.offline": "offline"}
        return FAIL, f"cli.doctor.printer.{case.get(status.key, 'not_ready')}", values
    if status.paper_low:
        return WARN, "cli.doctor.printer.paper_low", values
    if s.printer == "pdf" and not s.demo:
        # FAIL: every receipt (names, masked ID numbers) stays on disk (README, Security).
        return FAIL, "cli.doctor.printer.pdf_in_service", {**values, "where": d.where("printer")}
    return OK, "cli.doctor.printer.ok", values


def check_card_reader(d: Doctor, list_readers: Callable[[], list[str]] | None = None) -> Result:
    """PC/SC readers for the chip of the ID card, when the PC/SC library is installed.
    FAIL on a virtual (vsmartcard-vpcd) reader or the simulated card outside demo mode:
    anyone who reaches vpcd's port could present a forged chip."""
    s = d.s
    if s.card_reader == "none":
        return WARN, "chip.doctor.off", {}
    if s.card_reader == "sim":
        return (WARN if s.demo else FAIL), "chip.doctor.sim", {}
    if list_readers is None:
        try:
            from smartcard.System import readers  # noqa: F401
        except Exception:
            return OK, "cli.doctor.card_reader.no_library", {}
        from kiosk.hardware.cardreader import PcscReader

        list_readers = PcscReader().readers
    from kiosk.hardware.cardreader import NoReaderError
    from kiosk.services.icao9303.pa import load_trust_store

    try:
        with quiet_stderr():
            names = list_readers()
    except NoReaderError:  # pcscd not running, no permission
        return WARN, "cli.doctor.card_reader.no_service", {"error": "pcscd"}
    virtual = [n for n in names if "virtual pcd" in n.lower()]
    if virtual and not s.demo:
        return FAIL, "chip.doctor.virtual", {"readers": ", ".join(virtual)}
    if not names:
        return WARN, "cli.doctor.card_reader.none", {}
    cscas = len(load_trust_store(s.chip_csca)) if s.chip_csca else 0
    values = {"readers": ", ".join(names), "cscas": cscas}
    if not cscas:
        return WARN, "chip.doctor.no_csca", values
    return OK, "chip.doctor.ok", values


def check_portal(d: Doctor) -> Result:
    health, error = d.health()
    values = {"url": d.s.portal_url, "source": d.s.source("portal_url")}
    if health is None:
        return (
            FAIL,
            "cli.doctor.portal.down",
            {**values, "error": error, "where": d.where("portal_url")},
        )
    ms = f"{health.round_trip * 1000:.0f}"
    return OK, "cli.doctor.portal.ok", {**values, "status": health.status, "ms": ms}


def check_clock(d: Doctor) -> Result:
    health, _ = d.health()
    if health is None:
        return WARN, "cli.doctor.not_checked", {}
    skew = health.skew
    values = {"seconds": f"{abs(skew):.0f}"}
    direction = "behind" if skew > 0 else "ahead"
    if abs(skew) > 300:
        return FAIL, f"cli.doctor.clock.{direction}.refused", values
    if abs(skew) > 60:
        return WARN, f"cli.doctor.clock.{direction}", values
    return OK, f"cli.doctor.clock.{direction}", values


AUTH_ERRORS = ("unauthorized", "bad_signature", "clock_skew", "revoked", "kiosk_disabled")


def check_token(d: Doctor) -> Result:
    from kiosk.services.portal_client import AuthBlocked, PortalError

    health, _ = d.health()
    if health is None:
        return WARN, "cli.doctor.not_checked", {}
    if not d.s.portal_token or not d.s.secret:
        return FAIL, "cli.doctor.token.missing", {"where": d.where("portal_token")}
    try:
        catalogue = d.client().procedures()  # a signed request
    except AuthBlocked as exc:
        error = exc.error if exc.error in AUTH_ERRORS else "unauthorized"
        values = {
            "status": exc.status,
            "error": exc.error,
            "token_where": d.where("portal_token"),
            "secret_where": d.where("secret"),
            "id_where": d.where("kiosk_id"),
        }
        return FAIL, f"cli.doctor.token.{error}", values
    except PortalError as exc:
        return WARN, "cli.doctor.token.unknown", {"error": exc.detail}
    return OK, "cli.doctor.token.ok", {"count": len(catalogue.procedures)}


def check_fonts(d: Doctor) -> Result:
    _gui_app()
    from PySide6.QtGui import QFontDatabase

    from kiosk.paths import resource
    from kiosk.views.theme import shipped_font_lacks

    files = sorted(resource("fonts").glob("*.ttf"))
    bad = [p.name for p in files if QFontDatabase.addApplicationFont(str(p)) < 0]
    if not files or bad:
        return FAIL, "cli.doctor.fonts.not_loading", {"files": ", ".join(bad) or "-"}
    lacking = shipped_font_lacks(VIETNAMESE + VIETNAMESE.upper() + "₫")
    if lacking:
        return FAIL, "cli.doctor.fonts.lacking", {"letters": "".join(lacking)}
    return OK, "cli.doctor.fonts.ok", {"count": len(files)}


def tone_wav(seconds: float = 0.25, freq: float = 880.0, rate: int = 16000) -> bytes:
    """A short quiet beep as a WAV file."""
    frames = b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def play_tone(command: list[str], timeout: float = 5.0) -> str | None:
    """Play a tone with `command` as the kiosk plays its prompts; None, or the problem."""
    data = tone_wav()
    with tempfile.TemporaryDirectory(prefix="kiosk-doctor-") as tmp:
        file = Path(tmp) / "tone.wav"
        file.write_bytes(data)
        args = [str(file) if a == "{file}" else a for a in command]
        uses_file = "{file}" in command
        try:
            done = subprocess.run(
                args,
                input=None if uses_file else data,
                stdin=subprocess.DEVNULL if uses_file else None,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"> {timeout:.0f} s"
        except OSError as exc:
            return str(exc)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return f"exit {done.returncode}: {err[-1][-200:] if err else ''}".rstrip(": ")
    return None


def check_audio(d: Doctor) -> Result:
    """A tone through the players the kiosk would use, then the voice."""
    from kiosk.hardware.speech import find_players
    from kiosk.paths import resource

    mode = d.s.speech
    if mode in ("off", "mock"):
        return WARN, "cli.doctor.audio.off", {"mode": mode, "where": d.where("speech")}
    players = find_players()
    if not players:
        return FAIL, "cli.doctor.audio.no_player", {}
    problems = []
    for command in players:
        problem = play_tone(command, d.timeout)
        if problem is None:
            break
        problems.append(f"{command[0]}: {problem}")
    else:
        return FAIL, "cli.doctor.audio.player_failed", {"errors": "; ".join(problems)}
    player = command[0]
    recordings = len(list(resource("audio").glob("*/*.wav")))
    espeak = shutil.which("espeak-ng")
    voice_ok = False
    if espeak:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "t.wav"
            run = subprocess.run(
                [espeak, "-v", "vi", "-w", str(out), "Xin chào"], capture_output=True, timeout=10
            )
            voice_ok = run.returncode == 0 and out.exists() and out.stat().st_size > 1000
    values = {"player": player, "recordings": recordings}
    if not voice_ok and not recordings:
        return FAIL, "cli.doctor.audio.no_voice", values
    if not voice_ok:
        return WARN, "cli.doctor.audio.recordings_only", values
    return OK, "cli.doctor.audio.ok", values


def check_logs(d: Doctor) -> Result:
    s = d.s
    folder = s.log_dir
    problem = _probe_folder(folder)
    if problem:
        return FAIL, "cli.doctor.logs.not_writable", {"problem": problem, "folder": folder}
    used = sum(p.stat().st_size for p in folder.glob("kiosk.log*"))
    cap = s.log_max_bytes * (s.log_backups + 1)
    return (
        OK,
        "cli.doctor.logs.ok",
        {
            "folder": folder,
            "used": f"{used / 2**20:.1f}",
            "size": f"{s.log_max_bytes / 2**20:.1f}",
            "files": s.log_backups + 1,
            "cap": f"{cap / 2**20:.1f}",
        },
    )


def check_file_modes(d: Doctor) -> Result:
    """The data folder 0700; database (+WAL/SHM), keys, attachments 0600 (set at start)."""
    from kiosk.services.hardening import loose_modes

    s = d.s
    if sys.platform == "win32":  # pragma: no cover - untested here (no Windows in CI)
        return WARN, "cli.doctor.file_modes.windows", {"folder": s.data_dir}
    if not s.data_dir.exists():
        return OK, "cli.doctor.file_modes.no_folder", {"folder": s.data_dir}
    loose = loose_modes(s)
    if loose:
        shown = ", ".join(loose[:5]) + (f" (+{len(loose) - 5})" if len(loose) > 5 else "")
        return FAIL, "cli.doctor.file_modes.loose", {"paths": shown, "folder": s.data_dir}
    return OK, "cli.doctor.file_modes.ok", {"folder": s.data_dir}


def check_key_state(d: Doctor) -> Result:
    """The key file against the key check value the database keeps (never changes either)."""
    from kiosk.services.crypto import DataKeyError, read_keyring
    from kiosk.services.datakey import database_exists, stored_check, verify

    s = d.s
    path = s.data_key_path
    try:
        ring = read_keyring(path)
    except DataKeyError as exc:
        return FAIL, "cli.doctor.key_state.unreadable", {"path": path, "error": str(exc)}
    try:
        if not database_exists(s.database_url):
            return OK, "cli.doctor.key_state.no_database", {"key": ring.current}
        check = stored_check(s.database_url)
    except Exception as exc:  # a database that does not open: the database check says more
        return FAIL, "cli.doctor.key_state.cannot_compare", {"error": type(exc).__name__}
    try:
        verify(ring, check, path)
    except DataKeyError:
        return FAIL, "cli.doctor.key_state.wrong", {"path": path}
    if check is None:
        return OK, "cli.doctor.key_state.unchecked", {"key": ring.current}
    return OK, "cli.doctor.key_state.ok", {"key": ring.current}


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_https(d: Doctor) -> Result:
    """The token and citizens' data travel over https, except to this machine (demo, tests)."""
    from urllib.parse import urlparse

    s = d.s
    url = urlparse(s.portal_url)
    host = (url.hostname or "").lower()
    values = {"host": host, "where": d.where("portal_url")}
    if url.scheme == "https":
        return OK, "cli.doctor.https.ok", values
    if host in LOOPBACK:
        return (OK if s.demo else WARN), "cli.doctor.https.loopback", values
    return FAIL, "cli.doctor.https.plain", values


# The order shown. A new check: a function above and one line here.
CHECKS: dict[str, Callable[[Doctor], Result]] = {
    "setup": check_setup,
    "data_key": check_data_key,
    "disk": check_disk,
    "database": check_database,
    "migrations": check_migrations,
    "crashes": check_crashes,
    "camera": check_camera,
    "printer": check_printer,
    "card_reader": check_card_reader,
    "portal": check_portal,
    "clock": check_clock,
    "token": check_token,
    "fonts": check_fonts,
    "audio": check_audio,
    "logs": check_logs,
    "file_modes": check_file_modes,
    "key_state": check_key_state,
    "https": check_https,
}


# Helpers and output -----------------------------------------------------------------------


def _probe_folder(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (created if missing), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".doctor-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    return None


def _gui_app():
    # A QApplication (not just a QGuiApplication): whatever runs next in this process,
    # e.g. the system printer or a widget, finds the kind of application it needs.
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        with quiet_stderr():
            app = QApplication(sys.argv[:1])
    return app


def render(results: list[Check], cli: Cli, out: Callable[[str], None] = print) -> None:
    names = {c.name: cli.tr(f"cli.doctor.name.{c.name}") for c in results}
    statuses = {s: cli.tr(f"cli.doctor.status.{s}") for s in (OK, WARN, FAIL)}
    head_check, head_status = cli.tr("cli.doctor.head.check"), cli.tr("cli.doctor.head.status")
    width = max([len(n) for n in names.values()] + [len(head_check)])
    swidth = max([len(s) for s in statuses.values()] + [len(head_status)])
    out(
        f"{head_check.ljust(width)}  {head_status.ljust(swidth)}  {cli.tr('cli.doctor.head.detail')}"
    )
    indent = " " * (width + swidth + 4)
    for c in results:
        out(f"{names[c.name].ljust(width)}  {statuses[c.status].ljust(swidth)}  {c.detail}")
        if c.status != OK and c.fix:
            out(
                textwrap.fill(
                    cli.tr("cli.doctor.what_to_do", fix=c.fix),
                    100,
                    initial_indent=indent,
                    subsequent_indent=indent + "   ",
                    break_on_hyphens=False,
                    break_long_words=False,
                )
            )
    fails = sum(c.status == FAIL for c in results)
    warns = sum(c.status == WARN for c in results)
    out("")
    if not fails and not warns:
        out(cli.tr("cli.doctor.summary.ok"))
    else:
        key = "cli.doctor.summary.fail" if fails else "cli.doctor.summary.warn"
        out(cli.tr(key, fails=fails, warns=warns))


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="cli.doctor.help", description="cli.doctor.help")
    p.add_argument("--min-free-mb", type=int, default=500, help="cli.doctor.opt.min_free_mb")
    p.add_argument("--timeout", type=float, default=5.0, help="cli.doctor.opt.timeout")
    p.add_argument(
        "--only", nargs="+", choices=list(CHECKS), metavar="CHECK", help="cli.doctor.opt.only"
    )
    p.set_defaults(func=handle)


def handle(args) -> int:
    from kiosk.config import SettingsError, load_settings

    cli = cli_of(args)
    started = time.perf_counter()
    try:
        settings = load_settings()
    except SettingsError as exc:
        check = Check("settings", FAIL, "cli.settings.invalid", detail=cli.settings_error(exc))
        render([check], cli)
        return 1
    doctor = Doctor(settings, args.min_free_mb, args.timeout, cli=cli)
    try:
        results = doctor.run(args.only)
    finally:
        doctor.close()
    render(results, cli)
    print(cli.tr("cli.doctor.took", seconds=f"{time.perf_counter() - started:.1f}"))
    return 1 if any(c.status == FAIL for c in results) else 0
