"""`python -m kiosk notices [--json] [--all] [--refresh]`: the notices this kiosk holds
(those citizens see now, urgent first then newest; `--all` also withdrawn and expired ones);
`--refresh` fetches changes from the portal first. Configured like the kiosk."""

from __future__ import annotations

import argparse
import json

from kiosk.clitext import cli_of


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "notices", help="cli.notices.help", description="cli.notices.description"
    )
    p.add_argument("--json", action="store_true", help="cli.notices.opt.json")
    p.add_argument("--all", action="store_true", help="cli.notices.opt.all")
    p.add_argument("--refresh", action="store_true", help="cli.notices.opt.refresh")
    p.set_defaults(func=handle_notices)


def handle_notices(args: argparse.Namespace) -> int:
    from kiosk.commands.outbox import _services, _settings
    from kiosk.services.notices import NoticeService

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    store, _dossiers = _services(cli, settings)
    try:
        service = NoticeService(store, settings.data_dir / "notice-media")
        if args.refresh:
            from kiosk.services.outbox import PortalConfig
            from kiosk.services.portal_client import PortalClient, PortalError

            portal = PortalConfig.from_settings(settings)
            try:
                with PortalClient(
                    portal.url, portal.kiosk_id, portal.secret, portal.token
                ) as client:
                    client.health()
                    result = service.sync(client)
            except PortalError as exc:
                cli.error("cli.notices.portal_error", message=exc.detail)
                return 1
            for ref in result.refused:
                cli.error("cli.notices.refused", id=ref)
        notices = service.all() if args.all else service.visible()
        if args.json:
            print(json.dumps([n.to_json() for n in notices], ensure_ascii=False, indent=1))
        else:
            if not notices:
                cli.say("cli.notices.none")
            for n in notices:
                mark = "!" if n.priority == "urgent" else " "
                print(f"{mark} {n.valid_from:%Y-%m-%d} {n.text('title', cli.lang)}")
    finally:
        store.close()
    return 0
