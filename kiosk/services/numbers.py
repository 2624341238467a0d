"""Numbers, codes and dates as a sequence of recorded words: the "number kit".

A language that no speech engine speaks (Tày, Dao, Bru-Vân Kiều…) can still read a receipt
code, a date, a queue number or an amount aloud once its speakers have recorded the kit in
the language studio: the ten digits, the words for ten, hundred, thousand, million and "and",
and the twelve months (keys `kit.*`, their Vietnamese texts in resources/i18n/vi/numbers.json).

Numbers are composed positionally, as Vietnamese and the region's languages that borrowed
its numerals say them: 1 234 = one thousand, two hundred, three ten(s), four. Forms a
language changes inside words (Vietnamese mốt, lăm, tư) are not made: each word is a
recording of its own, so the kit says plain forms. Vietnamese and English are read by
espeak-ng instead, which knows those forms.

The order of the words is the language's own data (the "number_kit" entry of its profile,
kiosk.services.language_data: "hai trăm" or "trăm hai", the month before or after the
day…), Vietnamese's by default: a commune sets it in a file, not in code.
"""

from __future__ import annotations

from datetime import date

from kiosk.services.language_data import VIETNAMESE_ORDER, NumberOrder

DIGITS = tuple(f"kit.digit.{d}" for d in range(10))
WORDS = ("kit.ten", "kit.tens", "kit.hundred", "kit.thousand", "kit.million", "kit.and")
MONTHS = tuple(f"kit.month.{m}" for m in range(1, 13))
KIT_KEYS = (*DIGITS, *WORDS, *MONTHS)
MAX_NUMBER = 999_999_999


def _group(n: int, inner: bool, order: NumberOrder) -> list[str]:
    """0 < n < 1000; `inner`: a higher group came before (so 5 in 1 005 is "and five")."""
    h, t, u = n // 100, (n // 10) % 10, n % 10
    out: list[str] = []
    if h or (inner and (t or u)):
        out += order.fill("hundreds", n=[DIGITS[h]])
    unit = [DIGITS[u]] if u else []
    if t == 0 and u:
        out += order.fill("zero_tens", unit=unit) if out else unit
    elif t:
        tens = order.fill("ten") if t == 1 else order.fill("tens", n=[DIGITS[t]])
        out += order.fill("tens_unit", tens=tens, unit=unit) if unit else tens
    return out


def number_keys(n: int, order: NumberOrder = VIETNAMESE_ORDER) -> list[str]:
    """The kit's words for a whole number from 0 to 999 999 999, in `order` (the
    language's, from its profile: kiosk.services.language_data)."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0..{MAX_NUMBER}")
    if n == 0:
        return [DIGITS[0]]
    out: list[str] = []
    for scale, name in ((1_000_000, "millions"), (1_000, "thousands"), (1, "")):
        part = (n // scale) % 1000
        if part:
            words = _group(part, inner=bool(out), order=order)
            out += order.fill(name, n=words) if name else words
    return out


def digit_keys(text: str) -> list[str]:
    """Digit by digit (a receipt code, a phone): other characters are left out."""
    return [DIGITS[int(ch)] for ch in text if ch.isdigit()]


def date_keys(day: date, order: NumberOrder = VIETNAMESE_ORDER) -> list[str]:
    """Day, month, year (15, month 3, 2026) in the language's order."""
    return order.fill(
        "date",
        day=number_keys(day.day, order),
        month=[MONTHS[day.month - 1]],
        year=number_keys(day.year, order),
    )
