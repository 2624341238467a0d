"""Buttons that speak, for citizens who do not read.

- A long press (0.7 s) on any button of a citizen screen speaks its label instead of acting.
- "Listen first" (the big ear button on the home screen, for this visit only): the first tap
  on a button speaks its label, a second tap on the same button within 10 s acts.

A label is spoken as a prompt: its recording in the citizen's language (the language
studio's or a language pack's) first, else espeak-ng for Vietnamese and English, else
silence, exactly as screen prompts are. The key of a label is found from its text: the
translator's strings, and procedure titles (recorded in the studio as proc.<code>.title).
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QEvent, QObject
from PySide6.QtWidgets import QAbstractButton, QApplication

from kiosk.views import registry

LONG_PRESS_MS = 700
SECOND_TAP_MS = 10_000


class ListenHelper(QObject):
    def __init__(self, window, app_ctx) -> None:
        super().__init__(window)
        self.window, self.app = window, app_ctx
        self.pressed: QAbstractButton | None = None
        self.press_time = QElapsedTimer()
        self.armed: QAbstractButton | None = None
        self.armed_time = QElapsedTimer()
        self.spoken: list[str] = []  # the keys spoken, for tests and diagnostics
        QApplication.instance().installEventFilter(self)

    def disarm(self) -> None:
        self.armed = None

    def _citizen_button(self, obj: QObject) -> QAbstractButton | None:
        if not isinstance(obj, QAbstractButton) or not obj.isEnabled():
            return None
        if obj.window() is not self.window:
            return None
        screen = self.window.current_screen()
        if screen is None or registry.spec(screen.name).audience != "citizen":
            return None
        if obj.property("speaks") is False or obj.objectName() in ("langButton",):
            return None  # a language's own name needs no reading; it is its own label
        return obj

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            return False
        button = self._citizen_button(obj)
        if button is None:
            return False
        if kind == QEvent.Type.MouseButtonPress:
            self.pressed = button
            self.press_time.start()
            return False
        if self.pressed is not button:
            return False
        self.pressed = None
        long_press = self.press_time.elapsed() >= LONG_PRESS_MS
        listen_first = bool(getattr(self.app.session, "listen_first", False))
        if not long_press and not listen_first:
            return False
        if not long_press and self.armed is button and self.armed_time.elapsed() < SECOND_TAP_MS:
            self.armed = None
            return False  # the second tap acts
        self.speak(button)
        self.armed = button
        self.armed_time.start()
        button.setDown(False)
        return True  # spoken, not acted on

    # -- the label as a prompt
    def label_of(self, button: QAbstractButton) -> str:
        label = getattr(button, "label", None)
        text = label.text() if label is not None else button.text()
        return text.replace("&", "").strip()

    def key_of(self, text: str, lang: str) -> tuple[str, str]:
        """(prompt key, language the text is written in) for a label."""
        t = self.app.translator
        for language in dict.fromkeys((lang, "vi")):
            for key, value in t.catalogues.get(language, {}).items():
                if value == text:
                    return key, language
        for proc in self.app.catalogue:
            if proc.title(lang) == text:
                written = lang if lang in proc.titles else "vi"
                return f"proc.{proc.code}.title", written
        return "", lang

    def speak(self, button: QAbstractButton) -> None:
        player = self.app.speech
        lang = self.app.session.lang
        text = self.label_of(button)
        key, written = self.key_of(text, lang)
        self.spoken.append(key)
        if player is not None and key and text:
            player.say(key, lang, text, text_lang=written)
