"""Receipt codes and the receipt QR URI.

A receipt code is `PREFIX-NNNNNN-C`:
- PREFIX: the service point's prefix, 2 to 6 characters of the Crockford base-32
  alphabet (digits and upper-case letters without I, L, O, U), e.g. `QN01`;
- NNNNNN: the service point's sequence number, at least 6 decimal digits;
- C: a Luhn mod-32 check character over PREFIX and NNNNNN, which catches every single
  wrong character and most swaps of two neighbours.

Typing is forgiving: case, spaces and dashes do not matter, O reads as 0 and I/L as 1.
The QR code on a receipt holds `<status base URL><code>`, for example
`https://portal.example.gov.vn/r/QN01-000123-7`: nothing personal, and a phone that
opens it lands on the portal's status page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(r"^([0-9A-Z]{2,6})([0-9]{6,9})([0-9A-Z])$")
_URI = re.compile(r"^https?://[^\s/]+(?:/[^\s]*)?/r/([0-9A-Za-z-]{10,20})$")


class ReceiptCodeError(ValueError):
    pass


def check_char(payload: str) -> str:
    """Luhn mod N over the Crockford alphabet."""
    factor, total, n = 2, 0, len(ALPHABET)
    for ch in reversed(payload):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def validate_prefix(prefix: str) -> str:
    prefix = prefix.upper()
    if not 2 <= len(prefix) <= 6 or any(ch not in _VALUE for ch in prefix):
        raise ReceiptCodeError(f"receipt prefix {prefix!r} must be 2-6 characters from {ALPHABET}")
    return prefix


def make_code(prefix: str, sequence: int) -> str:
    prefix = validate_prefix(prefix)
    if sequence < 1 or sequence >= 10**9:
        raise ReceiptCodeError(f"receipt sequence {sequence} out of range")
    digits = f"{sequence:06d}"
    return f"{prefix}-{digits}-{check_char(prefix + digits)}"


@dataclass(frozen=True)
class ReceiptCode:
    prefix: str
    sequence: int
    text: str


def parse_code(typed: str) -> ReceiptCode:
    """Accept a typed or scanned code; raise ReceiptCodeError when it cannot be one of ours.

    With dashes the parts are taken as typed; without them the sequence is read as the
    six digits before the check character (codes beyond 999999 need their dashes).
    """
    text = re.sub(r"[\s_.]", "", typed.upper()).translate(_TYPO)
    parts = [p for p in text.split("-") if p]
    if len(parts) == 3:
        prefix, digits, check = parts
    elif len(parts) == 1 and len(parts[0]) >= 9:
        compact = parts[0]
        prefix, digits, check = compact[:-7], compact[-7:-1], compact[-1]
    else:
        raise ReceiptCodeError(f"not a valid receipt code: {typed!r}")
    if not _CODE.match(prefix + digits + check) or not digits.isdigit() or len(digits) < 6:
        raise ReceiptCodeError(f"not a valid receipt code: {typed!r}")
    if not 2 <= len(prefix) <= 6 or any(ch not in _VALUE for ch in prefix + check):
        raise ReceiptCodeError(f"not a valid receipt code: {typed!r}")
    if check_char(prefix + digits) != check:
        raise ReceiptCodeError(f"receipt code check character does not match: {typed!r}")
    return ReceiptCode(prefix, int(digits), f"{prefix}-{digits}-{check}")


def receipt_uri(base_url: str, code: str) -> str:
    if not base_url.endswith("/r/"):
        base_url = base_url.rstrip("/") + "/r/"
    return base_url + code


def code_from_uri(text: str) -> ReceiptCode | None:
    """The receipt code named by a receipt QR URI, or None when the text is not one."""
    m = _URI.match(text.strip())
    if not m:
        return None
    try:
        return parse_code(m.group(1))
    except ReceiptCodeError:
        return None
