"""Bank statement import (CSV and XLSX) and matching of transfers to dossiers (no Qt).

A statement row is matched to a dossier whose fee awaits a clerk when the row's
description holds the dossier's receipt code — compared without case, spaces and dashes,
which banks drop — and the row's amount equals the fee. Rows that cannot be read are
reported with their row number and a translator key; nothing is recorded for them. The
clerk sees the matches and what could not be matched, then records the matches (each a
`vietqr_transfer` payment with the row's reference and date, audited).

The column mapping is a setting (`statement_columns`, e.g.
"date=Ngày GD;amount=Số tiền ghi có;description=Nội dung;reference=Số tham chiếu");
empty means the built-in mapping for a generic statement, which recognises common
Vietnamese and English header names.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from kiosk.services.payments import TRANSFER, PaymentError, PaymentService, PaymentView
from kiosk.services.text import fold
from kiosk.services.vietqr import MAX_AMOUNT_VND

COLUMNS = ("date", "amount", "description", "reference")
GENERIC: dict[str, tuple[str, ...]] = {
    "date": ("date", "ngay", "ngay giao dich", "transaction date", "ngay gd", "posting date"),
    "amount": ("amount", "so tien", "credit", "ghi co", "so tien ghi co", "credit amount"),
    "description": ("description", "noi dung", "dien giai", "mo ta", "details", "narrative"),
    "reference": ("reference", "so tham chieu", "ma giao dich", "ref", "so but toan", "ma gd"),
}
MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y",
)
_SQUASH = re.compile(r"[\s\-_.]+")
_DIGITS = re.compile(r"(?=\d{6})")  # every place six digits start


class StatementError(ValueError):
    """The file as a whole cannot be read (key: a translator key)."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


