"""The app shell: a full-screen window with a screen stack, a top bar and the idle guard.

Navigation is a history of (screen name, state). Cancel and the idle timeout discard the
citizen's session: every screen built so far is wiped and the kiosk returns home.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.qt.tasks import TaskRunner
from kiosk.services.i18n import LANGUAGES
from kiosk.views import registry
from kiosk.views.base import Screen, ViewContext
from kiosk.views.keyboard import KeyboardController, VietKeyboard
from kiosk.views.listen import ListenHelper
from kiosk.views.widgets import BigButton, Text, pictogram_pixmap

log = logging.getLogger(__name__)

HOME = "home"
_USER_INPUT = {
    QEvent.Type.MouseButtonPress,
    QEvent.Type.TouchBegin,
    QEvent.Type.KeyPress,
    QEvent.Type.TabletPress,
    QEvent.Type.Wheel,
}


def offered_languages(app) -> list[str]:
    """The languages on the home screen: those set up for this kiosk and those that
    language packs or the studio add, once each has its own texts for the home screen."""
    added = [lang for lang in app.translator.languages() if lang not in LANGUAGES]
    wanted = dict.fromkeys([*app.settings.languages, *added])
    return [lang for lang in wanted if app.translator.offers(lang)]


class Navigator(QObject):
    """Where the citizen is; screens call go/back/cancel, the window shows the result."""

    changed = Signal(str)
    session_reset = Signal()

    def __init__(self, home: str = HOME) -> None:
        super().__init__()
        self.home_name = home
        self.home_state: dict[str, Any] = {}
        self.history: list[tuple[str, dict[str, Any]]] = []
        self.entries = 0  # counts every screen shown: a background result names its entry

    @property
    def current(self) -> str | None:
        return self.history[-1][0] if self.history else None

    def go(self, name: str, **state: Any) -> None:
        self.history.append((name, state))
        self._changed(name)

    def _changed(self, name: str) -> None:
        self.entries += 1
        self.changed.emit(name)

    def replace(self, name: str, **state: Any) -> None:
        if self.history:
            self.history.pop()
        self.go(name, **state)

    def back(self) -> None:
        if len(self.history) > 1:
            self.history.pop()
            self._changed(self.history[-1][0])

    def home(self) -> None:
        """Back to the start, keeping the session (used after a finished journey too)."""
        self.history = [(self.home_name, dict(self.home_state))]
        self._changed(self.home_name)

    def cancel(self) -> None:
        """Discard everything not confirmed and go home."""
        self.session_reset.emit()

    def state(self) -> dict[str, Any]:
        return self.history[-1][1] if self.history else {}


class IdleWatcher(QObject):
    """Any touch, click or key restarts the idle clock."""

    idle = Signal()

    def __init__(self, seconds: int) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(seconds * 1000)
        self.timer.timeout.connect(self.idle)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _USER_INPUT:
            self.timer.start()
        return False

    def start(self) -> None:
        self.timer.start()


class StillThere(QWidget):
    """'Are you still there?' with a countdown, drawn over the current screen."""

    answered = Signal()
    expired = Signal()

    def __init__(self, vc: ViewContext, parent: QWidget, seconds: int) -> None:
        super().__init__(parent)
        self.vc, self.seconds = vc, seconds
        self.setObjectName("overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        card = QWidget()
        card.setObjectName("card")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card.setMaximumWidth(900)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(40, 40, 40, 40)
        self.question = Text("", "screenTitle")
        self.count = QLabel()
        self.count.setObjectName("bigCode")
        self.count.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stay = BigButton("", "primary")
        self.stay.clicked.connect(self._answer)
        inner.addWidget(self.question)
        inner.addWidget(self.count)
        inner.addWidget(self.stay)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.tick = QTimer(self)
        self.tick.setInterval(1000)
        self.tick.timeout.connect(self._tick)
        self.left = seconds
        self.hide()

    def open(self) -> None:
        self.left = self.seconds
        self.question.setText(self.vc.tr("idle.question"))
        self.stay.setText(self.vc.tr("idle.stay"))
        self.count.setText(str(self.left))
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.tick.start()

    def close_overlay(self) -> None:
        self.tick.stop()
        self.hide()

    def _answer(self) -> None:
        self.close_overlay()
        self.answered.emit()

    def _tick(self) -> None:
        self.left -= 1
        self.count.setText(str(max(self.left, 0)))
        if self.left <= 0:
            self.close_overlay()
            self.expired.emit()


# The volume button steps through these, then mute, then back to loud.
VOLUME_STEPS = (1.0, 0.6, 0.3)
VOLUME_NAMES = {1.0: "loud", 0.6: "medium", 0.3: "quiet"}


_COMMUNE = re.compile(
    r"^(?:UBND|Ủy ban nhân dân|Uỷ ban nhân dân)\s+(xã|phường|thị trấn|đặc khu)\s+(.+?)"
    r"(\s*\(bản thử\))?$",
    re.IGNORECASE,
)
_UNIT_KEYS = {"xã": "commune", "phường": "ward", "thị trấn": "town", "đặc khu": "zone"}


def commune_title(name: str, tr) -> str:
    """'UBND xã Minh Khai' in the reader's language ('Minh Khai Commune People's
    Committee'); a name in another form is shown as it is written."""
    m = _COMMUNE.match(name.strip())
    if m is None:
        return name
    unit, place, demo = m.group(1).lower(), m.group(2), m.group(3)
    text = tr(f"screens.shell.unit.{_UNIT_KEYS[unit]}", name=place)
    return text + (" " + tr("screens.shell.demo_suffix") if demo else "")


