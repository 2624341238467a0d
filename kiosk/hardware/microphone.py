"""Microphones: the kiosk records a spoken prompt (language studio, a clerk's notice) or a
citizen's voice message through one small interface.

- `ArecordMicrophone`: the ALSA capture device, recorded by `arecord` from alsa-utils as
  16 kHz 16-bit mono, read from its pipe by one thread. No Qt: the same code records from
  the command line and in tests.
- `ParecordMicrophone`: the same through the sound server (PulseAudio, or PipeWire's pulse
  service), recorded by `parecord` from pulseaudio-utils: a source by name, or the
  server's default.
- `SimulatedMicrophone`: plays a WAV file as if it were being spoken into the microphone
  (in real time, or at once), for demos and tests where no microphone exists.

A take goes through `kiosk.services.recording.process_take` before it is kept.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import threading
import time
import wave
from abc import ABC, abstractmethod
from pathlib import Path

RATE = 16000


class MicrophoneError(RuntimeError):
    """The microphone cannot record; the message says why, for IT."""


def pcm_to_wav(pcm: bytes, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm[: len(pcm) // 2 * 2])
    return buf.getvalue()


class Microphone(ABC):
    """start(), then stop() returns the take as WAV bytes (16-bit mono)."""

    max_seconds: float = 120.0

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> bytes: ...

    @abstractmethod
    def elapsed(self) -> float:
        """Seconds recorded so far (0 when not recording)."""

    @abstractmethod
    def recording(self) -> bool: ...

    def level(self) -> float:
        """The last loudness seen, 0..1, for a meter (0 when unknown)."""
        return 0.0

    def close(self) -> None:
        if self.recording():
            with contextlib.suppress(MicrophoneError):
                self.stop()


class SimulatedMicrophone(Microphone):
    """Plays `source` (a WAV file or bytes) as the take. `realtime=False`: the whole file is
    the take whenever stop() is called (tests); else only what 'was spoken' so far."""

    def __init__(self, source: Path | bytes, *, realtime: bool = False) -> None:
        self.source = source
        self.realtime = realtime
        self._started: float | None = None
        self.takes = 0

    def _pcm(self) -> tuple[bytes, int]:
        data = self.source if isinstance(self.source, bytes) else self.source.read_bytes()
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                return data, 0  # handed over as it is: the take's checks say what is wrong
            return w.readframes(w.getnframes()), w.getframerate()

    def start(self) -> None:
        if self._started is not None:
            raise MicrophoneError("already recording")
        self._started = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def recording(self) -> bool:
        return self._started is not None

    def stop(self) -> bytes:
        if self._started is None:
            raise MicrophoneError("not recording")
        spoken = min(self.elapsed(), self.max_seconds)
        self._started = None
        self.takes += 1
        pcm, rate = self._pcm()
        if rate == 0:
            return pcm
        if self.realtime:
            pcm = pcm[: int(spoken * rate) * 2]
        return pcm_to_wav(pcm, rate)


class PipeMicrophone(Microphone):
    """A recorder program writing raw 16 kHz 16-bit mono to its standard output."""

    program_name = ""
    package = ""

    def __init__(self, device: str = "default", program: str | None = None) -> None:
        self.device = device
        self.program = program or shutil.which(self.program_name)
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._chunks: list[bytes] = []
        self._started = 0.0
        self._level = 0.0
        self._error = ""

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        if self.program is None:
            raise MicrophoneError(
                f"{self.program_name} is not installed (Debian package {self.package})"
            )
        if self._proc is not None:
            raise MicrophoneError("already recording")
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise MicrophoneError(f"{self.program_name} cannot start: {exc}") from exc
        self._chunks, self._level, self._error = [], 0.0, ""
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._read, name="microphone", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while chunk := proc.stdout.read(3200):  # 0.1 s
            self._chunks.append(chunk)
            samples = memoryview(chunk[: len(chunk) // 2 * 2]).cast("h")
            self._level = max((abs(s) for s in samples), default=0) / 32768
        if proc.stderr is not None:
            self._error = proc.stderr.read().decode(errors="replace").strip()[-300:]

    def elapsed(self) -> float:
        return 0.0 if self._proc is None else time.monotonic() - self._started

    def recording(self) -> bool:
        return self._proc is not None

    def level(self) -> float:
        return self._level

    def stop(self) -> bytes:
        proc, thread = self._proc, self._thread
        if proc is None or thread is None:
            raise MicrophoneError("not recording")
        self._proc = self._thread = None
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        thread.join(timeout=3)
        pcm = b"".join(self._chunks)
        if not pcm:
            reason = self._error or f"exit {proc.returncode}"
            raise MicrophoneError(f"the microphone gave no sound ({reason})")
        return pcm_to_wav(pcm)


class ArecordMicrophone(PipeMicrophone):
    """Records with `arecord -D DEVICE -f S16_LE -r 16000 -c 1 -t raw` (alsa-utils)."""

    program_name = "arecord"
    package = "alsa-utils"

    def __init__(self, device: str = "default", arecord: str | None = None) -> None:
        super().__init__(device, arecord)

    @property
    def arecord(self) -> str | None:
        return self.program

    def command(self) -> list[str]:
        cmd = [self.program, "-q", "-D", self.device, "-f", "S16_LE", "-r", str(RATE), "-c", "1"]
        return [*cmd, "-t", "raw", "-d", str(int(self.max_seconds) + 1)]


class ParecordMicrophone(PipeMicrophone):
    """Records from the sound server with `parecord --raw` (pulseaudio-utils): `device` is a
    source name (`pactl list short sources`), "default" the server's default source. The
    server is the user's, or the one PULSE_SERVER names."""

    program_name = "parecord"
    package = "pulseaudio-utils"

    def command(self) -> list[str]:
        cmd = [self.program, "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1"]
        cmd += ["--latency-msec=100", "--client-name=kiosk"]
        if self.device and self.device != "default":
            cmd.append(f"--device={self.device}")
        return cmd


def make_microphone(kind: str, device: str = "default", sample: Path | None = None) -> Microphone:
    """The microphone for the `microphone` setting: alsa (arecord), pulse (parecord, the
    sound server) or simulated."""
    if kind == "simulated":
        if sample is None:
            from kiosk.paths import resource

            sample = resource("samples", "voice", "sample.wav")
        return SimulatedMicrophone(sample, realtime=True)
    if kind == "alsa":
        return ArecordMicrophone(device)
    if kind == "pulse":
        return ParecordMicrophone(device)
    raise ValueError(f"unknown microphone {kind!r}; allowed: alsa, pulse, simulated")
