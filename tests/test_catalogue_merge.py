"""Portal updates (GET /procedures?since=) merged into the shipped catalogue, and the
overlay file that keeps them across restarts."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES

from kiosk.services.catalogue import (
    GENERIC_PICTOGRAM,
    OTHER_CATEGORY,
    Catalogue,
    load_catalogue,
)

AS_OF = "2026-11-23T04:40:00Z"


@pytest.fixture()
def catalogue() -> Catalogue:
    return load_catalogue(PROCEDURES, PICTOGRAMS)


def birth_v2() -> dict[str, Any]:
    """The portal's new version of birth registration: vi only, no pictogram, no summary."""
    return {
        "code": "1.001193",
        "version": 2,
        "updated_at": "2026-11-20T08:00:00Z",
        "title": {"vi": "Đăng ký khai sinh (mẫu mới)"},
        "level": "commune",
        "fee_vnd": 0,
        "processing_days": 2,
        "fields": [
            # same vi label as the shipped field: its English label is kept
            {"key": "child_full_name", "type": "text", "required": True,
             "label": {"vi": "Họ, chữ đệm và tên của trẻ"}},
            # a changed vi label: the old English one would be wrong, so it is dropped
            {"key": "child_date_of_birth", "type": "date", "required": True,
             "label": {"vi": "Ngày, tháng, năm sinh của trẻ"}},
            {"key": "ethnicity", "type": "text", "required": False, "label": {"vi": "Dân tộc"}},
        ],
    }  # fmt: skip


def new_procedure() -> dict[str, Any]:
    return {
        "code": "1.011607",
        "version": 1,
        "title": {"vi": "Công nhận hộ nghèo, hộ cận nghèo", "en": "Poor household recognition"},
        "summary": {"vi": "Đề nghị công nhận hộ nghèo."},
        "fee_vnd": 0,
        "fields": [
            {"key": "members", "type": "number", "required": True, "label": {"vi": "Số nhân khẩu"}}
        ],
    }


def test_remote_replaces_fields_version_fees_titles(catalogue):
    before = catalogue.get("1.001193")
    merged = catalogue.merge_remote([birth_v2()], AS_OF)
    proc = merged.get("1.001193")
    assert proc.version == 2
    assert proc.updated_at == "2026-11-20T08:00:00Z"
    assert proc.processing_days == 2
    assert proc.title("vi") == "Đăng ký khai sinh (mẫu mới)"
    # the vi title changed, so the shipped English title no longer translates it
    assert proc.title("en") == "Đăng ký khai sinh (mẫu mới)"
    assert [f.key for f in proc.fields] == ["child_full_name", "child_date_of_birth", "ethnicity"]
    assert proc.field("child_full_name").label("en") == "Child's full name"
    assert proc.field("child_date_of_birth").label("en") == "Ngày, tháng, năm sinh của trẻ"
    assert proc.field("child_date_of_birth").max_today is False  # the remote definition rules
    # local pictogram, summary, documents (absent from the answer) and additions stay
    assert proc.pictogram == before.pictogram == "birth_registration"
    assert proc.summaries == before.summaries
    assert proc.required_documents == before.required_documents
    assert proc.legal_bases == before.legal_bases
    assert proc.category == "civil_status"
    assert proc.origin == "merged"
    assert proc.verified is False  # the check was of version 1
    assert merged.last_as_of == AS_OF
    assert merged.merge_report.updated == ("1.001193",)
    # the original catalogue is not changed
    assert catalogue.get("1.001193") is before
    assert catalogue.last_as_of is None


def test_remote_summary_and_pictogram_win_when_given(catalogue):
    raw = birth_v2()
    raw["summary"] = {"vi": "Tóm tắt mới."}
    raw["pictogram"] = "civil_status"
    proc = catalogue.merge_remote([raw], AS_OF).get("1.001193")
    assert proc.summary("vi") == "Tóm tắt mới."
    assert proc.summary("en") == "Tóm tắt mới."
    assert proc.pictogram == "civil_status"


def test_unknown_remote_pictogram_keeps_the_local_one(catalogue):
    raw = birth_v2()
    raw["pictogram"] = "rocket_ship"
    merged = catalogue.merge_remote([raw], AS_OF)
    assert merged.get("1.001193").pictogram == "birth_registration"
    assert any("rocket_ship" in n for n in merged.merge_report.notes)


