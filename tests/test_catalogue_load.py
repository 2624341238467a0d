"""The shipped catalogue loads, and every kind of broken file is refused with a message
that names the file and the field."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES, broken_copy, copy_procedures, read_json

from kiosk.services.catalogue import (
    CATEGORIES,
    FIELD_TYPES,
    PREFILL_NAMES,
    CatalogueFileError,
    load_catalogue,
    load_default_catalogue,
)

BIRTH = "birth_registration.json"


def _walk_strings(obj: Any):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _walk_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_strings(v)


def test_every_shipped_file_loads():
    files = sorted(PROCEDURES.glob("*.json"))
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    assert len(catalogue) == len(files) >= 12
    assert load_default_catalogue().get("1.001193") is not None


def test_required_procedures_are_present_with_their_codes():
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    expected = {
        "1.001193": "Đăng ký khai sinh",
        "1.000656": "Đăng ký khai tử",
        "1.000894": "Đăng ký kết hôn",
        "1.004873": "Cấp Giấy xác nhận tình trạng hôn nhân",
        "2.000815": "Chứng thực bản sao từ bản chính",
        "2.000884": "Chứng thực chữ ký",
        "1.001612": "Đăng ký thành lập hộ kinh doanh",
    }
    for code, title in expected.items():
        proc = catalogue.get(code)
        assert proc is not None, code
        assert proc.title("vi") == title
    assert catalogue.get("1.001193").fee_vnd == 0  # on-time birth registration is free
    agriculture = catalogue.visible("agriculture")
    assert len(agriculture) >= 2
    assert all(p.level == "commune" for p in catalogue)


def test_every_procedure_is_complete_in_vi_and_en():
    for proc in load_catalogue(PROCEDURES, PICTOGRAMS):
        for lang in ("vi", "en"):
            assert proc.titles.get(lang), (proc.code, lang)
            assert proc.summaries.get(lang), (proc.code, lang)
            assert proc.legal_bases.get(lang), (proc.code, lang)
            for f in proc.fields:
                assert f.labels.get(lang), (proc.code, f.key, lang)
                for c in f.choices:
                    assert c.labels.get(lang), (proc.code, f.key, c.key, lang)
            for d in proc.required_documents:
                assert d.titles.get(lang), (proc.code, d.key, lang)
        assert proc.title("tyz") == proc.title("vi")  # missing languages fall back to vi
        assert proc.category in CATEGORIES
        assert isinstance(proc.fee_vnd, int) and proc.fee_vnd >= 0
        assert proc.source, proc.code
        assert 1 <= len(proc.fields) <= 6, "forms stay short on a kiosk"
        assert all(f.type in FIELD_TYPES for f in proc.fields)
        assert all(f.prefill in (None, *PREFILL_NAMES) for f in proc.fields)


def test_shipped_text_is_nfc_and_vietnamese_has_diacritics():
    for path in PROCEDURES.glob("*.json"):
        for text in _walk_strings(read_json(path)):
            assert unicodedata.normalize("NFC", text) == text, (path.name, text)
        data = read_json(path)
        assert re.search(r"[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ]", data["title"]["vi"].lower()), (
            path
        )


def test_a_three_field_procedure_without_documents_exists():
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    short = [p for p in catalogue.visible() if len(p.fields) == 3 and not p.required_documents]
    assert short, "the journey test needs one"
    assert catalogue.get("1.004873") in short


def test_verified_flag_is_used_honestly():
    procs = list(load_catalogue(PROCEDURES, PICTOGRAMS))
    local_codes = [p for p in procs if "-L" in p.code]  # the province's local form, QNI-L001
    assert local_codes and not any(p.verified for p in local_codes)
    assert sum(p.verified for p in procs) < len(procs) / 2


def test_file_and_procedure_pictograms_exist():
    catalogue = load_catalogue(PROCEDURES, PICTOGRAMS)
    for proc in catalogue:
        assert catalogue.pictogram_path(proc.pictogram).name == f"{proc.pictogram}.svg"
        assert (PICTOGRAMS / f"{proc.pictogram}.svg").is_file()
    assert catalogue.pictogram_path("no_such_icon").name == "procedure_generic.svg"


def _set(path: str, value: Any):
    """A mutation that sets a dotted path like 'fields.2.type'."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str):
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        del node[last]

    return mutate


