"""GET /procedures?since=: the catalogue, its as_of and incremental updates."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from portal_helpers import PROCEDURE, new_client, new_portal, raw_request, signed_headers

from kiosk.paths import resource
from kiosk.portal import ReferencePortal
from kiosk.portal.catalogue import CatalogueFileError, load_procedure_files
from kiosk.services.portal_client import Permanent

LAND = {
    "code": "1.004227",
    "version": 1,
    "title": {"vi": "Đăng ký đất đai", "en": "Land"},
    "fields": [],
    "updated_at": "2026-01-05T02:00:00Z",
}


def codes(catalogue) -> list[str]:
    return [p["code"] for p in catalogue.procedures]


def test_full_catalogue_then_only_changes(tmp_path):
    portal = new_portal(tmp_path, procedures=[PROCEDURE, LAND])
    try:
        client = new_client(portal.url)
        full = client.procedures()
        assert codes(full) == ["1.001193", "1.004227"]
        assert (
            next(p for p in full.procedures if p["code"] == "1.004227")["updated_at"]
            == LAND["updated_at"]
        )
        assert all(p["updated_at"] for p in full.procedures)
        assert client.procedures(since=full.as_of).procedures == []

        portal.upsert_procedure(dict(LAND, version=2, withdrawn=True))
        changed = client.procedures(since=full.as_of)
        assert codes(changed) == ["1.004227"]
        assert changed.procedures[0]["withdrawn"] is True
        assert changed.procedures[0]["version"] == 2
        assert datetime.fromisoformat(changed.procedures[0]["updated_at"]) > datetime.fromisoformat(
            full.as_of
        )
        assert client.procedures(since=changed.as_of).procedures == []
        # Withdrawn procedures stay in the full catalogue, flagged.
        assert codes(client.procedures()) == ["1.001193", "1.004227"]
        # A datetime works as `since` too.
        assert codes(client.procedures(since=datetime.fromisoformat("2026-01-01T00:00:00Z"))) == [
            "1.001193",
            "1.004227",
        ]
    finally:
        portal.stop()


def test_invalid_since_is_400(tmp_path):
    portal = new_portal(tmp_path)
    try:
        with pytest.raises(Permanent) as caught:
            new_client(portal.url).procedures(since="yesterday")
        assert (caught.value.status, caught.value.error) == (400, "invalid_since")
        path = "/api/v1/procedures"
        # An unencoded "+" arrives as a space; the portal still reads the offset.
        status, payload, _ = raw_request(
            portal.url,
            "GET",
            path + "?since=2026-01-01T00:00:00+07:00",
            b"",
            signed_headers("GET", path, b""),
        )
        assert status == 200 and len(payload["procedures"]) == 1
    finally:
        portal.stop()


def test_loads_a_folder_and_keeps_updated_at_across_restarts(tmp_path):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(PROCEDURE, ensure_ascii=False), encoding="utf-8")
    (folder / "b.json").write_text(json.dumps({"procedures": [LAND]}), encoding="utf-8")
    db = tmp_path / "p.sqlite3"
    first = ReferencePortal(db, procedures=folder)
    served = {doc["code"]: doc["updated_at"] for doc in first.catalogue()}
    assert set(served) == {"1.001193", "1.004227"}
    first.store.close()
    second = ReferencePortal(db, procedures=folder)
    assert {doc["code"]: doc["updated_at"] for doc in second.catalogue()} == served
    second.store.close()
    # A changed file gets a new updated_at.
    (folder / "a.json").write_text(json.dumps(dict(PROCEDURE, version=4)), encoding="utf-8")
    third = ReferencePortal(db, procedures=folder)
    now_served = {doc["code"]: doc["updated_at"] for doc in third.catalogue()}
    assert now_served["1.001193"] != served["1.001193"]
    assert now_served["1.004227"] == served["1.004227"]
    third.store.close()


def test_bad_catalogue_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"title": "no code"}', encoding="utf-8")
    with pytest.raises(CatalogueFileError, match="broken.json"):
        ReferencePortal(tmp_path / "p.sqlite3", procedures=bad)


def test_default_catalogue_is_the_shipped_folder(tmp_path):
    portal = ReferencePortal(tmp_path / "p.sqlite3")
    try:
        shipped = resource("procedures")
        expected = {p["code"] for p in load_procedure_files(shipped)} if shipped.is_dir() else set()
        assert {p["code"] for p in portal.catalogue()} == expected
    finally:
        portal.store.close()
