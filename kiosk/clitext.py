"""What the command line prints, in the kiosk's language, through the screens' translator.

The language is `--lang` given before the command (`kiosk --lang en doctor`), else
KIOSK_LANG, else `lang` in the settings file, else Vietnamese. Keys live in
resources/i18n/<lang>/cli.json. A message's values may themselves be translated texts
(`Text`) or a setting's `Source`, rendered in the same language when printed.
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.services.i18n import FALLBACK, LANGUAGES, Translator, _SafeDict

LANG_ENV = "KIOSK_LANG"


@dataclass(frozen=True)
class Text:
    """A message to translate when it is shown: a catalogue key and its values."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


def T(key: str, **values: Any) -> Text:
    return Text(key, values)


def lang_from_argv(argv: Sequence[str]) -> str | None:
    """`--lang X` / `--lang=X` among the options before the command, or None."""
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return None  # the command: options after it are the command's own
        i += 1
    return None


def cli_language(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    lang = lang_from_argv(argv) or env.get(LANG_ENV)
    if not lang:
        try:
            from kiosk.config import load_settings

            lang = load_settings(env=env).lang
        except Exception:  # a broken settings file is reported by the command itself
            lang = FALLBACK
    return lang if lang in LANGUAGES else FALLBACK


class Cli:
    """Translate and print for one command line run."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    @classmethod
    def for_language(cls, lang: str) -> Cli:
        return cls(Translator.from_resources(lang=lang if lang in LANGUAGES else FALLBACK))

    @property
    def lang(self) -> str:
        return self.translator.lang

    def tr(self, key: str, /, **values: Any) -> str:
        text = self.translator.tr(key)  # values are formatted here: any name may be used
        if not values:
            return text
        rendered = _SafeDict({k: self.render(v) for k, v in values.items()})
        return string.Formatter().vformat(text, (), rendered)

    def render(self, value: Any) -> Any:
        from kiosk.config import Source

        if isinstance(value, Text):
            return self.tr(value.key, **dict(value.values))
        if isinstance(value, Source):
            return self.tr(f"cli.source.{value.kind}", where=value.where)
        return value

    def say(self, key: str, /, **values: Any) -> None:
        print(self.tr(key, **values), flush=True)

    def error(self, key: str, /, **values: Any) -> None:
        print(self.tr(key, **values), file=sys.stderr, flush=True)

    def settings_error(self, exc) -> str:
        """A SettingsError as one sentence: what is wrong, where it came from, what to do."""
        from dataclasses import fields

        from kiosk.config import Settings

        if exc.name == "KIOSK_CONFIG":
            key = (
                "cli.settings.config_missing"
                if exc.origin.kind == "env"
                else "cli.settings.config_bad"
            )
            return self.tr(key, path=exc.value, error=exc.allowed)
        if exc.name not in {f.name for f in fields(Settings)}:
            return self.tr("cli.settings.unknown", name=exc.name, source=exc.origin)
        allowed_key = f"cli.allowed.{exc.name}"
        allowed = self.tr(allowed_key) if self.translator.has(allowed_key, "vi") else exc.allowed
        return self.tr(
            "cli.settings.invalid",
            name=exc.name,
            value=repr(exc.value),
            allowed=allowed,
            source=exc.origin,
            fix=fix_where(exc.name, exc.origin),
        )


def fix_where(name: str, source) -> Text:
    """What to do about a wrong setting `name`, given where its value came from."""
    kind = source.kind if source.kind in ("file", "env", "argument") else "default"
    return T(f"cli.fix.{kind}", name=name, where=source.where or "settings.toml")


def key_failure(cli: Cli, prog: str, exc: Exception) -> int:
    """A missing, unreadable or wrong data key: what to do (nothing was changed); exit 2."""
    cli.error("cli.key_failed", prog=prog, error=str(exc))
    return 2


def cli_of(args) -> Cli:
    """The command line's Cli (set by kiosk.cli.main), or one for the environment's language."""
    cli = getattr(args, "cli", None)
    return cli if cli is not None else Cli.for_language(cli_language())
