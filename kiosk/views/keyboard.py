"""An on-screen keyboard for Vietnamese, for touch screens without a physical keyboard.

Qt has no Widgets virtual keyboard, so this is ours. Two ways to write every tone:

- visible tone keys (´ ` ̉ ˜ ̣ with their names sắc huyền hỏi ngã nặng) and letter keys
  ă â đ ê ô ơ ư: tap the letters of a word, then the tone; for citizens who never learnt
  a typing method;
- Telex (aa → â, dd → đ, ow → ơ, s f r x j → tones, z removes the tone), switched on with
  the Telex key, for those who type that way on their phones.

Either way the tone goes on the vowel modern spelling puts it on (hoà, thuỷ, quốc,
giường, Nguyễn), whatever the order the keys were tapped in. Text is inserted NFC.

`KeyboardController` shows the keyboard whenever a QLineEdit (or a QPlainTextEdit: a
feedback, a notice's body) has the focus and hides it when none has. A line edit chooses the layout with a dynamic property:
`edit.setProperty("keyboard", "numeric")` (also "phone", "id_number", "number", "date"
for the number pad, "name" for capitals at the start of each word, "letters" for the
combining marks a clerk composes new letters with, "none" for no keyboard).

A language adds keys as data (kiosk.services.language_data: resources/languages/<lang>.json,
a language pack, the language studio): they show on a row of their own while typing in that
language, the citizen's or the one a field names with
`edit.setProperty("keyboard_lang", "bru")`. A combining-mark key (◌̆) puts its mark on the
letter before the cursor.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from kiosk.services.language_data import COMMON_MARKS, Keyboard
from kiosk.services.text import nfc
from kiosk.views.widgets import pictogram_pixmap

# --- composition (plain text, no widgets) ----------------------------------------------

TONE_MARKS: dict[str, str] = {
    "acute": "\u0301",  # sắc
    "grave": "\u0300",  # huyền
    "hook": "\u0309",  # hỏi
    "tilde": "\u0303",  # ngã
    "dot": "\u0323",  # nặng
}
TONES = tuple(TONE_MARKS)
TELEX_TONES = {"s": "acute", "f": "grave", "r": "hook", "x": "tilde", "j": "dot"}
_MARK_TONE = {mark: tone for tone, mark in TONE_MARKS.items()}
VOWELS = frozenset("aăâeêioôơuưy")
_MODIFIED = frozenset("ăâêôơư")
_CIRCUMFLEX = {"a": "â", "e": "ê", "o": "ô"}
_HORN_BREVE = {"a": "ă", "o": "ơ", "u": "ư"}
_UNHORN = {"ă": "a", "ơ": "o", "ư": "u"}


def split_tone(ch: str) -> tuple[str, str | None]:
    """('ư', 'acute') for 'ứ': the letter with its shape marks, and its tone."""
    tone = None
    rest = []
    for c in unicodedata.normalize("NFD", ch):
        if c in _MARK_TONE:
            tone = _MARK_TONE[c]
        else:
            rest.append(c)
    return unicodedata.normalize("NFC", "".join(rest)), tone


def with_tone(base: str, tone: str | None) -> str:
    return base if tone is None else unicodedata.normalize("NFC", base + TONE_MARKS[tone])


def _bases(word: str) -> list[str]:
    return [split_tone(c)[0].lower() for c in word]


def vowel_cluster(word: str) -> list[int]:
    """Indexes of the vowels of the (last) syllable; the u of qu- and i of gi- are consonants."""
    bases = _bases(word)
    idx = [i for i, b in enumerate(bases) if b in VOWELS]
    if (
        len(bases) > 2
        and bases[0] in "qg"
        and bases[1] == ("u" if bases[0] == "q" else "i")
        and any(i > 1 for i in idx)
    ):
        idx.remove(1)
    if not idx:
        return []
    run = [idx[-1]]
    for i in reversed(idx[:-1]):
        if i != run[0] - 1:
            break
        run.insert(0, i)
    return run


def tone_target(word: str) -> int | None:
    """Index of the vowel that carries the tone, by the modern rules; None without vowels."""
    bases = _bases(word)
    cluster = vowel_cluster(word)
    if not cluster:
        return None
    modified = [i for i in cluster if bases[i] in _MODIFIED]
    if modified:
        return modified[-1]  # ê, ơ, â...; in ươ the ơ
    if len(cluster) >= 3:
        return cluster[1]  # oai, oay, uyu, oeo
    if len(cluster) == 2:
        closed = cluster[-1] < len(word) - 1
        pair = bases[cluster[0]] + bases[cluster[1]]
        # Modern spelling: hoà, hoè, thuỷ; a final consonant always takes it to the 2nd.
        return cluster[1] if closed or pair in ("oa", "oe", "uy") else cluster[0]
    return cluster[0]


def word_tone(word: str) -> str | None:
    for ch in word:
        tone = split_tone(ch)[1]
        if tone:
            return tone
    return None


def set_tone(word: str, tone: str | None) -> str:
    """The word with its tone (if any) moved or changed to `tone` (None: no tone)."""
    plain = [split_tone(c)[0] for c in word]
    target = tone_target(word)
    if tone is not None and target is not None:
        plain[target] = with_tone(plain[target], tone)
    return nfc("".join(plain))


def apply_tone_key(word: str, tone: str) -> str | None:
    """A tone key: put the tone on the word; the same tone again takes it off."""
    if tone_target(word) is None:
        return None
    return set_tone(word, None if word_tone(word) == tone else tone)


def _reshape(ch: str, base: str) -> str:
    """`ch` with another letter shape, keeping its case and tone."""
    old, tone = split_tone(ch)
    return with_tone(base.upper() if old.isupper() else base, tone)


def telex(word: str, key: str) -> str | None:
    """The word after typing `key` by Telex, or None when the key is just a letter."""
    if not word:
        return None
    k = key.lower()
    if k in TELEX_TONES:
        if tone_target(word) is None:
            return None
        tone = TELEX_TONES[k]
        if word_tone(word) == tone:
            return set_tone(word, None) + key  # "ass" -> "as": the letter was meant
        return set_tone(word, tone)
    if k == "z":
        return set_tone(word, None) if word_tone(word) else None
    bases = _bases(word)
    last = bases[-1]
    new: str | None = None
    if k in _CIRCUMFLEX:
        if last == k:
            new = word[:-1] + _reshape(word[-1], _CIRCUMFLEX[k])
        elif last == _CIRCUMFLEX[k]:
            return word[:-1] + _reshape(word[-1], k) + key  # "aaa" -> "aa"
    elif k == "d":
        if last == "d":
            new = word[:-1] + _reshape(word[-1], "đ")
        elif last == "đ":
            return word[:-1] + _reshape(word[-1], "d") + key
    elif k == "w":
        new = _telex_w(word, bases, key)
    if new is None:
        return None
    tone = word_tone(new)
    return set_tone(new, tone) if tone else nfc(new)


def _telex_w(word: str, bases: list[str], key: str) -> str | None:
    cluster = vowel_cluster(word)
    chars = list(word)
    targets: list[int] = []
    for i in cluster[:-1]:
        if bases[i] in "uư" and bases[i + 1] in "oơ" and bases[i] + bases[i + 1] != "ươ":
            targets = [i, i + 1]  # ươ, also when half of it is there already
    if not targets:
        pairs = {bases[i] + bases[i + 1]: i for i in cluster[:-1]}
        if "ua" in pairs or "uu" in pairs:  # mưa, cứu
            targets = [pairs.get("ua", pairs.get("uu", 0))]
        else:
            targets = [i for i in cluster if bases[i] in _HORN_BREVE][-1:]
    if not targets:
        made = [i for i in cluster if bases[i] in _UNHORN]
        if not made:
            return None
        for i in made:  # "ww": undo the marks w made and keep the letter
            chars[i] = _reshape(chars[i], _UNHORN[bases[i]])
        return "".join(chars) + key
    for i in targets:
        chars[i] = _reshape(chars[i], _HORN_BREVE.get(bases[i], bases[i]))
    return "".join(chars)


# --- the widget ------------------------------------------------------------------------


class PlainTextTarget:
    """A QPlainTextEdit (a feedback, a notice's body) typed into as a QLineEdit is: the few
    calls the keyboard makes, on its text cursor."""

    def __init__(self, widget: QPlainTextEdit) -> None:
        self.widget = widget

    def text(self) -> str:
        return self.widget.toPlainText()

    def _cursor(self) -> QTextCursor:
        return self.widget.textCursor()

    def cursorPosition(self) -> int:
        return self._cursor().position()

    def hasSelectedText(self) -> bool:
        return self._cursor().hasSelection()

    def insert(self, text: str) -> None:
        self.widget.insertPlainText(text)

    def backspace(self) -> None:
        cursor = self._cursor()
        if cursor.hasSelection():
            cursor.removeSelectedText()
        else:
            cursor.deletePreviousChar()
        self.widget.setTextCursor(cursor)

    def selectAll(self) -> None:
        self.widget.selectAll()

    def del_(self) -> None:
        cursor = self._cursor()
        if cursor.hasSelection():
            cursor.removeSelectedText()
        else:
            cursor.deleteChar()
        self.widget.setTextCursor(cursor)

    def setSelection(self, start: int, length: int) -> None:
        cursor = self._cursor()
        cursor.setPosition(start)
        cursor.setPosition(start + length, QTextCursor.MoveMode.KeepAnchor)
        self.widget.setTextCursor(cursor)

    def clearFocus(self) -> None:
        self.widget.clearFocus()


UNIT = 88  # width of one key, px
NARROW_UNIT = 72  # on a screen under 1200 px wide: 12.5 keys and their gaps in 1080 px
NARROW_TONE_W = 86
KEY_H = 76  # height of a key, px (touch targets >= 64)
TONE_H = 96  # tone keys carry the mark and its name
GAP = 8
COMPACT_KEY_H = 64  # on short screens (1280x800): the smallest touch target the audit allows
COMPACT_TONE_H = 80
NUM_UNIT = 128  # number pad keys are bigger: they are few

TEXT_ROWS: tuple[tuple[tuple[str, float], ...], ...] = (
    (*((c, 1) for c in "1234567890"), ("backspace", 2)),
    (*((c, 1) for c in "qwertyuiop"), ("-", 1), ("/", 1)),
    (*((c, 1) for c in "asdfghjkl"), (",", 1), (".", 1)),
    (("shift", 2), *((c, 1) for c in "zxcvbnm"), ("shift2", 2)),
    (*((c, 1) for c in "ăâđêôơư"), *((f"tone.{t}", 1.1) for t in TONES)),
    (("telex", 2), ("clear", 2), ("space", 5), ("done", 3)),
)
NUMERIC_ROWS = ("123", "456", "789", "/0<")
NUMERIC_KINDS = frozenset({"numeric", "phone", "id_number", "number", "date"})
SLASH_KINDS = frozenset({"numeric", "date"})
_TONE_LABEL = {t: "\u25cc" + m for t, m in TONE_MARKS.items()}  # the mark on a dotted circle

STYLE = """
QWidget#vietKeyboard { background: #d3dce8; border-top: 3px solid #0a3d7a; }
QWidget#vietKeyboard QPushButton {
    min-width: 0px; min-height: 0px; padding: 0px; margin: 0px;
    border: 2px solid #7b8ca6; border-bottom-width: 4px; border-radius: 12px;
    background: #ffffff; color: #111111; font-size: 26pt; font-weight: normal;
}
QWidget#vietKeyboard QPushButton:pressed { background: #bcd0ec; border-bottom-width: 2px; }
QWidget#vietKeyboard QPushButton#kbVowel { background: #eaf2ff; border-color: #0a3d7a; }
QWidget#vietKeyboard QPushButton#kbAction {
    background: #b7c6db; color: #0a1f3d; font-size: 20pt; font-weight: bold;
}
QWidget#vietKeyboard QPushButton#kbAction:checked { background: #0a3d7a; color: #ffffff; }
QWidget#vietKeyboard QPushButton#kbTone { background: #fff1c7; border-color: #8a6100; }
QWidget#vietKeyboard QPushButton#kbTone:pressed { background: #f3d98a; }
QWidget#vietKeyboard QPushButton#kbExtra { background: #e6f5e9; border-color: #1d6b33; }
QWidget#vietKeyboard QPushButton#kbMarkKey {
    background: #fff1c7; border-color: #8a6100; font-size: 30pt;
}
QWidget#vietKeyboard QPushButton#kbDone {
    background: #0a3d7a; color: #ffffff; border-color: #062a55; font-size: 22pt; font-weight: bold;
}
QWidget#vietKeyboard QPushButton#kbDone:pressed { background: #072b57; }
QWidget#vietKeyboard QLabel { background: transparent; color: #111111; }
QWidget#vietKeyboard QLabel#kbMark { font-size: 26pt; }
QWidget#vietKeyboard QLabel#kbCaption { font-size: 20pt; color: #4d3600; }
"""


def _set_icon(button: QPushButton, pictogram: str) -> None:
    """A pictogram on a key (the shipped font has no arrows), drawn once per key."""
    if button.property("pictogram") == pictogram:
        return
    button.setProperty("pictogram", pictogram)
    button.setIcon(QIcon(pictogram_pixmap(pictogram, 64)))
    button.setIconSize(QSize(32, 32))


class KeyButton(QPushButton):
    """A key that never takes the focus from the line edit being typed into."""

    def __init__(self, key_id: str, role: str, width: int, height: int) -> None:
        super().__init__()
        self.key_id = key_id
        self.setObjectName(role)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.full_height = height
        self.set_key_size(QSize(width, height))

    def set_key_size(self, size: QSize) -> None:
        # Fixed for the layout too (the style sheet sets no minimum of its own).
        self.key_size = size
        self.setFixedSize(size)

    def sizeHint(self) -> QSize:
        return self.key_size

    def minimumSizeHint(self) -> QSize:
        return self.key_size


class ToneKey(KeyButton):
    """The mark, big, over the tone's name."""

    def __init__(self, key_id: str, tone: str, width: int, height: int) -> None:
        super().__init__(key_id, "kbTone", width, height)
        col = QVBoxLayout(self)
        col.setContentsMargins(2, 0, 2, 4)
        col.setSpacing(0)
        self.mark = QLabel(_TONE_LABEL[tone])
        self.mark.setObjectName("kbMark")
        self.caption = QLabel()
        self.caption.setObjectName("kbCaption")
        for label in (self.mark, self.caption):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
            col.addWidget(label)


