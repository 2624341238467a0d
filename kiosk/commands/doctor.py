"""`python -m kiosk doctor`: is this kiosk fit to serve citizens? A table for IT staff.

Every check gives OK, WARN or FAIL, a detail, and for anything not OK what to do, in
plain words. The exit code is 1 when something a citizen needs is broken (any FAIL).
Doctor changes nothing (except creating the PDF printer's folder, as printing would).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "OK", "WARN", "FAIL"
VIETNAMESE = (
    "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"
)
CHECKS = (
    "setup",
    "data_key",
    "disk",
    "database",
    "migrations",
    "crashes",
    "camera",
    "printer",
    "card_reader",
    "portal",
    "clock",
    "token",
    "fonts",
    "audio",
    "logs",
)

AUTH_FIX = {
    "unauthorized": "The portal does not accept the token. Ask the province's portal team for "
    "this service point's token and put it in portal_token in the settings file.",
    "bad_signature": "The portal does not accept the signature: the secret or kiosk_id in the "
    "settings file is wrong. Copy both again from the province's letter.",
    "clock_skew": "The portal refuses this machine's time. Turn on automatic time (NTP) and "
    "check the time zone (Asia/Ho_Chi_Minh).",
    "revoked": "The province has revoked this service point's credentials. Ask the portal team "
    "for new ones, then run setup again on a fresh settings file.",
    "kiosk_disabled": "The province has switched this service point off. Call the portal team.",
}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


class Doctor:
    def __init__(self, settings, min_free_mb: int = 500, timeout: float = 5.0) -> None:
        self.s = settings
        self.min_free = min_free_mb * 1024 * 1024
        self.timeout = timeout
        self._store = None
        self._health = None  # (Health | None, error detail)
        self._client = None

    # Helpers -----------------------------------------------------------------------------
    def store(self):
        """The store without migrating (doctor changes nothing), or None if it cannot open."""
        from kiosk.services.store import Store

        if self._store is None:
            if self.s.database_url.startswith("sqlite") and not self._sqlite_path().exists():
                return None
            self._store = Store(self.s.database_url, migrate=False)
        return self._store

    def _sqlite_path(self) -> Path:
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

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._client is not None:
            self._client.close()

    def run(self, only: list[str] | None = None) -> list[Check]:
        results = []
        for name in CHECKS:
            if only and name not in only:
                continue
            try:
                results.append(getattr(self, f"check_{name}")())
            except Exception as exc:  # one broken check must not hide the others
                results.append(
                    Check(
                        name,
                        FAIL,
                        f"the check itself failed: {type(exc).__name__}: {exc}",
                        "Send this output to the support team.",
                    )
                )
        return results

    # Checks ------------------------------------------------------------------------------
    def check_card_reader(self) -> Check:
        return check_card_reader(self.s)

    def check_setup(self) -> Check:
        from kiosk.services.clerks import ClerkService
        from kiosk.services.installation import DEMO_ADMIN, setup_state

        s = self.s
        store = self._readable_store()
        state = setup_state(store, s.data_key_path, s.secret, s.portal_token, s.demo)
        if s.demo:
            return Check(
                "setup",
                WARN,
                "demo mode (KIOSK_DEMO / demo = true): not for citizens",
                "For a real service point remove the demo setting and run `kiosk setup`.",
            )
        if not state.done:
            return Check(
                "setup",
                FAIL,
                f"not set up: {state.reason}",
                "Run `kiosk setup` (or `kiosk setup --from FILE.toml`) on this machine.",
            )
        users = [c.username for c in ClerkService(store).list()]
        if DEMO_ADMIN in users:
            return Check(
                "setup",
                WARN,
                "the demo's admin account exists on a production kiosk",
                "Deactivate the demo-admin account (clerk screens) or start from a new "
                "data folder.",
            )
        return Check("setup", OK, f"service point {s.kiosk_id}, {len(users)} clerk account(s)")

    def _readable_store(self):
        try:
            store = self.store()
            if store is not None and store.revision() is None:
                return None
            return store
        except Exception:
            return None

    def check_data_key(self) -> Check:
        from kiosk.services.crypto import DataKeyError
        from kiosk.services.installation import newest_encrypted, read_key_file, ring_opens

        path = self.s.data_key_path
        if not path.exists():
            return Check(
                "data_key",
                FAIL,
                f"no data key at {path}",
                "Run `kiosk setup`; on a second machine of a centre import the centre's "
                "key with `kiosk setup --import-key FILE`.",
            )
        if os.name == "posix":
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                return Check(
                    "data_key",
                    FAIL,
                    f"{path} has permissions {mode:o}: others can read "
                    "the key to every citizen's data",
                    f"Run: chmod 600 {path} (the kiosk's user must own it).",
                )
        try:
            ring = read_key_file(path)
        except DataKeyError as exc:
            return Check(
                "data_key", FAIL, str(exc), "Restore the key file from the centre's key backup."
            )
        store = self._readable_store()
        if store is not None and not ring_opens(ring, newest_encrypted(store)):
            return Check(
                "data_key",
                FAIL,
                "the key does not open the dossiers in the database",
                "This is not the centre's key: import the right one with "
                "`kiosk setup --import-key FILE`.",
            )
        return Check("data_key", OK, f"{path} (owner-only), key {ring.current}")

    def check_disk(self) -> Check:
        folder = self.s.data_dir
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        text = f"{free / 2**30:.1f} GB free for {self.s.data_dir}"
        if free < self.min_free:
            return Check(
                "disk",
                FAIL,
                text + f" (needs at least {self.min_free // 2**20} MB)",
                "Free disk space: remove old files outside the kiosk's folders, or fit "
                "a bigger disk. Do not delete anything in the data folder.",
            )
        if free < 4 * self.min_free:
            return Check("disk", WARN, text, "Disk space is getting low; plan a clean-up.")
        return Check("disk", OK, text)

    def check_database(self) -> Check:
        from sqlalchemy import text

        url = self.s.database_url
        if url.startswith("sqlite"):
            path = self._sqlite_path()
            if not path.exists():
                return Check(
                    "database",
                    FAIL,
                    f"no database at {path}",
                    "Run `kiosk setup`; if the kiosk had data, restore the data folder "
                    "from its backup.",
                )
            with self.store().engine.connect() as conn:
                result = [r[0] for r in conn.execute(text("PRAGMA integrity_check")).fetchall()]
            if result != ["ok"]:
                return Check(
                    "database",
                    FAIL,
                    f"SQLite integrity check: {'; '.join(result[:3])}",
                    "Stop the kiosk, copy the data folder somewhere safe and call the "
                    "support team: the database file is damaged.",
                )
            return Check(
                "database",
                OK,
                f"SQLite {path.name}: integrity ok, {path.stat().st_size / 2**20:.1f} MB",
            )
        try:
            with self.store().engine.connect() as conn:
                version = conn.execute(text("SELECT version()")).scalar()
        except Exception as exc:
            return Check(
                "database",
                FAIL,
                f"cannot connect to the centre's database: {type(exc).__name__}",
                "Check the network to the database server and "
                "db_url in the settings file; is the server running?",
            )
        return Check("database", OK, f"connected: {str(version).split(',')[0]}")

    def check_migrations(self) -> Check:
        from alembic.script import ScriptDirectory

        from kiosk.services.store import alembic_config, head_revision

        store = self.store()
        if store is None:
            return Check("migrations", FAIL, "no database", "Run `kiosk setup`.")
        current, head = store.revision(), head_revision()
        if current == head:
            return Check("migrations", OK, f"schema {current} (this build's newest)")
        if current is None:
            return Check(
                "migrations",
                FAIL,
                "the database has no schema yet",
                "Start the kiosk once, or run `kiosk setup`: both create it.",
            )
        known = {
            r.revision
            for r in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
        }
        if current in known:
            return Check(
                "migrations",
                WARN,
                f"schema {current}, this build has {head}",
                "Nothing to do: the kiosk upgrades the database when it starts.",
            )
        return Check(
            "migrations",
            FAIL,
            f"schema {current} is newer than this build ({head})",
            "The database was written by a newer build: install that build again.",
        )

    def check_crashes(self) -> Check:
        from kiosk.services.installation import CRASH_FILE, CrashGuard

        guard = CrashGuard(self.s.data_dir / CRASH_FILE)
        recent = guard.recent_crashes()
        if guard.tripped():
            return Check(
                "crashes",
                FAIL,
                f"{len(recent)} crashes in the last 5 minutes: the kiosk stays out of service",
                "Read the log (logs/kiosk.log), fix the cause, "
                "then leave the kiosk with an admin PIN or restart the machine.",
            )
        if recent:
            return Check(
                "crashes",
                WARN,
                f"{len(recent)} recent unclean exit(s) (or running now)",
                "If the kiosk is not running, read the end of logs/kiosk.log.",
            )
        return Check("crashes", OK, "no recent crash")

    def check_camera(self) -> Check:
        from kiosk.hardware.camera import CameraError, OpenCvCamera, SimulatedCamera
        from kiosk.paths import resource

        s = self.s
        if s.camera == "none":
            return Check(
                "camera",
                WARN,
                "camera switched off in the settings (camera = none)",
                "Citizens must type their ID number. Set camera = auto to scan cards.",
            )
        if s.camera == "sim":
            cam = SimulatedCamera(s.camera_sim_source or resource("samples", "camera"), fps=1000)
        else:
            cam = OpenCvCamera(s.camera_index, s.camera_width, s.camera_height)
        try:
            cam.open()
            frame = cam.read()
        except CameraError as exc:
            fix = (
                "Plug the camera in (USB), check `ls /dev/video*`, and that no other program "
                "uses it; the kiosk's user must be in the 'video' group."
            )
            if s.camera == "sim":
                fix = "Check camera_sim_source in the settings: an image, a folder or a video."
            elif s.camera == "auto":
                exc.detail += "; the kiosk would fall back to the simulated camera"
            return Check("camera", FAIL, exc.detail, fix)
        finally:
            cam.close()
        kind = "simulated" if s.camera == "sim" else "device"
        return Check(
            "camera",
            WARN if kind == "simulated" else OK,
            f"{cam.name}: frame {frame.shape[1]}x{frame.shape[0]}",
            "A simulated camera cannot read real cards: set camera = auto for service."
            if kind == "simulated"
            else "",
        )

    def check_printer(self) -> Check:
        from kiosk.hardware.printers import make_printer

        s = self.s
        if s.printer == "system":
            _gui_app()  # Qt's printer list needs an application
        try:
            printer = make_printer(s.printer, s.printer_target, s.receipts_dir)
        except ValueError as exc:
            return Check(
                "printer",
                FAIL,
                str(exc),
                "Set printer and printer_target in the "
                'settings file (e.g. printer = "escpos", printer_target = '
                '"tcp://192.168.1.50:9100").',
            )
        if s.printer == "pdf":
            problem = _probe_folder(s.receipts_dir)
            if problem:
                return Check(
                    "printer",
                    FAIL,
                    f"pdf printer: {problem}",
                    "Set printer_pdf_dir to a writable folder, or use the real printer.",
                )
        status = printer.status()
        if not status.ready:
            fix = {
                "receipt.printer.paper_out": "Put a new paper roll in the printer.",
                "receipt.printer.offline": "Switch the printer on, close its cover, check the "
                "cable or network (printer_target).",
            }.get(
                status.key,
                "Check the printer is on and connected, and printer_target in the settings file.",
            )
            return Check("printer", FAIL, f"{printer.name}: {status.detail}", fix)
        if status.paper_low:
            return Check(
                "printer",
                WARN,
                f"{printer.name}: paper roll near its end",
                "Have a new roll ready.",
            )
        if s.printer == "pdf" and not s.demo:
            return Check(
                "printer",
                WARN,
                f"{printer.name}: the PDF folder printer keeps every "
                "receipt (names, masked ID numbers) on disk",
                'For service use the thermal printer (printer = "escpos") or the system printer.',
            )
        return Check("printer", OK, f"{printer.name}: ready")

    def check_portal(self) -> Check:
        health, error = self.health()
        if health is None:
            return Check(
                "portal",
                FAIL,
                f"{self.s.portal_url}: {error}",
                "Check the network cable or 4G modem, and portal_url in the settings "
                "file. Dossiers wait safely in the queue until the portal answers.",
            )
        return Check(
            "portal", OK, f"{self.s.portal_url}: {health.status}, {health.round_trip * 1000:.0f} ms"
        )

    def check_clock(self) -> Check:
        health, _ = self.health()
        if health is None:
            return Check(
                "clock",
                WARN,
                "not checked: the portal did not answer",
                "Fix the portal connection first.",
            )
        skew = health.skew
        where = "behind" if skew > 0 else "ahead of"
        text = f"this machine's clock is {abs(skew):.0f} s {where} the portal's"
        fix = (
            "Turn on automatic time: `timedatectl set-ntp true` (Linux) or Settings > Time > "
            "Set time automatically (Windows); check the time zone and the BIOS battery."
        )
        if abs(skew) > 300:
            return Check("clock", FAIL, text + " (the portal refuses more than 300 s)", fix)
        if abs(skew) > 60:
            return Check("clock", WARN, text, fix)
        return Check("clock", OK, text)

    def check_token(self) -> Check:
        from kiosk.services.portal_client import AuthBlocked, PortalError

        health, _ = self.health()
        if health is None:
            return Check(
                "token",
                WARN,
                "not checked: the portal did not answer",
                "Fix the portal connection first.",
            )
        if not self.s.portal_token or not self.s.secret:
            return Check(
                "token", FAIL, "no portal token or secret in the settings", "Run `kiosk setup`."
            )
        try:
            catalogue = self.client().procedures()
        except AuthBlocked as exc:
            return Check(
                "token",
                FAIL,
                f"the portal refuses this kiosk: HTTP {exc.status} {exc.error}",
                AUTH_FIX.get(exc.error, AUTH_FIX["unauthorized"]),
            )
        except PortalError as exc:
            return Check(
                "token", WARN, f"could not check: {exc.detail}", "Try again in a few minutes."
            )
        return Check(
            "token", OK, f"signed request accepted ({len(catalogue.procedures)} procedures)"
        )

    def check_fonts(self) -> Check:
        _gui_app()
        from PySide6.QtGui import QFontDatabase

        from kiosk.paths import resource
        from kiosk.views.theme import shipped_font_lacks

        files = sorted(resource("fonts").glob("*.ttf"))
        bad = [p.name for p in files if QFontDatabase.addApplicationFont(str(p)) < 0]
        if not files or bad:
            return Check(
                "fonts",
                FAIL,
                f"fonts that do not load: {', '.join(bad) or 'none found'}",
                "Reinstall the kiosk: its font files are missing or damaged.",
            )
        lacking = shipped_font_lacks(VIETNAMESE + VIETNAMESE.upper() + "₫")
        if lacking:
            return Check(
                "fonts",
                FAIL,
                f"no glyph for {''.join(lacking)}",
                "Reinstall the kiosk: its fonts lack Vietnamese letters.",
            )
        return Check("fonts", OK, f"{len(files)} fonts, every Vietnamese letter and ₫")

    def check_audio(self) -> Check:
        from kiosk.hardware.speech import find_players
        from kiosk.paths import resource

        mode = self.s.speech
        if mode in ("off", "mock"):
            return Check(
                "audio",
                WARN,
                f"spoken prompts are off (speech = {mode})",
                "Citizens who cannot read need the voice: set speech = auto.",
            )
        recordings = len(list(resource("audio").glob("*/*.wav")))
        espeak = shutil.which("espeak-ng")
        voice_ok = False
        if espeak:
            with tempfile.TemporaryDirectory() as tmp:
                run = subprocess.run(
                    [espeak, "-v", "vi", "-w", str(Path(tmp) / "t.wav"), "Xin chào"],
                    capture_output=True,
                    timeout=10,
                )
                voice_ok = run.returncode == 0 and (Path(tmp) / "t.wav").stat().st_size > 1000
        if not voice_ok and not recordings:
            return Check(
                "audio",
                FAIL,
                "no espeak-ng with a Vietnamese voice and no recorded prompts",
                "Install espeak-ng (apt-get install espeak-ng).",
            )
        players = find_players()
        parts = [
            f"espeak-ng{' (vi voice)' if voice_ok else ' missing'}",
            f"{recordings} recorded prompts",
        ]
        if os.name == "posix" and not players:
            return Check(
                "audio",
                WARN,
                ", ".join(parts) + "; no audio player",
                "Install alsa-utils (aplay) or pulseaudio-utils (paplay).",
            )
        return Check("audio", OK, ", ".join(parts))

    def check_logs(self) -> Check:
        s = self.s
        folder = s.log_dir
        problem = _probe_folder(folder)
        if problem:
            return Check("logs", FAIL, problem, f"Make {folder} writable by the kiosk's user.")
        used = sum(p.stat().st_size for p in folder.glob("kiosk.log*"))
        cap = s.log_max_bytes * (s.log_backups + 1)
        return Check(
            "logs",
            OK,
            f"{folder}: {used / 2**20:.1f} MB used, rotated at "
            f"{s.log_max_bytes / 2**20:.1f} MB x {s.log_backups + 1} files "
            f"(at most {cap / 2**20:.1f} MB)",
        )


def check_card_reader(s, list_readers: Callable[[], list[str]] | None = None) -> Check:
    """The PC/SC readers pcscd lists; FAIL on a virtual (vpcd) reader outside demo mode:
    anyone who reaches its port could present a forged chip."""
    from kiosk.hardware.cardreader import NoReaderError, PcscReader
    from kiosk.services.icao9303.pa import load_trust_store

    if s.card_reader == "none":
        return Check("card_reader", WARN, "chip reading switched off (card_reader = none)", "")
    if s.card_reader == "sim":
        status = WARN if s.demo else FAIL
        return Check(
            "card_reader",
            status,
            "simulated card reader (card_reader = sim): it holds a demo card only",
            "Set card_reader = auto and plug in a PC/SC contactless reader.",
        )
    try:
        names = (list_readers or PcscReader().readers)()
    except NoReaderError as exc:
        names, error = [], exc.detail
    else:
        error = ""
    virtual = [n for n in names if "virtual pcd" in n.lower()]
    if virtual and not s.demo:
        return Check(
            "card_reader",
            FAIL,
            f"virtual reader in production: {', '.join(virtual)}",
            "Remove the vsmartcard-vpcd package (apt-get remove vsmartcard-vpcd) and restart "
            "pcscd: its reader accepts cards from the network.",
        )
    if not names:
        return Check(
            "card_reader",
            WARN,
            error or "no PC/SC reader: identity comes from the QR code only",
            "Plug in a contactless (NFC) PC/SC reader; check `systemctl status pcscd`.",
        )
    trust = load_trust_store(s.chip_csca) if s.chip_csca else []
    detail = f"{len(names)} reader(s): {', '.join(names)}; {len(trust)} CSCA certificate(s)"
    if not trust:
        return Check(
            "card_reader",
            WARN,
            detail + ": chips are read as chip_unverified",
            "Set chip_csca to the CSCA certificates or master list the province provides.",
        )
    return Check("card_reader", OK, detail)


def _probe_folder(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (created if missing), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".doctor-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or exc}"
    return None


def _gui_app():
    # A QApplication (not just a QGuiApplication): whatever runs next in this process,
    # e.g. the system printer or a widget, finds the kind of application it needs.
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(sys.argv[:1])
    return app


def render(results: list[Check], out: Callable[[str], None] = print) -> None:
    width = max(len(c.name) for c in results) if results else 5
    out(f"{'CHECK'.ljust(width)}  STATUS  DETAIL")
    indent = " " * (width + 10)
    for c in results:
        out(f"{c.name.ljust(width)}  {c.status.ljust(6)}  {c.detail}")
        if c.status != OK and c.fix:
            out(
                textwrap.fill(
                    f"-> what to do: {c.fix}",
                    100,
                    initial_indent=indent,
                    subsequent_indent=indent + "   ",
                    break_on_hyphens=False,
                )
            )
    fails = sum(c.status == FAIL for c in results)
    warns = sum(c.status == WARN for c in results)
    out("")
    out(
        "ALL OK"
        if not fails and not warns
        else f"{fails} FAIL, {warns} WARN"
        + (": citizens cannot be served properly" if fails else "")
    )


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check camera, printer, portal, clock, disk, data")
    p.add_argument(
        "--min-free-mb",
        type=int,
        default=500,
        help="disk space below which the disk check fails (default 500)",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for each portal call")
    p.add_argument(
        "--only",
        nargs="+",
        choices=CHECKS,
        metavar="CHECK",
        help=f"run only these checks: {', '.join(CHECKS)}",
    )
    p.set_defaults(func=handle)


def handle(args) -> int:
    from kiosk.config import SettingsError, load_settings

    started = time.perf_counter()
    try:
        settings = load_settings()
    except SettingsError as exc:
        render([Check("settings", FAIL, str(exc), "Correct that value in the settings file.")])
        return 1
    doctor = Doctor(settings, args.min_free_mb, args.timeout)
    try:
        results = doctor.run(args.only)
    finally:
        doctor.close()
    render(results)
    print(f"({time.perf_counter() - started:.1f} s)")
    return 1 if any(c.status == FAIL for c in results) else 0
