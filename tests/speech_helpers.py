"""WAV files and stand-in audio players for the speech tests."""

from __future__ import annotations

import math
import struct
import sys
import time
import wave
from pathlib import Path

import numpy as np


def write_wav(
    path: Path,
    seconds: float = 0.3,
    rate: int = 16000,
    width: int = 2,
    amplitude: float = 0.5,
    channels: int = 1,
) -> Path:
    """A sine tone as PCM WAV of the given sample width."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    tone = amplitude * np.sin(2 * math.pi * 440 * np.arange(n) / rate)
    tone = np.repeat(tone, channels)
    if width == 1:
        raw = (tone * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = (tone * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = (tone * 8388607).astype(np.int32)
        raw = b"".join(struct.pack("<i", int(v))[:3] for v in ints)
    else:
        raw = (tone * 2147483647).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def samples(data_or_path: bytes | Path) -> np.ndarray:
    """The 16-bit samples of a WAV (file or bytes)."""
    src = str(data_or_path) if isinstance(data_or_path, Path) else _bytes_io(data_or_path)
    with wave.open(src, "rb") as w:
        assert w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int32)


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


def stdin_capture(out: Path) -> list[str]:
    """A player that writes what it is given on stdin into `out`."""
    code = "import sys,shutil; shutil.copyfileobj(sys.stdin.buffer, open(sys.argv[1], 'wb'))"
    return [sys.executable, "-c", code, str(out)]


def file_capture(out: Path) -> list[str]:
    """A player that is given a file name and copies that file to `out`."""
    code = "import sys,shutil; shutil.copy(sys.argv[1], sys.argv[2])"
    return [sys.executable, "-c", code, "{file}", str(out)]


def wait_until(condition, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