def test_withdrawn_is_hidden_but_still_gettable(catalogue):
    raw = {
        "code": "1.000656",
        "version": 2,
        "title": {"vi": "Đăng ký khai tử"},
        "fields": [],
        "withdrawn": True,
    }
    merged = catalogue.merge_remote([raw], AS_OF)
    assert merged.get("1.000656") is not None
    assert merged.get("1.000656").withdrawn
    assert "1.000656" in merged
    assert "1.000656" not in [p.code for p in merged.visible()]
    assert "1.000656" not in [p.code for p in merged.visible("civil_status")]
    assert merged.merge_report.withdrawn == ("1.000656",)
    # offered again later
    back = dict(raw, version=3, withdrawn=False)
    again = merged.merge_remote([back], "2026-11-24T00:00:00Z")
    assert "1.000656" in [p.code for p in again.visible()]


def test_new_remote_procedure_is_added_with_generic_pictogram(catalogue):
    merged = catalogue.merge_remote([new_procedure()], AS_OF)
    proc = merged.get("1.011607")
    assert proc is not None and not proc.withdrawn
    assert proc.pictogram == GENERIC_PICTOGRAM
    assert merged.pictogram_path(proc.pictogram).is_file()
    assert proc.category == OTHER_CATEGORY
    assert proc.origin == "remote"
    assert proc.verified is False
    assert proc.title("en") == "Poor household recognition"
    assert proc.summary("en") == "Đề nghị công nhận hộ nghèo."
    assert merged.categories()[-1] == OTHER_CATEGORY
    assert merged.merge_report.added == ("1.011607",)
    assert [p.code for p in merged.search("ho ngheo")] == ["1.011607"]


def test_bad_remote_entries_are_skipped_and_reported(catalogue, caplog):
    bad_type = copy.deepcopy(birth_v2())
    bad_type["fields"][0]["type"] = "datetime"
    no_vi = new_procedure()
    no_vi["title"] = {"en": "Only English"}
    choice_without_choices = {
        "code": "9.000001",
        "version": 1,
        "title": {"vi": "Thử"},
        "fields": [{"key": "kind", "type": "choice", "label": {"vi": "Loại"}}],
    }
    bad_prefill = {
        "code": "9.000002",
        "version": 1,
        "title": {"vi": "Thử"},
        "fields": [{"key": "n", "type": "text", "label": {"vi": "Tên"}, "prefill": "nickname"}],
    }
    good = {
        "code": "9.000003",
        "version": 1,
        "title": {"vi": "Hợp lệ"},
        "fields": [],
        "some_future_key": {"ignored": True},  # remote entries may carry newer keys
    }
    entries = [bad_type, no_vi, "not an object", choice_without_choices, bad_prefill, good]
    with caplog.at_level(logging.WARNING, logger="kiosk.services.catalogue"):
        merged = catalogue.merge_remote(entries, AS_OF)
    skipped = {s.index: s for s in merged.merge_report.skipped}
    assert set(skipped) == {0, 1, 2, 3, 4}
    assert skipped[0].code == "1.001193" and skipped[0].problem.startswith(
        "fields[0].type: 'datetime'"
    )
    assert skipped[1].problem.startswith("title.vi: missing")
    assert skipped[2].code is None
    assert skipped[3].problem.startswith("fields[0].choices")
    assert skipped[4].problem.startswith("fields[0].prefill")
    assert merged.get("1.001193").version == 1  # the bad update left the local one alone
    assert merged.get("9.000003") is not None
    assert merged.merge_report.added == ("9.000003",)
    assert "portal procedure skipped" in caplog.text


def test_older_remote_version_does_not_replace_newer_local(catalogue):
    old = dict(birth_v2(), version=1)
    older = catalogue.merge_remote([dict(birth_v2(), version=3)], AS_OF).merge_remote([old], AS_OF)
    assert older.get("1.001193").version == 3
    assert older.merge_report.skipped[0].problem.startswith("version: 1 is older than 3")


def test_duplicate_codes_in_one_answer(catalogue):
    merged = catalogue.merge_remote([birth_v2(), dict(birth_v2(), version=4)], AS_OF)
    assert merged.get("1.001193").version == 2
    assert merged.merge_report.skipped[0].problem == "code: duplicate in this answer"


