"""`python -m kiosk portal`: run the reference portal (the contract under /api/v1, and only
with --admin-token an admin API under /_admin) on 127.0.0.1, for demos, manual tests and
benchmarks."""

from __future__ import annotations

import argparse
import os

from kiosk.clitext import cli_of


def _kiosk_pair(text: str) -> tuple[str, str]:
    kiosk_id, sep, secret = text.partition(":")
    if not sep or not kiosk_id or not secret:
        raise argparse.ArgumentTypeError("expected KIOSK_ID:SECRET")
    return kiosk_id, secret


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "portal",
        help="cli.portal.help",
        description="cli.portal.description",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8400, help="cli.portal.opt.port")
    p.add_argument("--db", default="portal.sqlite3", help="cli.portal.opt.db")
    p.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T",
        help="cli.portal.opt.token",
    )
    p.add_argument(
        "--kiosk",
        action="append",
        default=[],
        type=_kiosk_pair,
        metavar="KIOSK_ID:SECRET",
        help="cli.portal.opt.kiosk",
    )
    p.add_argument(
        "--procedures",
        default=None,
        metavar="PATH",
        help="cli.portal.opt.procedures",
    )
    p.add_argument("--code-prefix", default="QN", help="cli.portal.opt.code_prefix")
    p.add_argument(
        "--processing-days",
        type=int,
        default=None,
        help="cli.portal.opt.processing_days",
    )
    p.add_argument(
        "--check-procedures",
        action="store_true",
        help="cli.portal.opt.check_procedures",
    )
    p.add_argument("--max-body", type=int, default=None, help="cli.portal.opt.max_body")
    p.add_argument("--skew-limit", type=float, default=300.0, help="cli.portal.opt.skew_limit")
    p.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="cli.portal.opt.clock_offset",
    )
    p.add_argument(
        "--no-record-bodies", action="store_true", help="cli.portal.opt.no_record_bodies"
    )
    p.add_argument(
        "--admin-token",
        default=os.environ.get("KIOSK_PORTAL_ADMIN_TOKEN") or None,
        help="cli.portal.opt.admin_token",
    )
    p.add_argument("--no-admin", action="store_true", help="cli.portal.opt.no_admin")
    p.add_argument("--cert", default=None, help="cli.portal.opt.cert")
    p.add_argument("--key", default=None, help="cli.portal.opt.key")
    p.add_argument("--log-level", default="WARNING")
    f = p.add_argument_group("cli.portal.faults")
    f.add_argument("--error-rate", type=float, default=0.0, help="cli.portal.opt.error_rate")
    f.add_argument(
        "--rate-limit-rate", type=float, default=0.0, help="cli.portal.opt.rate_limit_rate"
    )
    f.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="cli.portal.opt.drop_rate",
    )
    f.add_argument(
        "--drop-after-store-rate",
        type=float,
        default=0.0,
        help="cli.portal.opt.drop_after_store_rate",
    )
    f.add_argument(
        "--hang-rate",
        type=float,
        default=0.0,
        help="cli.portal.opt.hang_rate",
    )
    f.add_argument(
        "--hang-after-store-rate",
        type=float,
        default=0.0,
        help="cli.portal.opt.hang_after_store_rate",
    )
    f.add_argument("--hang-seconds", type=float, default=30.0)
    f.add_argument("--latency", type=float, default=0.0, help="cli.portal.opt.latency")
    f.add_argument("--latency-jitter", type=float, default=0.0)
    f.add_argument(
        "--retry-after",
        type=int,
        default=1,
        help="cli.portal.opt.retry_after",
    )
    f.add_argument("--retry-after-http-date", action="store_true")
    f.add_argument(
        "--fault-endpoints",
        default="procedures,attachments,dossiers,status",
        help="cli.portal.opt.fault_endpoints",
    )
    f.add_argument(
        "--fault-script",
        default="",
        help="cli.portal.opt.fault_script",
    )
    f.add_argument("--seed", type=int, default=None, help="cli.portal.opt.seed")
    p.set_defaults(func=run_portal)


def run_portal(args: argparse.Namespace) -> int:
    import logging
    import signal

    from kiosk.portal import MAX_BODY, Faults, ReferencePortal

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        faults = Faults(
            error_rate=args.error_rate,
            rate_limit_rate=args.rate_limit_rate,
            drop_rate=args.drop_rate,
            drop_after_store_rate=args.drop_after_store_rate,
            hang_rate=args.hang_rate,
            hang_after_store_rate=args.hang_after_store_rate,
            hang_seconds=args.hang_seconds,
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            retry_after=args.retry_after if args.retry_after >= 0 else None,
            retry_after_http_date=args.retry_after_http_date,
            endpoints=[e for e in args.fault_endpoints.split(",") if e],
            script=[s for s in args.fault_script.split(",") if s],
            seed=args.seed,
        )
        portal = ReferencePortal(
            args.db,
            host=args.host,
            port=args.port,
            kiosks=dict(args.kiosk),
            tokens=args.token,
            procedures=args.procedures,
            faults=faults,
            code_prefix=args.code_prefix,
            max_body=args.max_body or MAX_BODY,
            skew_limit=args.skew_limit,
            clock_offset=args.clock_offset,
            default_processing_days=args.processing_days,
            check_procedures=args.check_procedures,
            record_bodies=not args.no_record_bodies,
            certfile=args.cert,
            keyfile=args.key,
            admin=bool(args.admin_token) and not args.no_admin,
            admin_token=args.admin_token,
        )
    except (ValueError, OSError) as exc:
        cli_of(args).say("cli.portal.error", error=exc)
        return 2
    if not args.token or not args.kiosk:
        cli_of(args).say("cli.portal.no_identities")
    try:
        portal.start()
    except OSError as exc:
        cli_of(args).say("cli.portal.cannot_listen", host=args.host, port=args.port, error=exc)
        return 2
    # Scripts and tests wait for this exact line: it is not translated.
    print(f"portal listening on {portal.url}", flush=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        # Short waits keep the main thread responsive to signals.
        while not portal.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        portal.stop()
    return 0
