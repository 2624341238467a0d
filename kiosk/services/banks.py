"""Vietnamese banks (NAPAS BIN, short name, full name) shipped as data in
resources/banks.json, and the commune's fee account checked against them (no Qt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kiosk.services.vietqr import VietQRError, check_account, check_bin

ACCOUNT_NAME_MAX = 50

# The fee account of the demo and of sample receipts: a made-up Agribank account.
DEMO_FEE_ACCOUNT = ("970405", "3500205000123", "UBND XA MINH KHAI")


@dataclass(frozen=True)
class Bank:
    bin: str
    short_name: str
    name: str


@dataclass(frozen=True)
class FeeAccount:
    bank: Bank
    account: str
    holder: str


class BankListError(ValueError):
    pass


def load_banks(path: Path | None = None) -> dict[str, Bank]:
    """BIN -> Bank, in file order; BankListError names the file and the entry at fault."""
    if path is None:
        from kiosk.paths import resource

        path = resource("banks.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc["banks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BankListError(f"{path}: not a bank list ({exc})") from None
    banks: dict[str, Bank] = {}
    for i, row in enumerate(rows):
        try:
            bank = Bank(check_bin(str(row["bin"])), str(row["short_name"]), str(row["name"]))
        except (KeyError, TypeError, VietQRError) as exc:
            raise BankListError(f"{path}: banks[{i}] is not valid ({exc})") from None
        if bank.bin in banks:
            raise BankListError(f"{path}: banks[{i}] repeats BIN {bank.bin}")
        banks[bank.bin] = bank
    return banks


@cache
def default_banks() -> dict[str, Bank]:
    return load_banks()


def find_bank(bank_bin: str) -> Bank | None:
    return default_banks().get(bank_bin.strip())


def fee_account_problems(bank_bin: str, account: str, holder: str) -> list[tuple[str, str]]:
    """(setting name, translator key) for each thing wrong with a fee account; an account
    left wholly empty is fine (the kiosk then offers cash only)."""
    if not (bank_bin.strip() or account.strip() or holder.strip()):
        return []
    problems: list[tuple[str, str]] = []
    try:
        check_bin(bank_bin)
        if find_bank(bank_bin) is None:
            problems.append(("fee_bank_bin", "fees.bin_unknown"))
    except VietQRError as exc:
        problems.append(("fee_bank_bin", exc.key))
    try:
        check_account(account)
    except VietQRError as exc:
        problems.append(("fee_account_number", exc.key))
    if not holder.strip() or len(holder.strip()) > ACCOUNT_NAME_MAX:
        problems.append(("fee_account_name", "fees.account_name_invalid"))
    return problems


def fee_account(bank_bin: str, account: str, holder: str) -> FeeAccount | None:
    """The fee account of the settings, or None when none is set up (cash only)."""
    if fee_account_problems(bank_bin, account, holder) or not bank_bin.strip():
        return None
    bank = find_bank(bank_bin)
    assert bank is not None
    return FeeAccount(bank, account.strip(), holder.strip())


def payment_payload(account: FeeAccount, amount_vnd: int, receipt_code: str) -> str:
    """The VietQR payload to pay `amount_vnd` for a dossier: the receipt code is both the
    purpose (what the bank statement shows) and the bill number."""
    from kiosk.services.vietqr import build_payload

    return build_payload(account.bank.bin, account.account, amount_vnd, receipt_code, receipt_code)


def bank_line(account: FeeAccount) -> str:
    return f"{account.bank.short_name} · {account.account} · {account.holder}"


def demo_fee_account() -> FeeAccount:
    account = fee_account(*DEMO_FEE_ACCOUNT)
    assert account is not None
    return account
