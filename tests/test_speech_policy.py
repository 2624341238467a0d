"""PromptPlayer: one prompt at a time, the session's volume and mute, privacy first."""

from __future__ import annotations

import json

import pytest

from kiosk.hardware.speech import WITHHELD_KEY, MockSpeech, PromptPlayer, looks_personal
from kiosk.services.i18n import Translator, load_catalogues
from kiosk.services.session import CitizenSession
from tests.speech_helpers import write_wav


@pytest.fixture
def translator(tmp_path):
    root = tmp_path / "i18n"
    catalogues = {
        "vi": {
            "home.prompt": "Xin chào. Hãy chạm vào hình việc bạn cần làm.",
            "id.confirm": "Số căn cước của bạn là {number}",
            WITHHELD_KEY: "Màn hình này có thông tin cá nhân của bạn.",
        },
        "en": {
            "home.prompt": "Hello. Touch the picture of what you need.",
            WITHHELD_KEY: "This screen shows your personal details.",
        },
        "tyz": {"done.prompt": "Pây lăng"},
    }
    for lang, strings in catalogues.items():
        (root / lang).mkdir(parents=True)
        (root / lang / "speech.json").write_text(
            json.dumps(strings, ensure_ascii=False), encoding="utf-8"
        )
    return Translator(load_catalogues(root))


@pytest.fixture
def audio_dir(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    return folder


def test_a_series_of_prompts_in_order_and_language(translator, audio_dir):
    write_wav(audio_dir / "tyz" / "home.prompt.wav")
    engine = MockSpeech(audio_dir)
    session = CitizenSession()
    player = PromptPlayer(engine, session, translator=translator)
    player.say_key("home.prompt")
    session.lang = "en"
    player.say_key("home.prompt")
    session.lang = "bru"
    player.say_key("home.prompt")  # no Bru text: Vietnamese on screen, Vietnamese voice
    session.lang = "tyz"
    player.say_key("home.prompt")  # a Tày recording exists
    player.say_key("done.prompt")  # Tày text, no recording, no voice: silent
    got = [(s.key, s.lang, s.source, s.heard_lang) for s in engine.spoken]
    assert got == [
        ("home.prompt", "vi", "tts", "vi"),
        ("home.prompt", "en", "tts", "en"),
        ("home.prompt", "bru", "tts", "vi"),
        ("home.prompt", "tyz", "recording", "tyz"),
        ("done.prompt", "tyz", "none", None),
    ]
    assert engine.spoken[1].text == "Hello. Touch the picture of what you need."
    assert engine.spoken[2].text == translator.tr("home.prompt", "vi")
    assert engine.stops == 5  # every prompt silences the one before


@pytest.mark.parametrize(
    "text, personal",
    [
        ("Số căn cước của bạn là 001203004567", True),
        ("Số căn cước: 0012 0300 4567", True),
        ("CMND 012.345.678", True),
        ("Gọi cho bạn theo số 0912 345 678", True),
        ("Mã hồ sơ QN01-000123-J", False),
        ("Số thứ tự của bạn là 12", False),
        ("Năm sinh 1990", False),
        ("Gọi tổng đài 1900 1234", False),
    ],
)
def test_what_counts_as_personal(text, personal):
    assert looks_personal(text) is personal


def test_personal_data_only_into_headphones(translator):
    engine = MockSpeech()
    session = CitizenSession()
    player = PromptPlayer(engine, session, headphones=False, translator=translator)
    assert player.say_key("id.confirm", number="001203004567") == "withheld"
    assert player.say("applicant.name", "vi", "Lò Văn Quý", personal=True) == "withheld"
    assert [s.key for s in engine.spoken] == [WITHHELD_KEY, WITHHELD_KEY]
    assert all("001203004567" not in s.text and "Quý" not in s.text for s in engine.spoken)
    player.headphones = True
    assert player.say_key("id.confirm", number="001203004567") == "spoken"
    assert player.say("applicant.name", "vi", "Lò Văn Quý", personal=True) == "spoken"
    assert engine.spoken[-2].text == "Số căn cước của bạn là 001203004567"
    assert engine.spoken[-1].text == "Lò Văn Quý"


def test_withheld_without_a_translator_is_silent():
    engine = MockSpeech()
    player = PromptPlayer(engine, CitizenSession())
    assert player.say("k", "vi", "001203004567") == "withheld"
    assert engine.spoken == []


def test_mute_and_volume_come_from_the_session(translator):
    engine = MockSpeech()
    session = CitizenSession()
    player = PromptPlayer(engine, session, translator=translator)
    session.volume = 0.4
    player.say_key("home.prompt")
    assert engine.spoken[-1].volume == pytest.approx(0.4)
    session.muted = True
    assert player.say_key("home.prompt") == "muted"
    assert len(engine.spoken) == 1 and not engine.is_speaking()
    session.muted = False
    player.say_key("home.prompt")
    assert engine.is_speaking()
    player.set_muted(True)  # muting silences what is playing now
    assert not engine.is_speaking() and session.muted
    player.set_muted(False)
    player.set_volume(0.0)
    assert player.say_key("home.prompt") == "muted"


def test_reset_restores_the_default_volume_and_unmutes(translator):
    engine = MockSpeech()
    session = CitizenSession()
    player = PromptPlayer(engine, session, translator=translator, default_volume=0.8)
    player.set_volume(0.2)
    player.set_muted(True)
    assert engine.volume == pytest.approx(0.2)
    player.reset()
    assert engine.volume == pytest.approx(0.8)
    assert session.volume == pytest.approx(0.8) and session.muted is False
    player.say_key("home.prompt")
    assert engine.spoken[-1].volume == pytest.approx(0.8)


def test_empty_prompt_only_stops():
    engine = MockSpeech()
    player = PromptPlayer(engine, CitizenSession())
    assert player.say("", "vi", "") == "empty"
    assert engine.stops == 1 and engine.spoken == []
    with pytest.raises(ValueError):
        player.say_key("home.prompt")  # no translator given
