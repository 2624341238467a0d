"""The audio engine with real files, real espeak-ng and real player processes."""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.hardware.speech import (
    AudioSpeech,
    MockSpeech,
    NullSpeech,
    Prompt,
    audit_recordings,
    make_speech,
    plan_for,
    scale_wav,
    synthesize,
)
from tests.speech_helpers import file_capture, samples, stdin_capture, wait_until, write_wav

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")


@pytest.fixture
def audio_dir(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    return folder


@pytest.fixture
def engines():
    made: list[AudioSpeech] = []
    yield made
    for engine in made:
        engine.close()


def engine_for(engines, audio_dir, players, espeak=ESPEAK, **kw) -> AudioSpeech:
    engine = AudioSpeech(audio_dir, players=players, espeak=espeak, **kw)
    engines.append(engine)
    return engine


def play(engine: AudioSpeech, prompt: Prompt, out) -> None:
    if out.exists():
        out.unlink()
    engine.speak(prompt)
    wait_until(lambda: not engine.is_speaking())


@needs_espeak
@pytest.mark.parametrize(
    "voice, text",
    [("vi", "Xin chào, hãy chạm vào màn hình"), ("en", "Hello, please touch the screen")],
)
def test_espeak_makes_a_wav(voice, text):
    data = synthesize(text, voice, ESPEAK)
    with wave.open(io.BytesIO(scale_wav(data, 1.0)), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 0.5
    assert np.abs(samples(scale_wav(data, 1.0))).max() > 1000  # speech, not silence


@needs_espeak
def test_recording_is_preferred_over_tts(engines, audio_dir, tmp_path):
    recorded = write_wav(audio_dir / "vi" / "home.prompt.wav")
    out = tmp_path / "heard.wav"
    engine = engine_for(engines, audio_dir, [stdin_capture(out)])
    play(engine, Prompt("home.prompt", "vi", "Xin chào"), out)
    assert engine.last_plan.source == "recording"
    assert np.array_equal(samples(out), samples(recorded))
    # No recording for this key: the Vietnamese voice reads the text.
    play(engine, Prompt("home.hint", "vi", "Chạm vào một ô"), out)
    assert engine.last_plan.source == "tts" and engine.last_plan.voice == "vi"
    heard = samples(out)
    assert len(heard) > 4000 and np.abs(heard).max() > 1000


def test_volume_scales_the_samples(engines, audio_dir, tmp_path):
    recorded = write_wav(audio_dir / "vi" / "k.wav", amplitude=0.8)
    out = tmp_path / "heard.wav"
    engine = engine_for(engines, audio_dir, [file_capture(out)], espeak=None)
    engine.set_volume(0.25)
    play(engine, Prompt("k", "vi", ""), out)
    expected = samples(recorded) * 0.25
    assert np.abs(samples(out) - expected).max() <= 1
    assert not list(tmp_path.glob("kiosk-prompt-*"))  # the temporary file is gone
    engine.set_volume(0.0)
    play(engine, Prompt("k", "vi", ""), out)
    assert np.abs(samples(out)).max() == 0


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_recordings_of_any_pcm_width_play_as_16_bit(tmp_path, width):
    path = write_wav(tmp_path / f"w{width}.wav", seconds=0.1, width=width, channels=2)
    data = scale_wav(path.read_bytes(), 0.5)
    with wave.open(io.BytesIO(data), "rb") as w:
        assert (w.getsampwidth(), w.getnchannels(), w.getnframes()) == (2, 2, 1600)
    peak = np.abs(samples(data)).max()
    assert 7000 < peak < 9000  # 0.5 amplitude at half volume


def test_stop_kills_a_long_playback_at_once(engines, audio_dir):
    write_wav(audio_dir / "vi" / "long.wav")
    engine = engine_for(engines, audio_dir, [["sleep", "30"]], espeak=None)
    started = time.monotonic()
    engine.speak(Prompt("long", "vi", ""))
    assert time.monotonic() - started < 0.1  # never blocks the caller
    wait_until(lambda: engine.player_pid is not None)
    pid = engine.player_pid
    assert engine.is_speaking()
    stopped = time.monotonic()
    engine.stop()
    wait_until(lambda: not engine.is_speaking(), timeout=2)
    assert time.monotonic() - stopped < 1.0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_a_new_prompt_replaces_the_one_playing(engines, audio_dir):
    write_wav(audio_dir / "vi" / "a.wav")
    write_wav(audio_dir / "vi" / "b.wav")
    engine = engine_for(engines, audio_dir, [["sleep", "30"]], espeak=None)
    engine.speak(Prompt("a", "vi", ""))
    wait_until(lambda: engine.player_pid is not None)
    first = engine.player_pid
    engine.speak(Prompt("b", "vi", ""))
    wait_until(lambda: engine.player_pid not in (None, first))
    assert engine.last_plan.path.name == "b.wav"
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)


def test_missing_player_is_logged_once_and_silent(engines, audio_dir, caplog):
    write_wav(audio_dir / "vi" / "k.wav")
    engine = engine_for(engines, audio_dir, [["/nonexistent/aplay"]], espeak=None)
    with caplog.at_level(logging.WARNING, "kiosk.hardware.speech"):
        for _ in range(3):
            engine.speak(Prompt("k", "vi", ""))
            wait_until(lambda: not engine.is_speaking())
    warnings = [r for r in caplog.records if "aplay" in r.getMessage()]
    assert len(warnings) == 1
    assert engine.players == [["/nonexistent/aplay"]]  # kept: a device may appear later


def test_no_player_at_all(engines, audio_dir, caplog):
    write_wav(audio_dir / "vi" / "k.wav")
    with caplog.at_level(logging.WARNING, "kiosk.hardware.speech"):
        engine = engine_for(engines, audio_dir, [], espeak=None)
        engine.speak(Prompt("k", "vi", ""))
        wait_until(lambda: not engine.is_speaking())
    assert any("no audio player" in r.getMessage() for r in caplog.records)


def test_a_failing_player_gives_way_to_the_next(engines, audio_dir, tmp_path, caplog):
    recorded = write_wav(audio_dir / "vi" / "k.wav")
    out = tmp_path / "heard.wav"
    engine = engine_for(engines, audio_dir, [["false"], stdin_capture(out)], espeak=None)
    with caplog.at_level(logging.WARNING, "kiosk.hardware.speech"):
        play(engine, Prompt("k", "vi", ""), out)
    assert np.array_equal(samples(out), samples(recorded))  # the same prompt, next player
    assert engine.players == [stdin_capture(out)]
    assert any("false" in r.getMessage() for r in caplog.records)


@needs_espeak
def test_a_broken_recording_falls_back_to_tts(engines, audio_dir, tmp_path, caplog):
    bad = audio_dir / "vi" / "home.prompt.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not a wav file")
    out = tmp_path / "heard.wav"
    engine = engine_for(engines, audio_dir, [stdin_capture(out)])
    with caplog.at_level(logging.WARNING, "kiosk.hardware.speech"):
        play(engine, Prompt("home.prompt", "vi", "Xin chào"), out)
    assert engine.last_plan.source == "tts"
    assert len(samples(out)) > 1000
    assert any("home.prompt.wav" in r.getMessage() for r in caplog.records)
    assert audit_recordings(audio_dir) == [(bad, audit_recordings(audio_dir)[0][1])]
    assert "not a PCM WAV" in audit_recordings(audio_dir)[0][1]


