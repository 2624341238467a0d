"""The on-screen keyboard in real (offscreen) widgets, driven by mouse clicks on its keys."""

from __future__ import annotations

import unicodedata

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.services.i18n import Translator
from kiosk.views.keyboard import KeyboardController, ToneKey, VietKeyboard

NAME = "Nguyễn Thị Hồng Nhung"
LEFT = Qt.MouseButton.LeftButton


class Form(QWidget):
    """A screen with two text fields, a phone field, a date field and a plain button."""

    def __init__(self, tr) -> None:
        super().__init__()
        col = QVBoxLayout(self)
        self.name = QLineEdit()
        self.address = QLineEdit()
        self.phone = QLineEdit()
        self.phone.setProperty("keyboard", "phone")
        self.date = QLineEdit()
        self.date.setProperty("keyboard", "date")
        self.other = QPushButton("OK")
        self.keyboard = VietKeyboard(tr)
        for w in (self.name, self.address, self.phone, self.date, self.other, self.keyboard):
            col.addWidget(w)
        self.controller = KeyboardController(self.keyboard, self)


@pytest.fixture(scope="module")
def translator():
    return Translator.from_resources()


@pytest.fixture
def form(kiosk_qapp, qtbot, translator):
    w = Form(lambda key: translator.tr(key, "vi"))
    qtbot.addWidget(w)
    w.resize(1280, 1000)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w


def focus(qtbot, edit: QLineEdit) -> None:
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=2000)


def tap(qtbot, keyboard: VietKeyboard, *key_ids: str) -> None:
    for key_id in key_ids:
        button = keyboard.button(key_id)
        assert button.isVisible(), key_id
        qtbot.mouseClick(button, LEFT)


def test_name_with_tone_keys(form, qtbot):
    kb = form.keyboard
    focus(qtbot, form.name)
    tap(
        qtbot,
        kb,
        "shift",
        "n",
        "g",
        "u",
        "y",
        "ê",
        "n",
        "tone.tilde",
        "space",
        "shift",
        "t",
        "h",
        "i",
        "tone.dot",
        "space",
        "shift",
        "h",
        "ô",
        "tone.grave",
        "n",
        "g",
        "space",  # tone before the last letters
        "shift",
        "n",
        "h",
        "u",
        "n",
        "g",
    )
    assert form.name.text() == NAME
    assert unicodedata.is_normalized("NFC", form.name.text())
    assert form.name.hasFocus()  # no key took the focus


def test_name_with_telex(form, qtbot):
    kb = form.keyboard
    focus(qtbot, form.name)
    tap(qtbot, kb, "telex")
    assert kb.telex
    for word in ("Nguyeenx", "Thij", "Hoongf", "Nhung"):
        for ch in word:
            if ch.isupper():
                tap(qtbot, kb, "shift")
            tap(qtbot, kb, ch.lower())
        tap(qtbot, kb, "space")
    tap(qtbot, kb, "backspace")
    assert form.name.text() == NAME


def test_name_field_capitalises_each_word(form, qtbot):
    form.name.setProperty("keyboard", "name")  # read when the field gets the focus
    focus(qtbot, form.address)
    focus(qtbot, form.name)
    kb = form.keyboard
    assert kb.button("h").text() == "H"
    tap(
        qtbot,
        kb,
        "l",
        "o",
        "tone.grave",
        "space",
        "v",
        "ă",
        "n",
        "space",
        "q",
        "u",
        "y",
        "tone.acute",
    )
    assert form.name.text() == "Lò Văn Quý"


def test_caps_lock_and_edits_in_the_middle(form, qtbot):
    focus(qtbot, form.address)
    kb = form.keyboard
    tap(qtbot, kb, "shift", "shift", "a", "b")
    assert form.address.text() == "AB"
    tap(qtbot, kb, "shift")  # off again
    tap(qtbot, kb, "c")
    assert form.address.text() == "ABc"
    form.address.setText("so 12 thon")
    form.address.setCursorPosition(2)  # after "so"
    tap(qtbot, kb, "tone.acute")
    assert form.address.text() == "só 12 thon"


def test_numeric_pad_for_a_phone_field(form, qtbot):
    kb = form.keyboard
    edited = []
    form.phone.textEdited.connect(edited.append)
    focus(qtbot, form.phone)
    assert kb.isVisible() and kb.mode == "numeric"
    assert not kb.button("/").isVisible()  # no "/" in a phone number
    tap(qtbot, kb, *"0912345678", "backspace", "9")
    assert form.phone.text() == "0912345679"
    assert edited and edited[-1] == "0912345679"  # as if typed: screens see textEdited
    with pytest.raises(KeyError):
        kb.button("a")


