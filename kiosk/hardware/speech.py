"""Spoken prompts (no Qt here).

For a prompt (a translation key in a language) the engine plays, in this order:

1. a recording `resources/audio/<lang>/<key>.wav` made by a speaker of the language
   (see resources/audio/README.md);
2. text-to-speech with espeak-ng, for languages with a voice (vi and en);
3. when the screen text itself has fallen back to Vietnamese (no translation of that key
   in the citizen's language yet), the Vietnamese recording or the Vietnamese voice:
   the citizen then hears what the screen shows;
4. otherwise nothing. A text written in Tày, Mnong or Bru is never read with the
   Vietnamese voice by default: mispronounced speech in a citizen's own language is worse
   than silence. A centre whose community finds it acceptable can map the language to a
   voice (`voices={"tyz": "vi", ...}`).

Audio goes to the first working player of `aplay`/`paplay`/`pw-play` in a worker thread.
No player or no sound device is logged once and the kiosk carries on silently.
`speak()` never blocks; a new prompt or `stop()` kills the current playback at once.

`PromptPlayer` is the policy a screen hook calls: mute and volume from the session, and
personal data (names, ID numbers, addresses) is only ever spoken into headphones
(EN 301 549 §5.1.3).
"""

from __future__ import annotations

import array
import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kiosk.services.i18n import FALLBACK
from kiosk.services.text import nfc

log = logging.getLogger(__name__)

SOURCES = ("recording", "tts", "none")
# Languages espeak-ng can speak well enough; tyz, ium and bru have no voice.
DEFAULT_VOICES: Mapping[str, str] = {"vi": "vi", "en": "en"}
WITHHELD_KEY = "speech.withheld"
# Players tried in this order; "{file}" means the player is given a file, else stdin.
PLAYER_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("pw-play", "{file}"),
    ("paplay", "{file}"),
    ("aplay", "-q", "-"),
)

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# Separators people put inside long numbers ("0012 0300 4567", "012.345.678").
_DIGIT_SEP = re.compile(r"(?<=\d)[ .\-](?=\d)")
# CCCD (12 digits), old CMND (9 digits), mobile phone numbers (0 + 9 digits).
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9}|0\d{9})(?!\d)")


@dataclass(frozen=True)
class Prompt:
    key: str
    lang: str
    text: str
    personal: bool = False
    # The language `text` is written in when it fell back (a tyz screen showing vi text).
    text_lang: str | None = None
    # Spoken with values filled in ({n}, {name}): a recording of the bare template is wrong.
    dynamic: bool = False
    # A recording to play as it is (a take played back in the language studio).
    path: Path | None = None
    # A recording held in memory (a citizen's own voice): never written to a file by the
    # caller; the engine hands it to the player through a pipe where the player allows.
    audio: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def written_in(self) -> str:
        return self.text_lang or self.lang


@dataclass(frozen=True)
class Plan:
    """What the engine will play for a prompt."""

    source: str  # one of SOURCES
    lang: str | None = None  # the language the citizen hears
    path: Path | None = None  # the recording
    voice: str | None = None  # the espeak-ng voice
    audio: bytes | None = field(default=None, repr=False, compare=False)  # in memory


def looks_personal(text: str) -> bool:
    """True if the text holds an ID-card or phone number (names cannot be found by pattern)."""
    return bool(_PERSONAL_NUMBER.search(_DIGIT_SEP.sub("", text)))


def recording_path(audio_dir: Path, lang: str, key: str) -> Path | None:
    """Where the recording of `key` in `lang` lives; None for a key unfit as a file name."""
    if not _KEY.match(key) or ".." in key or not _KEY.match(lang):
        return None
    return audio_dir / lang / f"{key}.wav"