def test_languages_without_a_voice(audio_dir):
    voices = {"vi": "vi", "en": "en"}
    # The screen shows Vietnamese (no Tày text yet): the citizen hears Vietnamese.
    plan = plan_for(Prompt("k", "tyz", "Xin chào", text_lang="vi"), audio_dir, voices)
    assert (plan.source, plan.lang) == ("tts", "vi")
    # Tày text and no Tày recording: silence rather than Tày read by the Vietnamese voice.
    assert plan_for(Prompt("k", "tyz", "Pây lăng"), audio_dir, voices).source == "none"
    # A centre may allow it explicitly.
    plan = plan_for(Prompt("k", "tyz", "Pây lăng"), audio_dir, {**voices, "tyz": "vi"})
    assert (plan.source, plan.lang, plan.voice) == ("tts", "tyz", "vi")
    # A community recording wins, even before the text is translated.
    write_wav(audio_dir / "tyz" / "k.wav")
    plan = plan_for(Prompt("k", "tyz", "Xin chào", text_lang="vi"), audio_dir, voices)
    assert (plan.source, plan.lang) == ("recording", "tyz")
    # The Vietnamese recording serves a Tày screen that shows Vietnamese text.
    write_wav(audio_dir / "vi" / "j.wav")
    plan = plan_for(Prompt("j", "bru", "Xin chào", text_lang="vi"), audio_dir, voices)
    assert (plan.source, plan.lang) == ("recording", "vi")


