"""`python -m kiosk language-pack build|verify|import|export|list|restore`: language packs.

A pack carries a language's texts and recordings (see kiosk/services/langpacks.py). Import
is all or nothing and keeps the version installed before, which `restore` switches back to.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from kiosk.clitext import cli_of


def register(subparsers) -> None:
    p = subparsers.add_parser("language-pack", help="cli.language_pack.help")
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, title="cli.language_pack.actions"
    )
    b = sub.add_parser("build", help="cli.language_pack.build")
    b.add_argument("src", type=Path, help="cli.language_pack.src")
    b.add_argument("--lang", required=True, help="cli.language_pack.lang")
    b.add_argument("--version", type=int, required=True, help="cli.language_pack.version")
    b.add_argument("--out", type=Path, required=True, help="cli.language_pack.out")
    b.add_argument("--name", help="cli.language_pack.name")
    b.add_argument("--translator", action="append", default=[], help="cli.language_pack.translator")
    b.add_argument("--reviewer", action="append", default=[], help="cli.language_pack.reviewer")
    b.add_argument("--publisher", help="cli.language_pack.publisher")
    v = sub.add_parser("verify", help="cli.language_pack.verify")
    v.add_argument("file", type=Path, help="cli.language_pack.file")
    i = sub.add_parser("import", help="cli.language_pack.import")
    i.add_argument("file", type=Path, help="cli.language_pack.file")
    e = sub.add_parser("export", help="cli.language_pack.export")
    e.add_argument("--lang", required=True, help="cli.language_pack.lang")
    e.add_argument("--out", type=Path, required=True, help="cli.language_pack.out")
    e.add_argument("--version", type=int, help="cli.language_pack.version")
    sub.add_parser("list", help="cli.language_pack.list")
    r = sub.add_parser("restore", help="cli.language_pack.restore")
    r.add_argument("--lang", required=True, help="cli.language_pack.lang")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from kiosk.config import load_settings
    from kiosk.services.i18n import Translator
    from kiosk.services.langpacks import PackError, PackStore

    settings = load_settings()
    cli = cli_of(args)
    translator = Translator.from_resources(lang=cli.lang)
    tr = cli.tr
    store = PackStore(settings.language_packs_dir)
    try:
        return _ACTIONS[args.action](args, tr, store, translator)
    except PackError as exc:
        print(tr("langpack.refused"), file=sys.stderr)
        print(tr(f"langpack.err.{exc.kind}"), file=sys.stderr)
        if exc.file:
            print(tr("langpack.refused_file", file=exc.file), file=sys.stderr)
        print(tr("langpack.detail", detail=exc.problem), file=sys.stderr)
        return 1


def _build(args, tr, store, translator) -> int:
    from kiosk.services.langpacks import build_pack, catalogue_version, read_pack

    build_pack(
        args.src,
        args.lang,
        args.version,
        args.out,
        name=args.name,
        base_catalogue_version=catalogue_version(translator.catalogues["vi"]),
        translators=args.translator,
        reviewers=args.reviewer,
        publisher=args.publisher,
    )
    pack = read_pack(args.out)
    n = len(pack.manifest["files"])
    print(tr("langpack.built", file=args.out, language=args.lang, version=args.version, files=n))
    return 0


def _verify(args, tr, store, translator) -> int:
    from kiosk.services.langpacks import read_pack

    pack = read_pack(args.file)
    print(
        tr(
            "langpack.verified",
            name=pack.name,
            language=pack.language,
            version=pack.version,
            strings=len(pack.strings),
            procedures=len(pack.procedures),
            recordings=len(pack.recordings),
        )
    )
    keyboard = pack.profile.get("keyboard") or {}
    keys = [k["key"] if isinstance(k, dict) else k for k in keyboard.get("keys", [])]
    keys += ["\u25cc" + m for m in keyboard.get("marks", [])]
    if keys:
        print(tr("langpack.keyboard", keys=" ".join(keys)))
    if pack.profile.get("number_kit"):
        print(tr("langpack.number_order"))
    return 0


def _import(args, tr, store, translator) -> int:
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.langpacks import known_items

    keys, texts = known_items(translator, load_default_catalogue())
    report = store.install(args.file, keys, texts)
    inst = store.installed(report.language)
    name = inst.name if inst else report.language
    print(
        tr(
            "langpack.imported",
            name=name,
            language=report.language,
            version=report.version,
            strings=report.strings,
            procedures=report.procedures,
            recordings=report.recordings,
        )
    )
    if report.replaced is not None:
        print(tr("langpack.imported_previous", previous=report.replaced, language=report.language))
    if report.unknown_keys:
        keys_text = ", ".join(report.unknown_keys[:20])
        print(tr("langpack.skipped_unknown", n=len(report.unknown_keys), keys=keys_text))
    if report.stale:
        print(tr("langpack.skipped_stale", n=len(report.stale), keys=", ".join(report.stale[:20])))
    print(tr("langpack.restart"))
    return 0


def _export(args, tr, store, translator) -> int:
    """This kiosk's approved studio work; without any, the installed pack as it is."""
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.services.langpacks import MANIFEST, build_pack
    from kiosk.services.studio import StudioError

    inst = store.installed(args.lang)
    version = args.version or (inst.version + 1 if inst else 1)
    ctx = build_context(load_settings())
    try:
        ctx.studio.export_pack(args.lang, args.out, version)
        print(tr("langpack.exported", language=args.lang, version=version, file=args.out))
        return 0
    except StudioError:
        pass  # nothing approved here: hand on the installed pack
    finally:
        ctx.close()
    if inst is None:
        print(tr("langpack.nothing_to_export", language=args.lang), file=sys.stderr)
        return 1
    m = inst.manifest
    with tempfile.TemporaryDirectory(prefix="kiosk-pack-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(inst.folder, src, ignore=shutil.ignore_patterns(MANIFEST))
        build_pack(
            src,
            args.lang,
            inst.version,
            args.out,
            name=inst.name,
            base_catalogue_version=m.get("base_catalogue_version") or "unknown",
            translators=m.get("translators", []),
            reviewers=m.get("reviewers", []),
            publisher=m.get("publisher"),
            sources=m.get("sources"),
        )
    print(tr("langpack.exported", language=args.lang, version=inst.version, file=args.out))
    return 0


def _list(args, tr, store, translator) -> int:
    installed = store.all_installed()
    if not installed:
        print(tr("langpack.none"))
    for inst in installed:
        previous = inst.previous if inst.previous is not None else "-"
        print(
            tr(
                "langpack.list_line",
                language=inst.language,
                name=inst.name,
                version=inst.version,
                previous=previous,
            )
        )
    return 0


def _restore(args, tr, store, translator) -> int:
    version = store.restore(args.lang)
    print(tr("langpack.restored", language=args.lang, version=version))
    print(tr("langpack.restart"))
    return 0


_ACTIONS = {
    "build": _build,
    "verify": _verify,
    "import": _import,
    "export": _export,
    "list": _list,
    "restore": _restore,
}
