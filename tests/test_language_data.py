"""Language profiles as data: the keyboard's extra letters per language (shipped, in a pack,
added in the studio) and the number kit's word order."""

from __future__ import annotations

import json
import unicodedata
from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from kiosk.paths import resource
from kiosk.services.i18n import Translator
from kiosk.services.langpacks import PackError, PackStore, build_pack, read_pack
from kiosk.services.language_data import (
    COMMON_MARKS,
    MAX_KEYS,
    LanguageData,
    LanguageDataError,
    NumberOrder,
    parse_profile,
    profile_texts,
)
from kiosk.services.numbers import date_keys, number_keys
from kiosk.views.keyboard import KeyboardController, VietKeyboard
from tests.test_keyboard_widget import focus, tap
from tests.test_langpacks import pack_folder

VI = Translator.from_resources().catalogues["vi"]
LEFT = Qt.MouseButton.LeftButton


def said(keys: list[str]) -> str:
    return " ".join(VI[k] for k in keys)


# ------------------------------------------------------------------------- shipped data


def test_every_shipped_profile_is_valid_sourced_and_drawn_by_the_shipped_fonts(kiosk_qapp):
    from reportlab.pdfbase.ttfonts import TTFontFile

    from kiosk.views.theme import FAMILY

    files = sorted(resource("languages").glob("*.json"))
    assert {f.stem for f in files} >= {"tyz", "ium", "bru"}
    glyphs: set[int] = set()
    for ttf in resource("fonts").glob("*.ttf"):
        glyphs.update(TTFontFile(str(ttf)).charToGlyph)
    metrics = QFontMetrics(QFont(FAMILY, 26))
    texts: list[str] = list(COMMON_MARKS)
    for path in files:
        obj = json.loads(path.read_text(encoding="utf-8"))
        profile = parse_profile(path.name, obj)
        # Where each letter set comes from is written down, and what is still to confirm.
        assert profile.sources and all(len(s) > 40 for s in profile.sources), path.name
        assert profile.to_confirm, path.name
        texts += profile_texts(profile)
        for key in profile.keys:
            texts += [key.key.upper()]  # shift types the capital
            if key.status == "to_confirm":
                assert key.note, (path.name, key.key)
    # Letters a studio might compose with the marks (ơ̆, ư̆, ê̆) are drawn too.
    texts += ["ơ\u0306", "ư\u0306", "ê\u0306", "\u25cc"]
    for text in texts:
        for ch in {*text, *unicodedata.normalize("NFC", text)}:
            assert ord(ch) in glyphs, f"{text!r}: U+{ord(ch):04X} not in the shipped fonts"
            assert metrics.inFontUcs4(ord(ch)), f"{text!r}: U+{ord(ch):04X} not drawn on screen"


def test_shipped_keyboards():
    data = LanguageData.from_resources()
    bru = data.keyboard("bru")
    assert bru.keys == ("ĕ", "ĭ", "ŏ", "ŭ") and bru.marks == ("\u0306",)
    assert all(k.status == "to_confirm" for k in data.keys_of("bru"))
    # Iu Mien's Unified Script writes tones with letters: no Telex for it.
    assert data.keyboard("ium").telex is False and data.keyboard("ium").keys == ()
    assert data.keyboard("tyz").keys == () and data.keyboard("tyz").telex
    assert data.keyboard("vi").keys == () and data.keyboard(None).keys == ()
    assert data.widest() == "bru"


