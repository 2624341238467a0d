"""`python -m kiosk audit-ui`: every screen as the kiosk shows it, at every kiosk screen size,
in Vietnamese, English and the longest language; exit 1 on a violation."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from kiosk.clitext import cli_of


def register(subparsers) -> None:
    p = subparsers.add_parser("audit-ui", help="cli.audit_ui.help")
    p.add_argument("--lang", default="default", help="cli.audit_ui.lang_default")
    p.add_argument("--size", nargs="*", help="cli.audit_ui.size")
    p.add_argument("--only", nargs="*", help="cli.audit_ui.only")
    p.set_defaults(func=handle)


def longest_language(translator) -> str:
    """The language whose texts are longest in all (what is missing falls back to vi)."""
    from kiosk.services.i18n import LANGUAGES

    keys = set()
    for lang in LANGUAGES:
        keys |= set(translator.catalogues.get(lang, {}))

    def total(lang: str) -> int:
        return sum(len(translator.tr(k, lang)) for k in keys)

    return max(LANGUAGES, key=total)


def run_audit(
    langs: list[str] | None,
    only: list[str] | None = None,
    sizes: list[tuple[int, int]] | None = None,
) -> list:
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qa.audit import Violation, audit_widget_tree
    from kiosk.qt import stage
    from kiosk.qt.app import ensure_app, system_printer
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views import registry
    from kiosk.views.theme import FAMILY

    ensure_app(offscreen=True)
    violations: list[Violation] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-audit-") as tmp:
        settings = load_settings(
            env={}, config_path=Path(tmp) / "none.toml", data_dir=tmp, demo="true", speech="mock"
        )
        ctx = build_context(settings, system_printer)
        translator = ctx.translator
        if langs is None:
            langs = list(dict.fromkeys(["vi", "en", longest_language(translator)]))
        tasks = TaskRunner()
        tasks.inline = True
        try:
            for width, height in sizes or stage.SIZES:
                window = stage.build_window(ctx, tasks, width, height)
                # Every field is audited with the tallest keyboard: that of the language
                # with the most extra keys (kiosk.services.language_data).
                window.keyboard_ctl.lang_override = ctx.language_data.widest()
                target = stage.target_size(window)
                size = f"{width}x{height}"
                for spec in registry.screens():
                    if only and spec.name not in only:
                        continue
                    for lang in langs:
                        translator.missing.clear()
                        translator.fallbacks.clear()
                        stage.stage(window, spec.name, lang)
                        violations += audit_widget_tree(
                            window, spec.name, size, lang, translator, FAMILY
                        )
                        violations += layout_violations(window, spec.name, size, lang, target)
                        for _lang, key in sorted(translator.missing):
                            violations.append(
                                Violation(
                                    spec.name,
                                    size,
                                    lang,
                                    "catalogue",
                                    key,
                                    "missing from every catalogue",
                                )
                            )
                        for fb_lang, key in sorted(translator.fallbacks):
                            if fb_lang == "en":
                                violations.append(
                                    Violation(
                                        spec.name,
                                        size,
                                        lang,
                                        "catalogue",
                                        key,
                                        "missing from the en catalogue",
                                    )
                                )
                    current = window.current_screen()
                    if current is not None:
                        current.leave()
                window.close()
                window.deleteLater()
                stage.settle()
        finally:
            ctx.close()
    return violations


def layout_violations(window, screen: str, size: str, lang: str, target) -> list:
    """The layout checks of the window as it is now, as Violations."""
    from PySide6.QtWidgets import QWidget

    from kiosk.qa.audit import Violation
    from kiosk.qa.layout_audit import _name, audit_layout

    found: list[Violation] = []

    def add(rule: str, widget, detail: str) -> None:
        label = _name(widget) if isinstance(widget, QWidget) else str(widget)
        found.append(Violation(screen, size, lang, rule, label, detail))

    audit_layout(window, window, add, target, window.keyboard)
    return found


def settle(app=None) -> None:
    from kiosk.qt.stage import settle as run

    run()


def handle(args) -> int:
    from kiosk.qt.stage import parse_size
    from kiosk.services.i18n import LANGUAGES

    if args.lang == "all":
        langs: list[str] | None = list(LANGUAGES)
    elif args.lang == "default":
        langs = None
    elif args.lang in LANGUAGES:
        langs = [args.lang]
    else:
        print(
            f"--lang: {args.lang!r}; allowed: {', '.join(LANGUAGES)}, all, default", file=sys.stderr
        )
        return 2
    sizes = [parse_size(s) for s in args.size] if args.size else None
    violations = run_audit(langs, args.only, sizes)
    from PySide6.QtWidgets import QApplication

    print(f"platform {QApplication.platformName()}", file=sys.stderr)
    seen = set()
    for v in violations:
        line = str(v)
        if line not in seen:
            seen.add(line)
            print(line)
    summary = cli_of(args).tr("cli.audit_ui.summary", count=len(seen))
    print(summary, file=sys.stderr if seen else sys.stdout)
    return 1 if seen else 0
