"""`python -m kiosk sync --once`: one whole sync round, then exit: deliver what is due
(dossiers, then citizens' feedback), refresh the procedure catalogue, the notices and the
answers to feedback. The last line is JSON with what was done. Configured like the kiosk."""

from __future__ import annotations

import argparse
import json

from kiosk.clitext import cli_of


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sync", help="cli.sync.help", description="cli.sync.description")
    p.add_argument("--once", action="store_true", required=True, help="cli.sync.opt.once")
    p.add_argument("--timeout", type=float, default=120.0, help="cli.outbox.opt.timeout")
    p.set_defaults(func=handle_sync)


def handle_sync(args: argparse.Namespace) -> int:
    from kiosk.commands.feedback import portal_client
    from kiosk.commands.outbox import _settings
    from kiosk.services.catalogue import load_default_catalogue
    from kiosk.services.crypto import DataCipher, load_or_create_keyring
    from kiosk.services.dossiers import DossierService
    from kiosk.services.outbox import Outbox, PortalConfig, drain_all
    from kiosk.services.portal_client import PortalError
    from kiosk.services.store import Store
    from kiosk.services.twoway import build_two_way

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    cipher = DataCipher(load_or_create_keyring(settings.data_key_path))
    dossiers = DossierService(
        store, cipher, settings.kiosk_id, settings.receipt_prefix, settings.attachments_dir
    )
    summary: dict = {"errors": []}
    outbox = Outbox(store, dossiers, PortalConfig.from_settings(settings))
    client = portal_client(settings)
    try:
        try:
            outbox.check_health()
            client.health()
        except PortalError as exc:
            cli.error("cli.sync.offline", message=exc.detail)
            summary["errors"].append(exc.detail)
            print(json.dumps(summary), flush=True)
            return 1
        status = drain_all(outbox, timeout=args.timeout)
        summary["dossiers"] = status.to_json().get("counts")
        overlay = settings.data_dir / "catalogue-overlay.json"
        try:
            merged = outbox.refresh_catalogue(load_default_catalogue(overlay=overlay), overlay)
            report = merged.merge_report
            summary["catalogue"] = {
                "added": len(report.added),
                "updated": len(report.updated),
                "withdrawn": len(report.withdrawn),
            }
        except PortalError as exc:
            summary["errors"].append(f"catalogue: {exc.detail}")
        two_way = build_two_way(
            store, cipher, settings.kiosk_id, settings.data_dir, settings.attachments_dir
        )
        try:
            done = two_way(client, force=True)
        except PortalError as exc:
            summary["errors"].append(exc.detail)
        else:
            summary["feedback"] = {
                "delivered": done.feedback.delivered,
                "needs_clerk": done.feedback.needs_clerk,
                "waiting": done.feedback.retry,
                "answers_checked": done.answers_checked,
            }
            if done.notices is not None:
                summary["notices"] = {
                    "stored": done.notices.stored,
                    "refused": done.notices.refused,
                    "shown": len(two_way.notices.visible()),
                }
            summary["errors"].extend(done.errors)
            for ref in done.notices.refused if done.notices else []:
                cli.error("cli.notices.refused", id=ref)
    finally:
        client.close()
        outbox.close()
        store.close()
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0 if not summary["errors"] else 1
