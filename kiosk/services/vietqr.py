"""VietQR payment payloads, made offline (no network, no Qt).

A VietQR code is an EMVCo merchant-presented QR code as NAPAS specifies it for transfers
to an account (service QRIBFTTA). The payload is a string of ID-length-value objects:

    00 payload format indicator  "01"
    01 point of initiation       "12" (dynamic: one payment, with an amount)
    38 merchant account          00 GUID "A000000727"
                                 01 beneficiary: 00 acquirer BIN, 01 account number
                                 02 service code "QRIBFTTA"
    53 currency                  "704" (VND)
    54 amount                    whole VND, digits only
    58 country                   "VN"
    62 additional data           01 bill number, 08 purpose of the transfer
    63 CRC                       CRC-16/CCITT-FALSE over everything before it, "6304"
                                 included, as four upper-case hex digits

Text fields are ASCII without diacritics and at most 25 characters, as bank apps show
them. `parse_payload` reads a payload back (for tests and for checking a printed code).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

NAPAS_GUID = "A000000727"
SERVICE_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
TEXT_MAX = 25
MAX_AMOUNT_VND = 1_000_000_000  # one billion: nothing at a commune counter costs more

_ACCOUNT = re.compile(r"[0-9]{6,19}")
_BIN = re.compile(r"[0-9]{6}")
_TEXT_KEEP = re.compile(r"[^A-Za-z0-9 .\-/]")
_SPACES = re.compile(r"\s+")


class VietQRError(ValueError):
    """A value that cannot go into (or a payload that is not) a valid VietQR code.

    `key` is a translator key for the reader; `detail` is for logs and the command line."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def ascii_text(text: str, limit: int = TEXT_MAX) -> str:
    """Text as bank apps show it: no diacritics (đ -> d), only letters, digits, space and
    . - /, single spaces, at most `limit` characters."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = _TEXT_KEEP.sub(" ", text)
    return _SPACES.sub(" ", text).strip()[:limit].rstrip()


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError("fees.qr_too_long", f"field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def check_amount(amount: object) -> int:
    """A fee in whole VND: an integer from 1 to one billion."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise VietQRError("fees.amount_not_whole", f"amount {amount!r} is not a whole number")
    if amount <= 0:
        raise VietQRError("fees.amount_not_positive", f"amount {amount} must be more than 0")
    if amount > MAX_AMOUNT_VND:
        raise VietQRError("fees.amount_too_large", f"amount {amount} is over one billion VND")
    return amount


def check_account(account: str) -> str:
    account = account.strip()
    if not _ACCOUNT.fullmatch(account):
        raise VietQRError(
            "fees.account_invalid", f"account {account!r} must be 6 to 19 digits, nothing else"
        )
    return account


def check_bin(bank_bin: str) -> str:
    bank_bin = bank_bin.strip()
    if not _BIN.fullmatch(bank_bin):
        raise VietQRError("fees.bin_invalid", f"bank BIN {bank_bin!r} must be 6 digits")
    return bank_bin


@dataclass(frozen=True)
class VietQR:
    bank_bin: str
    account: str
    amount: int | None
    purpose: str = ""
    bill_number: str = ""
    service: str = SERVICE_ACCOUNT
    currency: str = CURRENCY_VND
    country: str = COUNTRY_VN
    initiation: str = "12"


def build_payload(
    bank_bin: str, account: str, amount: int, purpose: str = "", bill_number: str = ""
) -> str:
    """The payload of a dynamic VietQR code for one transfer of `amount` VND.

    `purpose` (usually the receipt code) and `bill_number` are made ASCII and cut to 25
    characters; raises VietQRError with a translator key for a wrong BIN, account or
    amount."""
    bank_bin = check_bin(bank_bin)
    account = check_account(account)
    amount = check_amount(amount)
    purpose = ascii_text(purpose)
    bill_number = ascii_text(bill_number)
    beneficiary = _tlv("00", bank_bin) + _tlv("01", account)
    merchant = _tlv("00", NAPAS_GUID) + _tlv("01", beneficiary) + _tlv("02", SERVICE_ACCOUNT)
    additional = (_tlv("01", bill_number) if bill_number else "") + (
        _tlv("08", purpose) if purpose else ""
    )
    body = (
        _tlv("00", "01")
        + _tlv("01", "12")
        + _tlv("38", merchant)
        + _tlv("53", CURRENCY_VND)
        + _tlv("54", str(amount))
        + _tlv("58", COUNTRY_VN)
        + (_tlv("62", additional) if additional else "")
        + "6304"
    )
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"


def split_tlv(text: str) -> list[tuple[str, str]]:
    """ID-length-value objects of one level, in order; VietQRError when they do not add up."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        head = text[i : i + 4]
        if len(head) < 4 or not head.isdigit():
            raise VietQRError("fees.qr_malformed", f"broken object header at {i}: {head!r}")
        length = int(head[2:])
        value = text[i + 4 : i + 4 + length]
        if len(value) != length:
            raise VietQRError("fees.qr_malformed", f"object {head[:2]} runs past the end")
        out.append((head[:2], value))
        i += 4 + length
    return out


def parse_payload(payload: str) -> VietQR:
    """Read a VietQR payload; VietQRError if the structure, the CRC or a mandatory value is
    wrong."""
    if not payload.isascii():
        raise VietQRError("fees.qr_malformed", "payload is not ASCII")
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise VietQRError("fees.qr_malformed", "payload does not end with a CRC object")
    expected = f"{crc16_ccitt_false(payload[:-4].encode('ascii')):04X}"
    if payload[-4:] != expected:
        raise VietQRError("fees.qr_bad_crc", f"CRC {payload[-4:]} should be {expected}")
    top = dict(split_tlv(payload))
    if top.get("00") != "01":
        raise VietQRError("fees.qr_malformed", "payload format indicator is not 01")
    merchant = dict(split_tlv(top.get("38", "")))
    if merchant.get("00") != NAPAS_GUID:
        raise VietQRError("fees.qr_malformed", "merchant account 38 has no NAPAS GUID")
    beneficiary = dict(split_tlv(merchant.get("01", "")))
    if "00" not in beneficiary or "01" not in beneficiary:
        raise VietQRError("fees.qr_malformed", "beneficiary has no BIN or account")
    additional = dict(split_tlv(top.get("62", "")))
    amount_text = top.get("54")
    if amount_text is not None and not amount_text.isdigit():
        raise VietQRError("fees.qr_malformed", f"amount {amount_text!r} is not whole VND")
    return VietQR(
        bank_bin=beneficiary["00"],
        account=beneficiary["01"],
        amount=int(amount_text) if amount_text is not None else None,
        purpose=additional.get("08", ""),
        bill_number=additional.get("01", ""),
        service=merchant.get("02", ""),
        currency=top.get("53", ""),
        country=top.get("58", ""),
        initiation=top.get("01", ""),
    )


def qr_png(payload: str, path: Path, scale: int = 8) -> None:
    """Write the QR image of a payload (error correction M, quiet zone of 4 modules)."""
    import segno

    segno.make_qr(payload, error="m", boost_error=False).save(str(path), scale=scale, border=4)
