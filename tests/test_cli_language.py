"""The installer's tools: every command speaks the kiosk's language (Vietnamese unless
told), says where a wrong value came from, `setup` checks each answer as it is typed and
`doctor` checks the devices by using them. Commands run as a installer runs them: in a
subprocess, on a real pseudo-terminal where a terminal matters."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.clitext import Cli, cli_language
from kiosk.commands.doctor import FAIL, OK, WARN, Doctor, play_tone
from kiosk.config import Source, load_settings
from kiosk.services.i18n import load_catalogues
from tests.deploy_helpers import ROOT, fake_players, kiosk_env, run_cli, set_up_kiosk, setup_file

VIETNAMESE_MARKS = re.compile("[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "OPENCV_"))}
    config = folder / "settings.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch()
    env.update(
        KIOSK_DATA_DIR=str(folder / "data"),
        KIOSK_CONFIG=str(config),
        PYTHONPATH=str(ROOT),
        QT_QPA_PLATFORM="offscreen",
        **extra,
    )
    return env


def _kiosk(*argv: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *argv],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_cli_key_is_in_vietnamese_and_english():
    catalogues = load_catalogues(ROOT / "resources" / "i18n")
    vi = {k for k in catalogues["vi"] if k.startswith("cli.")}
    en = {k for k in catalogues["en"] if k.startswith("cli.")}
    assert vi and vi == en, sorted(vi ^ en)
    # Same placeholders in both languages, so no value is lost in translation.
    field = re.compile(r"\{(\w+)")
    for key in vi:
        assert set(field.findall(catalogues["vi"][key])) == set(
            field.findall(catalogues["en"][key])
        ), key


def test_language_comes_from_the_option_then_the_environment_then_the_settings(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('lang = "en"\n', encoding="utf-8")
    assert cli_language([], {"KIOSK_CONFIG": str(config)}) == "en"
    assert cli_language([], {"KIOSK_CONFIG": str(config), "KIOSK_LANG": "vi"}) == "vi"
    assert cli_language(["--lang", "vi", "doctor"], {"KIOSK_LANG": "en"}) == "vi"
    assert cli_language(["--lang=en", "doctor"], {}) == "en"
    # A command's own --lang (the receipt's language) is not the messages' language.
    assert cli_language(["receipt", "--lang", "en"], {"KIOSK_CONFIG": str(tmp_path / "x")}) == "vi"


def test_help_is_translated(capsys):
    with pytest.raises(SystemExit):
        run_cli("--lang", "vi", "doctor", "--help")
    vi = capsys.readouterr().out
    assert "cách dùng:" in vi and "tùy chọn" in vi and "kiểm tra camera" in vi
    with pytest.raises(SystemExit):
        run_cli("--lang", "en", "doctor", "--help")
    en = capsys.readouterr().out
    assert "usage:" in en and "check the camera" in en


# --- setup ----------------------------------------------------------------------------------


def test_setup_without_a_terminal_or_a_file_says_so_in_one_line(tmp_path):
    done = _kiosk("setup", env=_env(tmp_path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "--from" in lines[0] and VIETNAMESE_MARKS.search(lines[0])
    english = _kiosk("--lang", "en", "setup", env=_env(tmp_path))
    assert english.returncode == 2 and "no terminal" in english.stderr
    assert not (tmp_path / "data" / "kiosk.db").exists()  # nothing was made


class Terminal:
    """`python -m kiosk ARGS` on a real pseudo-terminal: what a person at the keyboard sees."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the kiosk, with the terminal as its own
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "kiosk", *argv], env)
        self.seen = ""

    def read_until(self, pattern: str, timeout: float = 60) -> str:
        """Everything shown from here up to `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while not re.search(pattern, self.seen[start:]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {pattern!r}; the screen shows:\n{self.seen}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {pattern!r}:\n{self.seen}")
                self.seen += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")
        return self.seen[start:]

    def type(self, text: str) -> None:
        os.write(self.fd, (text + "\r").encode("utf-8"))

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_setup_asks_again_at_once_after_a_bad_url(tmp_path):
    term = Terminal(["--lang", "en", "setup", "--no-doctor"], _env(tmp_path))
    try:
        term.read_until(r"Service point identity.*: $")
        term.type("QN-BL-DONGVAN-01")
        term.read_until(r"Portal API address.*: $")
        term.type("notaurl")
        # The same question again, at once: no other question in between.
        between = term.read_until(r"Portal API address.*: $")
        assert "'notaurl' is not valid" in between and "https://" in between
        assert "token" not in between.lower()
        term.type("ftp://portal.example.gov.vn/api/v1")
        assert "is not valid" in term.read_until(r"Portal API address.*: $")
        term.type("https://portal.example.gov.vn/api/v1")
        term.read_until(r"Portal token.*: $")  # the next question only now
    finally:
        term.close()
    assert not (tmp_path / "data" / "kiosk.db").exists()


def test_setup_in_vietnamese_checks_phone_and_prefix_as_typed(tmp_path):
    term = Terminal(["setup", "--no-doctor"], _env(tmp_path))
    try:
        term.read_until(r"Mã điểm phục vụ.*: $")
        term.type("KIOSK-DEMO-01")  # the demo's identity is refused at once
        assert "bản trình diễn" in term.read_until(r"Mã điểm phục vụ.*: $")
        term.type("QN-BL-DONGVAN-01")
        term.read_until(r"Địa chỉ API.*: $")
        term.type("https://portal.example.gov.vn/api/v1")
        term.read_until(r"Mã truy cập cổng.*: $")
        term.type("token")
        term.read_until(r"Khóa bí mật.*: $")
        term.type("secret")
        shown = term.read_until(r"Tên xã.*: $")
        # No demo commune offered as the answer for a real installation.
        assert "Minh Khai" not in shown
        term.type("")
        assert "cần có câu trả lời" in term.read_until(r"Tên xã.*: $")
        term.type("UBND xã Đồng Văn")
        term.read_until(r"Tiền tố.*: $")
        term.type("OL")  # O and L are not in the receipt alphabet
        assert "không hợp lệ" in term.read_until(r"Tiền tố.*: $")
        term.type("DV01")
        term.read_until(r"Số điện thoại.*: $")
        term.type("gọi xã")
        assert "không hợp lệ" in term.read_until(r"Số điện thoại.*: $")
        term.type("0215 3800 123")
        term.read_until(r"Tên đăng nhập.*: $")
    finally:
        term.close()


def test_setup_from_a_file_takes_no_demo_values(tmp_path, monkeypatch, capsys):
    kiosk_env(monkeypatch, tmp_path)
    path = setup_file(tmp_path)
    path.write_text(path.read_text().replace('support_phone = "0215 3800 123"\n', ""))
    assert run_cli("--lang", "en", "setup", "--from", str(path)) == 1
    err = capsys.readouterr().err
    assert "lacks support_phone" in err and len(err.strip().splitlines()) == 1
    bad = setup_file(tmp_path, support_phone="call the commune")
    assert run_cli("--lang", "en", "setup", "--from", str(bad)) == 1
    assert "support_phone" in capsys.readouterr().err


def test_setup_ends_with_doctor(tmp_path, monkeypatch, capsys):
    kiosk_env(monkeypatch, tmp_path)
    fake_players(monkeypatch, tmp_path / "speakers")
    assert run_cli("setup", "--from", str(setup_file(tmp_path, camera="sim"))) == 0
    out = capsys.readouterr().out
    assert "Kiểm tra ki-ốt (kiosk doctor)" in out
    assert re.search(r"^khóa dữ liệu +TỐT", out, re.M)  # the key setup just made
    assert re.search(r"^cổng DVC +LỖI", out, re.M)  # nothing listens on 127.0.0.1:9


# --- doctor ---------------------------------------------------------------------------------


@pytest.fixture
def kiosk(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path, camera="sim")
    return load_settings()


def test_doctor_reports_the_players_failure(kiosk, tmp_path, monkeypatch):
    calls = fake_players(
        monkeypatch,
        tmp_path / "broken",
        code=1,
        message="aplay: main:831: audio open error: Device or resource busy",
    )
    doctor = Doctor(kiosk, cli=Cli.for_language("en"))
    try:
        [audio] = doctor.run(["audio"])
    finally:
        doctor.close()
    assert audio.status == FAIL
    assert "audio open error: Device or resource busy" in audio.detail
    assert "speakers" in audio.fix
    played = calls.read_text().splitlines()
    assert [line.split()[0] for line in played] == ["pw-play", "paplay", "aplay"]  # each tried


def test_doctor_passes_audio_with_a_working_player(kiosk, tmp_path, monkeypatch):
    calls = fake_players(monkeypatch, tmp_path / "fine")
    doctor = Doctor(kiosk, cli=Cli.for_language("en"))
    try:
        [audio] = doctor.run(["audio"])
    finally:
        doctor.close()
    assert audio.status in (OK, WARN) and "test tone played by pw-play" in audio.detail
    assert calls.read_text().splitlines()[0].startswith("pw-play ")  # it was given the tone


def test_a_tone_reaches_a_player_reading_stdin(tmp_path):
    sink = tmp_path / "sink.wav"
    assert play_tone(["sh", "-c", f"cat > {sink}"]) is None
    assert sink.read_bytes()[:4] == b"RIFF" and sink.stat().st_size > 4000
    assert "exit 3" in play_tone(["sh", "-c", "cat >/dev/null; echo busy >&2; exit 3"])


def test_doctor_in_vietnamese_without_opencv_noise(tmp_path):
    folder = tmp_path / "speakers"
    env = _env(tmp_path, KIOSK_LANG="vi")
    # A machine like this one: no camera (OpenCV would warn), aplay that fails.
    fake = folder / "aplay"
    folder.mkdir()
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'aplay: audio open error' >&2\nexit 1\n")
    fake.chmod(0o755)
    for name in ("pw-play", "paplay"):
        (folder / name).symlink_to(fake)
    env["PATH"] = f"{folder}{os.pathsep}{env['PATH']}"
    done = _kiosk("doctor", env=env)
    assert done.returncode == 1
    out = done.stdout
    assert "[ WARN" not in out + done.stderr and "VIDEOIO" not in out + done.stderr
    assert "Traceback" not in out + done.stderr
    assert out.splitlines()[0].split()[:2] == ["KIỂM", "TRA"]
    assert re.search(
        r"^âm thanh +LỖI +không phát được tiếng bíp thử: .*audio open error", out, re.M
    )
    assert re.search(r"^camera +LỖI", out, re.M)
    assert "-> cần làm: Cắm camera" in out
    assert len(VIETNAMESE_MARKS.findall(out)) > 100


def test_doctor_says_where_a_wrong_portal_address_came_from(kiosk, monkeypatch):
    en = Cli.for_language("en")
    monkeypatch.setenv("KIOSK_PORTAL_URL", "http://127.0.0.1:9/api/v1")
    from_env = load_settings()
    assert from_env.source("portal_url") == Source("env", "KIOSK_PORTAL_URL")
    doctor = Doctor(from_env, timeout=2.0, cli=en)
    try:
        [portal] = doctor.run(["portal"])
    finally:
        doctor.close()
    assert portal.status == FAIL
    assert "from the environment variable KIOSK_PORTAL_URL" in portal.detail
    assert "remove the environment variable KIOSK_PORTAL_URL" in portal.fix
    monkeypatch.delenv("KIOSK_PORTAL_URL")
    from_file = load_settings()
    config = os.environ["KIOSK_CONFIG"]
    assert from_file.source("portal_url") == Source("file", config)
    doctor = Doctor(from_file, timeout=2.0, cli=en)
    try:
        [portal] = doctor.run(["portal"])
    finally:
        doctor.close()
    assert portal.status == FAIL and f"from the settings file {config}" in portal.detail
    assert f"correct portal_url in the settings file {config}" in portal.fix


def test_a_wrong_setting_names_its_variable(tmp_path, monkeypatch, capsys):
    kiosk_env(monkeypatch, tmp_path, KIOSK_PORTAL_URL="notaurl")
    assert run_cli("--lang", "en", "doctor", "--only", "disk") == 1
    out = capsys.readouterr().out
    assert "portal_url = 'notaurl' (from the environment variable KIOSK_PORTAL_URL)" in out
    assert "remove the environment variable KIOSK_PORTAL_URL" in out
    monkeypatch.delenv("KIOSK_PORTAL_URL")
    config = Path(os.environ["KIOSK_CONFIG"])
    config.write_text('portal_url = "notaurl"\n', encoding="utf-8")
    assert run_cli("doctor", "--only", "disk") == 1
    out = capsys.readouterr().out
    assert (
        f"lấy từ tệp cài đặt {config}" in out
        and f"sửa portal_url trong tệp cài đặt {config}" in out
    )


# --- the demo's start -----------------------------------------------------------------------


def test_the_demo_prints_the_same_pin_at_each_start_and_a_clean_log(tmp_path):
    env = _env(tmp_path, KIOSK_DEMO="1", KIOSK_CAMERA="device", KIOSK_CAMERA_INDEX="97")
    pins = []
    for _ in range(2):
        done = _kiosk("run", "--windowed", "--exit-when-ready", env=env)
        assert done.returncode == 0, done.stderr
        assert "[ WARN" not in done.stdout + done.stderr
        [line] = [x for x in done.stdout.splitlines() if "demo-admin" in x]
        assert "BẢN TRÌNH DIỄN" in line
        pins.append(re.search(r"mã PIN (\d{6,12})", line).group(1))
    assert pins[0] == pins[1]
    assert (tmp_path / "data" / "demo-admin.pin").read_text().strip() == pins[0]
    log = (tmp_path / "data" / "logs" / "kiosk.log").read_text(encoding="utf-8")
    first = log.splitlines()[:5]
    assert not any("alembic.runtime.plugins" in line for line in first), first
    assert pins[0] not in log  # the PIN is printed for the person at the terminal only


def test_setup_status_says_what_is_missing(tmp_path, monkeypatch, capsys):
    kiosk_env(monkeypatch, tmp_path)
    assert run_cli("--lang", "en", "setup", "--status") == 1
    out = capsys.readouterr().out
    assert "not set up yet" in out and "no data key at" in out and "portal_token" in out
    set_up_kiosk(monkeypatch, tmp_path)
    capsys.readouterr()
    assert run_cli("setup", "--status") == 0
    assert "đã được thiết lập" in capsys.readouterr().out


def test_a_misspelt_setting_and_a_missing_settings_file(tmp_path, monkeypatch, capsys):
    config = kiosk_env(monkeypatch, tmp_path)
    config.write_text('portal_ulr = "https://portal.example.gov.vn/api/v1"\n', encoding="utf-8")
    assert run_cli("--lang", "en", "doctor", "--only", "disk") == 1
    out = capsys.readouterr().out
    assert f"The setting portal_ulr (from the settings file {config}) does not exist" in out
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "nowhere.toml"))
    assert run_cli("doctor", "--only", "disk") == 1
    out = capsys.readouterr().out
    assert "nowhere.toml" in out and "KIOSK_CONFIG chỉ tới không tồn tại" in out


def _help_texts(parser, prefix: str = "kiosk") -> dict[str, str]:
    """Every help text and description of `parser` and its sub-commands, by where it is."""
    import argparse

    texts = {f"{prefix}: description": parser.description or ""}
    for action in parser._actions:
        if action.help and action.help != argparse.SUPPRESS:
            texts[f"{prefix} {'/'.join(action.option_strings) or action.dest}"] = action.help
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                texts[f"{prefix} {choice.dest}: help"] = choice.help or ""
            for name, sub in action.choices.items():
                texts.update(_help_texts(sub, f"{prefix} {name}"))
    return texts


def test_every_commands_help_is_in_both_languages():
    from kiosk.cli import build_parser

    vi = _help_texts(build_parser(Cli.for_language("vi")))
    en = _help_texts(build_parser(Cli.for_language("en")))
    assert vi.keys() == en.keys()
    untranslated = [where for where, text in vi.items() if text and text == en[where]]
    raw_keys = [where for where, text in {**vi, **en}.items() if text.startswith("cli.")]
    # A command's help texts are catalogue keys (help="cli.<command>...") with their text
    # in resources/i18n/vi/cli.json and en/cli.json (or a file of the command's own).
    assert not untranslated and not raw_keys, (untranslated, raw_keys)
    assert vi["kiosk doctor: help"].startswith("kiểm tra camera")


def test_clerks_command_speaks_the_kiosks_language(tmp_path, monkeypatch, capsys):
    set_up_kiosk(monkeypatch, tmp_path)
    capsys.readouterr()
    assert run_cli("clerks", "list") == 0
    assert re.search(r"^admin\tquản trị viên\tđang hoạt động$", capsys.readouterr().out, re.M)
    assert run_cli("--lang", "en", "clerks", "unlock", "nobody") == 1
    assert "kiosk clerks: not done" in capsys.readouterr().err
    assert run_cli("clerks", "deactivate", "admin") == 0
    assert "Đã vô hiệu hoá tài khoản admin" in capsys.readouterr().out
    assert run_cli("--lang", "en", "clerks", "list") == 0
    assert re.search(r"^admin\tadmin\tdeactivated$", capsys.readouterr().out, re.M)
