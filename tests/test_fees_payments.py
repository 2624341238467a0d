"""Payment records and bank statement import on a real SQLite file (and PostgreSQL for
the records): the kiosk never claims a payment, a clerk's record is audited and queued,
a correction supersedes, and a statement matches transfers by receipt code and amount."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from kiosk.services.clerks import ClerkService
from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.dossiers import DossierService
from kiosk.services.models import AuditEntry, Payment
from kiosk.services.payments import CASH, EXEMPT, TRANSFER, PaymentError, PaymentService
from kiosk.services.statements import (
    StatementError,
    import_statement,
    parse_mapping,
    record_matches,
)
from kiosk.services.store import Store
from tests.store_helpers import draft

GROUNDS = {"1.001612": {"poor_household", "disability"}}


@pytest.fixture
def env(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'kiosk.db'}")
    cipher = DataCipher(load_or_create_keyring(tmp_path / "data.key", create=True))
    dossiers = DossierService(store, cipher, "KIOSK-T", "QN01", tmp_path / "att")
    payments = PaymentService(store, "KIOSK-T", lambda code: GROUNDS.get(code))
    clerks = ClerkService(store, "KIOSK-T")
    clerk = clerks.create("mai", "Lò Thị Mai", "clerk", "2468")
    yield dossiers, payments, clerk, store
    store.close()


def _dossier(dossiers, code="1.001612"):
    return dossiers.confirm(draft(with_file=False, code=code))


def _audit(store) -> list[str]:
    return store.read(lambda s: [e.action for e in s.scalars(select(AuditEntry))])


def test_transfer_chosen_at_the_kiosk_stays_awaiting(env):
    dossiers, payments, _clerk, store = env
    d = _dossier(dossiers)
    due = payments.fee_due(d.id, TRANSFER, 100000)
    assert due.status == "due" and due.awaiting and due.delivery is None
    assert [p.dossier_id for p in payments.awaiting()] == [d.id]
    assert payments.totals(datetime(2000, 1, 1), datetime(2100, 1, 1)).due_vnd == 100000
    assert store.read(lambda s: s.scalars(select(Payment.state)).all()) == [None]


def test_claimed_exemption_stays_claimed_until_a_clerk_sees_the_proof(env):
    dossiers, payments, clerk, store = env
    d = _dossier(dossiers)
    claimed = payments.fee_due(d.id, EXEMPT, 100000, ground="poor_household")
    assert claimed.status == "claimed" and claimed.exemption_ground == "poor_household"
    with pytest.raises(PaymentError) as info:
        payments.fee_due(d.id, EXEMPT, 100000, ground="lottery_winner")
    assert info.value.key == "fees.ground_unknown"
    done = payments.record(d.id, EXEMPT, clerk, ground="poor_household")
    assert done.status == "recorded" and done.amount_vnd == 100000  # the fee waived
    assert done.delivery == "queued"
    body = json.loads(store.read(lambda s: s.get(Payment, done.id).body))
    assert body["method"] == "exempt" and body["exemption_ground"] == "poor_household"
    assert body["dossier_client_ref"] == d.client_ref and body["kiosk_id"] == "KIOSK-T"
    assert _audit(store)[-1] == "payment.exempt"
    totals = payments.totals(datetime(2000, 1, 1), datetime(2100, 1, 1))
    assert (totals.exempted_vnd, totals.exempted_count, totals.due_vnd) == (100000, 1, 0)


def test_cash_then_a_correction_is_a_new_record_superseding_the_old(env):
    dossiers, payments, clerk, store = env
    d = _dossier(dossiers)
    payments.fee_due(d.id, CASH, 100000)
    first = payments.record(d.id, CASH, clerk, amount_vnd=10000, e_receipt_number="BL-0001")
    fixed = payments.record(d.id, CASH, clerk, amount_vnd=100000, e_receipt_number="BL-0001")
    assert fixed.supersedes == first.client_ref
    history = payments.history(d.id)
    assert [p.status for p in history] == ["superseded", "superseded", "recorded"]
    assert [p.delivery for p in history] == [None, "queued", "queued"]  # both go, in order
    assert _audit(store)[-2:] == ["payment.cash", "payment.correct"]
    totals = payments.totals(datetime(2000, 1, 1), datetime(2100, 1, 1))
    assert totals.paid_vnd == {"cash": 100000} and totals.paid_count == {"cash": 1}
    with pytest.raises(PaymentError):
        payments.fee_due(d.id, CASH, 100000)  # recorded: the kiosk cannot reopen it


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"amount_vnd": 1_000_000_001}, "fees.amount_too_large"),
        ({"amount_vnd": -5}, "fees.amount_not_positive"),
        ({"amount_vnd": 0}, "fees.amount_not_positive"),
        ({"e_receipt_number": "x" * 65}, "fees.text_invalid"),
    ],
)
def test_bad_input_records_nothing(env, kwargs, key):
    dossiers, payments, clerk, store = env
    d = _dossier(dossiers)
    payments.fee_due(d.id, CASH, 100000)
    with pytest.raises(PaymentError) as info:
        payments.record(d.id, CASH, clerk, **kwargs)
    assert info.value.key == key
    assert [p.status for p in payments.history(d.id)] == ["due"]
    assert "payment.cash" not in _audit(store)


def test_records_on_postgres_too(db_url, tmp_path):
    store = Store(db_url)
    try:
        cipher = DataCipher(load_or_create_keyring(tmp_path / "k.key", create=True))
        dossiers = DossierService(store, cipher, "KIOSK-T", "QN01", tmp_path / "att")
        payments = PaymentService(store, "KIOSK-T")
        clerk = ClerkService(store).create("an", "An", "clerk", "1357")
        d = _dossier(dossiers)
        payments.fee_due(d.id, TRANSFER, 20000)
        rec = payments.record(d.id, TRANSFER, clerk, bank_reference="FT2634000001")
        assert rec.status == "recorded" and payments.awaiting() == []
        other = _dossier(dossiers)
        payments.fee_due(other.id, TRANSFER, 20000)
        with pytest.raises(PaymentError) as info:
            payments.record(other.id, TRANSFER, clerk, bank_reference="FT2634000001")
        assert info.value.key == "fees.reference_used"
    finally:
        store.close()


# --- statements ---------------------------------------------------------------------


def _three_due(dossiers, payments):
    out = []
    for amount in (100000, 100000, 20000):
        d = _dossier(dossiers)
        payments.fee_due(d.id, TRANSFER, amount)
        out.append(d)
    return out


def _csv(path, rows, header=("Ngày giao dịch", "Số tiền", "Nội dung", "Số tham chiếu")):
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["SAO KÊ TÀI KHOẢN 3500205000123"])  # title lines banks put first
        w.writerow([])
        w.writerow(header)
        w.writerows(rows)


def test_csv_statement_matches_by_code_without_case_spaces_dashes_and_amount(env, tmp_path):
    dossiers, payments, clerk, store = env
    a, b, c = _three_due(dossiers, payments)
    code_a = a.receipt_code.replace("-", "").lower()  # the bank dropped the dashes
    code_b = " ".join(b.receipt_code.replace("-", " "))
    path = tmp_path / "sk.csv"
    _csv(
        path,
        [
            ["01/12/2026 09:15:00", "100.000", f"NGUYEN VAN A chuyen tien {code_a}", "FT1"],
            ["01/12/2026", "100,000", f"ck {code_b} le phi", "FT2"],
            ["02/12/2026", "25.000", f"{c.receipt_code} thieu tien", "FT3"],  # amount differs
            ["02/12/2026", "50.000", "tien dien thang 11", "FT4"],  # no code
            ["02/12/2026", "-30.000", "phi SMS", "FT5"],  # a debit: ignored
            ["hôm qua", "20.000", c.receipt_code, "FT6"],  # broken date
            ["03/12/2026", "hai chục", c.receipt_code, "FT7"],  # broken amount
            ["03/12/2026", "2.000.000.000", c.receipt_code, "FT8"],  # over one billion
        ],
    )
    result = import_statement(path, payments)
    assert sorted(m.payment.dossier_id for m in result.matches) == sorted([a.id, b.id])
    assert [(u.row.reference, u.key) for u in result.unmatched] == [
        ("FT3", "fees.statement.amount_differs"),
        ("FT4", "fees.statement.no_code"),
    ]
    assert [(p.number, p.key) for p in result.problems] == [
        (9, "fees.statement.bad_date"),
        (10, "fees.statement.bad_amount"),
        (11, "fees.amount_too_large"),
    ]
    assert store.read(lambda s: s.scalars(select(Payment.status)).all()).count("recorded") == 0
    record_matches(result, payments, clerk)
    recorded = {p.dossier_id: p for p in result.recorded}
    assert set(recorded) == {a.id, b.id}
    assert recorded[a.id].bank_reference == "FT1"
    assert recorded[a.id].paid_at == datetime(2026, 12, 1, 9, 15)
    assert recorded[a.id].method == "vietqr_transfer"
    assert [p.dossier_id for p in payments.awaiting()] == [c.id]  # the broken rows: nothing
    assert _audit(store).count("payment.statement") == 2
    again = record_matches(import_statement(path, payments), payments, clerk)
    assert again.recorded == [] and again.matches == []  # a second import records nothing


def test_xlsx_statement_with_a_column_mapping_setting(env, tmp_path):
    dossiers, payments, clerk, _store = env
    a, _b, c = _three_due(dossiers, payments)
    book = Workbook()
    sheet = book.active
    sheet.append(["Ngày GD", "Ghi có (VND)", "Diễn giải", "Mã GD"])
    sheet.append([datetime(2026, 12, 1, 8, 0), 100000, f"IBFT {a.receipt_code}", "TX9"])
    sheet.append([datetime(2026, 12, 1, 8, 5), 20000.0, f"MBVCB.{c.receipt_code}.CT", "TX10"])
    path = tmp_path / "sk.xlsx"
    book.save(path)
    mapping = parse_mapping(
        "date=Ngày GD;amount=Ghi có (VND);description=Diễn giải;reference=Mã GD"
    )
    result = record_matches(import_statement(path, payments, mapping), payments, clerk)
    assert sorted(p.dossier_id for p in result.recorded) == sorted([a.id, c.id])
    with pytest.raises(StatementError) as info:
        import_statement(path, payments)  # the generic mapping does not know these headers
    assert info.value.key == "fees.statement.no_header"


def test_a_file_that_is_not_a_statement_is_refused_clearly(env, tmp_path):
    _dossiers, payments, _clerk, _store = env
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a workbook")
    with pytest.raises(StatementError) as info:
        import_statement(path, payments)
    assert info.value.key == "fees.statement.unreadable"
    with pytest.raises(StatementError):
        parse_mapping("date=A;colour=B")
