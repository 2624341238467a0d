"""Spoken prompts for the shell: a prompt hook per shown screen, built from the settings.

A screen's prompt is `screen.prompt()` (a translation key). A screen whose prompt reads
out personal data sets `prompt_personal = True`; it is then spoken only into headphones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QApplication

from kiosk.hardware.speech import PromptPlayer, make_speech

log = logging.getLogger(__name__)


def prompt_hook(player: PromptPlayer) -> Callable[[Any], None]:
    """A `MainWindow.prompt_hooks` entry: say the screen's prompt, or fall silent."""

    def hook(screen: Any) -> None:
        key = screen.prompt() if screen is not None else ""
        if not key:
            player.stop()  # the citizen moved on to a screen with nothing to say
            return
        player.say_key(key, personal=bool(getattr(screen, "prompt_personal", False)))

    return hook


def install_speech(window: Any, app_ctx: Any) -> PromptPlayer:
    """Build the engine from the settings and hook it into the window (see MainWindow)."""
    settings = app_ctx.settings
    engine = make_speech(settings.speech, app_ctx.audio_dirs())
    player = PromptPlayer(
        engine, app_ctx.session, headphones=settings.headphones, translator=app_ctx.translator
    )
    window.prompt_hooks.append(prompt_hook(player))
    if hasattr(window, "reset_hooks"):
        window.reset_hooks.append(player.reset)
    app_ctx.speech = player
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(engine.close)
    log.info("speech: %s, headphones %s", type(engine).__name__, settings.headphones)
    return player