def test_overlay_survives_a_restart(catalogue, tmp_path: Path):
    overlay = tmp_path / "data" / "catalogue_overlay.json"
    withdrawn = {"code": "1.000656", "version": 2, "title": {"vi": "Đăng ký khai tử"},
                 "fields": [], "withdrawn": True}  # fmt: skip
    merged = catalogue.merge_remote([birth_v2(), withdrawn], AS_OF)
    merged = merged.merge_remote([new_procedure()], "2026-11-23T05:00:00Z")
    merged.save_overlay(overlay)
    assert [p.name for p in overlay.parent.iterdir()] == ["catalogue_overlay.json"]  # no temp left
    data = json.loads(overlay.read_text(encoding="utf-8"))
    assert data["as_of"] == "2026-11-23T05:00:00Z"
    assert {p["code"] for p in data["procedures"]} == {"1.001193", "1.000656", "1.011607"}

    restarted = load_catalogue(PROCEDURES, PICTOGRAMS, overlay=overlay)
    assert restarted.last_as_of == "2026-11-23T05:00:00Z"
    assert restarted.get("1.001193").version == 2
    assert restarted.get("1.001193").pictogram == "birth_registration"
    assert restarted.get("1.001193").field("child_full_name").label("en") == "Child's full name"
    assert restarted.get("1.000656").withdrawn
    assert restarted.get("1.011607") is not None
    assert [p.code for p in restarted.visible()] == [p.code for p in merged.visible()]


def test_overlay_on_a_newer_release_keeps_the_newer_shipped_version(catalogue, tmp_path: Path):
    overlay = tmp_path / "overlay.json"
    catalogue.merge_remote([birth_v2()], AS_OF).save_overlay(overlay)
    # the next release ships version 7 of the same procedure
    newer = {**catalogue.procedures}
    newer["1.001193"] = replace(newer["1.001193"], version=7)
    release = Catalogue(newer, PICTOGRAMS, catalogue.pictograms)
    restarted = release.load_overlay(overlay)
    assert restarted.get("1.001193").version == 7
    assert restarted.last_as_of == AS_OF


def test_missing_or_corrupt_overlay_gives_the_shipped_catalogue(catalogue, tmp_path: Path, caplog):
    missing = catalogue.load_overlay(tmp_path / "nope.json")
    assert missing.last_as_of is None and missing.get("1.001193").version == 1

    corrupt = tmp_path / "overlay.json"
    corrupt.write_text('{"format": 1, "as_of": "2026', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kiosk.services.catalogue"):
        loaded = catalogue.load_overlay(corrupt)
    assert loaded.last_as_of is None  # so the next sync asks for everything
    assert loaded.get("1.001193").version == 1
    assert "unreadable" in caplog.text

    corrupt.write_text(json.dumps({"format": 99, "procedures": []}), encoding="utf-8")
    assert catalogue.load_overlay(corrupt).last_as_of is None


def test_saving_replaces_the_previous_overlay(catalogue, tmp_path: Path):
    overlay = tmp_path / "overlay.json"
    first = catalogue.merge_remote([birth_v2()], AS_OF)
    first.save_overlay(overlay)
    second = first.merge_remote([dict(birth_v2(), version=3)], "2026-11-24T00:00:00Z")
    second.save_overlay(overlay)
    data = json.loads(overlay.read_text(encoding="utf-8"))
    assert data["as_of"] == "2026-11-24T00:00:00Z"
    assert [p["version"] for p in data["procedures"]] == [3]
    assert catalogue.load_overlay(overlay).get("1.001193").version == 3


def test_merge_of_an_empty_answer_only_moves_as_of(catalogue):
    merged = catalogue.merge_remote([], AS_OF)
    assert merged.last_as_of == AS_OF
    assert [p.code for p in merged.visible()] == [p.code for p in catalogue.visible()]
    assert merged.merge_report.added == merged.merge_report.updated == ()


def test_an_overlay_entry_that_no_longer_applies_resets_as_of(catalogue, tmp_path: Path):
    overlay = tmp_path / "overlay.json"
    catalogue.merge_remote([birth_v2()], AS_OF).save_overlay(overlay)
    data = json.loads(overlay.read_text(encoding="utf-8"))
    data["procedures"][0]["fields"][0]["type"] = "signature"  # e.g. written by a newer release
    overlay.write_text(json.dumps(data), encoding="utf-8")
    loaded = catalogue.load_overlay(overlay)
    assert loaded.get("1.001193").version == 1
    assert loaded.last_as_of is None  # the next sync fetches the whole catalogue again


def test_the_overlay_keeps_what_was_received_not_later_edits(catalogue, tmp_path: Path):
    raw = birth_v2()
    merged = catalogue.merge_remote([raw], AS_OF)
    raw["version"] = 99
    merged.save_overlay(tmp_path / "o.json")
    assert catalogue.load_overlay(tmp_path / "o.json").get("1.001193").version == 2