def check_recording(path: Path | io.BytesIO) -> str | None:
    """None if the file is a WAV the kiosk can play, else what is wrong with it."""
    try:
        with wave.open(path if isinstance(path, io.BytesIO) else str(path), "rb") as w:
            if w.getsampwidth() not in (1, 2, 3, 4):
                return f"{w.getsampwidth() * 8}-bit samples are not supported"
            if w.getnframes() == 0:
                return "the recording is empty"
    except (OSError, EOFError, wave.Error) as exc:
        return f"not a PCM WAV file ({exc})"
    return None


def audit_recordings(audio_dir: Path) -> list[tuple[Path, str]]:
    """Every recording under audio_dir that cannot be played, with the reason."""
    problems = []
    for path in sorted(audio_dir.glob("*/*.wav")):
        problem = check_recording(path)
        if problem is None and recording_path(audio_dir, path.parent.name, path.stem) is None:
            problem = "the file name is not a prompt key"
        if problem:
            problems.append((path, problem))
    return problems


def audio_roots(audio_dir: Path | Sequence[Path] | None) -> list[Path]:
    """The folders of recordings, first found first played: installed language packs
    before the shipped resources/audio."""
    if audio_dir is None:
        return []
    return [audio_dir] if isinstance(audio_dir, Path) else list(audio_dir)


def plan_for(
    prompt: Prompt,
    audio_dir: Path | Sequence[Path] | None,
    voices: Mapping[str, str],
    warn: _Once | None = None,
) -> Plan:
    """Recording in the citizen's language, its voice, then the language of the text."""
    if prompt.audio is not None:
        problem = check_recording(io.BytesIO(prompt.audio))
        return (
            Plan("recording", prompt.lang, audio=prompt.audio) if problem is None else Plan("none")
        )
    if prompt.path is not None:
        problem = check_recording(prompt.path) if prompt.path.is_file() else "missing"
        return Plan("recording", prompt.lang, path=prompt.path) if problem is None else Plan("none")
    for lang in dict.fromkeys((prompt.lang, prompt.written_in)):
        for root in audio_roots(audio_dir) if not prompt.dynamic else ():
            path = recording_path(root, lang, prompt.key)
            if path is None or not path.is_file():
                continue
            problem = check_recording(path)
            if problem is None:
                return Plan("recording", lang, path=path)
            if warn is not None:
                warn(f"bad:{path}", "recording %s is skipped: %s", path, problem)
        # A voice reads only text written in its own language.
        if lang == prompt.written_in and voices.get(lang) and prompt.text.strip():
            return Plan("tts", lang, voice=voices[lang])
    return Plan("none")


# --- WAV helpers -----------------------------------------------------------------------


