"""One way to put a screen on stage, for the screenshots, the audit and the self-test.

Each screen is shown as the kiosk shows it: in the main window at the screen's size, under
the top bar (with its sound buttons), with the clerk bar on the clerk's screens, and with
the on-screen keyboard open when the screen has a field to type into.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QSize
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit

# The kiosk screens in service: full HD, the common laptop panels, a 5:4 monitor, a
# portrait totem.
SIZES: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (1366, 768),
    (1280, 800),
    (1280, 1024),
    (1080, 1920),
)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size: {text!r} is not WIDTHxHEIGHT") from None
    return w, h


def build_window(ctx, tasks, width: int, height: int, speech: bool = True):
    """The main window as in service, at exactly width×height."""
    from kiosk.qt.speech_bridge import install_speech
    from kiosk.qt.wiring import install_clerk_bar
    from kiosk.views.shell import MainWindow

    window = MainWindow(ctx, tasks)
    if speech:
        install_speech(window, ctx)  # so the top bar has its sound buttons
    install_clerk_bar(window, ctx, None)
    window.resize(width, height)
    window.show()
    settle()
    return window


def settle() -> None:
    """Let deferred deletes, layout requests and the resulting resizes all run."""
    app = QApplication.instance()
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()


def first_field(screen) -> QLineEdit | QPlainTextEdit | None:
    """The field a citizen types into first on this screen (the focused one if any; a line
    before a text box)."""
    focused = QApplication.focusWidget()
    if isinstance(focused, QLineEdit | QPlainTextEdit) and screen.isAncestorOf(focused):
        return focused
    for edit in [*screen.findChildren(QLineEdit), *screen.findChildren(QPlainTextEdit)]:
        if (
            edit.isVisibleTo(screen)
            and edit.isEnabled()
            and not edit.isReadOnly()
            and edit.property("keyboard") != "none"
        ):
            return edit
    return None


def stage(window, name: str, lang: str, keyboard: bool = True):
    """Show screen `name` with its sample in `lang`; with its keyboard open if it has a
    field to type into. Returns the screen."""
    ctx = window.vc.app
    ctx.end_visit(lang)
    window.keyboard_ctl.follow(None)
    window.set_language(lang)
    screen = window.show_sample(name)
    settle()
    current = window.current_screen()
    if keyboard and current is not None:
        edit = first_field(current)
        if edit is not None:
            window.activateWindow()
            edit.setFocus()
            window.keyboard_ctl.follow(edit)  # also where focus events are not delivered
            settle()
            window.show_focused_field()
            settle()
    return current or screen


def target_size(window) -> QSize:
    return QSize(window.width(), window.height())
