"""The dossier list: search by name (no diacritics), ID number and receipt code through the
blind indexes; filters; keyset pages; only the page's rows are decrypted."""

from __future__ import annotations

from datetime import UTC, date, timedelta, timezone

import pytest
from sqlalchemy import select

from kiosk.services.crypto import DataCipher, KeyRing
from kiosk.services.dossier_search import (
    KIND_ID,
    KIND_NAME,
    KIND_RECEIPT,
    DossierSearch,
    SearchQuery,
    classify,
)
from kiosk.services.dossiers import DossierService, utcnow
from kiosk.services.models import Dossier
from kiosk.services.receipt_code import make_code
from kiosk.services.store import Store
from tests.clerk_helpers import confirm, days_ago, shape

VN = timezone(timedelta(hours=7))
PEOPLE = [
    ("Nguyễn Thị Hồng Nhung", "001190012345"),
    ("Nguyễn Văn Nam", "022085000123"),
    ("Đặng Văn Quỳnh", "019092004567"),
    ("Lò Thị Nhung", "008188001122"),
    ("Hoàng Thị Ánh", "026079003344"),
]


@pytest.fixture
def world(db_url, tmp_path):
    store = Store(db_url)
    cipher = DataCipher(KeyRing.generate())
    svc = DossierService(store, cipher, "K1", "QN01", tmp_path / "att")
    ids = {name: confirm(svc, name, id_number) for name, id_number in PEOPLE}
    yield svc, DossierSearch(store, cipher, tz=VN), ids
    store.close()


def names(page) -> list[str]:
    return [r.full_name for r in page.rows]


@pytest.fixture(params=["rare", "common"])
def plan(request, monkeypatch):
    """Both name-search plans: from the rarest word, or newest dossiers first (a cap of
    1 makes every word count as common)."""
    if request.param == "common":
        monkeypatch.setattr("kiosk.services.dossier_search.COUNT_CAP", 1)
    return request.param


def test_name_search_ignores_diacritics_case_and_word_order(world, plan):
    svc, search, ids = world
    page = search.page(SearchQuery("nguyen nhung"))
    assert page.kind == KIND_NAME and names(page) == ["Nguyễn Thị Hồng Nhung"]
    assert set(names(search.page(SearchQuery("NHUNG")))) == {
        "Nguyễn Thị Hồng Nhung",
        "Lò Thị Nhung",
    }
    assert names(search.page(SearchQuery("quynh dang"))) == ["Đặng Văn Quỳnh"]
    assert names(search.page(SearchQuery("Đặng   Văn"))) == ["Đặng Văn Quỳnh"]
    # Whole words only, and every word must match.
    assert names(search.page(SearchQuery("nguy"))) == []
    assert names(search.page(SearchQuery("nguyen quynh"))) == []
    assert search.count(SearchQuery("thi")) == 3


def test_id_number_and_receipt_code_search(world):
    svc, search, ids = world
    page = search.page(SearchQuery("022 085 000 123"))
    assert page.kind == KIND_ID and names(page) == ["Nguyễn Văn Nam"]
    code = svc.get(ids["Lò Thị Nhung"]).receipt_code
    for typed in (
        code,
        code.lower().replace("-", ""),
        f" {code.replace('-', ' ')} ",
        f"https://portal.example.gov.vn/r/{code}",
    ):
        page = search.page(SearchQuery(typed))
        assert page.kind == KIND_RECEIPT and names(page) == ["Lò Thị Nhung"], typed
    assert search.page(SearchQuery("001190099999")).rows == []


