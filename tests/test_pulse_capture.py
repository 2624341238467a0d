"""Real capture through a sound server: a PulseAudio daemon of the test's own (a temporary
runtime folder, a null sink), a known recording played into the sink, and the kiosk's
microphone (`parecord` on the sink's monitor) recording it; the take is checked for length
and loudness against what was played."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.hardware.microphone import ParecordMicrophone, make_microphone
from kiosk.paths import resource
from kiosk.services.recording import loudness, process_take, read_wav

VOICE = resource("samples", "voice", "sample.wav")
SINK = "kiosk_test_sink"


@pytest.fixture
def sound_server(tmp_path, monkeypatch):
    """A PulseAudio daemon on a socket in tmp_path, with one null sink at 16 kHz mono."""
    missing = [p for p in ("pulseaudio", "parecord", "paplay", "pactl") if not shutil.which(p)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt: pulseaudio pulseaudio-utils)")
    runtime = tmp_path / "pulse"
    runtime.mkdir(mode=0o700)
    socket = runtime / "native"
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime),
        "PULSE_STATE_PATH": str(runtime),
    }
    env.pop("PULSE_SERVER", None)
    log = runtime / "log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [
                "pulseaudio",
                "-n",  # no default.pa: only the modules below
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--log-target=stderr",
                "-L",
                f"module-native-protocol-unix socket={socket} auth-anonymous=1",
                "-L",
                f"module-null-sink sink_name={SINK} rate=16000 channels=1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = f"unix:{socket}"
    client_env = {**env, "PULSE_SERVER": server}
    try:
        deadline = time.monotonic() + 10
        while True:
            ready = subprocess.run(
                ["pactl", "list", "short", "sources"],
                env=client_env,
                capture_output=True,
                text=True,
                timeout=5,
            )
            if ready.returncode == 0 and f"{SINK}.monitor" in ready.stdout:
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.skip(
                    "the PulseAudio daemon cannot start here: "
                    + log.read_text(errors="replace")[-400:]
                )
            time.sleep(0.1)
        for key in ("XDG_RUNTIME_DIR", "HOME", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH"):
            monkeypatch.setenv(key, env[key])
        monkeypatch.setenv("PULSE_SERVER", server)  # parecord, run by the kiosk, finds it
        yield client_env
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def _play(env: dict, wav: Path) -> None:
    subprocess.run(["paplay", f"--device={SINK}", str(wav)], env=env, check=True, timeout=30)


def test_the_kiosk_records_what_is_played_into_the_sound_server(sound_server):
    mic = make_microphone("pulse", f"{SINK}.monitor")
    assert isinstance(mic, ParecordMicrophone)
    mic.start()
    try:
        time.sleep(0.5)  # parecord connected and reading (silence) before the voice starts
        _play(sound_server, VOICE)
        time.sleep(0.5)
    finally:
        raw = mic.stop()
    recorded, rate = read_wav(raw)
    source, source_rate = read_wav(VOICE.read_bytes())
    assert rate == 16000 == source_rate
    played = len(source) / rate
    # Everything played is in the take, with the silence around it; not much more.
    assert played + 0.5 <= len(recorded) / rate <= played + 3.0
    # The null sink passes the voice at unity gain: as loud as the file, by BS.1770.
    assert loudness(recorded, rate) == pytest.approx(loudness(source, rate), abs=1.5)
    assert np.max(np.abs(recorded)) == pytest.approx(np.max(np.abs(source)), rel=0.1)
    # The kiosk's take: the silence trimmed, as long as the voice in the file.
    take = process_take(raw)
    expected = process_take(VOICE.read_bytes())
    assert take.seconds == pytest.approx(expected.seconds, abs=0.25)
    assert take.lufs == pytest.approx(expected.lufs, abs=0.5)


def test_a_silent_take_through_the_server_is_refused(sound_server, tmp_path):
    from kiosk.services.recording import TakeRefused, write_wav

    silence = tmp_path / "silence.wav"
    silence.write_bytes(write_wav(np.zeros(16000)))
    mic = make_microphone("pulse", f"{SINK}.monitor")
    mic.start()
    time.sleep(0.3)
    _play(sound_server, silence)
    raw = mic.stop()
    assert len(read_wav(raw)[0]) >= 0.8 * 16000  # the second of silence was recorded
    with pytest.raises(TakeRefused) as err:
        process_take(raw)
    assert err.value.key in ("recording.err.empty", "recording.err.too_quiet")


def test_a_missing_source_says_why(sound_server):
    from kiosk.hardware.microphone import MicrophoneError

    mic = ParecordMicrophone("no_such_source")
    mic.start()
    time.sleep(0.5)
    with pytest.raises(MicrophoneError, match="no sound"):
        mic.stop()


def test_the_studio_records_a_prompt_through_the_sound_server(
    sound_server, kiosk_qapp, qtbot, tmp_path
):
    """The language studio's Record button with KIOSK_MICROPHONE=pulse: what the sound
    server hears becomes the take, then the saved recording."""
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views.shell import MainWindow
    from tests.test_studio import Taps

    settings = load_settings(
        env={},
        config_path=tmp_path / "none.toml",
        data_dir=str(tmp_path / "data"),
        speech="mock",
        microphone="pulse",
        microphone_device=f"{SINK}.monitor",
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    try:
        win.resize(1280, 1024)
        win.show()
        taps = Taps(qtbot)
        item = win.show_sample("studio_item")
        taps(item.record_button)
        assert isinstance(item.recorder.microphone, ParecordMicrophone)
        time.sleep(0.3)
        _play(sound_server, VOICE)
        taps(item.record_button)
        assert item.take is not None, item.message.text()
        taps(item.save_button)
        entry = ctx.studio.entries("tyz")[item.state["item"]]
        saved = ctx.studio.recording(entry.recording)
        assert saved is not None
        expected = process_take(VOICE.read_bytes())
        assert process_take(saved.read_bytes()).seconds == pytest.approx(expected.seconds, abs=0.25)
    finally:
        win.close()
        ctx.close()