@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        ({"keyboard": {"keys": ["ab"]}}, "more than one letter"),
        ({"keyboard": {"keys": ["1"]}}, "not one letter"),
        ({"keyboard": {"keys": ["ĕ", "ĕ"]}}, "twice"),
        ({"keyboard": {"marks": ["e"]}}, "combining mark"),
        ({"keyboard": {"keys": list("ĕĭŏŭǎǐǒǔāī"), "marks": ["\u0306"]}}, f"at most {MAX_KEYS}"),
        ({"keyboard": {"keys": [{"key": "ĕ", "status": "maybe"}]}}, "status"),
        ({"keyboard": {"telex": "no"}}, "true or false"),
        ({"keyboard": {"layout": []}}, "unknown entries"),
        ({"number_kit": {"hundreds": "kit.hundred"}}, "{n}"),
        ({"number_kit": {"hundreds": "{n} hundred"}}, "not a word of the number kit"),
        ({"number_kit": {"date": "{day} {year}"}}, "{month}"),
        ({"number_kit": {"order": "{n}"}}, "unknown entry"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_entry(profile, problem):
    with pytest.raises(LanguageDataError) as err:
        parse_profile("x.json", profile)
    assert problem in str(err.value) and "x.json" in str(err.value)


# ------------------------------------------------------------------------- number order


def test_number_order_is_data_with_the_vietnamese_order_by_default():
    assert said(number_keys(2345)) == "hai nghìn ba trăm bốn mươi năm"
    data = LanguageData.from_resources()
    assert data.number_order("tyz") == NumberOrder()  # no number_kit entry: Vietnamese order
    # A commune sets another order in its profile: multiplier after its word, units before
    # the tens, the month first.
    data.set_layer(
        "packs",
        {
            "xyz": {
                "number_kit": {
                    "hundreds": "kit.hundred {n}",
                    "tens": "kit.tens {n}",
                    "tens_unit": "{unit} kit.and {tens}",
                    "thousands": "kit.thousand {n}",
                    "date": "{month} {day} {year}",
                }
            }
        },
    )
    order = data.number_order("xyz")
    assert said(number_keys(2345, order)) == "nghìn hai trăm ba năm lẻ mươi bốn"
    assert said(number_keys(105, order)) == "trăm một lẻ năm"
    assert said(date_keys(date(2026, 3, 15), order)) == (
        "tháng ba năm lẻ mười nghìn hai trăm không sáu lẻ mươi hai"
    )
    # The studio's entry wins over the pack's for the same template.
    data.set_layer("studio", {"xyz": {"number_kit": {"date": "{year} {month} {day}"}}})
    order = data.number_order("xyz")
    assert order.date == "{year} {month} {day}" and order.hundreds == "kit.hundred {n}"


# ------------------------------------------------------------------------------- packs


def test_a_pack_carries_its_keyboard_and_number_order(tmp_path):
    src = pack_folder(tmp_path, lang="nut")
    (src / "language").mkdir()
    profile = {
        "keyboard": {"keys": ["ǎ", "ǒ"], "sources": ["the commune's Nùng speakers"]},
        "number_kit": {"date": "{month} {day} {year}"},
    }
    (src / "language" / "nut.json").write_text(json.dumps(profile), encoding="utf-8")
    pack = build_pack(src, "nut", 1, tmp_path / "nut.zip", base_catalogue_version="t")
    assert read_pack(pack).profile["keyboard"]["keys"] == ["ǎ", "ǒ"]
    store = PackStore(tmp_path / "packs")
    store.install(pack, set(VI), {})
    from kiosk.services.langpacks import load_overlay

    data = LanguageData.from_resources()
    data.set_layer("packs", load_overlay(store, {}).profiles)
    assert data.keyboard("nut").keys == ("ǎ", "ǒ")
    assert data.number_order("nut").date == "{month} {day} {year}"


def test_the_manifest_may_carry_the_keyboard(tmp_path):
    import zipfile

    from kiosk.services.langpacks import sha256

    src = pack_folder(tmp_path, lang="nut")
    files = {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    manifest = {
        "language": "nut",
        "name": "Nùng",
        "version": 1,
        "base_catalogue_version": "t",
        "created_at": "2026-12-06T00:00:00+00:00",
        "files": {k: sha256(v) for k, v in files.items()},
        "keyboard": {"keys": ["ǒ"]},
    }
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False))
        for k, v in files.items():
            zf.writestr(k, v)
    assert read_pack(path).profile == {"keyboard": {"keys": ["ǒ"]}}


