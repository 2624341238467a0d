"""Spoken prompts wired into the real shell: shown screens, language, repeat, reset."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.speech import WITHHELD_KEY, MockSpeech
from kiosk.qt.speech_bridge import install_speech
from kiosk.views import registry
from kiosk.views.base import Screen
from kiosk.views.shell import MainWindow


class _IdScreen(Screen):
    title_key = "home.title"
    prompt_personal = True  # its prompt would read the ID number aloud


class _SilentScreen(Screen):
    pass


@pytest.fixture
def screens():
    registry.register("test_speech_id")(_IdScreen)
    registry.register("test_speech_silent")(_SilentScreen)
    yield
    registry._REGISTRY.pop("test_speech_id", None)
    registry._REGISTRY.pop("test_speech_silent", None)


def make_window(qtbot, data_dir, headphones: bool):
    settings = load_settings(
        env={},
        config_path=data_dir / "x.toml",
        data_dir=str(data_dir),
        speech="mock",
        headphones=headphones,
    )
    ctx = build_context(settings)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    if not hasattr(win, "reset_hooks"):
        win.reset_hooks = []  # the shell calls these from reset_session once wired in
    player = install_speech(win, ctx)
    win.resize(1280, 800)
    win.show()
    win.start()
    return win, ctx, player


@pytest.fixture
def shell(kiosk_qapp, qtbot, data_dir, screens):
    win, ctx, player = make_window(qtbot, data_dir, headphones=False)
    yield win, player
    player.engine.close()
    ctx.close()


def test_prompts_follow_screens_language_and_repeat(shell, qtbot):
    win, player = shell
    engine = player.engine
    assert isinstance(engine, MockSpeech)
    home_vi = win.vc.app.translator.tr("home.prompt", "vi")
    assert [(s.key, s.lang, s.text) for s in engine.spoken] == [("home.prompt", "vi", home_vi)]
    qtbot.mouseClick(win.top.lang_buttons["en"], Qt.MouseButton.LeftButton)
    assert (engine.spoken[-1].key, engine.spoken[-1].lang) == ("home.prompt", "en")
    assert engine.spoken[-1].text == win.vc.app.translator.tr("home.prompt", "en")
    qtbot.mouseClick(win.top.repeat_button, Qt.MouseButton.LeftButton)
    assert len(engine.spoken) == 3 and engine.spoken[-1].key == "home.prompt"
    win.nav.go("test_speech_silent")
    assert len(engine.spoken) == 3 and not engine.is_speaking()  # moved on: silence
    stops = engine.stops
    win.nav.go("out_of_service", reason="setup")
    assert engine.spoken[-1].key == "oos.title" and engine.stops == stops + 1


def test_personal_screen_is_not_read_aloud_without_headphones(shell):
    win, player = shell
    win.nav.go("test_speech_id")
    assert player.engine.spoken[-1].key == WITHHELD_KEY


def test_reset_session_restores_volume(shell):
    win, player = shell
    session = win.vc.app.session
    player.set_volume(0.3)
    player.set_muted(True)
    for hook in win.reset_hooks:
        hook()
    assert session.volume == 1.0 and not session.muted
    assert player.engine.volume == 1.0


def test_headphones_setting_allows_personal_prompts(kiosk_qapp, qtbot, data_dir, screens):
    win, ctx, player = make_window(qtbot, data_dir, headphones=True)
    try:
        win.nav.go("test_speech_id")
        assert player.engine.spoken[-1].key == "home.title"
    finally:
        ctx.close()
