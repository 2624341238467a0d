"""`python -m kiosk sync --once`: one whole sync round, then exit.

Checks the portal (and the clock), delivers every dossier that is due, refreshes the status
of delivered dossiers and the procedure catalogue, delivers citizens' feedback, refreshes
the notices and the answers to feedback, and prints one line in the kiosk's
language (`--json`: one JSON object instead). For a scheduled task on a machine where the
kiosk window is not running, or to check an installation.

Exit codes: 0 done; 1 unfinished (offline, slowed down by the portal, or out of time:
what is left waits for the next round); 2 the settings stop it (e.g. an http:// portal
URL); 3 the portal refuses this kiosk's credentials.

Configured like the kiosk (kiosk.config: KIOSK_DATA_DIR, KIOSK_PORTAL_URL, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

OVERLAY_NAME = "catalogue-overlay.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sync", help="cli.sync.help")
    p.add_argument("--once", action="store_true", required=True, help="cli.sync.once")
    p.add_argument("--timeout", type=float, default=120.0, help="cli.sync.timeout")
    p.add_argument("--no-catalogue", action="store_true", help="cli.sync.no_catalogue")
    p.add_argument("--json", action="store_true", help="cli.sync.json")
    p.set_defaults(func=handle_sync)


def handle_sync(args: argparse.Namespace) -> int:
    import logging

    from kiosk.config import SettingsError, load_settings
    from kiosk.services.i18n import Translator
    from kiosk.services.portal_client import url_problem

    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sync: {exc}", file=sys.stderr)
        return 2
    translator = Translator.from_resources(lang=settings.lang)
    problem = url_problem(settings.portal_url)
    if problem is not None:
        for lang in dict.fromkeys((settings.lang, "vi", "en")):
            print(translator.tr(problem, lang), file=sys.stderr)
        if args.json:
            print(json.dumps({"exit_code": 2, "problem": "config", "detail": problem}))
        return 2
    if args.timeout <= 0:
        print("sync: --timeout must be more than 0", file=sys.stderr)
        return 2
    return _run(args, settings, translator)


def _run(args: argparse.Namespace, settings: Any, translator: Any) -> int:
    from kiosk.clitext import cli_of
    from kiosk.commands.outbox import _services
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.outbox import Outbox, PortalConfig
    from kiosk.services.sync_round import SyncRound

    store, dossiers = _services(cli_of(args), settings)
    outbox = None
    try:
        portal = PortalConfig.from_settings(settings)
        outbox = Outbox(
            store, dossiers, portal, lease_seconds=max(300.0, portal.request_budget * 3)
        )
        overlay = settings.data_dir / OVERLAY_NAME
        catalogue = None if args.no_catalogue else load_default_catalogue(overlay=overlay)
        sync_round = SyncRound(
            outbox, catalogue=catalogue, overlay_path=overlay, timeout=args.timeout
        )
        sync_round.steps.append(("language_packs", _language_packs(settings, outbox)))
        sync_round.steps.append(("two_way", _two_way(settings, store, dossiers.cipher, outbox)))
        report = sync_round.run()
    finally:
        if outbox is not None:
            outbox.close()
        store.close()
    code = report.exit_code
    if args.json:
        print(
            json.dumps(
                {
                    "exit_code": code,
                    "delivered": report.delivered,
                    "needs_clerk": report.needs_clerk,
                    "waiting": report.waiting,
                    "statuses": report.statuses,
                    "catalogue": report.catalogue,
                    "language_packs": str(report.steps.get("language_packs", "off")),
                    **report.steps.get("two_way", {}),
                    "problem": report.problem,
                    "detail": report.detail,
                    "seconds": round(report.seconds, 3),
                },
                sort_keys=True,
            )
        )
        return code
    tr = translator.tr
    if report.problem == "refused":
        line = tr("delivery.sync.refused", detail=report.detail, waiting=report.waiting)
    elif report.problem in ("offline", "timeout", "paused") and not report.delivered:
        line = tr("delivery.sync.offline", detail=report.detail, waiting=report.waiting)
    else:
        line = tr(
            "delivery.sync.summary",
            delivered=report.delivered,
            needs_clerk=report.needs_clerk,
            waiting=report.waiting,
            statuses=report.statuses,
            catalogue=tr(f"delivery.sync.catalogue.{report.catalogue}"),
        )
    print(line, flush=True)
    return code


def _language_packs(settings: Any, outbox: Any):
    """The round's step that installs the province's newer language packs."""
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.i18n import Translator
    from kiosk.services.langpacks import PackStore, known_items
    from kiosk.services.pack_sync import refresh_language_packs

    def known():
        return known_items(Translator.from_resources(), load_default_catalogue())

    def step(_round, _report):
        found = refresh_language_packs(
            outbox.link.call, PackStore(settings.language_packs_dir), known
        )
        return found.summary()

    return step


def _two_way(settings: Any, store: Any, cipher: Any, outbox: Any):
    """The round's step for citizens' feedback (delivered exactly once) and notices."""
    from kiosk.services.twoway import build_two_way

    two_way = build_two_way(
        store, cipher, settings.kiosk_id, settings.data_dir, settings.attachments_dir
    )

    def step(_round, _report):
        # Feedback was delivered with the dossiers by the round's deliver step.
        done = two_way(outbox.link.client(), force=True)
        counts = two_way.feedback.counts()
        result = {
            "feedback": {
                "delivered": counts.get("delivered", 0),
                "needs_clerk": counts.get("needs_clerk", 0),
                "waiting": counts.get("queued", 0) + counts.get("sending", 0),
                "answers_checked": done.answers_checked,
            }
        }
        if done.notices is not None:
            result["notices"] = {
                "stored": done.notices.stored,
                "refused": done.notices.refused,
                "shown": len(two_way.notices.visible()),
            }
        return result

    return step
