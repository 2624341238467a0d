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


def strip_invisible(text: str) -> str:
    """`text` without control, format, surrogate, private-use or unassigned characters
    (NUL, ESC, bidi overrides, zero-width marks); tabs and line breaks become spaces."""
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C"
    )
