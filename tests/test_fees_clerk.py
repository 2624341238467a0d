"""The clerk's fee desk through real widgets: dossiers awaiting payment, "paid in cash",
"transfer seen", "exempt" (audited, a payment note printed), a bank statement imported and
matched, and the fees on the dashboard and in the daily report."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from receipt_helpers import flat, pdf_text
from sqlalchemy import select

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.printers import SimulatedPrinter
from kiosk.qt.tasks import TaskRunner
from kiosk.services.banks import demo_fee_account
from kiosk.services.i18n import Translator
from kiosk.services.models import AuditEntry
from kiosk.services.payments import CASH, EXEMPT, TRANSFER
from kiosk.services.reports import report_csv
from kiosk.views.screens.clerk_common import desk
from kiosk.views.shell import MainWindow
from tests.store_helpers import draft

PIN = "2468"


def tap(qtbot, widget) -> None:
    QApplication.processEvents()
    assert widget.isVisible() and widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


@pytest.fixture
def win(kiosk_qapp, data_dir, qtbot, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(data_dir / "settings.toml"))
    settings = load_settings(env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    ctx.receipts.printer = SimulatedPrinter()
    ctx.receipts.fee_account = demo_fee_account()
    desk(ctx).clerks.create("mai", "Lò Thị Mai", "clerk", PIN)
    tasks = TaskRunner()
    tasks.inline = True
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    yield window
    window.close()
    ctx.close()


def _open_fees(win, qtbot):
    win.nav.go("clerk_login")
    login = win.current_screen()
    login.username.setText("mai")
    login.pin.setText(PIN)
    tap(qtbot, login.login)
    home = win.current_screen()
    tap(qtbot, home.tiles["fees"])
    screen = win.current_screen()
    assert screen.name == "clerk_fees"
    return screen


def _row_of(screen, code: str) -> int:
    for r in range(screen.table.rowCount()):
        if screen.table.item(r, 0).text() == code:
            return r
    raise AssertionError(f"{code} not listed")


def _actions(app) -> list[str]:
    return app.store.read(lambda s: [e.action for e in s.scalars(select(AuditEntry))])


def test_cash_transfer_and_exempt_from_the_desk(win, qtbot):
    app = win.vc.app
    a, b, c = (app.dossiers.confirm(draft(with_file=False, code="1.001612")) for _ in range(3))
    app.payments.fee_due(a.id, CASH, 100000)
    app.payments.fee_due(b.id, TRANSFER, 100000)
    app.payments.fee_due(c.id, EXEMPT, 100000, ground="poor_household")
    screen = _open_fees(win, qtbot)
    assert screen.table.rowCount() == 3
    assert "Thuộc hộ nghèo" in screen.table.item(_row_of(screen, c.receipt_code), 3).text()

    screen.table.selectRow(_row_of(screen, a.receipt_code))
    screen.e_receipt.setText("BL-000451")
    tap(qtbot, screen.cash_button)
    assert a.receipt_code in screen.message.text()
    assert app.payments.active(a.id).method == "cash"
    job, note = app.receipts.printer.jobs[-1]
    assert "BL-000451" in flat(pdf_text(note)) and "Lò Thị Mai" in flat(pdf_text(note))

    screen.table.selectRow(_row_of(screen, b.receipt_code))
    screen.reference.setText("FT26340000123")
    tap(qtbot, screen.transfer_button)
    assert app.payments.active(b.id).bank_reference == "FT26340000123"

    screen.table.selectRow(_row_of(screen, c.receipt_code))
    assert "Giấy chứng nhận hộ nghèo" in screen.proof.text()  # what to see before exempting
    tap(qtbot, screen.exempt_button)
    done = app.payments.active(c.id)
    assert (done.status, done.exemption_ground) == ("recorded", "poor_household")
    assert screen.table.rowCount() == 0
    assert _actions(app)[-3:] == ["payment.cash", "payment.vietqr_transfer", "payment.exempt"]


def test_bad_amount_is_refused_with_a_message_and_nothing_recorded(win, qtbot):
    app = win.vc.app
    d = app.dossiers.confirm(draft(with_file=False, code="1.001612"))
    app.payments.fee_due(d.id, CASH, 100000)
    screen = _open_fees(win, qtbot)
    screen.table.selectRow(0)
    screen.amount.setText("2000000000")
    tap(qtbot, screen.cash_button)
    assert screen.message.text() == win.vc.tr("fees.amount_too_large")
    screen.amount.setText("mười nghìn")
    tap(qtbot, screen.cash_button)
    assert screen.message.text() == win.vc.tr("fees.amount_not_whole")
    assert app.payments.active(d.id).status == "due"


def test_statement_import_on_the_desk(win, qtbot, tmp_path):
    app = win.vc.app
    a, b = (app.dossiers.confirm(draft(with_file=False, code="1.001612")) for _ in range(2))
    app.payments.fee_due(a.id, TRANSFER, 100000)
    app.payments.fee_due(b.id, TRANSFER, 100000)
    path = tmp_path / "statement.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Date", "Amount", "Description", "Reference"])
        w.writerow(["2026-12-01", "100000", a.receipt_code.replace("-", " "), "FT1"])
        w.writerow(["2026-12-01", "abc", b.receipt_code, "FT2"])
        w.writerow(["2026-12-01", "7000", "unknown", "FT3"])
    screen = _open_fees(win, qtbot)
    screen.statement_path.setText(str(path))
    tap(qtbot, screen.import_button)
    text = screen.message.text()
    assert "Khớp: 1 · Không khớp: 1 · Dòng lỗi: 1" in text
    assert "Dòng 3: Số tiền không đọc được." in text
    assert app.payments.active(a.id).status == "due"  # nothing recorded before the tap
    tap(qtbot, screen.record_matches_button)
    assert app.payments.active(a.id).bank_reference == "FT1"
    assert app.payments.active(b.id).status == "due"
    assert "payment.statement" in _actions(app)
    assert [screen.table.item(r, 0).text() for r in range(screen.table.rowCount())] == [
        b.receipt_code
    ]


def test_dashboard_and_daily_report_show_fees(win, qtbot):
    app = win.vc.app
    ds = [app.dossiers.confirm(draft(with_file=False, code="1.001612")) for _ in range(4)]
    app.payments.fee_due(ds[0].id, TRANSFER, 100000)  # still due
    app.payments.record(ds[1].id, CASH, None, amount_vnd=100000)
    app.payments.record(ds[2].id, TRANSFER, None, amount_vnd=100000)
    app.payments.fee_due(ds[3].id, EXEMPT, 100000, ground="disability")
    app.payments.record(ds[3].id, EXEMPT, None, ground="disability")
    _open_fees(win, qtbot)
    win.nav.go("clerk_dashboard")
    kpi = win.current_screen().kpi["fees"].text()
    assert "chờ 100.000 ₫" in kpi and "tiền mặt 100.000 ₫" in kpi
    assert "chuyển khoản 100.000 ₫" in kpi and "miễn 100.000 ₫" in kpi
    d = desk(app)
    report = d.reports.daily(d.reports.today())
    lines = report_csv(report, Translator.from_resources()).decode("utf-8-sig").splitlines()
    fees = [line for line in lines if ",fees," in line]
    assert any("due_vnd" in line and line.endswith(",100000") for line in fees)
    assert any("paid_cash_vnd" in line and line.endswith(",100000") for line in fees)
    assert any("exempted_vnd" in line and line.endswith(",100000") for line in fees)
