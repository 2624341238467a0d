"""Recorded speech: loudness as ITU-R BS.1770 measures it, silence trimmed, bad takes
refused with a reason; the microphones behind one interface (simulated, and arecord run as
a real process)."""

from __future__ import annotations

import io
import os
import stat
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.hardware.microphone import (
    ArecordMicrophone,
    MicrophoneError,
    SimulatedMicrophone,
    make_microphone,
)
from kiosk.services.recording import TakeRefused, loudness, process_take, read_wav, write_wav


def tone(seconds: float, rate: int = 16000, amplitude: float = 0.1, hz: float = 1000):
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def wav(x: np.ndarray, rate: int = 16000, channels: int = 1) -> bytes:
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm, channels)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_a_1khz_tone_at_minus_20_dbfs_measures_minus_23_lufs(rate):
    # BS.1770: a 0 dBFS 1 kHz sine reads -3.01 LUFS on one channel.
    assert loudness(tone(3, rate), rate) == pytest.approx(-23.01, abs=0.1)
    assert loudness(tone(3, rate, amplitude=0.01), rate) == pytest.approx(-43.01, abs=0.1)


def test_a_recorded_digit_under_one_gating_block_is_measured_not_refused():
    take = process_take(wav(tone(0.3)))
    assert 0.25 <= take.seconds <= 0.5
    assert take.lufs == pytest.approx(-20, abs=1.5)


def test_silence_is_trimmed_and_the_take_becomes_16khz_mono_at_one_loudness():
    rate = 44100
    x = np.concatenate([np.zeros(rate), tone(1.0, rate, amplitude=0.02), np.zeros(rate)])
    take = process_take(wav(x, rate, channels=2))
    samples, out_rate = read_wav(take.wav)
    assert out_rate == 16000 and len(samples) / 16000 == pytest.approx(take.seconds)
    assert 1.0 <= take.seconds <= 1.3  # one second of tone, a little padding
    assert take.measured_lufs == pytest.approx(-37.0, abs=0.3)
    assert take.lufs == pytest.approx(-20.0, abs=0.3)
    with wave.open(io.BytesIO(take.wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)


@pytest.mark.parametrize(
    ("signal", "key"),
    [
        (np.clip(tone(1, amplitude=2.0), -1, 1), "recording.err.clipped"),
        (tone(1, amplitude=0.002), "recording.err.too_quiet"),
        (np.zeros(16000), "recording.err.empty"),
        (tone(0.05), "recording.err.too_short"),
    ],
)
def test_a_bad_take_is_refused_with_its_reason(signal, key):
    with pytest.raises(TakeRefused) as err:
        process_take(wav(signal))
    assert err.value.key == key


def test_too_long_and_unreadable_takes_are_refused():
    with pytest.raises(TakeRefused) as err:
        process_take(wav(tone(3)), max_seconds=2)
    assert err.value.key == "recording.err.too_long"
    with pytest.raises(TakeRefused) as err:
        process_take(b"OggS not a wav")
    assert err.value.key == "recording.err.unreadable"


def test_every_refusal_reason_reads_in_vietnamese_and_english():
    from kiosk.services.i18n import Translator

    t = Translator.from_resources()
    for key in ("clipped", "too_quiet", "empty", "too_short", "too_long", "unreadable"):
        assert t.has(f"recording.err.{key}", "vi") and t.has(f"recording.err.{key}", "en")


def test_the_simulated_microphone_hands_over_its_file(tmp_path):
    source = tmp_path / "voice.wav"
    source.write_bytes(wav(tone(2)))
    mic = SimulatedMicrophone(source)
    mic.start()
    assert mic.recording()
    take = process_take(mic.stop())
    assert take.seconds == pytest.approx(2.0, abs=0.2) and not mic.recording()
    with pytest.raises(MicrophoneError):
        mic.stop()
    live = SimulatedMicrophone(source, realtime=True)
    live.start()
    assert len(read_wav(live.stop())[0]) < 1600  # stopped at once: almost nothing said
    shipped = make_microphone("simulated")
    shipped.start()
    shipped._started -= 5  # five seconds have passed
    assert process_take(shipped.stop()).seconds > 1


def _fake_arecord(tmp_path: Path, body: str) -> str:
    script = tmp_path / "arecord"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_arecord_is_run_as_a_real_process_and_its_pcm_becomes_the_take(tmp_path):
    raw = tmp_path / "speech.raw"
    raw.write_bytes(np.round(tone(1.5) * 32767).astype("<i2").tobytes())
    args = tmp_path / "args"
    mic = ArecordMicrophone("plughw:1", _fake_arecord(tmp_path, f'echo "$@" > {args}; cat {raw}'))
    mic.start()
    while mic.level() == 0 and mic.elapsed() < 5:
        pass
    take = process_take(mic.stop())
    assert take.seconds == pytest.approx(1.5, abs=0.2)
    assert "-D plughw:1 -f S16_LE -r 16000 -c 1" in args.read_text()


def test_a_failing_arecord_says_why(tmp_path):
    mic = ArecordMicrophone(arecord=_fake_arecord(tmp_path, 'echo "no such device" >&2; exit 1'))
    mic.start()
    mic._proc.wait(timeout=30)  # it fails by itself (stopped earlier, it would say nothing)
    with pytest.raises(MicrophoneError, match="no such device"):
        mic.stop()
    missing = ArecordMicrophone(arecord=os.devnull + "-missing")
    with pytest.raises(MicrophoneError):
        missing.start()


def test_write_wav_round_trips():
    x = tone(0.5)
    y, rate = read_wav(write_wav(x))
    assert rate == 16000 and np.max(np.abs(x - y)) < 1e-4
