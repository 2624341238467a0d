import json
import unicodedata

import pytest

from kiosk.services.i18n import CatalogueError, Translator, load_catalogues


def write(root, lang, name, data):
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_per_string_fallback_to_vietnamese(tmp_path):
    write(tmp_path, "vi", "a.json", {"hello": "Xin chào", "bye": "Tạm biệt {name}"})
    write(tmp_path, "tyz", "a.json", {"hello": "Pây lăng"})
    t = Translator(load_catalogues(tmp_path), "tyz")
    assert t.tr("hello") == "Pây lăng"
    assert t.tr("bye", name="Mai") == "Tạm biệt Mai"
    assert t.tr("nothing") == "nothing" and ("tyz", "nothing") in t.missing
    assert t.coverage()["tyz"] == (1, 2)


def test_catalogue_text_is_nfc(tmp_path):
    write(tmp_path, "vi", "a.json", {"k": unicodedata.normalize("NFD", "Hồng Nhung")})
    t = Translator(load_catalogues(tmp_path))
    assert t.tr("k") == unicodedata.normalize("NFC", "Hồng Nhung")


def test_errors_name_the_file(tmp_path):
    write(tmp_path, "vi", "a.json", {"k": "một"})
    write(tmp_path, "vi", "b.json", {"k": "hai"})
    with pytest.raises(CatalogueError, match=r"b\.json.*'k'.*twice"):
        load_catalogues(tmp_path)
    (tmp_path / "vi" / "b.json").write_text("[1,", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"b\.json"):
        load_catalogues(tmp_path)


def test_shipped_catalogues_load_and_en_is_complete():
    t = Translator.from_resources()
    vi = set(t.catalogues["vi"])
    assert vi, "no Vietnamese strings shipped"
    assert vi - set(t.catalogues["en"]) == set()
    for lang in ("vi", "en", "tyz", "ium", "bru"):
        assert t.has("lang.self", lang), f"{lang} lacks its own name"


def test_translations_command_reports_coverage_and_missing_keys():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "translations", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    figures = json.loads(out)
    done, total = figures["vi"]["strings"]  # the strings citizens meet (not the clerks')
    assert done == total > 100
    assert figures["en"]["strings"] == [total, total]
    assert figures["tyz"]["strings"][0] < total  # still to be translated, falls back to vi
    missing = subprocess.run(
        [sys.executable, "-m", "kiosk", "translations", "--missing", "tyz"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert len(missing) == total - figures["tyz"]["strings"][0]
    assert any(line.startswith("home.title\t") for line in missing)


def test_translations_counts_installed_packs_and_studio_work(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.services.clerks import ClerkService

    data = tmp_path / "data"
    ctx = build_context(load_settings(env={}, config_path=tmp_path / "x.toml", data_dir=str(data)))
    clerks = ClerkService(ctx.store)
    admin = clerks.create("admin", "Quản", "admin", "482913")
    lan = clerks.set_role(
        clerks.create("lan", "Lan", "clerk", "2468").username, "translator", True, admin
    )
    hoa = clerks.set_role(
        clerks.create("hoa", "Hoà", "clerk", "1357").username, "reviewer", True, admin
    )
    ctx.studio.save_draft("nut", "i18n:lang.self", "Nùng", lan)
    ctx.studio.save_draft("nut", "i18n:home.title", "Nùng: khảm pây", lan)
    ctx.studio.review("nut", "i18n:lang.self", hoa, approve=True)
    ctx.close()
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data))
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "translations", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    nut = json.loads(out)["nut"]
    assert nut["strings"][0] == 1  # only approved work reaches citizens
    assert nut["approved"][0] == 1 and nut["drafts"][0] == 1
