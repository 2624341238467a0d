"""One recorder for every screen that records a voice (the language studio's prompts, a
clerk's notice, a citizen's feedback): a record/stop button, a running timer and a play
button, in a row a screen places where it wants.

It renders and forwards: the microphone (kiosk.hardware.microphone, made from the settings
when first used) records; the take is checked off the UI thread by the screen's `check`
(kiosk.services.recording.process_take or a service's own check) through the background
helper. A refused take (clipped, too quiet, too short…) is reported by its catalogue key
and spoken. A take played back goes through a private temporary folder that is emptied
once the engine has read it: a voice never stays on disk unencrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from kiosk.views.widgets import BigButton, Text

log = logging.getLogger(__name__)

NO_MICROPHONE = "recording.err.no_microphone"


class Recorder(QWidget):
    """Record, stop, see the time, play back. `took(take)` when a take passed `check`,
    `refused(key)` when it did not or the microphone could not record, `changed()` when
    recording starts or stops (screens show or hide what depends on it)."""

    took = Signal(object)
    refused = Signal(str)
    changed = Signal()

    def __init__(
        self,
        vc,
        check: Callable[[bytes], object],
        *,
        record_key: str,
        stop_key: str,
        play_key: str,
        timer: Callable[[float], str],
        max_seconds: float | None = None,
        record_role: str = "",
        record_pictogram: str = "microphone",
        timer_role: str = "",
        show_zero: bool = False,
    ) -> None:
        super().__init__()
        self.vc = vc
        self.check = check
        self.record_key, self.stop_key, self.play_key = record_key, stop_key, play_key
        self.timer = timer
        self.max_seconds = max_seconds
        self.show_zero = show_zero
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.record_button = BigButton("", record_role, record_pictogram)
        self.record_button.clicked.connect(self.toggle)
        self.timer_label = Text("", timer_role)
        self.play_button = BigButton("", "", "repeat_audio")
        self.play_button.clicked.connect(self.play)
        row.addWidget(self.record_button)
        row.addWidget(self.timer_label, 1)
        row.addWidget(self.play_button)
        self._microphone = None
        self.take: bytes | None = None  # the last take that passed the check (WAV)
        self.seconds = 0.0
        self.busy = False  # a take is being checked
        self.play_lang: Callable[[], str] = lambda: "vi"
        self.fallback: Callable[[], Path | None] = lambda: None  # played when no new take
        self.clock = QTimer(self)
        self.clock.setInterval(200)
        self.clock.timeout.connect(self.tick)
        self.show_state()

    # -- the microphone
    @property
    def microphone(self):
        if self._microphone is None:
            from kiosk.hardware.microphone import make_microphone

            s = self.vc.app.settings
            self._microphone = make_microphone(s.microphone, s.microphone_device)
            if self.max_seconds is not None:
                self._microphone.max_seconds = self.max_seconds
        return self._microphone

    @microphone.setter
    def microphone(self, mic) -> None:
        self._microphone = mic

    def recording(self) -> bool:
        return self._microphone is not None and self._microphone.recording()

    # -- recording
    def toggle(self) -> None:
        if self.busy:
            return
        if self.recording():
            self.stop()
            return
        mic = self.microphone
        try:
            mic.start()
        except Exception as exc:  # a missing or busy microphone
            log.warning("microphone: %s", type(exc).__name__)
            self._refuse(NO_MICROPHONE)
            return
        self.take, self.seconds = None, 0.0
        self.clock.start()
        self.show_state()
        self.changed.emit()

    def stop(self) -> None:
        """End the take and check it in the background."""
        self.clock.stop()
        mic = self._microphone
        if mic is None or not mic.recording():
            return
        self.busy = True
        self.show_state()
        check = self.check
        self.vc.tasks.run(lambda: check(mic.stop()), self._took, self._failed)
        self.changed.emit()

    def _took(self, take) -> None:
        self.busy = False
        self.take, self.seconds = take.wav, take.seconds
        self.show_state()
        self.took.emit(take)
        self.changed.emit()

    def _failed(self, error: Exception) -> None:
        self.busy = False
        key = getattr(error, "key", None)
        if not (isinstance(error, ValueError) and isinstance(key, str)):
            log.warning("recording failed: %s", type(error).__name__)
            key = NO_MICROPHONE
        self.show_state()
        self._refuse(key)
        self.changed.emit()

    def _refuse(self, key: str) -> None:
        self.refused.emit(key)
        player = self.vc.app.speech
        if player is not None:
            player.say_key(key)

    def tick(self) -> None:
        if not self.recording():
            return
        elapsed = self._microphone.elapsed()
        self.timer_label.setText(self.timer(elapsed))
        if self.max_seconds is not None and elapsed >= self.max_seconds:
            self.stop()  # the longest a take may be: it ends by itself

    # -- the take
    def set_take(self, wav: bytes | None, seconds: float = 0.0) -> None:
        """Show a take kept elsewhere (a citizen's draft), or none."""
        self.take, self.seconds = wav, (seconds if wav is not None else 0.0)
        self.show_state()

    def clear(self) -> None:
        self.set_take(None)
        self.timer_label.setText(self.timer(0) if self.show_zero else "")

    def play(self) -> None:
        """The take, to the person who recorded it (or the `fallback` recording)."""
        player = self.vc.app.speech
        if player is None:
            return
        lang = self.play_lang()
        if self.take is None:
            path = self.fallback()
            if path is not None:
                player.play_file(path, lang)
            return
        # From memory: a voice is never written out by the screen (kiosk.hardware.speech).
        player.play_audio(self.take, lang)

    # -- showing
    def show_state(self) -> None:
        recording = self.recording()
        tr = self.vc.tr
        self.record_button.setText(tr(self.stop_key if recording else self.record_key))
        self.record_button.setEnabled(not self.busy)
        self.play_button.setText(tr(self.play_key))
        has = self.take is not None or self.fallback() is not None
        self.play_button.setEnabled(has and not recording and not self.busy)
        if not recording and (self.take is not None or self.show_zero):
            self.timer_label.setText(self.timer(self.seconds if self.take is not None else 0))

    def close_microphone(self) -> None:
        """Leaving the screen: the clock stops, a take being made is dropped."""
        self.clock.stop()
        if self._microphone is not None:
            self._microphone.close()