@pytest.mark.parametrize(
    ("profile", "kind", "text"),
    [
        ({"keyboard": {"keys": ["ab"]}}, "json", "more than one letter"),
        ({"keyboard": {"keys": ["\u13a0"]}}, "glyph", "cannot be drawn"),  # not in the font
        ({"number_kit": {"date": "{day}"}}, "json", "{month}"),
    ],
)
def test_a_pack_with_a_bad_keyboard_file_is_refused_whole(tmp_path, profile, kind, text):
    src = pack_folder(tmp_path, lang="nut")
    (src / "language").mkdir()
    (src / "language" / "nut.json").write_text(json.dumps(profile), encoding="utf-8")
    with pytest.raises(PackError) as err:
        build_pack(src, "nut", 1, tmp_path / "nut.zip", base_catalogue_version="t")
    assert err.value.file == "language/nut.json" and err.value.kind == kind
    assert text in str(err.value)
    assert not (tmp_path / "nut.zip").exists()


def test_a_keyboard_file_for_another_language_is_refused(tmp_path):
    src = pack_folder(tmp_path, lang="nut")
    (src / "language").mkdir()
    (src / "language" / "tyz.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PackError) as err:
        build_pack(src, "nut", 1, tmp_path / "nut.zip", base_catalogue_version="t")
    assert err.value.file == "language/tyz.json" and err.value.kind == "layout"


# ------------------------------------------------------------------------------ widget


class Form(QWidget):
    def __init__(self, tr, data: LanguageData, lang: str | None) -> None:
        super().__init__()
        col = QVBoxLayout(self)
        self.text = QLineEdit()
        self.name = QLineEdit()
        self.name.setProperty("keyboard", "name")
        self.letters = QLineEdit()
        self.letters.setProperty("keyboard", "letters")
        self.letters.setProperty("keyboard_lang", "tyz")
        self.box = QPlainTextEdit()  # a feedback, a notice's body
        self.keyboard = VietKeyboard(tr, layouts=data.keyboard)
        for w in (self.text, self.name, self.letters, self.box, self.keyboard):
            col.addWidget(w)
        self.lang = lang
        self.controller = KeyboardController(self.keyboard, self, language=lambda: self.lang)


@pytest.fixture
def form(kiosk_qapp, qtbot):
    translator = Translator.from_resources()
    w = Form(lambda key: translator.tr(key, "vi"), LanguageData.from_resources(), "bru")
    qtbot.addWidget(w)
    w.resize(1280, 1100)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w


def test_the_keyboard_shows_the_language_letters_and_types_them(form, qtbot):
    kb = form.keyboard
    focus(qtbot, form.text)
    assert kb.extra_row_widget.isVisible()
    assert list(kb.extra) == ["extra.ĕ", "extra.ĭ", "extra.ŏ", "extra.ŭ", "mark.\u0306"]
    assert kb.button("extra.ŏ").text() == "ŏ" and kb.button("mark.\u0306").text() == "◌̆"
    for key_id in kb.extra:  # touch targets like every key
        assert kb.button(key_id).width() >= 64 and kb.button(key_id).height() >= 64
    tap(qtbot, kb, "k", "extra.ŏ", "n", "space", "ơ", "mark.\u0306", "space", "shift", "extra.ŭ")
    assert form.text.text() == "k\u014fn \u01a1\u0306 \u016c"
    # The keyboard of a language without extra keys has no extra row; Iu Mien has no Telex.
    form.lang = "ium"
    focus(qtbot, form.name)
    assert not kb.extra_row_widget.isVisible() and not kb.keys["telex"].isVisible()
    kb.telex = True  # even if switched on before, x stays a letter in Iu Mien
    tap(qtbot, kb, "y", "i", "e", "m", "x")
    assert form.name.text() == "Yiemx"
    form.lang = "vi"
    focus(qtbot, form.text)
    assert not kb.extra_row_widget.isVisible() and kb.keys["telex"].isVisible()


def test_a_text_box_is_typed_into_with_tones_and_the_language_letters(form, qtbot):
    kb = form.keyboard
    focus(qtbot, form.box)
    assert kb.isVisible() and "extra.ŏ" in kb.extra
    tap(qtbot, kb, "n", "ư", "ơ", "c", "tone.dot", "space", "k", "extra.ŏ", "n", "x", "x")
    tap(qtbot, kb, "backspace", "space", "a")
    assert form.box.toPlainText() == "nược kŏnx a"
    tap(qtbot, kb, "clear")
    assert form.box.toPlainText() == ""
    tap(qtbot, kb, "done")  # the keyboard goes down; no Enter for a text box
    assert not kb.isVisible() and form.box.toPlainText() == ""


def test_the_letters_field_offers_the_marks_to_compose_new_letters(form, qtbot):
    kb = form.keyboard
    focus(qtbot, form.letters)
    assert list(kb.extra) == [f"mark.{m}" for m in COMMON_MARKS]
    tap(qtbot, kb, "e", "mark.\u030c", "space", "o", "mark.\u0304")
    assert form.letters.text() == "ě ō"


def test_on_a_short_screen_the_letters_take_the_digits_place(form, qtbot):
    kb = form.keyboard
    kb.set_compact(True, narrow=True)
    focus(qtbot, form.letters)  # the most keys: every combining mark
    height = kb.sizeHint().height()
    row = kb.extra_row_widget
    assert row.isVisible() and not kb.digits_widget.isVisible()
    assert kb.top_row.indexOf(row) >= 0  # in the digits' row, beside the backspace
    assert kb.keys["backspace"].isVisible()
    assert row.sizeHint().width() + kb.keys["backspace"].width() + 8 <= 1080 - 24
    assert all(b.height() == 64 for b in kb.extra.values())
    tap(qtbot, kb, "more")  # the digits come back, the letters give way
    assert kb.digits_widget.isVisible() and not row.isVisible()
    tap(qtbot, kb, "2", "more", "mark.\u0308")
    assert form.letters.text() == "2"  # a mark goes on a letter only
    # The keyboard is no taller than the Vietnamese one: a short screen keeps its room.
    form.lang = "vi"
    focus(qtbot, form.text)
    assert not kb.keys["more"].isVisible() and kb.digits_widget.isVisible()
    assert kb.sizeHint().height() == height
    # On a tall screen the letters have a row of their own, with the digits.
    form.lang = "bru"
    kb.set_compact(False)
    focus(qtbot, form.name)
    assert kb.digits_widget.isVisible() and row.isVisible() and not kb.keys["more"].isVisible()
    assert kb.top_row.indexOf(row) < 0


def test_extra_keys_in_a_citizen_journey_and_the_studio(kiosk_qapp, qtbot, tmp_path):
    from kiosk.qt import stage
    from tests.test_studio import make_window

    win, ctx = make_window(tmp_path, qtbot)
    try:
        win.resize(1280, 800)
        stage.settle()
        current = stage.stage(win, "form", "bru")
        assert stage.first_field(current) is not None
        assert win.keyboard.isVisible() and win.keyboard.lang == "bru"
        assert "extra.ŏ" in win.keyboard.extra
        current = stage.stage(win, "form", "vi")
        assert win.keyboard.extra == {}
    finally:
        win.close()
        ctx.close()


# ------------------------------------------------------------------------------ studio


def test_the_studio_adds_letters_that_the_keyboard_shows_and_the_pack_carries(
    kiosk_qapp, qtbot, tmp_path
):
    from kiosk.qt import stage
    from kiosk.views.screens.clerk_common import desk
    from tests.test_studio import Taps, make_window

    taps = Taps(qtbot)
    win, ctx = make_window(tmp_path / "a", qtbot)
    try:
        screen = win.show_sample("studio")  # a clerk who translates and reviews; Tày chosen
        stage.settle()
        assert screen.lang() == "tyz" and screen.keys_edit.isVisible()
        # A wrong entry is refused with a message, and nothing is kept.
        screen.keys_edit.setText("ab")
        taps(screen.keys_button)
        assert screen.message.text() == ctx.translator.tr("studio.err.key", "vi")
        assert ctx.language_data.keyboard("tyz").keys == ()
        screen.keys_edit.setText("ǎ \u0306 ǒ")
        taps(screen.keys_button)
        assert screen.message.text() == ctx.translator.tr("studio.keys.saved", "vi")
        assert ctx.language_data.keyboard("tyz").keys == ("ǎ", "ǒ")
        assert "ǎ ǒ" in screen.keys_now.text()
        screen.choose("bru")  # shipped letters still to be confirmed are named as such
        assert ctx.translator.tr("studio.keys.to_confirm", "vi", keys="ĕ ĭ ŏ ŭ") in (
            screen.keys_now.text()
        )
        screen.choose("tyz")
        # Typing a translation in Tày, the keyboard shows them.
        screen.open_row(0)
        item = win.current_screen()
        item.text.setFocus()
        win.keyboard_ctl.follow(item.text)
        assert win.keyboard.lang == "tyz"
        assert list(win.keyboard.extra) == ["extra.ǎ", "extra.ǒ", "mark.\u0306"]
        # Approved work exported as a pack carries them; a second kiosk shows them.
        studio, clerk = ctx.studio, desk(ctx).clerk
        studio.save_draft("tyz", "i18n:home.title", "Khảm pây", clerk)
        reviewer = desk(ctx).clerks.create("hoa", "Hoà", "clerk", "1357")
        reviewer = desk(ctx).clerks.set_role("hoa", "reviewer", True, clerk)
        studio.review("tyz", "i18n:home.title", reviewer, approve=True)
        pack = studio.export_pack("tyz", tmp_path / "tyz.zip", 1)
        assert read_pack(pack).profile["keyboard"]["marks"] == ["\u0306"]
    finally:
        win.close()
        ctx.close()
    second = tmp_path / "b"
    second.mkdir()
    win2, ctx2 = make_window(second, qtbot)
    try:
        from kiosk.services.langpacks import known_items

        keys, texts = known_items(ctx2.translator, ctx2.catalogue)
        ctx2.packs.install(pack, keys, texts)
        ctx2.apply_language_work()
        assert ctx2.language_data.keyboard("tyz").keys == ("ǎ", "ǒ")
    finally:
        win2.close()
        ctx2.close()


def test_a_citizen_types_feedback_in_bru_on_a_short_screen(kiosk_qapp, qtbot, tmp_path):
    from kiosk.qt import stage
    from tests.test_studio import make_window

    win, ctx = make_window(tmp_path, qtbot)
    try:
        win.resize(1280, 800)
        stage.settle()
        screen = stage.stage(win, "feedback_message", "bru")
        kb = win.keyboard
        assert kb.isVisible() and kb.target.widget is screen.text
        assert not screen.recorder.isVisible()  # the recording row gives way while typing
        for key_id in ("k", "extra.ŏ", "n", "space", "n", "ư", "ơ", "c", "tone.dot"):
            qtbot.mouseClick(kb.button(key_id), LEFT)
        assert screen.text.toPlainText() == "kŏn nược"
        qtbot.mouseClick(kb.button("done"), LEFT)
        stage.settle()
        assert not kb.isVisible() and screen.recorder.isVisible()
        assert screen.text.toPlainText() == "kŏn nược"
    finally:
        win.close()
        ctx.close()


def test_verify_names_the_keyboard_a_pack_adds(tmp_path, data_dir):
    from tests.test_langpacks import cli

    src = pack_folder(tmp_path, lang="nut")
    (src / "language").mkdir()
    profile = {"keyboard": {"keys": ["ǎ"], "marks": ["\u0306"]}, "number_kit": {}}
    (src / "language" / "nut.json").write_text(json.dumps(profile), encoding="utf-8")
    pack = build_pack(src, "nut", 1, tmp_path / "nut.zip", base_catalogue_version="t")
    out = cli(data_dir, "verify", str(pack))
    assert out.returncode == 0, out.stderr
    assert "ǎ ◌̆" in out.stdout
