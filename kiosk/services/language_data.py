"""What a language needs beyond its texts, as data: the extra keys of its on-screen keyboard
and the order in which its number kit says numbers and dates.

A language's profile is a JSON object (resources/languages/<lang>.json, a language pack's
`language/<lang>.json` or its manifest's "keyboard" and "number_kit" entries, and what the
language studio adds in the data folder):

    {"keyboard": {"keys": ["ĕ", {"key": "ŏ", "status": "to_confirm", "note": "…"}],
                  "marks": ["\\u0306"],          combining marks, typed after a letter
                  "telex": false,                 hide Telex (letters that are tones)
                  "sources": ["where the letters come from"],
                  "to_confirm": "what the commune must still confirm"},
     "number_kit": {"hundreds": "{n} kit.hundred", "tens": "{n} kit.tens", "ten": "kit.ten",
                    "tens_unit": "{tens} {unit}", "zero_tens": "kit.and {unit}",
                    "thousands": "{n} kit.thousand", "millions": "{n} kit.million",
                    "date": "{day} {month} {year}"}}

The Vietnamese letters and tone marks are always on the keyboard (names and addresses are
written in Vietnamese on the ID card whatever the citizen's language); a profile adds keys.
A number-kit template is a line of words: kit keys (recorded words, `kit.*`) and one
placeholder; a language without a "number_kit" says numbers in the Vietnamese order.
Profiles are merged by precedence: the studio's additions, then the installed pack, then
the shipped file (keys are added together, in that order; a number-kit entry is taken from
the first that sets it).
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from kiosk.services.text import nfc

log = logging.getLogger(__name__)

MAX_KEYS = 10  # the digits' room: on a short screen the language's keys take their place
MAX_KEY_CODEPOINTS = 4  # a letter and up to three marks (ơ̆ is two)
# Combining marks offered when the studio composes a letter the keyboard lacks (the tone
# keys sắc, huyền, hỏi, ngã, nặng put theirs on a letter typed alone, so they are not here).
COMMON_MARKS = (
    "\u0306",  # breve ă
    "\u0302",  # circumflex â
    "\u030c",  # caron ǎ
    "\u0304",  # macron ā
    "\u0308",  # diaeresis ä
    "\u031b",  # horn ơ
    "\u030a",  # ring å
    "\u0327",  # cedilla ç
    "\u0328",  # ogonek ą
)
STATUSES = ("sourced", "to_confirm", "added")
# The Vietnamese letters every keyboard has (an extra key repeating one is left out).
BUILT_IN = frozenset("abcdefghijklmnopqrstuvwxyzăâđêôơư")


class LanguageDataError(ValueError):
    """A profile is refused; `where` names the file and the entry at fault."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


# ------------------------------------------------------------------------- number order

PLACEHOLDERS = {
    "hundreds": ("n",),
    "tens": ("n",),
    "ten": (),
    "tens_unit": ("tens", "unit"),
    "zero_tens": ("unit",),
    "thousands": ("n",),
    "millions": ("n",),
    "date": ("day", "month", "year"),
}


@dataclass(frozen=True)
class NumberOrder:
    """How the kit's recorded words are put in order (see the module's docstring)."""

    hundreds: str = "{n} kit.hundred"
    tens: str = "{n} kit.tens"
    ten: str = "kit.ten"
    tens_unit: str = "{tens} {unit}"
    zero_tens: str = "kit.and {unit}"
    thousands: str = "{n} kit.thousand"
    millions: str = "{n} kit.million"
    date: str = "{day} {month} {year}"

    def fill(self, name: str, **parts: list[str]) -> list[str]:
        out: list[str] = []
        for token in getattr(self, name).split():
            if token.startswith("{") and token.endswith("}"):
                out += parts[token[1:-1]]
            else:
                out.append(token)
        return out


VIETNAMESE_ORDER = NumberOrder()


def _check_order(where: str, obj: object) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise LanguageDataError(where, "number_kit must be an object")
    from kiosk.services.numbers import KIT_KEYS

    known = set(KIT_KEYS)
    out: dict[str, str] = {}
    for name, template in obj.items():
        if name.startswith("_"):
            continue
        if name not in PLACEHOLDERS:
            raise LanguageDataError(
                f"{where} number_kit.{name}", f"unknown entry; allowed: {', '.join(PLACEHOLDERS)}"
            )
        if not isinstance(template, str) or not template.split():
            raise LanguageDataError(f"{where} number_kit.{name}", "must be a line of words")
        holes = []
        for token in template.split():
            if token.startswith("{") and token.endswith("}"):
                holes.append(token[1:-1])
            elif token not in known:
                raise LanguageDataError(
                    f"{where} number_kit.{name}", f"{token!r} is not a word of the number kit"
                )
        if sorted(holes) != sorted(PLACEHOLDERS[name]):
            need = " ".join("{" + p + "}" for p in PLACEHOLDERS[name]) or "no placeholder"
            raise LanguageDataError(
                f"{where} number_kit.{name}", f"must hold {need}, each once (has {template!r})"
            )
        out[name] = template
    return out