def test_the_table_is_never_decrypted_to_search(world, monkeypatch):
    """Search is answered by the indexes: only the page shown is decrypted."""
    svc, search, ids = world
    calls = []
    real = search.cipher.decrypt_json
    monkeypatch.setattr(
        search.cipher, "decrypt_json", lambda blob, ctx: calls.append(ctx) or real(blob, ctx)
    )
    page = search.page(SearchQuery("nhung", page_size=1))
    assert len(page.rows) == 1 and [c.split("|")[0] for c in calls] == ["dossiers.applicant"]
    calls.clear()
    assert search.count(SearchQuery("nhung")) == 2 and calls == []
    # No plain personal value is stored anywhere a query could read it.
    rows = svc.store.read(
        lambda s: s.execute(select(Dossier.id_index, Dossier.applicant_enc)).all()
    )
    assert all("001190012345" not in (r.id_index or "") for r in rows)
    assert all(b"Nhung" not in r.applicant_enc for r in rows)


def test_filters_state_procedure_dates_and_not_printed(world, plan):
    svc, search, ids = world
    shape(svc.store, ids["Nguyễn Văn Nam"], state="needs_clerk")
    shape(svc.store, ids["Hoàng Thị Ánh"], confirmed_at=days_ago(10), receipt_printed=True)
    for name in ("Nguyễn Thị Hồng Nhung", "Đặng Văn Quỳnh", "Lò Thị Nhung"):
        shape(svc.store, ids[name], receipt_printed=True)
    assert names(search.page(SearchQuery(state="needs_clerk"))) == ["Nguyễn Văn Nam"]
    assert search.count(SearchQuery(procedure_code="1.004873")) == 5
    assert search.count(SearchQuery(procedure_code="1.001193")) == 0
    # The centre's calendar day now: the dossiers above were confirmed a moment ago.
    today = utcnow().replace(tzinfo=UTC).astimezone(VN).date()
    recent = SearchQuery(date_from=today - timedelta(days=6), date_to=today)
    assert "Hoàng Thị Ánh" not in names(search.page(recent)) and search.count(recent) == 4
    old = SearchQuery(date_to=today - timedelta(days=7))
    assert names(search.page(old)) == ["Hoàng Thị Ánh"]
    page = search.page(SearchQuery(not_printed=True))
    assert names(page) == ["Nguyễn Văn Nam"] and not page.rows[0].receipt_printed
    assert names(search.page(SearchQuery("nam", state="needs_clerk"))) == ["Nguyễn Văn Nam"]
    assert search.page(SearchQuery("nam", state="delivered")).rows == []
    with pytest.raises(ValueError):
        search.page(SearchQuery(state="lost"))


def test_local_days_are_used_for_date_filters(world):
    svc, search, ids = world
    # 18:30 UTC on the 1st is 01:30 on the 2nd in Vietnam.
    from datetime import datetime

    shape(svc.store, ids["Lò Thị Nhung"], confirmed_at=datetime(2026, 3, 1, 18, 30))
    assert names(
        search.page(SearchQuery(date_from=date(2026, 3, 2), date_to=date(2026, 3, 2)))
    ) == ["Lò Thị Nhung"]
    assert search.page(SearchQuery(date_from=date(2026, 3, 1), date_to=date(2026, 3, 1))).rows == []


def test_keyset_pages_cover_every_dossier_once_newest_first(world):
    svc, search, ids = world
    # Same second for several dossiers: the id breaks the tie.
    for i, dossier_id in enumerate(ids.values()):
        shape(svc.store, dossier_id, confirmed_at=days_ago(i // 2))
    seen, cursor, pages = [], None, 0
    while True:
        page = search.page(SearchQuery(page_size=2), cursor)
        seen += [(r.confirmed_at, r.id) for r in page.rows]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)


def test_classify():
    assert classify("") == ("none", "")
    assert classify("001190012345")[0] == KIND_ID
    good = make_code("QN01", 123)
    assert classify(good.lower()) == (KIND_RECEIPT, good)
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert classify(wrong)[0] == KIND_NAME  # a mistyped code finds nothing rather than a wrong one
    assert classify("Nguyễn Văn A") == (KIND_NAME, "Nguyễn Văn A")