def test_date_field_has_a_slash(form, qtbot):
    focus(qtbot, form.date)
    kb = form.keyboard
    assert kb.mode == "numeric"
    tap(qtbot, kb, "0", "6", "/", "0", "5", "/", "1", "9", "9", "0")
    assert form.date.text() == "06/05/1990"


def test_keyboard_follows_the_focus(form, qtbot):
    kb = form.keyboard
    form.other.setFocus()
    qtbot.waitUntil(lambda: not kb.isVisible(), timeout=2000)
    focus(qtbot, form.name)
    assert kb.isVisible() and kb.mode == "text" and kb.target is form.name
    focus(qtbot, form.phone)
    assert kb.isVisible() and kb.mode == "numeric" and kb.target is form.phone
    form.other.setFocus()
    qtbot.waitUntil(lambda: not kb.isVisible(), timeout=2000)
    assert kb.target is None
    focus(qtbot, form.name)
    assert kb.isVisible()
    with qtbot.waitSignal(kb.done, timeout=2000):
        tap(qtbot, kb, "done")
    assert not kb.isVisible() and not form.name.hasFocus()


def test_read_only_and_opted_out_fields_get_no_keyboard(form, qtbot):
    form.address.setReadOnly(True)
    focus(qtbot, form.address)
    assert not form.keyboard.isVisible()
    form.name.setProperty("keyboard", "none")
    focus(qtbot, form.name)
    assert not form.keyboard.isVisible()


def test_keys_are_big_unfocusable_and_their_glyphs_exist(form, qtbot):
    kb = form.keyboard
    for mode_field in (form.name, form.date):
        focus(qtbot, mode_field)
        keys = kb.num_keys if kb.mode == "numeric" else kb.keys
        for key_id, button in keys.items():
            if not button.isVisible():
                continue
            assert button.focusPolicy() == Qt.FocusPolicy.NoFocus, key_id
            assert button.width() >= 64 and button.height() >= 64, key_id
            labels = [button] if not isinstance(button, ToneKey) else [button.mark, button.caption]
            if isinstance(button, ToneKey):
                # A touch on the mark or the caption reaches the key itself.
                for label in labels:
                    assert button.childAt(label.geometry().center()) is None, key_id
            for widget in labels:
                font = widget.font()
                assert font.pointSizeF() >= 20, (key_id, font.pointSizeF())
                metrics = QFontMetrics(font)
                for ch in widget.text():
                    assert metrics.inFontUcs4(ord(ch)), (key_id, ch)
                # A word or a pictogram (the arrows are pictograms: the font has none).
                assert widget.text() or not widget.icon().isNull(), key_id


def test_labels_follow_the_language(kiosk_qapp, qtbot, translator):
    lang = {"value": "vi"}
    kb = VietKeyboard(lambda key: translator.tr(key, lang["value"]))
    qtbot.addWidget(kb)
    kb.show()
    assert kb.keys["done"].text() == "Xong"
    assert kb.keys["tone.hook"].caption.text() == "hỏi"
    kb.hide()
    lang["value"] = "en"
    kb.show()  # labels are refreshed every time the keyboard appears
    assert kb.keys["done"].text() == "Done"
    assert kb.keys["space"].text() == "Space"


def test_rendered_keyboard_is_not_blank(form, qtbot, tmp_path):
    focus(qtbot, form.name)
    image = form.keyboard.grab().toImage()
    assert image.width() >= 1000 and image.height() >= 450
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20  # keys, borders, letters: not a flat fill
    assert form.keyboard.grab().save(str(tmp_path / "keyboard.png"))


def test_clear_key_empties_the_field_in_one_tap(form, qtbot):
    kb = form.keyboard
    edited = []
    form.name.textEdited.connect(edited.append)
    focus(qtbot, form.name)
    tap(qtbot, kb, "l", "o", "space", "v")
    assert form.name.text() == "lo v"
    tap(qtbot, kb, "clear")
    assert form.name.text() == "" and edited[-1] == ""
    focus(qtbot, form.phone)
    tap(qtbot, kb, *"0912", "clear")
    assert form.phone.text() == ""


def test_done_key_acts_as_enter(form, qtbot):
    kb = form.keyboard
    entered = []
    form.phone.returnPressed.connect(lambda: entered.append(form.phone.text()))
    focus(qtbot, form.phone)
    tap(qtbot, kb, *"0912", "done")
    assert entered == ["0912"]
    assert not kb.isVisible()
