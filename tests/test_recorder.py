"""The one recorder row the studio, the clerk's notices and the citizen's feedback share."""

from __future__ import annotations

from types import SimpleNamespace

from kiosk.hardware.microphone import ArecordMicrophone, SimulatedMicrophone
from kiosk.paths import resource
from kiosk.qt.tasks import TaskRunner
from kiosk.services.i18n import Translator
from kiosk.services.recording import process_take
from kiosk.views.recorder import Recorder

VOICE = resource("samples", "voice", "sample.wav")


class Player:
    def __init__(self) -> None:
        self.said: list[str] = []
        self.played: list[tuple[bytes, str]] = []

    def say_key(self, key: str) -> None:
        self.said.append(key)

    def play_file(self, path, lang: str) -> None:
        self.played.append((path.read_bytes(), lang))

    def play_audio(self, wav: bytes, lang: str) -> None:
        self.played.append((wav, lang))
        self.from_memory = True


def make(qtbot, **kw) -> tuple[Recorder, Player]:
    translator = Translator.from_resources()
    player = Player()
    tasks = TaskRunner()
    tasks.inline = True
    vc = SimpleNamespace(
        app=SimpleNamespace(speech=player, settings=None),
        tasks=tasks,
        tr=lambda key, **v: translator.tr(key, "vi", **v),
    )
    rec = Recorder(
        vc,
        lambda raw: process_take(raw, max_seconds=60),
        record_key="studio.record",
        stop_key="studio.stop",
        play_key="studio.play",
        timer=lambda s: f"{int(s)} s",
        **kw,
    )
    qtbot.addWidget(rec)
    return rec, player


def test_a_take_is_recorded_checked_and_played_back(kiosk_qapp, qtbot):
    rec, player = make(qtbot, max_seconds=5)
    rec.microphone = SimulatedMicrophone(VOICE, realtime=True)
    took = []
    rec.took.connect(took.append)
    rec.toggle()
    assert rec.recording() and rec.record_button.text() == "Dừng ghi"
    assert not rec.play_button.isEnabled()
    rec.microphone._started -= 6  # past the longest take: the tick ends it
    rec.tick()
    assert not rec.recording() and took and rec.take == took[0].wav
    assert rec.play_button.isEnabled() and rec.timer_label.text() == f"{int(took[0].seconds)} s"
    rec.play_lang = lambda: "tyz"
    rec.play()
    assert player.played == [(rec.take, "tyz")]
    assert player.from_memory  # the citizen's voice is handed over, never written out


def test_a_missing_microphone_is_refused_with_a_spoken_reason(kiosk_qapp, qtbot, tmp_path):
    rec, player = make(qtbot)
    rec.microphone = ArecordMicrophone(arecord=str(tmp_path / "no-arecord"))
    refused = []
    rec.refused.connect(refused.append)
    rec.toggle()
    assert refused == ["recording.err.no_microphone"] == player.said
    assert not rec.recording() and rec.take is None


def test_a_bad_take_is_refused_and_nothing_kept(kiosk_qapp, qtbot):
    rec, player = make(qtbot)
    rec.microphone = SimulatedMicrophone(VOICE.read_bytes()[:44] + b"\0" * 32000)
    refused = []
    rec.refused.connect(refused.append)
    rec.toggle()
    rec.toggle()
    assert refused and refused[0].startswith("recording.err.") and player.said == refused
    assert rec.take is None and not rec.play_button.isEnabled() and rec.record_button.isEnabled()
