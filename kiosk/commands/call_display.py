"""`python -m kiosk call-display`: the queue's call display, a window for a TV.

It reads the centre's shared database (the kiosk's db_url setting, or --db-url) and
announces each call through the kiosk's speech engine (the `speech` setting).
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("call-display", help="show the queue's called numbers on a TV")
    p.add_argument("--db-url", default="", help="SQLAlchemy URL (default: the kiosk's setting)")
    p.add_argument("--lang", default="vi", help="language of the display (default vi)")
    p.add_argument(
        "--announce",
        default="vi",
        help="comma-separated languages to announce calls in ('' for silence)",
    )
    p.add_argument("--rows", type=int, default=6, help="calls shown, the newest large")
    p.add_argument("--poll-ms", type=int, default=1500, help="database polling interval")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.add_argument(
        "--screenshot", default="", help="save a PNG after the first refresh and quit (for checks)"
    )
    p.set_defaults(func=handle)


def _speech(settings):
    """announce(text, lang) through the speech engine, or a no-op when it is unavailable."""
    try:
        from kiosk.hardware.speech import Prompt, make_speech
        from kiosk.paths import resource

        engine = make_speech(settings.speech, resource("audio"))
    except Exception as exc:  # no speech must not mean no display
        print(f"call-display: speech unavailable ({exc}); calls are shown only", file=sys.stderr)
        return (lambda _text, _lang: None), None

    def announce(text: str, lang: str) -> None:
        engine.speak(Prompt("clerk.call.announce", lang, text, dynamic=True))

    return announce, engine


def handle(args) -> int:
    from kiosk.config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"call-display: {exc}", file=sys.stderr)
        return 2
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    from kiosk.qt.app import ensure_app
    from kiosk.services.i18n import LANGUAGES, Translator
    from kiosk.services.queue import QueueService, load_groups
    from kiosk.services.store import Store
    from kiosk.views.call_display import CallDisplay

    if args.lang not in LANGUAGES:
        print(
            f"call-display: --lang {args.lang!r}; allowed: {', '.join(LANGUAGES)}", file=sys.stderr
        )
        return 2
    langs = [lang for lang in args.announce.split(",") if lang.strip()]
    app = ensure_app(offscreen=bool(args.screenshot))
    store = Store(args.db_url or settings.database_url)
    announce, engine = _speech(settings) if langs else ((lambda _t, _l: None), None)
    display = CallDisplay(
        QueueService(store, load_groups(), machine=settings.kiosk_id),
        Translator.from_resources(),
        announce=announce,
        lang=args.lang,
        announce_langs=langs,
        rows=args.rows,
        poll_ms=args.poll_ms,
        title=settings.commune_name,
    )
    if args.screenshot:
        display.resize(1920, 1080)
        display.show()
        display.tasks.inline = True
        display.poll()
        app.processEvents()
        ok = display.grab().save(args.screenshot)
        store.close()
        return 0 if ok else 1
    if args.windowed:
        display.resize(1280, 720)
        display.show()
    else:
        from kiosk.qt.app import fill_screen

        fill_screen(display)
    display.start()
    try:
        return app.exec()
    finally:
        display.stop()
        if engine is not None:
            engine.close()
        store.close()
