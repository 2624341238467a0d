"""Recorded speech made fit to be played at a kiosk: a spoken prompt recorded in the
language studio, a notice's message, a citizen's voice feedback.

A take is converted to 16 kHz 16-bit mono WAV, its leading and trailing silence trimmed, and
its loudness measured as ITU-R BS.1770-4 / EBU R128 specify (K-weighting, 400 ms blocks,
absolute and relative gates) and brought to one level, so every prompt plays equally loud.
A take that clipped, is too quiet, too short or too long is refused with a reason key
(`recording.err.*`) that the kiosk shows and speaks.

Short takes matter: a recorded digit of the number kit lasts 0.3 s, under one 400 ms gating
block (pyloudnorm refuses such clips); such a take is measured as one block.

Numpy only: the K-weighting filter is applied in the frequency domain, block by block
(Parseval), which is exact for the mean square that BS.1770 needs, up to block edges.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass

import numpy as np

RATE = 16000
TARGET_LUFS = -20.0  # speech on a kiosk's small speaker; EBU R128 broadcast is -23
PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS after normalising
QUIET_LUFS = -50.0
CLIP_LEVEL = 0.999
CLIP_SHARE = 0.001  # more than 0.1 % of samples at full scale: the take clipped
SILENCE_DB = -65.0  # frames below this (and 35 dB under the loudest) are silence
PAD_S = 0.08


class TakeRefused(ValueError):
    """`key` is a catalogue key saying why (shown and spoken), `detail` the figures."""

    def __init__(self, key: str, detail: str) -> None:
        self.key, self.detail = key, detail
        super().__init__(f"{key}: {detail}")


@dataclass(frozen=True)
class Take:
    wav: bytes  # 16 kHz, 16-bit, mono
    seconds: float
    lufs: float  # loudness after normalising
    measured_lufs: float  # loudness as recorded
    peak_dbfs: float


# ------------------------------------------------------------------------------- WAV io


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Samples as float64 mono in -1..1, and the sample rate."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TakeRefused("recording.err.unreadable", str(exc)) from exc
    if width == 1:
        x = (np.frombuffer(frames, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        x = np.frombuffer(frames, "<i2").astype(np.float64) / 32768
    elif width == 3:
        b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / (1 << 23)
    elif width == 4:
        x = np.frombuffer(frames, "<i4").astype(np.float64) / 2**31
    else:
        raise TakeRefused("recording.err.unreadable", f"{width * 8}-bit samples")
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    return x, rate


def write_wav(x: np.ndarray, rate: int = RATE) -> bytes:
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def resample(x: np.ndarray, rate: int, to: int = RATE) -> np.ndarray:
    if rate == to or len(x) == 0:
        return x
    n = round(len(x) * to / rate)
    if to < rate:  # a crude low-pass against aliasing: average over the step
        k = max(1, round(rate / to))
        x = np.convolve(x, np.ones(k) / k, mode="same")
    return np.interp(np.arange(n) * rate / to, np.arange(len(x)), x)


# ---------------------------------------------------------------------------- loudness


def _biquad_response(b, a, freqs: np.ndarray, rate: int) -> np.ndarray:
    z = np.exp(-1j * 2 * np.pi * freqs / rate)
    return (b[0] + b[1] * z + b[2] * z**2) / (a[0] + a[1] * z + a[2] * z**2)


def k_weighting_power(n: int, rate: int) -> np.ndarray:
    """|H(f)|² of the BS.1770 K-weighting filter at the rfft bins of an n-sample block,
    designed for any sample rate as libebur128 does (the standard tabulates 48 kHz)."""
    freqs = np.fft.rfftfreq(n, 1 / rate)
    # Stage 1: the head's high shelf (+4 dB above ~1.7 kHz).
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0)
    a1 = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    # Stage 2: the RLB high-pass (~38 Hz).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    b2 = (1.0, -2.0, 1.0)
    a2 = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    h = _biquad_response(b1, a1, freqs, rate) * _biquad_response(b2, a2, freqs, rate)
    return np.abs(h) ** 2


def _block_power(block: np.ndarray, weight: np.ndarray) -> float:
    n = len(block)
    spectrum = np.abs(np.fft.rfft(block)) ** 2
    spectrum[1 : (n + 1) // 2] *= 2  # the other half of the spectrum
    return float(np.sum(spectrum * weight) / (n * n))


def loudness(x: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS (mono); -inf for silence."""
    if len(x) == 0:
        return float("-inf")
    size, step = round(0.4 * rate), round(0.1 * rate)
    if len(x) < size:
        powers = np.array([_block_power(x, k_weighting_power(len(x), rate))])
    else:
        weight = k_weighting_power(size, rate)
        starts = range(0, len(x) - size + 1, step)
        powers = np.array([_block_power(x[s : s + size], weight) for s in starts])
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(powers)
    kept = powers[block_lufs > -70]
    if len(kept) == 0:
        return float("-inf")
    relative = -0.691 + 10 * math.log10(kept.mean()) - 10
    with np.errstate(divide="ignore"):
        kept = kept[-0.691 + 10 * np.log10(kept) > relative]
    return -0.691 + 10 * math.log10(kept.mean())


# ---------------------------------------------------------------------------- the take


def trim_silence(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    frame = max(1, round(0.02 * rate))
    n = len(x) // frame
    if n == 0:
        return x[:0]
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    threshold = max(SILENCE_DB, db.max() - 35)
    loud = np.flatnonzero(db > threshold)
    if len(loud) == 0:
        return x[:0]
    pad = round(PAD_S * rate)
    return x[max(0, loud[0] * frame - pad) : min(len(x), (loud[-1] + 1) * frame + pad)]


def process_take(data: bytes, *, min_seconds: float = 0.15, max_seconds: float = 120.0) -> Take:
    """The take as the kiosk keeps it, or TakeRefused with the reason."""
    x, rate = read_wav(data)
    if len(x) == 0:
        raise TakeRefused("recording.err.empty", "no samples")
    clipped = float(np.mean(np.abs(x) >= CLIP_LEVEL))
    if clipped > CLIP_SHARE:
        raise TakeRefused("recording.err.clipped", f"{clipped:.2%} of samples at full scale")
    x = trim_silence(resample(x, rate))
    seconds = len(x) / RATE
    if seconds == 0:
        raise TakeRefused("recording.err.empty", "only silence")
    if seconds < min_seconds:
        raise TakeRefused("recording.err.too_short", f"{seconds:.2f} s of speech")
    if seconds > max_seconds:
        raise TakeRefused("recording.err.too_long", f"{seconds:.0f} s, at most {max_seconds:.0f}")
    measured = loudness(x, RATE)
    if measured < QUIET_LUFS:
        raise TakeRefused("recording.err.too_quiet", f"{measured:.1f} LUFS")
    gain = 10 ** ((TARGET_LUFS - measured) / 20)
    peak = float(np.max(np.abs(x)))
    gain = min(gain, PEAK_CEILING / peak) if peak > 0 else gain
    y = x * gain
    return Take(
        write_wav(y),
        seconds,
        loudness(y, RATE),
        measured,
        20 * math.log10(max(float(np.max(np.abs(y))), 1e-9)),
    )