class TopBar(QWidget):
    """Language choice, repeat-prompt and the demo banner: on every screen."""

    language_chosen = Signal(str)
    repeat = Signal()
    volume = Signal()

    def __init__(self, vc: ViewContext) -> None:
        super().__init__()
        self.vc = vc
        self.setObjectName("topBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        # First line: where this is, and the demo warning; second: the buttons.
        head = QHBoxLayout()
        head.setContentsMargins(24, 6, 0, 0)
        self.place = QLabel()
        self.place.setWordWrap(True)
        head.addWidget(self.place, 1)
        self.demo = QLabel()
        self.demo.setObjectName("demoBanner")
        self.demo.setVisible(vc.app.settings.demo)
        head.addWidget(self.demo)
        col.addLayout(head)
        # The languages, then the sound and clerk buttons: one line on a wide screen, two
        # on a narrow (portrait) one, so no name is squeezed.
        row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        row.setContentsMargins(24, 6, 24, 8)
        self.buttons_row = row
        langs = QHBoxLayout()
        langs.addStretch(1)
        tools = QHBoxLayout()
        tools.addStretch(1)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.lang_buttons: dict[str, QPushButton] = {}
        self.lang_row = langs
        self.refresh_languages()
        self.repeat_button = QPushButton()
        self.repeat_button.setObjectName("barButton")
        self.repeat_button.setIcon(QIcon(pictogram_pixmap("replay", 96)))
        self.repeat_button.setIconSize(QSize(40, 40))
        self.repeat_button.clicked.connect(self.repeat)
        tools.addWidget(self.repeat_button)
        self.volume_button = QPushButton()
        self.volume_button.setObjectName("barButton")
        self.volume_button.setIconSize(QSize(44, 44))
        self.volume_level = ""
        self.volume_button.clicked.connect(self.volume)
        tools.addWidget(self.volume_button)
        self.clerk_button = QPushButton()
        self.clerk_button.setObjectName("barButton")
        self.clerk_button.clicked.connect(lambda: vc.nav.go("clerk_login"))
        tools.addWidget(self.clerk_button)
        row.addLayout(langs)
        row.addLayout(tools)
        col.addLayout(row)

    NARROW = 1200  # px: the buttons take two lines below this width

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        wide = self.width() >= self.NARROW
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.buttons_row.direction() != direction:
            self.buttons_row.setDirection(direction)

    def refresh_languages(self) -> None:
        """One button per offered language (again after language packs were installed)."""
        vc = self.vc
        for button in self.lang_buttons.values():
            self.group.removeButton(button)
            self.lang_row.removeWidget(button)
            button.deleteLater()
        self.lang_buttons = {}
        for i, lang in enumerate(offered_languages(vc.app), start=1):
            button = QPushButton(vc.app.translator.tr("lang.self", lang))
            button.setObjectName("langButton")
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, lang=lang: self.language_chosen.emit(lang))
            self.group.addButton(button)
            self.lang_buttons[lang] = button
            self.lang_row.insertWidget(i, button)

    def retranslate(self) -> None:
        self.place.setText(commune_title(self.vc.app.settings.commune_name, self.vc.tr))
        self.demo.setText(self.vc.tr("shell.demo_banner"))
        self.repeat_button.setText(self.vc.tr("shell.repeat"))
        self.repeat_button.setAccessibleName(self.vc.tr("shell.repeat"))
        self.clerk_button.setText(self.vc.tr("clerk.nav.entry"))
        session = self.vc.app.session
        level = "off" if session.muted else VOLUME_NAMES.get(session.volume, "loud")
        # A speaker with as many waves as the volume (crossed out when off), no word.
        name = self.vc.tr(f"shell.volume.{level}")
        self.volume_button.setAccessibleName(name)
        self.volume_button.setToolTip(name)
        if level != self.volume_level:
            self.volume_level = level
            self.volume_button.setIcon(QIcon(pictogram_pixmap(f"volume_{level}", 96)))
        speech = self.vc.app.speech is not None
        self.volume_button.setVisible(speech)
        self.repeat_button.setVisible(speech)
        for lang, button in self.lang_buttons.items():
            button.setChecked(lang == self.vc.app.session.lang)