def test_unsafe_keys_and_dynamic_prompts_skip_recordings(audio_dir, tmp_path):
    write_wav(tmp_path / "secret.wav")
    assert plan_for(Prompt("../../secret", "vi", ""), audio_dir, {}).source == "none"
    write_wav(audio_dir / "vi" / "queue.number.wav")
    assert plan_for(Prompt("queue.number", "vi", "Số 12"), audio_dir, {}).source == "recording"
    plan = plan_for(Prompt("queue.number", "vi", "Số 12", dynamic=True), audio_dir, {"vi": "vi"})
    assert plan.source == "tts"  # the recording says the template, not "12"


def test_make_speech(audio_dir):
    assert isinstance(make_speech("off", audio_dir), NullSpeech)
    assert isinstance(make_speech("mock", audio_dir), MockSpeech)
    engine = make_speech("auto", audio_dir, players=[])
    try:
        assert isinstance(engine, AudioSpeech)
        assert engine.voices == ({"vi": "vi", "en": "en"} if ESPEAK else {})
    finally:
        engine.close()
    with pytest.raises(ValueError, match="allowed"):
        make_speech("festival", audio_dir)


def test_close_stops_the_worker(audio_dir):
    write_wav(audio_dir / "vi" / "long.wav")
    engine = AudioSpeech(audio_dir, players=[["sleep", "30"]])
    engine.speak(Prompt("long", "vi", ""))
    wait_until(lambda: engine.player_pid is not None)
    engine.close()
    assert not engine._thread.is_alive()
    engine.speak(Prompt("long", "vi", ""))  # after close: ignored, no error
    assert not engine.is_speaking()


def test_speech_module_imports_no_qt():
    code = "import sys, kiosk.hardware.speech; print('PySide6' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    assert out.stdout.strip() == "False"


def test_a_voice_held_in_memory_plays_without_a_file_of_the_caller(
    engines, audio_dir, tmp_path, monkeypatch
):
    """A citizen's take played back to them: through a pipe to a player that reads stdin;
    a player that needs a file gets one in the private runtime folder, gone once played."""
    from kiosk.hardware.speech import PromptPlayer

    take = tmp_path / "take.wav"
    write_wav(take, seconds=0.5)
    wav = take.read_bytes()
    take.unlink()
    out = tmp_path / "heard.wav"
    engine = engine_for(engines, audio_dir, [stdin_capture(out)])
    player = PromptPlayer(engine)
    assert player.play_audio(wav, "tyz") == "spoken"
    wait_until(lambda: out.exists() and not engine.is_speaking())
    assert engine.last_plan.source == "recording" and engine.last_plan.path is None
    assert samples(out.read_bytes()).size == samples(wav).size
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    seen = tmp_path / "seen"
    code = (
        "import sys,shutil,os; shutil.copy(sys.argv[1], sys.argv[2]);"
        " open(sys.argv[3], 'w').write(os.path.dirname(sys.argv[1]))"
    )
    out2 = tmp_path / "heard2.wav"
    filed = engine_for(
        engines, audio_dir, [[sys.executable, "-c", code, "{file}", str(out2), str(seen)]]
    )
    assert PromptPlayer(filed).play_audio(wav, "tyz") == "spoken"
    wait_until(lambda: seen.exists() and not filed.is_speaking())
    assert seen.read_text() == str(runtime)
    assert list(runtime.iterdir()) == []  # removed once played
    assert PromptPlayer(filed).play_audio(b"not a wav", "tyz") == "spoken"
    assert filed.plan(Prompt("recording.playback", "tyz", "", audio=b"not a wav")).source == "none"
