"""Receipt codes, dates, queue numbers and amounts read aloud in the citizen's language.

Vietnamese and English are read by the speech engine from the text. A language no engine
speaks is read from its recorded number kit (kiosk.services.numbers) and recorded phrases;
when a word of it is not recorded yet, the text is said the ordinary way (which is silence
for such a language, never the wrong voice).
"""

from __future__ import annotations

from datetime import date

from kiosk.services.language_data import VIETNAMESE_ORDER, NumberOrder
from kiosk.services.numbers import date_keys, digit_keys, number_keys

VOICED = ("vi", "en")


def _kit(player, lang: str, keys: list[str]) -> bool:
    if lang in VOICED or not hasattr(player, "say_kit"):
        return False
    return player.say_kit(lang, keys) in ("spoken", "muted")


def speak_receipt(
    player,
    lang: str,
    code: str,
    procedure_code: str | None,
    expected: date | None,
    fallback,
    order: NumberOrder = VIETNAMESE_ORDER,
) -> None:
    """`fallback()` says it from the text when the kit cannot; `order` is the language's
    number order (AppContext.language_data.number_order(lang))."""
    keys = ["kit.receipt_code", *digit_keys(code)]
    if procedure_code:
        keys += ["kit.procedure", f"proc.{procedure_code}.title"]
    if expected is not None:
        keys += ["kit.expected", *date_keys(expected, order)]
    if not _kit(player, lang, keys):
        fallback()


def speak_ticket(
    player, lang: str, number: int, fallback, order: NumberOrder = VIETNAMESE_ORDER
) -> None:
    if not _kit(player, lang, ["kit.ticket", *number_keys(number, order)]):
        fallback()


def speak_amount(
    player, lang: str, amount_vnd: int, fallback, order: NumberOrder = VIETNAMESE_ORDER
) -> None:
    if not _kit(player, lang, ["kit.amount", *number_keys(amount_vnd, order), "kit.dong"]):
        fallback()