class VietKeyboard(QWidget):
    """Letters with every Vietnamese tone, a number pad, and Done; types into one QLineEdit."""

    done = Signal()

    def __init__(
        self,
        tr: Callable[[str], str],
        parent: QWidget | None = None,
        telex: bool = False,
        layouts: Callable[[str | None], Keyboard] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr = tr
        self.layouts = layouts or (lambda _lang: Keyboard())
        self.lang: str | None = None
        self.extra: dict[str, KeyButton] = {}  # this language's keys, on their own row
        self.telex_allowed = True
        self.setObjectName("vietKeyboard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.target: QLineEdit | None = None
        self.kind = "text"
        self.telex = telex
        self.shift = 0  # 0 off, 1 for the next letter, 2 caps lock
        self.compact = False
        self.narrow = False
        self.keys: dict[str, KeyButton] = {}
        self.num_keys: dict[str, KeyButton] = {}
        self.pages = QStackedLayout(self)
        self.pages.addWidget(self._text_page())
        self.pages.addWidget(self._numeric_page())
        self.keys["telex"].setChecked(telex)
        self.retranslate()
        self.hide()

    def set_compact(self, compact: bool, narrow: bool = False) -> None:
        """Shorter keys (still 64 px, the smallest touch target) for short screens; narrower
        letter keys for a screen under ~1200 px wide (a portrait one)."""
        for keys in (self.keys, self.num_keys):
            for button in keys.values():
                full = button.full_height
                unit = NARROW_UNIT if narrow and button.unit == UNIT else button.unit
                width = int(unit * button.units + GAP * (button.units - 1))
                if narrow and isinstance(button, ToneKey):
                    width = NARROW_TONE_W  # room for the tone's name at 20 pt
                if compact and button.objectName() in ("kbExtra", "kbMarkKey"):
                    height = COMPACT_KEY_H
                elif compact:
                    height = (
                        COMPACT_TONE_H
                        if isinstance(button, ToneKey)
                        else COMPACT_KEY_H
                        if full <= KEY_H
                        else full * COMPACT_KEY_H // KEY_H
                    )
                else:
                    height = full
                if button.key_size != QSize(width, height):
                    button.set_key_size(QSize(width, height))
        self.compact = compact
        self.narrow = narrow
        self._place_extra()
        self._show_shift()
        self.updateGeometry()  # the window lays it out again (never adjustSize: it has a layout)

    # Building ------------------------------------------------------------------------
    def _key(
        self,
        key_id: str,
        units: float,
        store: dict[str, KeyButton],
        unit: int = UNIT,
        height: int = KEY_H,
    ) -> KeyButton:
        width = int(unit * units + GAP * (units - 1))
        if key_id.startswith("tone."):
            button: KeyButton = ToneKey(key_id, key_id[5:], width, TONE_H)
        elif key_id in ("shift", "shift2", "telex", "backspace", "space", "clear", "more"):
            button = KeyButton(key_id, "kbAction", width, height)
            button.setCheckable(key_id in ("shift", "shift2", "telex"))
            button.setAutoRepeat(key_id == "backspace")
        elif key_id == "done":
            button = KeyButton(key_id, "kbDone", width, height)
        elif key_id.startswith("mark."):
            button = KeyButton(key_id, "kbMarkKey", width, height)
            button.setText("\u25cc" + key_id[5:])  # the mark on a dotted circle
        elif key_id.startswith("extra."):
            button = KeyButton(key_id, "kbExtra", width, height)
            button.setText(key_id[6:])
            button.setAccessibleName(key_id[6:])
        else:
            role = "kbVowel" if key_id in "ăâđêôơư" else "kbKey"
            button = KeyButton(key_id, role, width, height)
            button.setText(key_id)
            button.setAccessibleName(key_id)
        button.unit, button.units = unit, units
        button.clicked.connect(lambda _=False, k=key_id: self.press(k))
        store.setdefault(key_id, button)
        return button

    def _text_page(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(12, 12, 12, 12)
        col.setSpacing(GAP)
        col.addStretch(1)
        self.text_col = col
        # The language's own letters (set_language): a row of their own above the Vietnamese
        # letters; on a short screen in the place of the digits, which a key brings back.
        self.extra_row_widget = QWidget()
        self.extra_row = QHBoxLayout(self.extra_row_widget)
        self.extra_row.setContentsMargins(0, 0, 0, 0)
        self.extra_row.setSpacing(GAP)
        self.extra_row_widget.hide()
        self.digits_widget = QWidget()
        digits = QHBoxLayout(self.digits_widget)
        digits.setContentsMargins(0, 0, 0, 0)
        digits.setSpacing(GAP)
        for n, spec in enumerate(TEXT_ROWS):
            if n == len(TEXT_ROWS) - 2:
                col.addWidget(self.extra_row_widget)
            row = QHBoxLayout()
            row.setSpacing(GAP)
            row.addStretch(1)
            for i, (key_id, units) in enumerate(spec):
                if key_id == "tone.acute" and i:
                    row.addSpacing(GAP * 2)  # tone keys apart from the letters
                button = self._key(key_id, units, self.keys)
                if n == 0 and key_id.isdigit():
                    digits.addWidget(button)
                    if key_id == "1":
                        row.addWidget(self.digits_widget)
                else:
                    row.addWidget(button)
                if key_id == "shift2":
                    row.addWidget(self._key("more", 1.5, self.keys))
            row.addStretch(1)
            col.addLayout(row)
            if n == 0:
                self.top_row = row
        col.addStretch(1)
        self.show_digits = False  # on a short screen: the language's letters first
        self.keys["more"].hide()
        return page

    def _numeric_page(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(12, 12, 12, 12)
        centre = QHBoxLayout()
        grid = QGridLayout()
        grid.setSpacing(GAP)
        for r, keys in enumerate(NUMERIC_ROWS):
            for c, ch in enumerate(keys):
                key_id = "backspace" if ch == "<" else ch
                grid.addWidget(self._key(key_id, 1, self.num_keys, NUM_UNIT), r, c)
        grid.addWidget(self._key("clear", 1.5, self.num_keys, NUM_UNIT), 0, 3)
        done = self._key("done", 1.5, self.num_keys, NUM_UNIT, KEY_H * 3 + GAP * 2)
        grid.addWidget(done, 1, 3, 3, 1)
        slash = self.num_keys["/"]
        policy = slash.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the pad keeps its shape without "/"
        slash.setSizePolicy(policy)
        centre.addStretch(1)
        centre.addLayout(grid)
        centre.addStretch(1)
        outer.addStretch(1)
        outer.addLayout(centre)
        outer.addStretch(1)
        return page

    def retranslate(self) -> None:
        for keys in (self.keys, self.num_keys):
            for key_id, button in keys.items():
                if isinstance(button, ToneKey):
                    name = self.tr(f"keyboard.{key_id}")
                    button.caption.setText(name)
                    button.setAccessibleName(name)
                elif key_id in ("done", "space", "telex"):
                    button.setText(self.tr(f"keyboard.{key_id}"))
                    button.setAccessibleName(button.text())
                elif key_id == "clear":
                    name = self.tr("keyboard.clear")
                    button.setText(name)
                    _set_icon(button, "key_clear")
                    button.setAccessibleName(name)
                elif key_id == "backspace":
                    wide = button.key_size.width() > NUM_UNIT
                    name = self.tr("keyboard.backspace")
                    button.setText(name if wide else "")
                    _set_icon(button, "key_backspace")
                    button.setAccessibleName(name)
                elif key_id in ("shift", "shift2"):
                    button.setAccessibleName(self.tr("keyboard.shift"))
                elif key_id.startswith("mark."):
                    button.setAccessibleName(self.tr("keyboard.mark"))
        self.setAccessibleName(self.tr("keyboard.name"))
        self._show_shift()

    def showEvent(self, event) -> None:
        self.retranslate()  # the citizen may have changed language since the last time
        super().showEvent(event)

    # State ---------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "numeric" if self.pages.currentIndex() == 1 else "text"

    def set_language(self, lang: str | None) -> None:
        """Show the extra keys of `lang` (and of the "letters" kind: the combining marks)."""
        layout = self.layouts(lang) if lang else Keyboard()
        if self.kind == "letters":
            layout = Keyboard((), COMMON_MARKS, layout.telex)
        wanted = [f"extra.{k}" for k in layout.keys] + [f"mark.{m}" for m in layout.marks]
        self.lang = lang
        self.telex_allowed = layout.telex
        self.keys["telex"].setVisible(layout.telex)
        if wanted == list(self.extra):
            return
        for key_id, button in self.extra.items():
            self.extra_row.removeWidget(button)
            self.keys.pop(key_id, None)
            button.deleteLater()
        self.extra = {}
        while self.extra_row.count():
            self.extra_row.takeAt(0)
        self.extra_row.addStretch(1)
        for key_id in wanted:
            self.extra[key_id] = button = self._key(key_id, 1, self.keys)
            self.extra_row.addWidget(button)
            button.show()  # a child added to a shown row is not shown with it
        self.extra_row.addStretch(1)
        self.show_digits = False
        self.set_compact(self.compact, self.narrow)
        self.retranslate()

    def _place_extra(self) -> None:
        """Where the language's letters go: their own row, or on a short screen (where the
        keyboard must not grow) in the digits' place, with a key to switch between them."""
        inline = self.compact and bool(self.extra)
        col, top = self.text_col, self.top_row
        if inline and top.indexOf(self.extra_row_widget) < 0:
            col.removeWidget(self.extra_row_widget)
            top.insertWidget(top.indexOf(self.digits_widget) + 1, self.extra_row_widget)
        elif not inline and col.indexOf(self.extra_row_widget) < 0:
            top.removeWidget(self.extra_row_widget)
            col.insertWidget(col.count() - 3, self.extra_row_widget)  # above ă â đ…
        self.extra_row_widget.setVisible(bool(self.extra) and not (inline and self.show_digits))
        self.digits_widget.setVisible(not inline or self.show_digits)
        self.keys["more"].setVisible(inline)
        more = self.keys["more"]
        letters = [k[6:] for k in self.extra if k.startswith("extra.")][:2]
        label = " ".join(letters) or "\u25cc" + next(iter(self.extra), "mark.\u0306")[5:]
        more.setText("123" if not self.show_digits else label)
        more.setAccessibleName(self.tr("keyboard.more"))

    def attach(
        self,
        edit: QLineEdit | QPlainTextEdit | None,
        kind: str | None = None,
        lang: str | None = None,
    ) -> None:
        """Type into `edit` from now on; `kind` is the line edit's keyboard property, `lang`
        the language typed (its extra keys show)."""
        self.target = PlainTextTarget(edit) if isinstance(edit, QPlainTextEdit) else edit
        self.kind = kind or "text"
        self.set_language(lang)
        numeric = self.kind in NUMERIC_KINDS
        self.pages.setCurrentIndex(1 if numeric else 0)
        for i in range(self.pages.count()):
            # Only the page shown counts for the height, so the number pad takes less room.
            policy = (
                QSizePolicy.Policy.Preferred
                if i == self.pages.currentIndex()
                else QSizePolicy.Policy.Ignored
            )
            self.pages.widget(i).setSizePolicy(policy, policy)
        self.updateGeometry()
        self.num_keys["/"].setVisible(self.kind in SLASH_KINDS)
        self.shift = 0
        self._auto_shift()

    def button(self, key_id: str) -> KeyButton:
        """The key shown now for `key_id` ('a', 'ê', 'tone.dot', 'shift', 'done'...)."""
        return (self.num_keys if self.mode == "numeric" else self.keys)[key_id]

    def _edit(self) -> QLineEdit | PlainTextTarget | None:
        widget = getattr(self.target, "widget", self.target)
        if widget is not None and not isValid(widget):
            self.target = None
        return self.target

    def _show_shift(self) -> None:
        upper = self.shift > 0
        for key_id, button in self.keys.items():
            if len(key_id) == 1 and key_id.isalpha():
                button.setText(key_id.upper() if upper else key_id)
            elif key_id.startswith("extra."):
                button.setText(key_id[6:].upper() if upper else key_id[6:])
        for key_id in ("shift", "shift2"):
            button = self.keys[key_id]
            button.setChecked(upper)
            _set_icon(button, "key_capslock" if self.shift == 2 else "key_shift")
            # On a narrow keyboard the arrow alone; its name stays for screen readers.
            button.setText("" if self.narrow else self.tr("keyboard.shift"))

    def _auto_shift(self) -> None:
        """Name fields start every word with a capital, as on the ID card."""
        edit = self._edit()
        if self.kind != "name" or edit is None or self.shift == 2:
            self._show_shift()
            return
        before = edit.text()[: edit.cursorPosition()]
        self.shift = 1 if not before or before[-1] == " " else 0
        self._show_shift()

    # Typing ---------------------------------------------------------------------------
    def press(self, key_id: str) -> None:
        """What a tap on the key does (also for programs and tests)."""
        if key_id in ("shift", "shift2"):
            self.shift = (self.shift + 1) % 3
            self._show_shift()
            return
        if key_id == "more":
            self.show_digits = not self.show_digits
            self._place_extra()
            return
        if key_id == "telex":
            self.telex = not self.telex
            self.keys["telex"].setChecked(self.telex)
            return
        if key_id == "done":
            self._done()
            return
        edit = self._edit()
        if edit is None:
            return
        if key_id == "backspace":
            edit.backspace()
            self._auto_shift()
        elif key_id == "clear":
            # As if every letter were erased: validators and textEdited apply.
            edit.selectAll()
            edit.del_()
            self._auto_shift()
        elif key_id == "space":
            edit.insert(" ")
            self._auto_shift()
        elif key_id.startswith("tone."):
            self._compose(lambda word: apply_tone_key(word, key_id[5:]))
        elif key_id.startswith("mark."):
            self._compose(lambda word: nfc(word + key_id[5:]))
        elif key_id.startswith("extra."):
            self._type(key_id[6:])
        else:
            self._type(key_id)

    def _type(self, ch: str) -> None:
        if self.shift:
            ch = ch.upper()
            if self.shift == 1:
                self.shift = 0
                self._show_shift()
        if (
            self.telex
            and self.telex_allowed
            and self.mode == "text"
            and ch.isalpha()
            and self._compose(lambda word: telex(word, ch))
        ):
            return
        self._edit().insert(nfc(ch))

    def _compose(self, change: Callable[[str], str | None]) -> bool:
        """Replace the word before the cursor by change(word); False if it did not apply."""
        edit = self._edit()
        if edit is None or edit.hasSelectedText():
            return False
        text, cursor = edit.text(), edit.cursorPosition()
        start = cursor
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        word = text[start:cursor]
        new = change(word) if word else None
        if new is None:
            return False
        # Select and insert, as typing would: validators, max length and textEdited apply.
        edit.setSelection(start, len(word))
        edit.insert(nfc(new))
        return True

    def _done(self) -> None:
        """Xong: the answer is typed. The keyboard goes down and the field acts as on Enter
        (a question moves on to the next one, a search runs): no second tap on Next."""
        edit = self._edit()
        self.done.emit()
        if edit is not None:
            edit.clearFocus()
        self.hide()
        if isinstance(edit, QLineEdit) and isValid(edit):
            edit.returnPressed.emit()


class KeyboardController(QObject):
    """Shows the keyboard for the focused QLineEdit, hides it when no line edit has focus.

    It watches FocusIn events through an application event filter rather than the
    QApplication.focusChanged signal: that signal hands None to Python for "no widget",
    and PySide6 on Python 3.11 drops a reference to None each time, which crashes a
    long-running kiosk once None's count runs out.
    """

    def __init__(
        self,
        keyboard: VietKeyboard,
        parent: QObject | None = None,
        language: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.keyboard = keyboard
        # The language typed in a field that names none: the citizen's.
        self.language = language or (lambda: None)
        # The audit shows every screen with the widest keyboard of any language.
        self.lang_override: str | None = None
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and isinstance(obj, QWidget):
            self._focus_changed(None, obj)
        return False

    @staticmethod
    def kind_of(edit: QLineEdit | QPlainTextEdit) -> str:
        kind = edit.property("keyboard")
        if isinstance(kind, str) and kind:
            return kind
        hints = edit.inputMethodHints()
        H = Qt.InputMethodHint
        if hints & H.ImhDate:
            return "date"
        if hints & (H.ImhDigitsOnly | H.ImhFormattedNumbersOnly | H.ImhDialableCharactersOnly):
            return "numeric"
        return "text"

    def _focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if not isValid(self.keyboard) or QApplication.closingDown():
            return
        # While a window is torn down, focus moves as its children (our keys too) are deleted.
        with contextlib.suppress(RuntimeError):
            self._follow(new)

    def follow(self, new: QWidget | None) -> None:
        """Show the keyboard for `new` if it is a line edit to type into, else hide it."""
        self._follow(new)

    def _follow(self, new: QWidget | None) -> None:
        if isinstance(new, QLineEdit | QPlainTextEdit) and not new.isReadOnly() and new.isEnabled():
            kind = self.kind_of(new)
            if kind != "none":
                lang = new.property("keyboard_lang")
                if not isinstance(lang, str) or not lang:
                    lang = self.language()
                self.keyboard.attach(new, kind, self.lang_override or lang)
                self.keyboard.show()
                return
        self.keyboard.attach(None)
        self.keyboard.hide()
