"""The number kit: numbers, codes and dates as recorded words, read aloud in a language no
speech engine speaks."""

from __future__ import annotations

import json
import wave
from datetime import date

import pytest

from kiosk.hardware.speech import MockSpeech, PromptPlayer
from kiosk.services.i18n import Translator
from kiosk.services.numbers import KIT_KEYS, date_keys, digit_keys, number_keys
from tests.test_langpacks import wav_bytes

VI = Translator.from_resources().catalogues["vi"]


def said(keys: list[str]) -> str:
    return " ".join(VI[k] for k in keys)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (7, "bảy"),
        (10, "mười"),
        (15, "mười năm"),
        (21, "hai mươi một"),
        (105, "một trăm lẻ năm"),
        (110, "một trăm mười"),
        (1005, "một nghìn không trăm lẻ năm"),
        (2026, "hai nghìn không trăm hai mươi sáu"),
        (50000, "năm mươi nghìn"),
        (1_200_000, "một triệu hai trăm nghìn"),
    ],
)
def test_numbers_are_composed_as_the_kit_says_them(n, words):
    # Plain forms: Vietnamese says "mười lăm" and "hai mươi mốt", the kit plays each word
    # as recorded; the order and the words are those of Vietnamese.
    assert said(number_keys(n)) == words


def test_codes_dates_and_limits():
    assert said(digit_keys("QN-000123-7")) == "không không không một hai ba bảy"
    assert said(date_keys(date(2026, 3, 15))) == (
        "mười năm tháng ba hai nghìn không trăm hai mươi sáu"
    )
    with pytest.raises(ValueError):
        number_keys(1_000_000_000)
    assert all(key in VI for key in KIT_KEYS)


def kit_folder(tmp_path, missing: set[str] = frozenset()):
    root = tmp_path / "audio"
    (root / "tyz").mkdir(parents=True)
    for key in (*KIT_KEYS, "kit.receipt_code"):
        if key not in missing:
            (root / "tyz" / f"{key}.wav").write_bytes(wav_bytes(0.2))
    return root


def test_a_recorded_kit_is_played_as_one_recording(tmp_path):
    engine = MockSpeech(kit_folder(tmp_path))
    player = PromptPlayer(engine, translator=Translator.from_resources())
    keys = ["kit.receipt_code", *digit_keys("123")]
    assert player.say_kit("tyz", keys) == "spoken"
    spoken = engine.spoken[-1]
    assert spoken.source == "recording"
    with wave.open(str(spoken.path)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds == pytest.approx(4 * 0.2 + 3 * 0.12, abs=0.02)


def test_a_word_without_a_recording_leaves_the_kit_unused(tmp_path):
    engine = MockSpeech(kit_folder(tmp_path, missing={"kit.digit.3"}))
    player = PromptPlayer(engine, translator=Translator.from_resources())
    assert player.say_kit("tyz", digit_keys("123")) == "missing"
    assert player.say_kit("tyz", digit_keys("12")) == "spoken"
    assert engine.spoken[-1].source == "recording"


def test_the_done_screen_reads_the_receipt_from_the_kit(kiosk_qapp, data_dir, qtbot, tmp_path):
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt.speech_bridge import install_speech
    from kiosk.qt.tasks import TaskRunner
    from kiosk.services.langpacks import PackStore, build_pack
    from kiosk.views.shell import MainWindow
    from tests.test_journey import MARITAL, Taps, answer_marital, start_procedure, type_manual
    from tests.test_langpacks import pack_folder

    src = pack_folder(tmp_path)
    words = (*KIT_KEYS, "kit.receipt_code", "kit.procedure", "kit.expected")
    for key in (*words, f"proc.{MARITAL}.title"):
        (src / "audio" / "tyz" / f"{key}.wav").write_bytes(wav_bytes(0.15))
    # The commune says dates year first, and "hundred" before its digit: data in the pack.
    (src / "language").mkdir()
    order = {"number_kit": {"date": "{year} {month} {day}", "hundreds": "kit.hundred {n}"}}
    (src / "language" / "tyz.json").write_text(json.dumps(order), encoding="utf-8")
    pack = build_pack(src, "tyz", 1, tmp_path / "tyz.zip", base_catalogue_version="t")
    PackStore(data_dir / "language-packs").install(pack, set(), {})
    settings = load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )
    ctx = build_context(settings)
    try:
        tasks = TaskRunner()
        tasks.inline = True
        win = MainWindow(ctx, tasks)
        player = install_speech(win, ctx)
        qtbot.addWidget(win)
        win.resize(1920, 1080)
        win.show()
        win.start()
        taps = Taps(qtbot)
        taps(win.top.lang_buttons["tyz"])
        start_procedure(win, taps, MARITAL)
        taps(win.current_screen().manual_button)
        type_manual(win, taps)
        answer_marital(win, taps)
        taps(win.current_screen().confirm)
        done = win.current_screen()
        assert done.name == "done"
        said: list[list[str]] = []
        say_kit = player.say_kit

        def spy(lang, keys):
            said.append(list(keys))
            return say_kit(lang, keys)

        player.say_kit = spy
        taps(done.read_aloud)
        expected = done.state["expected_date"]
        kit_order = ctx.language_data.number_order("tyz")
        assert kit_order.date == "{year} {month} {day}"
        keys = said[-1]
        assert keys[keys.index("kit.expected") + 1 :] == date_keys(expected, kit_order)
        year = number_keys(expected.year, kit_order)
        assert keys[keys.index("kit.expected") + 1 :][: len(year)] == year
        assert "kit.hundred" in year and year[year.index("kit.hundred") + 1] == "kit.digit.0"
        last = player.engine.spoken[-1]
        assert last.source == "recording" and last.path.name.startswith("kiosk-kit-")
        code = done.code.text()
        with wave.open(str(last.path)) as w:
            seconds = w.getnframes() / w.getframerate()
        # the phrase, every digit of the code, the procedure: at least that many words
        assert seconds >= (2 + len(digit_keys(code)) + 1) * 0.15
    finally:
        ctx.close()