def scale_wav(data: bytes, volume: float) -> bytes:
    """The WAV at `volume` (0..1) as 16-bit PCM, with a correct header.

    espeak-ng --stdout writes a placeholder length; rewriting fixes it for every player.
    Plain Python (array), not numpy: the home screen's prompt plays while the kiosk
    starts, and numpy is loaded later, with the camera.
    """
    with wave.open(io.BytesIO(data), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:
        ints, shift = [b - 128 for b in raw], 8  # unsigned 8-bit, to 16-bit scale
    elif width == 2:
        ints, shift = _array("h", raw), 0
    elif width == 3:
        raw = raw[: len(raw) - len(raw) % 3]
        ints = [
            int.from_bytes(raw[i : i + 3], "little", signed=True) for i in range(0, len(raw), 3)
        ]
        shift = -8
    elif width == 4:
        ints, shift = _array("i", raw), -16
    else:
        raise wave.Error(f"unsupported sample width {width}")
    gain = max(0.0, min(1.0, volume)) * 2.0**shift
    if gain == 1.0 and isinstance(ints, array.array) and ints.typecode == "h":
        scaled = ints  # full volume, already 16-bit
    else:
        scaled = array.array("h", (max(-32768, min(32767, round(v * gain))) for v in ints))
    if sys.byteorder == "big":
        scaled.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(scaled.tobytes())
    return out.getvalue()


def _array(code: str, raw: bytes) -> array.array:
    """Little-endian samples as native integers."""
    samples = array.array(code)
    samples.frombytes(raw[: len(raw) - len(raw) % samples.itemsize])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def join_wavs(paths: Sequence[Path], gap_s: float = 0.12, rate: int = 16000) -> bytes:
    """Recordings one after the other, as one 16-bit mono WAV, with a short pause between."""
    import numpy as np  # loaded with the first joined prompt, not with the kiosk

    parts: list[np.ndarray] = []
    for path in paths:
        with wave.open(str(path), "rb") as w:
            width, channels, r = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
        if width != 2:
            raise wave.Error(f"{path}: {width * 8}-bit samples")
        x = np.frombuffer(frames, "<i2").astype(np.float64)
        if channels > 1:
            x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
        if r != rate and len(x):
            x = np.interp(np.arange(round(len(x) * rate / r)) * r / rate, np.arange(len(x)), x)
        if parts:
            parts.append(np.zeros(round(gap_s * rate)))
        parts.append(x)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        pcm = np.concatenate(parts) if parts else np.zeros(0)
        w.writeframes(np.clip(np.round(pcm), -32768, 32767).astype("<i2").tobytes())
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() / float(w.getframerate() or 1)


def synthesize(text: str, voice: str, espeak: str = "espeak-ng", timeout: float = 10.0) -> bytes:
    """espeak-ng's WAV for the text. The text goes on stdin, so it never shows in `ps`."""
    done = subprocess.run(
        [espeak, "-b", "1", "-v", voice, "--stdout"],
        input=text.encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 or len(done.stdout) <= 44:
        raise OSError(
            f"espeak-ng voice {voice!r} failed (exit {done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip()[-200:]}"
        )
    return done.stdout


def find_players() -> list[list[str]]:
    """The audio players installed here, best first (may be empty)."""
    return [list(c) for c in PLAYER_CANDIDATES if shutil.which(c[0])]


class _Once:
    """Log each distinct problem once, so a kiosk without speakers does not flood its log."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, tag: str, message: str, *args: object) -> None:
        with self.lock:
            if tag in self.seen:
                return
            self.seen.add(tag)
        log.warning(message, *args)


# --- engines ---------------------------------------------------------------------------


class SpeechEngine(ABC):
    @abstractmethod
    def speak(self, prompt: Prompt) -> None:
        """Start saying the prompt, replacing whatever is playing. Never blocks."""

    @abstractmethod
    def stop(self) -> None:
        """Silence now."""

    @abstractmethod
    def set_volume(self, volume: float) -> None:
        """0..1, applied from the next prompt on."""

    @abstractmethod
    def is_speaking(self) -> bool: ...

    def plan(self, prompt: Prompt) -> Plan:
        return Plan("none")

    def close(self) -> None:
        self.stop()


class NullSpeech(SpeechEngine):
    """speech = off."""

    def __init__(self) -> None:
        self.volume = 1.0

    def speak(self, prompt: Prompt) -> None:
        pass

    def stop(self) -> None:
        pass

    def set_volume(self, volume: float) -> None:
        self.volume = max(0.0, min(1.0, volume))

    def is_speaking(self) -> bool:
        return False


@dataclass(frozen=True)
class Spoken:
    key: str
    lang: str  # the prompt's (the citizen's) language
    text: str
    source: str  # recording | tts | none
    heard_lang: str | None  # the language actually played
    volume: float
    path: Path | None = None  # the recording played, if any


class MockSpeech(SpeechEngine):
    """Records what would be said, with the source the real engine would pick."""

    def __init__(
        self,
        audio_dir: Path | Sequence[Path] | None = None,
        voices: Mapping[str, str] = DEFAULT_VOICES,
    ) -> None:
        self.audio_dir, self.voices = audio_dir, dict(voices)
        self.spoken: list[Spoken] = []
        self.stops = 0
        self.volume = 1.0
        self._speaking = False

    def plan(self, prompt: Prompt) -> Plan:
        return plan_for(prompt, self.audio_dir, self.voices)

    def speak(self, prompt: Prompt) -> None:
        plan = self.plan(prompt)
        self.spoken.append(
            Spoken(
                prompt.key,
                prompt.lang,
                prompt.text,
                plan.source,
                plan.lang,
                self.volume,
                plan.path,
            )
        )
        self._speaking = plan.source != "none"

    def stop(self) -> None:
        self.stops += 1
        self._speaking = False

    def set_volume(self, volume: float) -> None:
        self.volume = max(0.0, min(1.0, volume))

    def is_speaking(self) -> bool:
        return self._speaking

    def finish(self) -> None:
        """Pretend the current prompt has played to its end."""
        self._speaking = False


class AudioSpeech(SpeechEngine):
    """Recordings and espeak-ng, played by an external player from one worker thread.

    `players`: commands tried in order ("{file}" = pass a temporary file, else the WAV goes
    on stdin); a player that fails is dropped unless it is the last one. `espeak`: path of
    espeak-ng, None for recordings only.
    """

    def __init__(
        self,
        audio_dir: Path | Sequence[Path] | None,
        *,
        players: Sequence[Sequence[str]] = (),
        espeak: str | None = None,
        voices: Mapping[str, str] | None = None,
        tts_timeout: float = 10.0,
    ) -> None:
        self.audio_dir = audio_dir
        self.players = [list(p) for p in players]
        self.espeak = espeak
        self.voices = dict(DEFAULT_VOICES if voices is None else voices) if espeak else {}
        self.tts_timeout = tts_timeout
        self.last_plan: Plan | None = None
        self._volume = 1.0
        self._cond = threading.Condition()
        self._pending: Prompt | None = None
        self._generation = 0
        self._busy = False
        self._proc: subprocess.Popen | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._warn = _Once()
        if not self.players:
            self._warn("no-player", "no audio player (aplay, paplay, pw-play): prompts are silent")

    # The UI thread's side: only flags and a kill, nothing that waits.
    def speak(self, prompt: Prompt) -> None:
        with self._cond:
            if self._closed:
                return
            self._generation += 1
            self._pending = prompt
            self._kill_locked()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._generation += 1
            self._pending = None
            self._kill_locked()

    def set_volume(self, volume: float) -> None:
        self._volume = max(0.0, min(1.0, volume))

    def is_speaking(self) -> bool:
        with self._cond:
            return self._pending is not None or self._busy

    def plan(self, prompt: Prompt) -> Plan:
        return plan_for(prompt, self.audio_dir, self.voices, self._warn)

    @property
    def player_pid(self) -> int | None:
        """The running player's process id (diagnostics and tests)."""
        with self._cond:
            proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._generation += 1
            self._pending = None
            self._kill_locked()
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=2)

    def _kill_locked(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._proc.kill()

    # The worker's side.
    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                prompt, self._pending = self._pending, None
                generation = self._generation
                self._busy = True
            try:
                self._play(prompt, generation)
            except Exception:  # a worker must survive anything one prompt does
                log.exception("speech prompt %s failed", prompt.key)
            finally:
                with self._cond:
                    self._busy = False

    def _current(self, generation: int) -> bool:
        with self._cond:
            return generation == self._generation

    def _play(self, prompt: Prompt, generation: int) -> None:
        plan = self.last_plan = self.plan(prompt)
        if plan.source == "none" or not self.players:
            return
        try:
            if plan.audio is not None:
                data = plan.audio
            elif plan.path is not None:
                data = plan.path.read_bytes()
            else:
                data = synthesize(
                    prompt.text, plan.voice or "", self.espeak or "espeak-ng", self.tts_timeout
                )
            data = scale_wav(data, self._volume)
        except (OSError, EOFError, wave.Error, subprocess.SubprocessError) as exc:
            self._warn(
                f"source:{plan.source}:{plan.lang}",
                "speech %s in %s unavailable: %s",
                plan.source,
                plan.lang,
                exc,
            )
            return
        limit = wav_seconds(data) + 5.0  # a hung player must not hold the worker forever
        while self.players and self._current(generation):
            command = self.players[0]
            problem = self._run_player(command, data, generation, limit)
            if problem is None:
                return
            self._warn(f"player:{command[0]}", "audio player %s failed: %s", command[0], problem)
            if len(self.players) == 1:
                return  # keep the last one: a sound device may appear later
            self.players.pop(0)

    def _run_player(
        self, command: list[str], data: bytes, generation: int, limit: float
    ) -> str | None:
        """None when the player ran to its end or was stopped by us, else the problem."""
        temp = None
        args = list(command)
        try:
            if "{file}" in args:
                fd, temp = tempfile.mkstemp(
                    prefix="kiosk-prompt-", suffix=".wav", dir=_private_tmp()
                )
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                args = [temp if a == "{file}" else a for a in args]
            with self._cond:
                if generation != self._generation:
                    return None
                try:
                    proc = subprocess.Popen(
                        args,
                        stdin=subprocess.DEVNULL if temp else subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                except OSError as exc:
                    return str(exc)
                self._proc = proc
            try:
                _, err = proc.communicate(None if temp else data, timeout=limit)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                return f"still playing after {limit:.0f} s"
            finally:
                with self._cond:
                    if self._proc is proc:
                        self._proc = None
                    stopped = generation != self._generation
            if proc.returncode != 0 and not stopped:
                return f"exit {proc.returncode}: {err.decode(errors='replace').strip()[-200:]}"
            return None
        finally:
            if temp:
                with contextlib.suppress(OSError):
                    os.unlink(temp)


def _private_tmp() -> str | None:
    """Where a player that reads only files gets its sound for the time it plays: the
    user's runtime folder (memory, 0700) where there is one, else the system's."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return runtime if runtime and os.path.isdir(runtime) else None


def make_speech(
    kind: str,
    audio_dir: Path | Sequence[Path] | None,
    *,
    players: Sequence[Sequence[str]] | None = None,
    espeak: str | None = None,
    voices: Mapping[str, str] | None = None,
) -> SpeechEngine:
    """The engine for the `speech` setting: auto, espeak, mock or off."""
    if kind == "off":
        return NullSpeech()
    if kind == "mock":
        return MockSpeech(audio_dir, DEFAULT_VOICES if voices is None else voices)
    if kind not in ("auto", "espeak"):
        raise ValueError(f"unknown speech engine {kind!r}; allowed: auto, espeak, mock, off")
    espeak = espeak or shutil.which("espeak-ng")
    if espeak is None:
        level = logging.WARNING if kind == "espeak" else logging.INFO
        log.log(level, "espeak-ng not found: only recorded prompts will be spoken")
    return AudioSpeech(
        audio_dir,
        players=find_players() if players is None else players,
        espeak=espeak,
        voices=voices,
    )


# --- policy ----------------------------------------------------------------------------


class AudioSettings(Protocol):
    """The session's part PromptPlayer reads (kiosk.services.session.CitizenSession)."""

    lang: str
    volume: float
    muted: bool


class PromptTranslator(Protocol):
    """The translator's part PromptPlayer uses (kiosk.services.i18n.Translator)."""

    def tr(self, key: str, lang: str | None = None, **values: object) -> str: ...

    def has(self, key: str, lang: str) -> bool: ...


@dataclass
class PromptPlayer:
    """What a screen hook calls: one prompt at a time, the session's volume, privacy first."""

    engine: SpeechEngine
    session: AudioSettings | None = None
    headphones: bool = False
    translator: PromptTranslator | None = None
    default_volume: float = 1.0
    outcomes: list[str] = field(default_factory=list, repr=False)  # last few, for diagnostics

    def say(
        self,
        key: str,
        lang: str,
        text: str,
        personal: bool = False,
        text_lang: str | None = None,
        dynamic: bool = False,
    ) -> str:
        """Stop the previous prompt and speak this one: 'spoken', 'muted', 'withheld' or 'empty'."""
        self.engine.stop()
        outcome = self._say(key, lang, nfc(text), personal, text_lang, dynamic)
        self.outcomes = [*self.outcomes[-9:], outcome]
        return outcome

    def say_key(
        self, key: str, lang: str | None = None, personal: bool = False, **values: object
    ) -> str:
        """Look the prompt up in the translator (which must be given) and say it."""
        if self.translator is None:
            raise ValueError("PromptPlayer.say_key needs a translator")
        lang = lang or (self.session.lang if self.session is not None else FALLBACK)
        text_lang = lang if self.translator.has(key, lang) else FALLBACK
        text = self.translator.tr(key, lang, **values)
        return self.say(key, lang, text, personal, text_lang, dynamic=bool(values))

    def _say(
        self, key: str, lang: str, text: str, personal: bool, text_lang: str | None, dynamic: bool
    ) -> str:
        if not key:
            return "empty"
        volume = self.session.volume if self.session is not None else self.default_volume
        if (self.session is not None and self.session.muted) or volume <= 0:
            return "muted"
        self.engine.set_volume(volume)
        if (personal or looks_personal(text)) and not self.headphones:
            log.info("prompt %s not spoken aloud: personal data and no headphones", key)
            self._say_withheld(lang)
            return "withheld"
        self.engine.speak(Prompt(key, lang, text, personal, text_lang, dynamic))
        return "spoken"

    def play_file(self, path: Path, lang: str) -> str:
        """Play a recording as it is (a take played back to the person who recorded it)."""
        return self._play_recording(Prompt("recording.playback", lang, "", path=path))

    def play_audio(self, wav: bytes, lang: str) -> str:
        """Play a recording held in memory (a citizen's own voice, played back to them
        during their session): the caller writes no file."""
        return self._play_recording(Prompt("recording.playback", lang, "", audio=wav))

    def _play_recording(self, prompt: Prompt) -> str:
        self.engine.stop()
        volume = self.session.volume if self.session is not None else self.default_volume
        if (self.session is not None and self.session.muted) or volume <= 0:
            return "muted"
        self.engine.set_volume(volume)
        self.engine.speak(prompt)
        return "spoken"

    def say_kit(self, lang: str, keys: Sequence[str]) -> str:
        """Recorded words of `lang` played as one (the number kit: kiosk.services.numbers):
        'spoken', 'muted', or 'missing' when a word has no recording in `lang` (the caller
        then says it another way)."""
        paths = []
        for key in keys:
            plan = self.engine.plan(Prompt(key, lang, "", text_lang=lang))
            if plan.source != "recording" or plan.lang != lang or plan.path is None:
                return "missing"
            paths.append(plan.path)
        if not paths:
            return "missing"
        target = Path(tempfile.gettempdir()) / f"kiosk-kit-{os.getpid()}.wav"
        target.write_bytes(join_wavs(paths))
        return self.play_file(target, lang)

    def _say_withheld(self, lang: str) -> None:
        if self.translator is None:
            return
        text_lang = lang if self.translator.has(WITHHELD_KEY, lang) else FALLBACK
        text = self.translator.tr(WITHHELD_KEY, lang)
        self.engine.speak(Prompt(WITHHELD_KEY, lang, text, False, text_lang))

    def stop(self) -> None:
        self.engine.stop()

    def set_muted(self, muted: bool) -> None:
        if self.session is not None:
            self.session.muted = muted
        if muted:
            self.engine.stop()

    def set_volume(self, volume: float) -> None:
        volume = max(0.0, min(1.0, volume))
        if self.session is not None:
            self.session.volume = volume
        self.engine.set_volume(volume)

    def reset(self) -> None:
        """End of a citizen's session: silence, default volume, unmuted."""
        self.engine.stop()
        self.engine.set_volume(self.default_volume)
        if self.session is not None:
            self.session.volume = self.default_volume
            self.session.muted = False
