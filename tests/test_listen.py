"""Buttons that speak: a long press reads a button's label instead of acting, and in
"listen first" mode the first tap reads and the second acts; labels are spoken from
recordings where the language has them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.speech_bridge import install_speech
from kiosk.qt.tasks import TaskRunner
from kiosk.services.langpacks import build_pack
from kiosk.views.shell import MainWindow
from tests.test_langpacks import pack_folder, wav_bytes


@pytest.fixture
def kiosk(kiosk_qapp, data_dir, qtbot):
    made = []

    def start(pack=None):
        if pack is not None:
            from kiosk.services.langpacks import PackStore

            PackStore(data_dir / "language-packs").install(pack, set(), {})
        settings = load_settings(
            env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
        )
        ctx = build_context(settings)
        tasks = TaskRunner()
        tasks.inline = True
        win = MainWindow(ctx, tasks)
        install_speech(win, ctx)
        qtbot.addWidget(win)
        win.resize(1920, 1080)
        win.show()
        win.start()
        made.append(ctx)
        return win

    yield start
    for ctx in made:
        ctx.close()


def engine(win):
    app = win.vc.app
    player = app.speech
    return player.engine


def long_press(qtbot, widget) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton)
    qtbot.wait(800)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton)


def tap(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_a_long_press_speaks_the_label_and_does_not_act(kiosk, qtbot):
    win = kiosk()
    home = win.current_screen()
    long_press(qtbot, home.tiles["home.submit"])
    assert win.nav.current == "home"
    last = engine(win).spoken[-1]
    assert last.key == "home.submit" and last.text == win.vc.tr("home.submit")
    assert not home.tiles["home.submit"].isDown()
    tap(qtbot, home.tiles["home.submit"])  # a short tap still acts
    assert win.nav.current == "procedures"


def test_listen_first_the_first_tap_speaks_the_second_acts(kiosk, qtbot):
    win = kiosk()
    home = win.current_screen()
    tap(qtbot, home.listen_button)
    assert win.vc.app.session.listen_first
    assert engine(win).spoken[-1].key == "home.listen_first_on"
    tap(qtbot, home.tiles["home.status"])
    assert win.nav.current == "home" and engine(win).spoken[-1].key == "home.status"
    tap(qtbot, home.tiles["home.submit"])  # another button: read, not acted on
    assert win.nav.current == "home" and engine(win).spoken[-1].key == "home.submit"
    tap(qtbot, home.tiles["home.submit"])
    assert win.nav.current == "procedures"
    # On the next screen too: a procedure's tile reads its title.
    screen = win.current_screen()
    code = next(iter(screen.tiles)) if hasattr(screen, "tiles") else None
    if code is not None:
        tap(qtbot, screen.tiles[code])
        assert win.nav.current == "procedures"
        assert engine(win).spoken[-1].key.startswith(("proc.", "journey."))
    win.nav.cancel()
    assert not win.vc.app.session.listen_first  # the next citizen starts without it


def test_a_label_is_spoken_from_the_languages_recording(kiosk, qtbot, tmp_path):
    src = pack_folder(tmp_path)
    (src / "audio" / "tyz" / "home.submit.wav").write_bytes(wav_bytes(0.5))
    pack = build_pack(src, "tyz", 1, tmp_path / "tyz.zip", base_catalogue_version="t")
    win = kiosk(pack)
    tap(qtbot, win.top.lang_buttons["tyz"])
    home = win.current_screen()
    long_press(qtbot, home.tiles["home.submit"])
    spoken = engine(win).spoken[-1]
    assert spoken.key == "home.submit" and spoken.lang == "tyz"
    assert spoken.source == "recording" and spoken.path.name == "home.submit.wav"
    long_press(qtbot, home.tiles["home.status"])  # not recorded, not written in Tày: silence
    assert engine(win).spoken[-1].source in ("none", "tts")
