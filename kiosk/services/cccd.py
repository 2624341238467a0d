"""Read the QR code of a Vietnamese chip ID card (CCCD 2021 and Căn cước 2024).

The 2021 card's QR holds `ID12|OLDID9|Full name|DDMMYYYY|Nam/Nữ|Address|DDMMYYYY`
(the old 9-digit ID may be empty). Cards seen in the field also come with six fields
(no old-ID field at all) or extra trailing fields, and the 2024 card's order is not
published. So every field is recognised by its shape, not by its position: the 12-digit
ID, the 9-digit old ID, 8-digit dates (first = birth, second = issue), Nam/Nữ, the name
(letters only) and the address (the longest remaining text, preferring one with commas
or digits). The raw payload is kept on the record.

`parse` never raises for any input: it returns a `CitizenRecord` or a `CccdError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from kiosk.services.provinces import PROVINCE_CODES
from kiosk.services.receipt_code import ReceiptCode, code_from_uri
from kiosk.services.text import fold, nfc, strip_invisible

# Digit 4 of the ID: century of birth, even = male, odd = female.
_CENTURY = {
    0: 1900,
    1: 1900,
    2: 2000,
    3: 2000,
    4: 2100,
    5: 2100,
    6: 2200,
    7: 2200,
    8: 1800,
    9: 1800,
}
_ID = re.compile(r"[0-9]{12}")
_OLD_ID = re.compile(r"[0-9]{9}")
_DATE = re.compile(r"[0-9]{8}")
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_MAX_FIELD = 300  # a longer field is not something printed on a card

# Warning keys (for the clerk's screen, translated in scan.json).
WARN_UNKNOWN_PLACE = "scan.warn.unknown_place_code"
WARN_NO_ISSUE_DATE = "scan.warn.no_issue_date"


@dataclass
class CitizenRecord:
    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str  # "male" | "female"
    address: str
    issue_date: date | None
    raw: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "id_number": self.id_number,
            "old_id_number": self.old_id_number,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "address": self.address,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class CccdError:
    key: str  # translation key: what the citizen is told
    detail: str  # plain English for the clerk and the log; never holds personal data
    raw: str = ""


def parse(text: str, today: date | None = None) -> CitizenRecord | CccdError:
    """Parse a decoded QR payload; `today` is injectable for tests."""
    today = today or date.today()
    raw = text
    # Control and format characters (NUL, ESC, bidi overrides, zero-width) are never
    # printed on a card: dropped, so they reach no field, screen, log or portal.
    payload = nfc(strip_invisible(text)).strip()
    if "|" not in payload:
        return CccdError("scan.cccd.not_cccd", "no '|' field separator", raw)
    fields = [" ".join(f.split()) for f in payload.split("|")]

    id_number: str | None = None
    old_id: str | None = None
    dates: list[str] = []
    sex_text: str | None = None
    texts: list[str] = []
    for f in fields:
        if not f:
            continue
        if _ID.fullmatch(f):
            if id_number is None:
                id_number = f
            elif old_id is None and f != id_number:
                old_id = f  # an old 12-digit (chipless) number
        elif _OLD_ID.fullmatch(f):
            old_id = old_id or f
        elif _DATE.fullmatch(f):
            dates.append(f)
        elif sex_text is None and fold(f) in ("nam", "nu"):
            sex_text = f
        else:
            texts.append(f)

    if id_number is None:
        return CccdError("scan.cccd.not_cccd", "no 12-digit ID number field", raw)
    if not dates:
        return CccdError("scan.cccd.incomplete", "no date of birth field", raw)
    if sex_text is None:
        return CccdError("scan.cccd.incomplete", "no Nam/Nữ field", raw)
    name = next((t for t in texts if _is_name(t)), None)
    if name is None:
        return CccdError(
            "scan.cccd.incomplete", "no full-name field (Vietnamese letters and spaces)", raw
        )
    rest = [t for t in texts if t is not name]
    address = _pick_address(rest)
    if address is None:
        return CccdError("scan.cccd.incomplete", "no address field", raw)
    if len(name) > _MAX_FIELD or len(address) > _MAX_FIELD:
        return CccdError("scan.cccd.incomplete", "name or address field too long", raw)

    birth = _date(dates[0])
    issue = _date(dates[1]) if len(dates) > 1 else None
    if birth is None or (len(dates) > 1 and issue is None):
        return CccdError("scan.cccd.bad_date", "a date field is not a calendar date", raw)
    if birth > today:
        return CccdError("scan.cccd.bad_date", "date of birth is in the future", raw)
    if issue is not None and not birth <= issue <= today:
        return CccdError("scan.cccd.bad_date", "issue date is before birth or in the future", raw)

    sex = "male" if fold(sex_text) == "nam" else "female"
    digit = int(id_number[3])
    if sex != ("male" if digit % 2 == 0 else "female"):
        return CccdError(
            "scan.cccd.inconsistent", "sex field does not match digit 4 of the ID number", raw
        )
    if birth.year != _CENTURY[digit] + int(id_number[4:6]):
        return CccdError(
            "scan.cccd.inconsistent",
            "birth year does not match digits 4-6 of the ID number",
            raw,
        )

    warnings: list[str] = []
    if id_number[:3] not in PROVINCE_CODES:
        warnings.append(WARN_UNKNOWN_PLACE)
    if issue is None:
        warnings.append(WARN_NO_ISSUE_DATE)
    return CitizenRecord(
        id_number=id_number,
        old_id_number=old_id,
        full_name=name,
        date_of_birth=birth,
        sex=sex,
        address=address,
        issue_date=issue,
        raw=raw,
        warnings=warnings,
    )


def _is_name(text: str) -> bool:
    """A Vietnamese name: letters of the Vietnamese Latin alphabet (with their tone and
    vowel marks) and spaces, at least two letters. An apostrophe or hyphen between two
    letters is kept for Central Highlands names (H'Hen Niê, Y-Moan Ênuôl)."""
    letters = 0
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        if ch in "'-":
            if not (0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha()):
                return False
            continue
        if not ch.isalpha() or fold(ch) not in _LATIN:
            return False
        letters += 1
    return letters >= 2


def _pick_address(candidates: list[str]) -> str | None:
    if not candidates:
        return None
    # An address has commas or house numbers; other text fields (2024 cards) may not.
    marked = [t for t in candidates if "," in t or any(ch.isdigit() for ch in t)]
    return max(marked or candidates, key=len)


def _date(ddmmyyyy: str) -> date | None:
    try:
        return date(int(ddmmyyyy[4:]), int(ddmmyyyy[2:4]), int(ddmmyyyy[:2]))
    except ValueError:
        return None


# ---------------------------------------------------------------- classification

KINDS = ("cccd", "receipt", "other_qr", "invalid_cccd")


@dataclass(frozen=True)
class Classified:
    """What a scanned QR text is, with the parsed value for its kind."""

    kind: str  # one of KINDS
    raw: str
    citizen: CitizenRecord | None = None
    error: CccdError | None = None
    receipt: ReceiptCode | None = None


def interpret(text: str, today: date | None = None) -> Classified:
    receipt = code_from_uri(nfc(text))
    if receipt is not None:
        return Classified("receipt", text, receipt=receipt)
    result = parse(text, today)
    if isinstance(result, CitizenRecord):
        return Classified("cccd", text, citizen=result)
    if result.key == "scan.cccd.not_cccd":
        return Classified("other_qr", text, error=result)
    return Classified("invalid_cccd", text, error=result)


def classify(text: str, today: date | None = None) -> str:
    """'cccd', 'receipt' (this kiosk's receipt URI), 'other_qr' or 'invalid_cccd'."""
    return interpret(text, today).kind
