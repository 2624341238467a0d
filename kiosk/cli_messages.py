"""Messages of the command-line tools for the IT staff: Vietnamese first, then English,
both from the translation catalogues (resources/i18n/*/security.json and others)."""

from __future__ import annotations

import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _translator():
    from kiosk.services.i18n import Translator

    return Translator.from_resources()


def message(key: str, **values: object) -> str:
    """The message in Vietnamese, then in English on the next line."""
    t = _translator()
    vi, en = t.tr(key, "vi", **values), t.tr(key, "en", **values)
    return vi if vi == en else f"{vi}\n  ({en})"


def say(prog: str, key: str, detail: str = "", **values: object) -> None:
    """Print a message to stderr, with a technical detail (plain English) if any."""
    text = f"{prog}: {message(key, **values)}"
    if detail:
        text += f"\n  [{detail}]"
    print(text, file=sys.stderr)


def key_failure(prog: str, exc: Exception) -> int:
    """A missing, unreadable or wrong data key: say what to do; the exit code (2)."""
    say(prog, "security.cli.key_failed", str(exc))
    return 2
