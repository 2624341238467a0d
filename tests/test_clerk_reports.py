"""Dashboard numbers and the daily report (PDF text in Vietnamese, CSV columns)."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.hardware.printers import SimulatedPrinter
from kiosk.services.crypto import DataCipher, KeyRing
from kiosk.services.dossiers import DossierService
from kiosk.services.i18n import Translator
from kiosk.services.models import Attempt, Rating
from kiosk.services.queue import QueueService, load_groups
from kiosk.services.reports import (
    CSV_COLUMNS,
    Reports,
    print_daily_report,
    report_csv,
    report_pdf,
    write_daily_report,
)
from kiosk.services.store import Store
from tests.clerk_helpers import confirm, shape

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 23, 4, 0, 0)  # 11:00 in Vietnam


@pytest.fixture
def world(db_url, tmp_path):
    store = Store(db_url)
    svc = DossierService(store, DataCipher(KeyRing.generate()), "K1", "QN01", tmp_path / "att")
    clock = lambda: NOW  # noqa: E731
    queue = QueueService(store, load_groups(), clock=clock, tz=VN)
    titles = {"1.004873": "Cấp Giấy xác nhận tình trạng hôn nhân"}
    reports = Reports(store, queue, lambda c: titles.get(c, c), tz=VN, clock=clock)
    people = [
        ("Nguyễn Văn Nam", "022085000123"),
        ("Lò Thị Nhung", "008188001122"),
        ("Đặng Văn Quỳnh", "019092004567"),
        ("Hoàng Thị Ánh", "026079003344"),
    ]
    ids = [confirm(svc, name, number) for name, number in people]
    # Two today (local), one yesterday 23:30 local (16:30 UTC), one 20 days ago.
    shape(
        store,
        ids[0],
        confirmed_at=NOW - timedelta(hours=1),
        state="delivered",
        receipt_printed=True,
        assisted_by="mai",
    )
    shape(store, ids[1], confirmed_at=NOW - timedelta(hours=2), state="needs_clerk")
    shape(store, ids[2], confirmed_at=datetime(2026, 11, 22, 16, 30), receipt_printed=True)
    shape(
        store,
        ids[3],
        confirmed_at=NOW - timedelta(days=20),
        state="auth_blocked",
        receipt_printed=True,
    )

    def extra(s) -> None:
        s.add(
            Attempt(
                dossier_id=ids[1],
                at=NOW - timedelta(minutes=50),
                outcome="rejected",
                status_code=422,
                error="422 invalid",
            )
        )
        s.add(Attempt(dossier_id=ids[0], at=NOW - timedelta(minutes=55), outcome="delivered"))
        for face, day in ((4, 23), (3, 23), (1, 23), (4, 22)):
            s.add(
                Rating(
                    day=datetime(2026, 11, day).date(),
                    at=NOW,
                    face=face,
                    procedure_code="1.004873",
                    language="vi",
                )
            )

    store.write_sync(extra)
    queue.take("civil_status")
    queue.take("civil_status", "elderly")
    queue.call_next("1")
    yield reports, ids
    store.close()


def test_dashboard_numbers(world):
    reports, ids = world
    data = reports.dashboard(days=14)
    per_day = dict(data.per_day)
    assert len(data.per_day) == 14 and data.per_day[-1][0].isoformat() == "2026-11-23"
    assert per_day[datetime(2026, 11, 23).date()] == 2
    assert per_day[datetime(2026, 11, 22).date()] == 1  # 16:30 UTC is 23:30 local
    assert data.per_procedure == [("1.004873", 3)]  # the 20-day-old one is outside
    assert data.states["queued"] == 1 and data.states["needs_clerk"] == 1
    assert data.states["auth_blocked"] == 1 and data.states["delivered"] == 1
    assert data.needs_attention == 2
    assert data.oldest_waiting == NOW - timedelta(days=20)
    assert data.failures == 1 and data.not_printed == 1
    assert data.faces == {1: 1, 2: 0, 3: 1, 4: 2}
    assert {d.isoformat(): (m, n) for d, m, n in data.rating_days}["2026-11-23"] == (2.67, 3)
    civil = next(g for g in data.queue if g.group == "civil_status")
    assert (civil.issued, civil.waiting, civil.served) == (2, 1, 1)
    assert reports.outbox_states()["needs_clerk"] == 1


def test_daily_report_counts(world):
    reports, ids = world
    report = reports.daily(datetime(2026, 11, 23).date(), "UBND xã Đồng Văn", "K1")
    assert (report.dossiers, report.assisted, report.not_printed) == (2, 1, 1)
    assert report.per_procedure == [("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân", 2)]
    assert report.per_state["needs_clerk"] == 1 and report.per_state["delivered"] == 1
    assert report.outbox_now["auth_blocked"] == 1 and report.failures == 1
    assert report.faces == {1: 1, 2: 0, 3: 1, 4: 1} and report.rating_mean == 2.67
    assert report.queue[0][0] == "Hộ tịch" and report.queue[0][1].issued == 2


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return out.stdout


def test_report_pdf_prints_vietnamese_in_noto_sans_and_no_personal_data(world, tmp_path):
    reports, ids = world
    report = reports.daily(datetime(2026, 11, 23).date(), "UBND xã Đồng Văn", "K1")
    tr = Translator.from_resources()
    pdf = report_pdf(report, tr)
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "BÁO CÁO NGÀY 23/11/2026",
        "UBND xã Đồng Văn",
        "Số hồ sơ tiếp nhận",
        "Cấp Giấy xác nhận tình trạng hôn nhân",
        "Cần cán bộ xử lý",
        "Hộ tịch",
        "Rất hài lòng",
        "Đánh giá mức độ hài lòng",
    ):
        assert expected in text, expected
    for personal in ("Nguyễn Văn Nam", "Lò Thị Nhung", "022085000123"):
        assert personal not in text
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "NotoSans" in fonts and "Helvetica" not in fonts
    roll = pdf_text(report_pdf(report, tr, size="80mm"), tmp_path)
    assert "BÁO CÁO NGÀY" in roll and "Chờ trung bình" in roll
    english = pdf_text(report_pdf(report, tr, lang="en"), tmp_path)
    assert "DAILY REPORT 23/11/2026" in english


def test_report_csv_columns_and_files(world, tmp_path):
    reports, ids = world
    report = reports.daily(datetime(2026, 11, 23).date(), "UBND xã Đồng Văn", "K1")
    tr = Translator.from_resources()
    data = report_csv(report, tr)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets need for UTF-8
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS == ("day", "section", "key", "label", "value")
    index = {(r["section"], r["key"]): r for r in rows}
    assert index[("dossiers", "total")]["value"] == "2"
    assert index[("procedure", "1.004873")]["label"] == "Cấp Giấy xác nhận tình trạng hôn nhân"
    assert index[("state", "needs_clerk")]["label"] == "Cần cán bộ xử lý"
    assert index[("queue", "civil_status.issued")]["value"] == "2"
    assert index[("rating", "mean")]["value"] == "2.67"
    assert all(r["day"] == "2026-11-23" for r in rows)
    files = write_daily_report(report, tmp_path / "reports", tr)
    assert files.pdf.name == "report-2026-11-23.pdf" and files.pdf.read_bytes().startswith(b"%PDF")
    assert files.csv.read_bytes() == data
    printer = SimulatedPrinter()
    print_daily_report(report, printer, tr, "80mm")
    assert printer.jobs[0][0] == "report-2026-11-23"
