"""Text normalisation shared by input, decoding and search."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Every text input and decoded payload goes through this: one spelling per letter."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower-case and strip diacritics, so 'dang ky khai sinh' matches 'Đăng ký khai sinh'."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return _SPACE.sub(" ", text.casefold()).strip()


def tokens(text: str) -> list[str]:
    """Folded words of a text, for name search."""
    return [t for t in re.split(r"[^0-9a-z]+", fold(text)) if t]
