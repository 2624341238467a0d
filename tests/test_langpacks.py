"""Language packs: made from a plain folder, checked whole, installed atomically into the data
folder, shown on the screens and spoken; a damaged or hostile pack is refused whole."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from kiosk.services.langpacks import (
    PackError,
    PackStore,
    build_pack,
    catalogue_version,
    read_pack,
    source_hash,
)

ROOT = Path(__file__).resolve().parent.parent
HOME_TITLE = "Khảm pây! Mầu au hết lăng?"  # Tày, as a commune translator would write it
PROC = "1.001193"  # birth registration
PROC_TITLE = "Đăng ký cần lục"


def wav_bytes(seconds: float = 0.3, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00\xf0\xff" * int(seconds * rate / 2))
    return buf.getvalue()


def pack_folder(root: Path, lang: str = "tyz", title: str = HOME_TITLE, extra=None) -> Path:
    src = root / f"src-{lang}"
    (src / "i18n" / lang).mkdir(parents=True)
    strings = {"lang.self": "Tày" if lang == "tyz" else "Nùng", "home.title": title}
    strings.update(extra or {})
    (src / "i18n" / lang / "shell.json").write_text(
        json.dumps(strings, ensure_ascii=False), encoding="utf-8"
    )
    (src / "procedures").mkdir()
    (src / "procedures" / f"{PROC}.json").write_text(
        json.dumps({"title": PROC_TITLE}, ensure_ascii=False), encoding="utf-8"
    )
    (src / "audio" / lang).mkdir(parents=True)
    (src / "audio" / lang / "home.prompt.wav").write_bytes(wav_bytes())
    return src


def make_pack(tmp_path: Path, version: int = 1, lang: str = "tyz", **kw) -> Path:
    out = tmp_path / f"{lang}-{version}.zip"
    src = pack_folder(tmp_path / f"v{version}", lang, **kw)
    return build_pack(src, lang, version, out, base_catalogue_version="test")


def rewrite(pack: Path, out: Path, change) -> Path:
    """A copy of `pack` with its entries passed through change(name, data) -> (name, data)."""
    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            item = change(info.filename, src.read(info.filename))
            if item is not None:
                dst.writestr(item[0], item[1])
    return out


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data_dir), KIOSK_CONFIG="", QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "language-pack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------------ command line


def test_build_verify_import_list_export_restore_from_a_plain_folder(tmp_path, data_dir):
    src = pack_folder(tmp_path)
    pack = tmp_path / "tyz.zip"
    made = cli(data_dir, "build", str(src), "--lang", "tyz", "--version", "1", "--out", str(pack))
    assert made.returncode == 0, made.stderr
    assert "tyz" in made.stdout and pack.is_file()
    checked = cli(data_dir, "verify", str(pack))
    assert checked.returncode == 0 and "Tày" in checked.stdout
    installed = cli(data_dir, "import", str(pack))
    assert installed.returncode == 0, installed.stderr
    assert "Đã cài" in installed.stdout  # Vietnamese by default
    store = PackStore(data_dir / "language-packs")
    assert store.installed("tyz").version == 1
    v2 = make_pack(tmp_path, version=2, title="Khảm pây (2)")
    assert cli(data_dir, "import", str(v2)).returncode == 0
    listed = cli(data_dir, "list")
    assert "tyz" in listed.stdout and "2" in listed.stdout
    exported = tmp_path / "export.zip"
    out = cli(data_dir, "export", "--lang", "tyz", "--out", str(exported))
    assert out.returncode == 0, out.stderr
    assert read_pack(exported).strings["home.title"] == "Khảm pây (2)"
    assert cli(data_dir, "restore", "--lang", "tyz").returncode == 0
    assert store.installed("tyz").version == 1


@pytest.mark.parametrize(
    "damage",
    ["one_byte_changed", "dotdot_path", "missing_manifest_entry", "no_manifest", "not_a_zip"],
)
def test_a_damaged_pack_is_refused_whole_and_the_installed_one_stays(tmp_path, data_dir, damage):
    good = make_pack(tmp_path, version=1)
    assert cli(data_dir, "import", str(good)).returncode == 0
    newer = make_pack(tmp_path, version=2, title="Phiên bản hai")
    bad = tmp_path / "bad.zip"
    if damage == "one_byte_changed":

        def change(name, data):
            if name.endswith("shell.json"):
                data = data.replace("Phiên".encode(), "Phiân".encode())
            return name, data

        rewrite(newer, bad, change)
    elif damage == "dotdot_path":
        rewrite(newer, bad, lambda n, d: (n, d))
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("../../evil.json", "{}")
    elif damage == "missing_manifest_entry":
        rewrite(newer, bad, lambda n, d: (n, d))
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("i18n/tyz/extra.json", '{"home.hint": "x"}')
    elif damage == "no_manifest":
        rewrite(newer, bad, lambda n, d: None if n == "manifest.json" else (n, d))
    else:
        bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = cli(data_dir, "import", str(bad))
    assert result.returncode != 0
    assert "từ chối" in result.stderr and "Traceback" not in result.stderr
    installed = PackStore(data_dir / "language-packs").installed("tyz")
    assert installed.version == 1
    verified = cli(data_dir, "verify", str(bad))
    assert verified.returncode != 0
    assert not (tmp_path / "evil.json").exists() and not (data_dir.parent / "evil.json").exists()


def test_non_wav_recording_undrawable_text_and_oversized_files_are_refused(tmp_path):
    src = pack_folder(tmp_path)
    (src / "audio" / "tyz" / "home.hint.wav").write_bytes(b"ID3 an mp3, not a wav")
    with pytest.raises(PackError) as err:
        build_pack(src, "tyz", 1, tmp_path / "a.zip", base_catalogue_version="t")
    assert err.value.kind == "wav" and err.value.file == "audio/tyz/home.hint.wav"

    src = pack_folder(tmp_path / "glyph", extra={"home.hint": "漢字"})
    with pytest.raises(PackError) as err:
        build_pack(src, "tyz", 1, tmp_path / "b.zip", base_catalogue_version="t")
    assert err.value.kind == "glyph"

    big = tmp_path / "big.zip"
    rewrite(make_pack(tmp_path / "c", version=1), big, lambda n, d: (n, d))
    with zipfile.ZipFile(big, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("audio/tyz/huge.wav", b"\0" * (21 * 1024 * 1024))
    with pytest.raises(PackError) as err:
        read_pack(big)
    assert err.value.kind == "size"

    many = tmp_path / "many.zip"
    rewrite(make_pack(tmp_path / "d", version=1), many, lambda n, d: (n, d))
    with zipfile.ZipFile(many, "a") as zf:
        for i in range(5001):
            zf.writestr(f"i18n/tyz/f{i}.json", "{}")
    with pytest.raises(PackError) as err:
        read_pack(many)
    assert err.value.kind == "count"


def test_unknown_keys_are_skipped_and_stale_items_fall_back_to_vietnamese(tmp_path, data_dir):
    vi_title = "Xin chào! Bạn cần làm gì hôm nay?"
    src = pack_folder(tmp_path, extra={"feature.from.the.future": "x", "home.hint": "Mới"})
    out = tmp_path / "p.zip"
    build_pack(
        src,
        "tyz",
        1,
        out,
        base_catalogue_version="t",
        # home.title was translated from an older Vietnamese text; home.hint from today's.
        sources={"i18n:home.title": source_hash("Chào bạn"), "i18n:home.hint": "0" * 16},
    )
    from kiosk.services.i18n import Translator

    vi = Translator.from_resources().catalogues["vi"]
    assert vi["home.title"] == vi_title
    store = PackStore(data_dir / "language-packs")
    keys = set(vi) | {f"proc:{PROC}"}
    texts = {f"i18n:{k}": v for k, v in vi.items()}
    report = store.install(out, keys, texts)
    assert report.unknown_keys == ["feature.from.the.future"]
    assert report.stale == ["i18n:home.hint", "i18n:home.title"]


def test_a_pack_is_not_replaced_by_an_older_version(tmp_path, data_dir):
    store = PackStore(data_dir / "language-packs")
    store.install(make_pack(tmp_path, version=3), set(), {})
    with pytest.raises(PackError) as err:
        store.install(make_pack(tmp_path, version=2), set(), {})
    assert err.value.kind == "version" and store.installed("tyz").version == 3


def test_catalogue_version_follows_the_vietnamese_texts():
    assert catalogue_version({"a": "x"}) != catalogue_version({"a": "y"})
    assert catalogue_version({"a": "x", "b": "y"}) == catalogue_version({"b": "y", "a": "x"})


# ------------------------------------------------------------------------------ screens


@pytest.fixture
def kiosk_with(kiosk_qapp, data_dir, qtbot, tmp_path):
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.hardware.speech import MockSpeech
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views.shell import MainWindow

    made = []

    def start(*packs: Path):
        store = PackStore(data_dir / "language-packs")
        for pack in packs:
            store.install(pack, set(), {})
        settings = load_settings(
            env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir), speech="mock"
        )
        ctx = build_context(settings)
        tasks = TaskRunner()
        tasks.inline = True
        window = MainWindow(ctx, tasks)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        window.start()
        made.append(ctx)
        return window, ctx, MockSpeech(ctx.audio_dirs())

    yield start
    for ctx in made:
        ctx.close()


def test_without_a_pack_a_language_with_no_home_texts_is_not_offered(kiosk_with):
    window, _ctx, _speech = kiosk_with()
    assert set(window.top.lang_buttons) == {"vi", "en"}


def test_an_installed_pack_shows_its_language_texts_procedures_and_recordings(
    kiosk_with, tmp_path, qtbot
):
    from kiosk.hardware.speech import Prompt

    window, ctx, speech = kiosk_with(make_pack(tmp_path))
    assert window.top.lang_buttons["tyz"].text() == "Tày"
    qtbot.mouseClick(window.top.lang_buttons["tyz"], Qt.MouseButton.LeftButton)
    home = window.current_screen()
    assert home.title.text() == HOME_TITLE
    # A key the pack does not translate falls back to Vietnamese, string by string.
    assert window.vc.tr("home.hint") == ctx.translator.tr("home.hint", "vi")
    assert ctx.catalogue.get(PROC).title("tyz") == PROC_TITLE
    plan = speech.plan(Prompt("home.prompt", "tyz", "vi", "…"))
    assert plan.source == "recording" and plan.path.parts[-2:] == ("tyz", "home.prompt.wav")
    assert str(ctx.settings.language_packs_dir) in str(plan.path)


def test_a_new_language_is_a_pack_not_a_code_change(kiosk_with, tmp_path, qtbot):
    window, ctx, _speech = kiosk_with(make_pack(tmp_path, lang="nut", title="Nùng: Khảm pây"))
    assert window.top.lang_buttons["nut"].text() == "Nùng"
    qtbot.mouseClick(window.top.lang_buttons["nut"], Qt.MouseButton.LeftButton)
    assert window.current_screen().title.text() == "Nùng: Khảm pây"


def test_the_receipt_is_printed_in_the_packs_language_beside_vietnamese(tmp_path, data_dir):
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.i18n import Translator
    from kiosk.services.langpacks import apply_installed
    from kiosk.services.receipts import build_receipt_pdf
    from tests.receipt_helpers import flat, pdf_text, sample_data

    pack = make_pack(tmp_path, extra={"receipt.code": "Mã hâng slư"})
    store = PackStore(data_dir / "language-packs")
    store.install(pack, set(), {})
    translator = Translator.from_resources()
    catalogue = load_default_catalogue()
    apply_installed(store, translator, catalogue)
    data = sample_data(lang="tyz")
    text = flat(pdf_text(build_receipt_pdf(data, "a5", translator)))
    assert "Mã biên nhận / Mã hâng slư" in text  # Vietnamese always beside the translation
    assert "receipt.code" not in text
