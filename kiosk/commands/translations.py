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


def _language_state():
    """The texts as this kiosk shows them: shipped, installed packs, approved studio work
    (the studio only where this kiosk already has a database: nothing is created here)."""
    from kiosk.config import load_settings
    from kiosk.paths import resource
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.i18n import Translator
    from kiosk.services.langpacks import PackStore, apply_installed

    settings = load_settings()
    db = settings.data_dir / "kiosk.db"
    if settings.db_url or db.exists():
        from kiosk.context import build_context

        ctx = build_context(settings)
        return ctx.translator, ctx.catalogue, ctx.audio_dirs(), ctx.studio, ctx.close
    translator = Translator.from_resources()
    catalogue = load_default_catalogue()
    overlay = apply_installed(PackStore(settings.language_packs_dir), translator, catalogue)
    return translator, catalogue, [*overlay.audio_dirs.values(), resource("audio")], None, None


def coverage() -> dict[str, dict[str, tuple[int, int]]]:
    from kiosk.services.studio import APPROVED, DRAFT, RETURNED, load_groups

    translator, catalogue, audio_dirs, studio, close = _language_state()
    try:
        _, hidden = load_groups()
        vi = translator.catalogues["vi"]
        keys = [k for k in vi if not k.startswith(hidden)]  # what citizens meet
        texts = []
        for proc in catalogue:
            texts += [proc.titles, proc.summaries] + [f.labels for f in proc.fields]
            texts += [c.labels for f in proc.fields for c in f.choices]
            texts += [d.titles for d in proc.required_documents]
        texts = [t for t in texts if t]
        prompt_keys = sorted(k for k in vi if k.endswith(".prompt") or k.startswith("kit."))
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for lang in translator.languages():
            have = translator.catalogues.get(lang, {})
            recorded = sum(
                1 for k in prompt_keys if any((d / lang / f"{k}.wav").is_file() for d in audio_dirs)
            )
            out[lang] = {
                "strings": (sum(1 for k in keys if k in have), len(keys)),
                "procedures": (sum(1 for t in texts if lang in t), len(texts)),
                "recorded prompts": (recorded, len(prompt_keys)),
            }
            if studio is not None and lang != "vi":
                states = [e.state for e in studio.entries(lang).values()]
                total = len(states)
                out[lang]["approved"] = (states.count(APPROVED), total)
                out[lang]["drafts"] = (states.count(DRAFT) + states.count(RETURNED), total)
        return out
    finally:
        if close is not None:
            close()


def handle(args) -> int:
    from kiosk.paths import resource
    from kiosk.services.i18n import Translator

    if args.missing:
        from kiosk.services.studio import load_groups

        t = Translator.from_resources()
        _, hidden = load_groups()
        citizens = {k for k in t.catalogues["vi"] if not k.startswith(hidden)}
        for key in sorted(citizens - set(t.catalogues.get(args.missing, {}))):
            text = t.catalogues["vi"][key].replace("\n", "\\n")  # one key per line
            print(f"{key}\t{text}")
        return 0
    figures = coverage()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    cli = cli_of(args)
    names = ("lang", "strings", "texts", "audio", "approved", "drafts")
    heads = [cli.tr(f"cli.translations.head.{h}") for h in names]
    print(f"{heads[0]:<6}" + "".join(f"{h:>20}" for h in heads[1:]))
    for lang, parts in figures.items():
        cells = [f"{a}/{b} ({100 * a // max(b, 1)}%)" for a, b in parts.values()]
        print(f"{lang:<6}" + "".join(f"{c:>20}" for c in cells))
    from kiosk.hardware.speech import audit_recordings

    for path, problem in audit_recordings(resource("audio")):
        cli.say("cli.translations.bad_recording", path=path, problem=problem)
    return 0
