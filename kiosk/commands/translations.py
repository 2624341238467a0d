"""`python -m kiosk translations`: how much of each language is translated and recorded.

For community translators: which strings, procedure texts and spoken prompts still fall
back to Vietnamese, per language, and which recordings cannot be played.
"""

from __future__ import annotations

import json

from kiosk.clitext import cli_of


def register(subparsers) -> None:
    p = subparsers.add_parser("translations", help="cli.translations.help")
    p.add_argument("--missing", metavar="LANG", help="cli.translations.opt.missing")
    p.add_argument("--json", action="store_true", help="cli.translations.opt.json")
    p.set_defaults(func=handle)


def coverage() -> dict[str, dict[str, tuple[int, int]]]:
    from kiosk.paths import resource
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.i18n import LANGUAGES, Translator

    translator = Translator.from_resources()
    strings = translator.coverage()
    catalogue = load_default_catalogue()
    texts = []
    for proc in catalogue:
        texts += [proc.titles, proc.summaries] + [f.labels for f in proc.fields]
        texts += [c.labels for f in proc.fields for c in f.choices]
        texts += [d.titles for d in proc.required_documents]
    texts = [t for t in texts if t]
    audio = resource("audio")
    prompt_keys = sorted(k for k in translator.catalogues["vi"] if k.endswith(".prompt"))
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for lang in LANGUAGES:
        recorded = sum(1 for k in prompt_keys if (audio / lang / f"{k}.wav").is_file())
        out[lang] = {
            "strings": strings[lang],
            "procedures": (sum(1 for t in texts if lang in t), len(texts)),
            "recorded prompts": (recorded, len(prompt_keys)),
        }
    return out


def handle(args) -> int:
    from kiosk.paths import resource
    from kiosk.services.i18n import Translator

    if args.missing:
        t = Translator.from_resources()
        for key in sorted(set(t.catalogues["vi"]) - set(t.catalogues.get(args.missing, {}))):
            text = t.catalogues["vi"][key].replace("\n", "\\n")  # one key per line
            print(f"{key}\t{text}")
        return 0
    figures = coverage()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    cli = cli_of(args)
    heads = [cli.tr(f"cli.translations.head.{h}") for h in ("lang", "strings", "texts", "audio")]
    print(f"{heads[0]:<6}{heads[1]:>18}{heads[2]:>22}{heads[3]:>22}")
    for lang, parts in figures.items():
        cells = [f"{a}/{b} ({100 * a // max(b, 1)}%)" for a, b in parts.values()]
        print(f"{lang:<6}{cells[0]:>18}{cells[1]:>22}{cells[2]:>22}")
    from kiosk.hardware.speech import audit_recordings

    for path, problem in audit_recordings(resource("audio")):
        cli.say("cli.translations.bad_recording", path=path, problem=problem)
    return 0