class ScreenStack(QStackedWidget):
    """The screens, in whatever room the top bar and the keyboard leave. It claims no
    height of its own: a screen's wrapped text must not push the keyboard off the window."""

    def hasHeightForWidth(self) -> bool:
        return False


class MainWindow(QMainWindow):
    def __init__(
        self,
        app_ctx,
        tasks: TaskRunner | None = None,
        start: str = HOME,
        app_filters: bool = True,
    ) -> None:
        """`app_filters=False`: the application-wide event filters (listen-first, the
        keyboard's focus watch, the idle watch) wait for install_app_filters(); the kiosk
        calls it right after the first paint, so building and painting the home screen
        does not pass every event through Python."""
        super().__init__()
        self.app_filters = app_filters
        self.setWindowTitle("Kiosk")
        self.nav = Navigator(start)
        self.vc = ViewContext(app_ctx, self.nav, tasks or TaskRunner(self))
        # Results of background work go only to the visit and screen entry that asked.
        self.vc.tasks.owner = lambda: (app_ctx.session.visit, self.nav.entries)
        self.screens: dict[str, Screen] = {}
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.top = TopBar(self.vc)
        self.top.language_chosen.connect(self.set_language)
        self.top.repeat.connect(self.repeat_prompt)
        self.top.volume.connect(self.next_volume)
        layout.addWidget(self.top)
        self.stack = ScreenStack()
        # The screens take the room left, never more: a screen too tall for it is a fault
        # the audit reports, not a reason for the window to grow past the screen.
        self.stack.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout.addWidget(self.stack, 1)
        # The on-screen keyboard sits under the screen and shows while a text field has focus.
        # Each language's extra letters come from its profile (kiosk.services.language_data).
        self.keyboard = VietKeyboard(self.vc.tr, layouts=app_ctx.language_data.keyboard)
        layout.addWidget(self.keyboard)
        self.keyboard_ctl = KeyboardController(
            self.keyboard, self, language=lambda: app_ctx.session.lang
        )
        if not app_filters:
            QApplication.instance().removeEventFilter(self.keyboard_ctl)
        self.keyboard.installEventFilter(self)
        self.short = False
        self.setCentralWidget(central)
        s = app_ctx.settings
        self.still_there = StillThere(self.vc, central, s.idle_countdown_s)
        self.still_there.expired.connect(self.reset_session)
        self.idle = IdleWatcher(s.idle_timeout_s)
        self.idle.idle.connect(self._on_idle)
        self.nav.changed.connect(self._show)
        self.nav.session_reset.connect(self.reset_session)
        self.listen = ListenHelper(self, app_ctx)  # long press speaks; listen-first mode
        if not app_filters:
            QApplication.instance().removeEventFilter(self.listen)
        self.prompt_hooks: list = []  # callables (screen) -> None, e.g. speech
        self.reset_hooks: list = []  # callables () -> None, run when a session ends
        self.start_hooks: list = []  # callables () -> None, run by start() (e.g. sync)
        self.started = False
        self.top.retranslate()

    # Short screens -------------------------------------------------------------
    SHORT = 1100  # px: below this the keyboard is compact and the top bar gives way to it
    NARROW = 1200  # px: below this the letter keys are narrower

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Measured while the keyboard is down: with it up the window may be stretched.
        if not self.keyboard.isVisibleTo(self):
            self.short = self.height() < self.SHORT
            self.keyboard.set_compact(self.short, self.width() < self.NARROW)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.keyboard and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            # On a short screen the top bar gives its room to the keyboard while it is up.
            up = event.type() == QEvent.Type.Show
            self.top.setVisible(not (up and self.short))
            bar = getattr(self, "clerk_bar", None)
            if bar is not None and self.short:
                # The clerk bar too; it comes back with the keyboard's Done.
                name = self.nav.current
                clerk = name is not None and registry.spec(name).audience == "clerk"
                bar.setVisible(clerk and not up)
            current = self.current_screen()
            if current is not None and hasattr(current, "keyboard_shown"):
                current.keyboard_shown(up)  # a screen may give room to the keyboard
            if up:
                # The content scrolls above the keyboard so the field typed into stays in view.
                QTimer.singleShot(0, self.show_focused_field)
        return False

    def show_focused_field(self) -> None:
        current = self.current_screen()
        focused = QApplication.focusWidget()
        if current is not None and focused is not None:
            current.show_in_view(focused)

    def fill_screen(self) -> None:
        from kiosk.qt.app import fill_screen

        fill_screen(self)

    # Screens ---------------------------------------------------------------
    def screen_widget(self, name: str) -> Screen:
        if name not in self.screens:
            widget = registry.spec(name).cls(self.vc)
            widget.pin_footer()
            self.screens[name] = widget
            self.stack.addWidget(widget)
        return self.screens[name]

    def current_screen(self) -> Screen | None:
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, Screen) else None

    def _show(self, name: str) -> None:
        # A clerk at the counter may read or talk for minutes; a citizen's screen is
        # guarded tightly so nothing personal stays up when they walk away.
        s = self.vc.app.settings
        clerk = registry.spec(name).audience == "clerk"
        self.idle.timer.setInterval(1000 * (s.clerk_idle_timeout_s if clerk else s.idle_timeout_s))
        previous = self.current_screen()
        if previous is not None:
            previous.leave()
        self.listen.disarm()
        widget = self.screen_widget(name)
        widget.enter(self.nav.state())
        if self.nav.current != name:
            return  # the screen moved on while entering (e.g. work that finished at once)
        self.stack.setCurrentWidget(widget)
        self.top.retranslate()
        for hook in self.prompt_hooks:
            hook(widget)

    def show_sample(self, name: str) -> Screen:
        """Show a screen with its registered sample data (screenshots, audit, self-test)."""
        sample = registry.spec(name).sample(self.vc)
        self.nav.history = [(name, sample)]
        self.nav.entries += 1
        self.nav.changed.emit(name)  # as a real visit: the clerk bar follows too
        return self.screens[name]

    # Language, prompts -------------------------------------------------------
    def set_language(self, lang: str) -> None:
        if lang not in self.vc.app.translator.languages():
            return
        self.vc.app.session.lang = lang
        self.top.retranslate()
        bar = getattr(self, "clerk_bar", None)
        if bar is not None:
            bar.retranslate()
        for widget in self.screens.values():
            widget.retranslate()
        current = self.current_screen()
        if current is not None:
            for hook in self.prompt_hooks:
                hook(current)

    def next_volume(self) -> None:
        """Loud, medium, quiet, off, loud…; the session's choice, reset when it ends."""
        player = self.vc.app.speech
        session = self.vc.app.session
        if player is None:
            return
        if session.muted:
            player.set_muted(False)
            player.set_volume(VOLUME_STEPS[0])
        elif session.volume == VOLUME_STEPS[-1]:
            player.set_muted(True)
        else:
            i = VOLUME_STEPS.index(session.volume) if session.volume in VOLUME_STEPS else 0
            player.set_volume(VOLUME_STEPS[i + 1])
        self.top.retranslate()
        if not session.muted:
            self.repeat_prompt()

    def repeat_prompt(self) -> None:
        current = self.current_screen()
        if current is not None:
            for hook in self.prompt_hooks:
                hook(current)

    # Idle and session --------------------------------------------------------
    def start(self) -> None:
        self.started = True
        if self.app_filters:
            QApplication.instance().installEventFilter(self.idle)
        self.nav.home()
        self.idle.start()
        for hook in self.start_hooks:
            hook()

    def install_app_filters(self) -> None:
        """The application-wide event filters, in the order they are otherwise installed."""
        app = QApplication.instance()
        for event_filter in (self.keyboard_ctl, self.listen, self.idle):
            app.installEventFilter(event_filter)
        self.app_filters = True

    def _on_idle(self) -> None:
        if self.nav.current == self.nav.home_name and len(self.nav.history) <= 1:
            # Nothing to protect on the home screen; just make sure it is clean.
            self.reset_session()
            return
        self.still_there.open()

    def reset_session(self) -> None:
        """Wipe the citizen's data from every screen and from memory, then go home."""
        self.still_there.close_overlay()
        for widget in self.screens.values():
            widget.wipe()
        app = self.vc.app
        app.end_visit()
        for hook in self.reset_hooks:
            hook()
        self.top.retranslate()
        self.nav.home()
        self.idle.start()
        log.info("session reset")