# ----------------------------------------------------------------------------- keyboard


@dataclass(frozen=True)
class Key:
    key: str
    status: str = "sourced"
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """One source's data for a language (a shipped file, a pack, the studio)."""

    keys: tuple[Key, ...] = ()
    marks: tuple[str, ...] = ()
    telex: bool | None = None
    sources: tuple[str, ...] = ()
    to_confirm: str = ""
    number_kit: Mapping[str, str] = field(default_factory=dict)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc")


def check_key(where: str, text: object) -> str:
    """A key is a letter with up to three combining marks, in NFC."""
    if not isinstance(text, str) or not text:
        raise LanguageDataError(where, "a key must be a letter")
    key = nfc(text)
    decomposed = unicodedata.normalize("NFD", key)
    if len(decomposed) > MAX_KEY_CODEPOINTS or not key[0].isalpha():
        raise LanguageDataError(where, f"{text!r} is not one letter (with its marks)")
    if any(not _is_mark(ch) for ch in decomposed[1:]):
        raise LanguageDataError(where, f"{text!r} is more than one letter")
    return key


def check_mark(where: str, text: object) -> str:
    if not isinstance(text, str) or len(text) != 1 or not _is_mark(text):
        raise LanguageDataError(where, f"{text!r} is not one combining mark")
    return text


def parse_profile(where: str, obj: object) -> Profile:
    """Check a profile object; LanguageDataError names the entry at fault."""
    if not isinstance(obj, dict):
        raise LanguageDataError(where, "must be a JSON object")
    unknown = {k for k in obj if not k.startswith("_")} - {"keyboard", "number_kit", "language"}
    if unknown:
        raise LanguageDataError(where, f"unknown entries {sorted(unknown)}")
    kb = obj.get("keyboard", {})
    if not isinstance(kb, dict):
        raise LanguageDataError(f"{where} keyboard", "must be an object")
    allowed = {"keys", "marks", "telex", "sources", "to_confirm"}
    extra = {k for k in kb if not k.startswith("_")} - allowed
    if extra:
        raise LanguageDataError(f"{where} keyboard", f"unknown entries {sorted(extra)}")
    raw_keys = kb.get("keys", [])
    if not isinstance(raw_keys, list):
        raise LanguageDataError(f"{where} keyboard.keys", "must be a list")
    keys: list[Key] = []
    for i, item in enumerate(raw_keys):
        at = f"{where} keyboard.keys[{i}]"
        if isinstance(item, dict):
            status = item.get("status", "sourced")
            if status not in STATUSES:
                raise LanguageDataError(at, f"status must be one of {', '.join(STATUSES)}")
            note = item.get("note", "")
            if not isinstance(note, str):
                raise LanguageDataError(at, "note must be a text")
            keys.append(Key(check_key(at, item.get("key")), status, note))
        else:
            keys.append(Key(check_key(at, item)))
    if len({k.key for k in keys}) != len(keys):
        raise LanguageDataError(f"{where} keyboard.keys", "a key is listed twice")
    marks = kb.get("marks", [])
    if not isinstance(marks, list):
        raise LanguageDataError(f"{where} keyboard.marks", "must be a list")
    marks = [check_mark(f"{where} keyboard.marks[{i}]", m) for i, m in enumerate(marks)]
    if len(keys) + len(marks) > MAX_KEYS:
        raise LanguageDataError(
            f"{where} keyboard", f"at most {MAX_KEYS} keys and marks (one row of the keyboard)"
        )
    telex = kb.get("telex")
    if telex is not None and not isinstance(telex, bool):
        raise LanguageDataError(f"{where} keyboard.telex", "must be true or false")
    sources = kb.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise LanguageDataError(f"{where} keyboard.sources", "must be a list of texts")
    to_confirm = kb.get("to_confirm", "")
    if not isinstance(to_confirm, str):
        raise LanguageDataError(f"{where} keyboard.to_confirm", "must be a text")
    order = _check_order(where, obj.get("number_kit", {}))
    return Profile(tuple(keys), tuple(marks), telex, tuple(sources), to_confirm, order)


def profile_texts(profile: Profile) -> list[str]:
    """Every character a profile puts on screen (for the fonts check)."""
    return [k.key for k in profile.keys] + ["\u25cc" + m for m in profile.marks]


# ------------------------------------------------------------------------------ merging


@dataclass(frozen=True)
class Keyboard:
    """The keys a language adds to the keyboard, and whether Telex is offered."""

    keys: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()
    telex: bool = True


class LanguageData:
    """Every language's profiles, by precedence: studio, pack, shipped."""

    def __init__(self, shipped: Mapping[str, Profile] | None = None) -> None:
        self.shipped: dict[str, Profile] = dict(shipped or {})
        self.packs: dict[str, Profile] = {}
        self.studio: dict[str, Profile] = {}

    @classmethod
    def from_resources(cls, folder: Path | None = None) -> LanguageData:
        if folder is None:
            from kiosk.paths import resource

            folder = resource("languages")
        shipped = {}
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            shipped[path.stem] = parse_profile(f"resources/languages/{path.name}", data)
        return cls(shipped)

    def set_layer(self, layer: str, raw: Mapping[str, dict]) -> None:
        """Replace the "packs" or "studio" profiles; a profile that fails its check (it was
        checked when installed or saved) is left out and logged."""
        parsed: dict[str, Profile] = {}
        for lang, obj in raw.items():
            try:
                parsed[lang] = parse_profile(f"{layer}:{lang}", obj)
            except LanguageDataError as exc:
                log.warning("language profile left out: %s", exc)
        setattr(self, layer, parsed)

    def _layers(self, lang: str) -> list[Profile]:
        return [p for layer in (self.studio, self.packs, self.shipped) if (p := layer.get(lang))]

    def languages(self) -> list[str]:
        return sorted(set(self.shipped) | set(self.packs) | set(self.studio))

    def keyboard(self, lang: str | None) -> Keyboard:
        if not lang:
            return Keyboard()
        keys: list[str] = []
        marks: list[str] = []
        telex = True
        telex_set = False
        for profile in reversed(self._layers(lang)):  # shipped first, then pack, then studio
            for k in profile.keys:
                if k.key not in keys and k.key not in BUILT_IN:
                    keys.append(k.key)
            for m in profile.marks:
                if m not in marks:
                    marks.append(m)
        for profile in self._layers(lang):
            if profile.telex is not None and not telex_set:
                telex, telex_set = profile.telex, True
        room = MAX_KEYS - len(marks)
        return Keyboard(tuple(keys[:room]), tuple(marks), telex)

    def keys_of(self, lang: str) -> list[Key]:
        """Every key listed for `lang`, with its status (shipped, pack, studio order)."""
        seen: dict[str, Key] = {}
        for profile in reversed(self._layers(lang)):
            for k in profile.keys:
                seen.setdefault(k.key, k)
        return list(seen.values())

    def number_order(self, lang: str | None) -> NumberOrder:
        if not lang:
            return VIETNAMESE_ORDER
        values: dict[str, str] = {}
        for profile in reversed(self._layers(lang)):
            values.update(profile.number_kit)
        return replace(VIETNAMESE_ORDER, **values) if values else VIETNAMESE_ORDER

    def widest(self) -> str | None:
        """The language whose keyboard has the most extra keys (for the layout audit)."""
        langs = self.languages()
        if not langs:
            return None
        best = max(
            langs, key=lambda lang: len(self.keyboard(lang).keys + self.keyboard(lang).marks)
        )
        kb = self.keyboard(best)
        return best if kb.keys or kb.marks else None


def split_keys(text: str) -> tuple[list[str], list[str]]:
    """The letters and marks a clerk typed, one per space-separated token (a lone combining
    mark is a mark key); LanguageDataError for anything else."""
    keys: list[str] = []
    marks: list[str] = []
    for token in nfc(text).split():
        if len(token) == 1 and _is_mark(token):
            if token not in marks:
                marks.append(token)
        elif (key := check_key(token, token)) not in keys:
            keys.append(key)
    return keys, marks


def studio_profile(keys: Iterable[str], marks: Iterable[str], by: str, when: str) -> dict:
    """The profile the language studio writes when a clerk adds keys."""
    return {
        "keyboard": {
            "keys": [{"key": k, "status": "added", "note": f"{by}, {when}"} for k in keys],
            "marks": list(marks),
            "sources": ["added in the language studio"],
        }
    }
