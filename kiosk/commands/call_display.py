"""`python -m kiosk call-display`: the queue's call display, a window for a TV.

It reads the centre's shared database (the kiosk's db_url setting, or --db-url) and
announces each call through the kiosk's speech engine (the `speech` setting).
"""

from __future__ import annotations

from kiosk.clitext import cli_of, key_failure


def register(subparsers) -> None:
    p = subparsers.add_parser("call-display", help="cli.call_display.help")
    p.add_argument("--db-url", default="", help="cli.call_display.db_url")
    p.add_argument("--lang", default="vi", help="cli.call_display.lang")
    p.add_argument("--announce", default="vi", help="cli.call_display.announce")
    p.add_argument("--rows", type=int, default=6, help="cli.call_display.rows")
    p.add_argument("--poll-ms", type=int, default=1500, help="cli.call_display.poll_ms")
    p.add_argument("--windowed", action="store_true", help="cli.call_display.windowed")
    p.add_argument("--screenshot", default="", help="cli.call_display.screenshot")
    p.set_defaults(func=handle)


def _speech(settings, cli):
    """announce(text, lang) through the speech engine, or a no-op when it is unavailable."""
    try:
        from kiosk.hardware.speech import Prompt, make_speech
        from kiosk.paths import resource

        engine = make_speech(settings.speech, resource("audio"))
    except Exception as exc:  # no speech must not mean no display
        cli.error("cli.call_display.no_speech", error=exc)
        return (lambda _text, _lang: None), None

    def announce(text: str, lang: str) -> None:
        engine.speak(Prompt("clerk.call.announce", lang, text, dynamic=True))

    return announce, engine


def handle(args) -> int:
    from kiosk.config import SettingsError, load_settings

    cli = cli_of(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        cli.error("cli.call_display.error", message=cli.settings_error(exc))
        return 2
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    from kiosk.qt.app import ensure_app
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.i18n import LANGUAGES, Translator
    from kiosk.services.queue import QueueService, load_groups
    from kiosk.views.call_display import CallDisplay

    if args.lang not in LANGUAGES:
        cli.error("cli.call_display.bad_lang", value=args.lang, allowed=", ".join(LANGUAGES))
        return 2
    langs = [lang for lang in args.announce.split(",") if lang.strip()]
    try:
        store = _open_store(settings, args.db_url)
    except DataKeyError as exc:
        return key_failure(cli, "call-display", exc)
    if store is None:
        cli.error("cli.call_display.schema_behind", url=_shown(args.db_url))
        return 2
    app = ensure_app(offscreen=bool(args.screenshot))
    announce, engine = _speech(settings, cli) if langs else ((lambda _t, _l: None), None)
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


def _open_store(settings, db_url: str | None):
    """The queue's store. A database behind this version's schema is upgraded as the
    kiosk does (with the data key) when it is this machine's own; another machine's
    database (--db-url) is left to its kiosk: None."""
    from kiosk.services.store import Store, script_heads

    url = db_url or settings.database_url
    store = Store(url, migrate=False)
    if store.revision() in script_heads():
        return store
    store.close()
    if url != settings.database_url:
        return None
    from kiosk.services.datakey import open_store

    return open_store(settings)[0]


def _shown(url: str | None) -> str:
    """A database URL without its password, for a message."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True) if url else ""