def parse_mapping(text: str) -> dict[str, str]:
    """The setting `statement_columns` as {column: header}; StatementError when wrong."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, header = part.partition("=")
        name = name.strip()
        if not sep or name not in COLUMNS or not header.strip():
            raise StatementError("fees.statement.mapping_invalid", f"{part!r}")
        mapping[name] = header.strip()
    if mapping and set(mapping) < {"date", "amount", "description"}:
        raise StatementError("fees.statement.mapping_invalid", "needs date, amount, description")
    return mapping


def squash(text: str) -> str:
    """Upper case without spaces, dashes, dots or underscores: how codes are compared."""
    return _SQUASH.sub("", text).upper()


@dataclass(frozen=True)
class StatementRow:
    number: int  # as the clerk sees it in the file (header = 1)
    when: datetime | None
    amount: int
    description: str
    reference: str


@dataclass(frozen=True)
class RowProblem:
    number: int
    key: str
    detail: str


@dataclass(frozen=True)
class Match:
    row: StatementRow
    payment: PaymentView


@dataclass(frozen=True)
class Unmatched:
    row: StatementRow
    key: str  # why: no code, amount differs, recorded already


@dataclass
class StatementResult:
    matches: list[Match] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    recorded: list[PaymentView] = field(default_factory=list)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_amount(value: object) -> int:
    """Whole VND from a cell: 100000, 100000.0, "100.000", "100,000", "100.000 đ"."""
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not whole VND")
        amount = int(value)
    else:
        text = str(value or "").strip().upper()
        for unit in ("VND", "VNĐ", "Đ", "D"):
            text = text.removesuffix(unit).strip()
        text = text.replace(" ", "").lstrip("+")
        if re.fullmatch(r"-?\d{1,3}([.,]\d{3})+", text):
            amount = int(re.sub(r"[.,]", "", text))
        elif re.fullmatch(r"-?\d+([.,]0{1,2})?", text):
            amount = int(re.split(r"[.,]", text)[0])
        else:
            raise ValueError("not an amount")
    return amount


def parse_when(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value or "").strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("not a date")


def _read_table(path: Path) -> list[list[object]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StatementError("fees.statement.unreadable", str(exc)) from None
    if size > MAX_BYTES:
        raise StatementError("fees.statement.too_large", f"{size} bytes")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not XLSX
            raise StatementError("fees.statement.unreadable", type(exc).__name__) from None
        try:
            sheet = book.worksheets[0]
            return [list(r) for r in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise StatementError("fees.statement.unreadable", "not UTF-8 text")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(io.StringIO(text), dialect)]


def _find_header(table: list[list[object]], mapping: dict[str, str]) -> tuple[int, dict[str, int]]:
    """(index of the header row, column name -> position); banks put a few title lines
    above the header, so the first 20 rows are searched."""
    for i, row in enumerate(table[:20]):
        cells = [fold(_cell_text(c)) for c in row]
        found: dict[str, int] = {}
        for name in COLUMNS:
            wanted = (fold(mapping[name]),) if name in mapping else GENERIC[name]
            for pos, cell in enumerate(cells):
                if cell and cell in wanted:
                    found[name] = pos
                    break
        if {"date", "amount", "description"} <= set(found):
            return i, found
    names = ", ".join(mapping.get(n, n) for n in ("date", "amount", "description"))
    raise StatementError("fees.statement.no_header", f"no header row with {names}")


def read_statement(
    path: Path, mapping: dict[str, str] | None = None
) -> tuple[list[StatementRow], list[RowProblem]]:
    """Credit rows of a statement file and the rows that could not be read."""
    table = _read_table(path)
    header, cols = _find_header(table, mapping or {})
    rows: list[StatementRow] = []
    problems: list[RowProblem] = []
    body = table[header + 1 :]
    if len(body) > MAX_ROWS:
        raise StatementError("fees.statement.too_large", f"{len(body)} rows")
    for offset, cells in enumerate(body):
        number = header + offset + 2
        if not any(_cell_text(c) for c in cells):
            continue  # blank line

        def cell(name: str, cells=cells) -> object:
            pos = cols.get(name)
            return cells[pos] if pos is not None and pos < len(cells) else None

        try:
            amount = parse_amount(cell("amount"))
        except ValueError:
            problems.append(
                RowProblem(number, "fees.statement.bad_amount", _cell_text(cell("amount"))[:40])
            )
            continue
        if amount > MAX_AMOUNT_VND:
            problems.append(RowProblem(number, "fees.amount_too_large", str(amount)))
            continue
        try:
            when = parse_when(cell("date"))
        except ValueError:
            problems.append(
                RowProblem(number, "fees.statement.bad_date", _cell_text(cell("date"))[:40])
            )
            continue
        if amount <= 0:
            continue  # a debit or a zero line: not a fee paid in
        rows.append(
            StatementRow(
                number,
                when,
                amount,
                _cell_text(cell("description"))[:500],
                _cell_text(cell("reference"))[:64],
            )
        )
    return rows, problems


def match_rows(rows: list[StatementRow], awaiting: list[PaymentView]) -> StatementResult:
    """Pair each row with the awaiting fee whose receipt code its description holds and
    whose amount it equals; a dossier is matched at most once."""
    result = StatementResult()
    # Receipt codes end in six digits and a check character: index them by those seven,
    # so a description is scanned once instead of once per awaiting fee.
    by_tail: dict[str, list[tuple[str, PaymentView]]] = {}
    for p in awaiting:
        code = squash(p.receipt_code)
        by_tail.setdefault(code[-7:], []).append((code, p))
    taken: set[int] = set()
    for row in rows:
        text = squash(row.description)
        found = []
        for match in _DIGITS.finditer(text):
            start = match.start()
            for code, p in by_tail.get(text[start : start + 7], ()):
                if text[max(0, start - len(code) + 7) : start + 7] == code and p not in found:
                    found.append(p)
        if not found:
            result.unmatched.append(Unmatched(row, "fees.statement.no_code"))
            continue
        same = [p for p in found if p.amount_vnd == row.amount and p.dossier_id not in taken]
        if not same:
            key = (
                "fees.statement.matched_twice"
                if any(p.dossier_id in taken for p in found)
                else "fees.statement.amount_differs"
            )
            result.unmatched.append(Unmatched(row, key))
            continue
        taken.add(same[0].dossier_id)
        result.matches.append(Match(row, same[0]))
    return result


def import_statement(
    path: Path, payments: PaymentService, mapping: dict[str, str] | None = None
) -> StatementResult:
    """Read a statement and match it (records nothing: see record_matches)."""
    rows, problems = read_statement(path, mapping)
    result = match_rows(rows, payments.awaiting(limit=100_000))
    result.problems = problems
    return result


def record_matches(result: StatementResult, payments: PaymentService, clerk) -> StatementResult:
    """Record each match as a transfer seen (audited as payment.statement). A match whose
    dossier was recorded meanwhile, or whose reference is used already, moves to the
    unmatched rows with its reason."""
    kept: list[Match] = []
    for m in result.matches:
        current = payments.active(m.payment.dossier_id)
        if current is None or not current.awaiting:
            result.unmatched.append(Unmatched(m.row, "fees.statement.recorded_already"))
            continue
        try:
            view = payments.record(
                m.payment.dossier_id,
                TRANSFER,
                clerk,
                amount_vnd=m.row.amount,
                bank_reference=m.row.reference or None,
                paid_at=m.row.when,
                action="payment.statement",
            )
        except PaymentError as exc:
            result.unmatched.append(Unmatched(m.row, exc.key))
            continue
        kept.append(m)
        result.recorded.append(view)
    result.matches = kept
    return result