BROKEN = [
    (_set("fields.2.type", "datetime"), "fields[2].type", "'datetime' is not one of text, date"),
    (_delete("code"), "code", "missing"),
    (_set("code", ""), "code", "must not be empty"),
    (_set("version", "1"), "version", "whole number"),
    (_set("version", 0), "version", "at least 1"),
    (_delete("title.vi"), "title.vi", "missing"),
    (_set("title", "Đăng ký khai sinh"), "title", "must be an object"),
    (_delete("summary.en"), "summary.en", "missing"),
    (_set("title.fr", "Naissance"), "title.fr", "unknown language"),
    (_set("fields.0.prefill", "nickname"), "fields[0].prefill", "'nickname' is not a card field"),
    (_set("fields.1.prefill", "full_name"), "fields[1].prefill", "cannot fill a date field"),
    (_delete("fields.2.choices"), "fields[2].choices", "needs a non-empty list"),
    (_set("fields.2.choices", []), "fields[2].choices", "needs a non-empty list"),
    (_set("fields.2.choices.1.key", "male"), "fields[2].choices[1].key", "duplicate choice"),
    (_set("fields.1.key", "child_full_name"), "fields[1].key", "duplicate field"),
    (_set("fields.0.key", "Child Name"), "fields[0].key", "lower-case"),
    (_set("fields.0.lable", {"vi": "x"}), "fields[0].lable", "unknown key"),
    (_set("fields.0.required", "yes"), "fields[0].required", "true or false"),
    (_set("fields.0.max_today", True), "fields[0].max_today", "only for date fields"),
    (_set("fields.1.min", "yesterday"), "fields[1].min", "not a date"),
    (_delete("fields.0.label.vi"), "fields[0].label.vi", "missing"),
    (_set("fields", {"a": 1}), "fields", "must be an array"),
    (_delete("fields"), "fields", "missing"),
    (_set("pictogram", "unicorn"), "pictogram", "no file unicorn.svg"),
    (
        _set("required_documents.0.required", "yes"),
        "required_documents[0].required",
        "true or false",
    ),
    (_delete("required_documents.0.title"), "required_documents[0].title", "missing"),
    (_set("fee_vnd", -5), "fee_vnd", "at least 0"),
    (_set("fee_vnd", "free"), "fee_vnd", "whole number"),
    (_set("level", "village"), "level", "'village' is not one of commune"),
    (_set("category", "space"), "category", "'space' is not one of"),
    (_delete("category"), "category", "missing"),
    (_set("withdrawn", "no"), "withdrawn", "true or false"),
    (_set("updated_at", "yesterday"), "updated_at", "not a date-time"),
    (_set("keywords", {"vi": "khai sinh"}), "keywords.vi", "list of strings"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "problem"), BROKEN, ids=[b[1] + ":" + b[2] for b in BROKEN]
)
def test_broken_file_names_file_and_field(tmp_path: Path, mutate, field: str, problem: str):
    folder = broken_copy(tmp_path, BIRTH, mutate)
    with pytest.raises(CatalogueFileError) as info:
        load_catalogue(folder, PICTOGRAMS)
    message = str(info.value)
    assert message.startswith(str(folder / BIRTH) + ": "), message
    assert f": {field}: " in message, message
    assert problem in message, message
    assert info.value.where == field
    assert info.value.key == "catalogue.err.catalogue_broken"


def test_the_example_message_shape(tmp_path: Path):
    folder = broken_copy(tmp_path, BIRTH, _set("fields.2.type", "datetime"))
    with pytest.raises(CatalogueFileError) as info:
        load_catalogue(folder, PICTOGRAMS)
    assert str(info.value) == (
        f"{folder / BIRTH}: fields[2].type: 'datetime' is not one of "
        "text, date, choice, phone, number, id_number, checkbox"
    )


def test_invalid_json_names_the_file(tmp_path: Path):
    folder = copy_procedures(tmp_path)
    (folder / BIRTH).write_text('{"code": "1.001193",', encoding="utf-8")
    with pytest.raises(
        CatalogueFileError, match=re.escape(str(folder / BIRTH)) + ": not valid JSON"
    ):
        load_catalogue(folder, PICTOGRAMS)


def test_not_an_object(tmp_path: Path):
    folder = copy_procedures(tmp_path)
    (folder / BIRTH).write_text(json.dumps(["1.001193"]), encoding="utf-8")
    with pytest.raises(CatalogueFileError, match="must be an object, not array"):
        load_catalogue(folder, PICTOGRAMS)


def test_duplicate_codes_across_files(tmp_path: Path):
    folder = copy_procedures(tmp_path)
    shutil.copy(folder / BIRTH, folder / "zz_birth_again.json")
    with pytest.raises(CatalogueFileError) as info:
        load_catalogue(folder, PICTOGRAMS)
    message = str(info.value)
    assert str(folder / "zz_birth_again.json") in message
    assert ": code: '1.001193' is already used by birth_registration.json" in message


def test_missing_pictogram_file_is_caught(tmp_path: Path):
    pictos = tmp_path / "pictograms"
    shutil.copytree(PICTOGRAMS, pictos)
    (pictos / "birth_registration.svg").unlink()
    with pytest.raises(CatalogueFileError, match=r"birth_registration\.json: pictogram: no file"):
        load_catalogue(PROCEDURES, pictos)


def test_empty_folder_is_an_error(tmp_path: Path):
    with pytest.raises(CatalogueFileError, match="no procedure files"):
        load_catalogue(tmp_path, PICTOGRAMS)
