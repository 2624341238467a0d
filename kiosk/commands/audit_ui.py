"""`python -m kiosk audit-ui`: every screen, both sizes, every language; exit 1 on a violation."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from kiosk.clitext import cli_of

SIZES = ((1920, 1080), (1280, 800))


def register(subparsers) -> None:
    p = subparsers.add_parser("audit-ui", help="cli.audit_ui.help")
    p.add_argument("--lang", default="all", help="cli.audit_ui.lang")
    p.add_argument("--only", nargs="*", help="cli.audit_ui.only")
    p.set_defaults(func=handle)


def run_audit(langs: list[str], only: list[str] | None = None) -> list:
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qa.audit import Violation, audit_widget_tree
    from kiosk.qt.app import ensure_app, system_printer
    from kiosk.qt.speech_bridge import install_speech
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views import registry
    from kiosk.views.shell import MainWindow
    from kiosk.views.theme import FAMILY

    app = ensure_app(offscreen=True)
    violations: list[Violation] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-audit-") as tmp:
        settings = load_settings(
            env={}, config_path=Path(tmp) / "none.toml", data_dir=tmp, demo="true", speech="mock"
        )
        ctx = build_context(settings, system_printer)
        tasks = TaskRunner()
        tasks.inline = True
        try:
            # One window per size; each screen is shown with its sample in every language.
            for width, height in SIZES:
                window = MainWindow(ctx, tasks)
                install_speech(window, ctx)  # so the top bar has its sound buttons
                window.resize(width, height)
                window.show()
                size = f"{width}x{height}"
                for spec in registry.screens():
                    if only and spec.name not in only:
                        continue
                    for lang in langs:
                        translator = ctx.translator
                        translator.missing.clear()
                        translator.fallbacks.clear()
                        ctx.end_visit(lang)
                        window.set_language(lang)
                        window.show_sample(spec.name)
                        settle(app)
                        violations += audit_widget_tree(
                            window, spec.name, size, lang, translator, FAMILY
                        )
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
                app.processEvents()
        finally:
            ctx.close()
    return violations


def settle(app) -> None:
    """Let deferred deletes, layout requests and the resulting resizes all run."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()


def handle(args) -> int:
    from kiosk.services.i18n import LANGUAGES

    langs = list(LANGUAGES) if args.lang == "all" else [args.lang]
    violations = run_audit(langs, args.only)
    seen = set()
    for v in violations:
        line = str(v)
        if line not in seen:
            seen.add(line)
            print(line)
    summary = cli_of(args).tr("cli.audit_ui.summary", count=len(seen))
    print(summary, file=sys.stderr if seen else sys.stdout)
    return 1 if seen else 0
