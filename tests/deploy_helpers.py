"""Helpers for the deployment tests: a set-up kiosk in a temporary folder, commands run
in-process with the environment they would see, and raw-byte searches for personal data."""

from __future__ import annotations

import os
import subprocess
import unicodedata
from pathlib import Path

import pytest

from kiosk.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin"
ADMIN_PIN = "482913"
CLERK = "clerk1"
CLERK_PIN = "735190"
KIOSK_ID = "QN-BL-DONGVAN-01"
SECRET = "bí-mật-ký-số"
TOKEN = "token-province-qn"


def kiosk_env(monkeypatch: pytest.MonkeyPatch, folder: Path, **extra: str) -> Path:
    """Point the kiosk's settings at `folder` (data, logs, settings file); return the file."""
    config = folder / "settings.toml"
    for name in [n for n in os.environ if n.startswith("KIOSK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    # With KIOSK_CONFIG set the file must exist; an empty one is an empty settings file.
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch()
    return config


def setup_file(
    folder: Path,
    portal_url: str = "http://127.0.0.1:9/api/v1",
    pin: str = ADMIN_PIN,
    key: Path | None = None,
    **settings: object,
) -> Path:
    values = {
        "kiosk_id": KIOSK_ID,
        "portal_url": portal_url,
        "portal_token": TOKEN,
        "secret": SECRET,
        "commune_name": "UBND xã Đồng Văn",
        "receipt_prefix": "DV01",
        "support_phone": "0215 3800 123",
        **settings,
    }
    lines = [
        "[admin]",
        f'username = "{ADMIN}"',
        'display_name = "Hoàng Văn Tú"',
        f'pin = "{pin}"',
        "",
        "[settings]",
    ]
    for name, value in values.items():
        text = (
            str(value).lower()
            if isinstance(value, bool)
            else (str(value) if isinstance(value, int) else f'"{value}"')
        )
        lines.append(f"{name} = {text}")
    if key is not None:
        lines += ["", "[key]", f'import = "{key}"']
    path = folder / "setup.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(*argv: str) -> int:
    return cli_main(list(argv))


def set_up_kiosk(monkeypatch: pytest.MonkeyPatch, folder: Path, **settings: object) -> Path:
    """A production kiosk set up through `kiosk setup --from`; returns the settings file.
    (Doctor, which setup runs at its end, is tested on its own.)"""
    config = kiosk_env(monkeypatch, folder)
    assert run_cli("setup", "--no-doctor", "--from", str(setup_file(folder, **settings))) == 0
    return config


def needles(*texts: str) -> list[bytes]:
    """Each text as UTF-8 bytes in NFC and in NFD."""
    out: list[bytes] = []
    for text in texts:
        for form in ("NFC", "NFD"):
            raw = unicodedata.normalize(form, text).encode("utf-8")
            if raw not in out:
                out.append(raw)
    return out


def pdf_text(path: Path) -> str:
    run = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return unicodedata.normalize("NFC", run.stdout.decode("utf-8"))


def find_plain(folders: list[Path], texts: list[str]) -> list[tuple[Path, str]]:
    """(file, form) for every file under `folders` whose raw bytes, or whose PDF text,
    hold one of `texts` in NFC or NFD."""
    hits: list[tuple[Path, str]] = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            for text in texts:
                for needle in needles(text):
                    if needle in raw:
                        hits.append((path, f"bytes:{text}"))
            if raw.startswith(b"%PDF-"):
                content = pdf_text(path)
                hits += [
                    (path, f"pdf:{t}") for t in texts if unicodedata.normalize("NFC", t) in content
                ]
    return hits


def fake_players(
    monkeypatch: pytest.MonkeyPatch, folder: Path, code: int = 0, message: str = ""
) -> Path:
    """Audio players (pw-play, paplay, aplay) on PATH that read what they are given and
    exit with `code`, printing `message` on stderr: a machine with working speakers
    (code 0) or with broken ones. Returns the file where they record their calls."""
    folder.mkdir(parents=True, exist_ok=True)
    calls = folder / "calls.log"
    for name in ("pw-play", "paplay", "aplay"):
        script = folder / name
        script.write_text(
            "#!/bin/sh\n"
            f'echo "{name} $*" >> "{calls}"\n'
            'if [ -z "$1" ] || [ "$1" = "-q" ]; then cat > /dev/null; fi\n'
            f'[ -n "{message}" ] && echo "{message}" >&2\n'
            f"exit {code}\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls
