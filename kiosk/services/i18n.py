"""The one text path: `Translator.tr(key)` with per-string fallback to Vietnamese.

Catalogues are JSON files under resources/i18n/<lang>/*.json; every file of a language
is merged, so each part of the app keeps its strings in a file of its own. Language
codes are opaque keys (tyz, ium, bru are not resolved through any locale library).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.services.text import nfc

LANGUAGES: tuple[str, ...] = ("vi", "en", "tyz", "ium", "bru")
FALLBACK = "vi"


class CatalogueError(ValueError):
    pass


# Catalogues already read, by folder and by the name, time and size of every file in it:
# the command line and the kiosk window both read them at start, once is enough.
_READ: dict[tuple, dict[str, dict[str, str]]] = {}


def load_catalogues(root: Path) -> dict[str, dict[str, str]]:
    files = {
        lang: sorted((root / lang).glob("*.json")) if (root / lang).is_dir() else []
        for lang in LANGUAGES
    }
    try:
        signature = (str(root),) + tuple(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size)
            for paths in files.values()
            for p in paths
        )
    except OSError:
        signature = None
    if signature in _READ:
        return {lang: dict(texts) for lang, texts in _READ[signature].items()}
    catalogues = _read_catalogues(files)
    if signature is not None:
        _READ.clear()  # only the latest: a changed file is read again, nothing piles up
        _READ[signature] = {lang: dict(texts) for lang, texts in catalogues.items()}
    return catalogues


def _read_catalogues(files: dict[str, list[Path]]) -> dict[str, dict[str, str]]:
    catalogues: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        merged: dict[str, str] = {}
        for path in files[lang]:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise CatalogueError(f"{path}: not valid JSON ({exc})") from exc
            if not isinstance(data, dict):
                raise CatalogueError(f"{path}: must be an object of key -> text")
            for key, value in data.items():
                if key.startswith("_"):
                    continue  # "_comment" and similar notes for translators
                if not isinstance(value, str):
                    raise CatalogueError(f"{path}: key {key!r} must map to a string")
                if key in merged:
                    raise CatalogueError(f"{path}: key {key!r} is defined twice for {lang}")
                if value.strip():
                    merged[key] = nfc(value)
        catalogues[lang] = merged
    return catalogues


@dataclass
class Translator:
    catalogues: dict[str, dict[str, str]]
    lang: str = FALLBACK
    missing: set[tuple[str, str]] = field(default_factory=set)
    fallbacks: set[tuple[str, str]] = field(default_factory=set)  # shown in vi instead of lang

    @classmethod
    def from_resources(cls, root: Path | None = None, lang: str = FALLBACK) -> Translator:
        if root is None:
            from kiosk.paths import resource

            root = resource("i18n")
        return cls(load_catalogues(root), lang)

    def set_language(self, lang: str) -> None:
        if lang not in self.languages():
            allowed = ", ".join(self.languages())
            raise ValueError(f"unknown language {lang!r}; allowed: {allowed}")
        self.lang = lang

    def languages(self) -> list[str]:
        """The shipped languages, then those that installed language packs add."""
        return [*LANGUAGES, *(lang for lang in self.catalogues if lang not in LANGUAGES)]

    def add_pack_strings(self, strings: dict[str, dict[str, str]]) -> None:
        """An installed language pack's texts replace the shipped ones of its language
        (Vietnamese, the source, is never replaced)."""
        for lang, texts in strings.items():
            if lang != FALLBACK:
                self.catalogues.setdefault(lang, {}).update(texts)

    def offers(self, lang: str, keys: tuple[str, ...] = ("lang.self", "home.title")) -> bool:
        """True when `lang` has its own texts for the home screen, so it can be offered."""
        return lang in (FALLBACK, "en") or all(self.has(k, lang) for k in keys)

    def has(self, key: str, lang: str) -> bool:
        return key in self.catalogues.get(lang, {})

    def tr(self, key: str, lang: str | None = None, **values: object) -> str:
        lang = lang or self.lang
        text = self.catalogues.get(lang, {}).get(key)
        if text is None:
            text = self.catalogues.get(FALLBACK, {}).get(key)
            if text is not None:
                self.fallbacks.add((lang, key))
        if text is None:
            # A missing key shows as itself so it is seen; the audit reports it.
            self.missing.add((lang, key))
            text = key
        if values:
            text = string.Formatter().vformat(text, (), _SafeDict(values))
        return text

    def coverage(self) -> dict[str, tuple[int, int]]:
        """Per language: (translated keys, keys in the vi catalogue)."""
        base = set(self.catalogues.get(FALLBACK, {}))
        return {
            lang: (len(base & set(self.catalogues.get(lang, {}))), len(base)) for lang in LANGUAGES
        }


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
