"""The card's expiry date, which the chip's BAC key needs and the QR code does not hold.

Law on Identification 26/2023/QH15, article 21: a card is renewed at 14, 25, 40 and 60
years of age; a card issued or renewed within two years before one of these ages lasts
until the next one. The 2014 law (cards issued before 1 July 2024) had the same rule with
25, 40 and 60. A card issued at 58 or older has no expiry date; its front says
"Không thời hạn". The expiry is the holder's birthday in the year of the renewal age.

For a card without an expiry date, ICAO 9303 gives no rule and we found no published
statement of what Vietnamese cards write in the MRZ; the candidates tried are the two
forms other issuers use for "no expiry" ('991231' and '<<<<<<'). When none works, a clerk
types the date printed on the card.
"""

from __future__ import annotations

from datetime import date, timedelta

RENEWAL_AGES = (14, 25, 40, 60)
NO_EXPIRY_MRZ = ("991231", "<<<<<<")


def birthday(birth: date, age: int) -> date:
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:  # 29 February in a common year
        return date(birth.year + age, 2, 28)


def expiry_for(birth: date, issued: date) -> date | None:
    """The expiry date by the law, or None for a card without one."""
    for age in RENEWAL_AGES:
        due = birthday(birth, age)
        if issued < birthday(birth, age - 2):
            return due
    return None


def yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def candidates(birth: date, issued: date | None, today: date | None = None) -> list[str]:
    """MRZ expiry values to try, most likely first, each once.

    With the issue date: the law's date, the day before and after (29 February, a
    birthday counted differently), then the neighbouring renewal ages. Without it: every
    renewal age still ahead of the holder (nearest first), then those just behind.
    Then the no-expiry forms.
    """
    today = today or date.today()
    out: list[str] = []

    def add(d: date | None) -> None:
        if d is None:
            return
        v = yymmdd(d)
        if v not in out:
            out.append(v)

    dues = [birthday(birth, a) for a in RENEWAL_AGES]
    if issued is not None:
        main = expiry_for(birth, issued)
        if main is not None:
            add(main)
            add(main - timedelta(days=1))
            add(main + timedelta(days=1))
            i = dues.index(main) if main in dues else -1
            for j in (i + 1, i - 1):
                if 0 <= j < len(dues):
                    add(dues[j])
        else:
            add(dues[-1])
    else:
        ahead = [d for d in dues if d >= today]
        behind = [d for d in dues if d < today]
        for d in ahead:
            add(d)
        for d in reversed(behind[-1:]):
            add(d)
    for v in NO_EXPIRY_MRZ:
        if v not in out:
            out.append(v)
    return out
