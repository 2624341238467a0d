"""`python -m kiosk feedback ...`: citizens' feedback without the window.

    python -m kiosk feedback status [--json]     counts per delivery state
    python -m kiosk feedback drain [--timeout S] deliver until nothing waits; last line JSON
    python -m kiosk feedback show CODE [--json]  a slip code or the portal's feedback code

`python -m kiosk outbox seed --count N --kind feedback` seeds synthetic feedback.
Configured like the kiosk (KIOSK_DATA_DIR, KIOSK_PORTAL_URL, ...). Nothing personal is
printed: `show` gives the state and the authority's answer, never identity or phone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from kiosk.clitext import cli_of


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "feedback", help="cli.feedback.help", description="cli.feedback.description"
    )
    sub = p.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    s = sub.add_parser("status", help="cli.feedback.status.help")
    s.add_argument("--json", action="store_true", help="cli.outbox.opt.json")
    s.set_defaults(func=handle_status)
    d = sub.add_parser("drain", help="cli.feedback.drain.help")
    d.add_argument("--timeout", type=float, default=600.0, help="cli.outbox.opt.timeout")
    d.add_argument("--lease-seconds", type=float, default=60.0, help="cli.outbox.opt.lease_seconds")
    d.add_argument("--backoff-cap", type=float, default=600.0, help="cli.opt.seconds")
    d.set_defaults(func=handle_drain)
    w = sub.add_parser("show", help="cli.feedback.show.help")
    w.add_argument("code", help="cli.feedback.opt.code")
    w.add_argument("--json", action="store_true", help="cli.outbox.opt.json")
    w.set_defaults(func=handle_show)


def services(settings: Any, cli: Any = None, create_key: bool = False) -> Any:
    """Notices and feedback over the kiosk's store, the data key opened and checked."""
    from kiosk.commands.outbox import _services
    from kiosk.services.twoway import build_two_way

    if cli is None:
        from kiosk.clitext import Cli, cli_language

        cli = Cli.for_language(cli_language())
    store, dossiers = _services(cli, settings, create_key=create_key)
    return build_two_way(
        store, dossiers.cipher, settings.kiosk_id, settings.data_dir, settings.attachments_dir
    )


def portal_client(settings: Any) -> Any:
    from kiosk.services.outbox import PortalConfig
    from kiosk.services.portal_client import PortalClient

    portal = PortalConfig.from_settings(settings)
    return PortalClient(
        portal.url,
        portal.kiosk_id,
        portal.secret,
        portal.token,
        connect_timeout=portal.connect_timeout,
        read_timeout=portal.read_timeout,
        ca_bundle=portal.ca_bundle or None,
    )


def handle_status(args: argparse.Namespace) -> int:
    from kiosk.commands.outbox import _settings

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    two_way = services(settings, cli)
    try:
        counts = two_way.feedback.counts()
    finally:
        two_way.feedback.store.close()
    if args.json:
        print(json.dumps({"counts": counts}), flush=True)
    else:
        for state, n in sorted(counts.items()):
            print(f"{cli.tr('cli.outbox.state.' + state)}: {n}")
    return 0


def handle_drain(args: argparse.Namespace) -> int:
    from kiosk.commands.outbox import _settings
    from kiosk.services.feedback_delivery import FeedbackOutbox
    from kiosk.services.outbox import WAITING_STATES
    from kiosk.services.portal_client import PortalError

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    two_way = services(settings, cli)
    outbox = FeedbackOutbox(
        two_way.feedback, lease_seconds=args.lease_seconds, backoff=(0.2, args.backoff_cap)
    )
    deadline = time.monotonic() + args.timeout
    client = portal_client(settings)

    def waiting(counts: dict[str, int]) -> bool:
        return any(counts.get(state) for state in WAITING_STATES)

    try:
        try:
            client.health()
        except PortalError as exc:
            print(f"health: {exc.detail}", file=sys.stderr)
        while time.monotonic() < deadline:
            report = outbox.run_once(client)
            if not waiting(two_way.feedback.counts()):
                break
            if not report.claimed or report.auth_blocked:
                time.sleep(0.2)
        counts = two_way.feedback.counts()
    except ValueError as exc:  # a lease too short for one request
        cli.error("cli.outbox.error", message=str(exc))
        return 2
    finally:
        client.close()
        two_way.feedback.store.close()
    empty = not waiting(counts)
    print(json.dumps({"counts": counts, "empty": empty}), flush=True)
    return 0 if empty else 1


def handle_show(args: argparse.Namespace) -> int:
    from kiosk.commands.outbox import _settings
    from kiosk.services.portal_client import PortalError

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    two_way = services(settings, cli)
    try:
        view = two_way.feedback.find(args.code)
        if view is None:
            cli.error("cli.feedback.unknown")
            return 1
        if view.feedback_code:
            client = portal_client(settings)
            try:
                view = two_way.feedback.refresh_status(client, view.id) or view
            except PortalError as exc:
                print(f"portal: {exc.detail}", file=sys.stderr)
            finally:
                client.close()
        doc = {
            "slip_code": view.slip_code,
            "feedback_code": view.feedback_code,
            "topic": view.topic,
            "state": view.state,
            "portal_status": view.portal_status,
            "answer": view.answer,
        }
    finally:
        two_way.feedback.store.close()
    print(json.dumps(doc, ensure_ascii=False, indent=None if args.json else 1), flush=True)
    return 0


def seed_feedback(settings: Any, count: int, seed: int | None) -> int:
    """N confirmed synthetic feedbacks: a third anonymous (text), a third with a phone
    (text), a third with a short recording (anonymous)."""
    import random

    from kiosk.services.feedback import TOPICS, FeedbackDraft

    rng = random.Random(seed)
    two_way = services(settings, create_key=True)
    take = synthetic_voice(rng, 2.5)
    try:
        for n in range(count):
            kind = n % 3
            two_way.feedback.confirm(
                FeedbackDraft(
                    topic=rng.choice(TOPICS),
                    language=rng.choice(("vi", "tyz", "ium")),
                    identity="phone" if kind == 1 else "anonymous",
                    phone=("0" + rng.choice("3579") + f"{rng.randrange(10**8):08d}")
                    if kind == 1
                    else None,
                    text=None if kind == 2 else f"Góp ý thử nghiệm số {n + 1}",
                    recording=take if kind == 2 else None,
                )
            )
    finally:
        two_way.feedback.store.close()
    return count


def synthetic_voice(rng: Any, seconds: float) -> bytes:
    """A speech-like take (a voice with harmonics, loudness at syllable rate)."""
    import numpy as np

    from kiosk.services.recording import write_wav

    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    f0 = 150 + 60 * rng.random()
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3, 4))
    return write_wav(0.1 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)), rate)
