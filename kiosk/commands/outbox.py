"""`python -m kiosk outbox ...`: look at and drive the outbox without the window.

    python -m kiosk outbox status [--json]          counts per state, alerts
    python -m kiosk outbox drain [--timeout S]      deliver until nothing waits (or time is up);
                                                    the last line is JSON with the counts
    python -m kiosk outbox seed --count N           enqueue N synthetic dossiers (tests, demos)
    python -m kiosk outbox seed --count N --kind payment
                                                    N synthetic dossiers, each with a recorded
                                                    fee payment (sent once its dossier is in)

Configured like the kiosk (kiosk.config: KIOSK_DATA_DIR, KIOSK_DB_URL, KIOSK_PORTAL_URL,
KIOSK_PORTAL_TOKEN, KIOSK_ID, KIOSK_SECRET, ...). Messages and `status` are in the kiosk's
language; the progress lines and the JSON lines are for scripts and stay as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kiosk.clitext import Cli, cli_of, key_failure


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "outbox",
        help="cli.outbox.help",
        description="cli.outbox.description",
    )
    sub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    s = sub.add_parser("status", help="cli.outbox.status.help")
    s.add_argument("--json", action="store_true", help="cli.outbox.opt.json")
    s.set_defaults(func=handle_status)

    d = sub.add_parser("drain", help="cli.outbox.drain.help")
    d.add_argument("--timeout", type=float, default=600.0, help="cli.outbox.opt.timeout")
    d.add_argument(
        "--lease-seconds",
        type=float,
        default=300.0,
        help="cli.outbox.opt.lease_seconds",
    )
    d.add_argument("--batch", type=int, default=25, help="cli.outbox.opt.batch")
    d.add_argument("--senders", type=int, default=1, help="cli.outbox.opt.senders")
    d.add_argument("--worker-id", default=None, help="cli.outbox.opt.worker_id")
    d.add_argument("--backoff-base", type=float, default=2.0, help="cli.opt.seconds")
    d.add_argument("--backoff-cap", type=float, default=600.0, help="cli.opt.seconds")
    d.add_argument(
        "--probe-interval",
        type=float,
        default=300.0,
        help="cli.outbox.opt.probe_interval",
    )
    d.add_argument("--progress", type=float, default=1.0, help="cli.outbox.opt.progress")
    d.set_defaults(func=handle_drain)

    e = sub.add_parser("seed", help="cli.outbox.seed.help")
    e.add_argument("--count", type=int, required=True, help="cli.outbox.opt.count")
    e.add_argument("--attachments", type=int, default=0, help="cli.outbox.opt.attachments")
    e.add_argument("--seed", type=int, default=None, help="cli.outbox.opt.seed")
    e.add_argument(
        "--kind",
        choices=("dossier", "payment", "feedback"),
        default="dossier",
        help="cli.outbox.opt.kind",
    )
    e.set_defaults(func=handle_seed)


def _settings(cli: Cli) -> Any:
    from kiosk.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        cli.error("cli.outbox.error", message=cli.settings_error(exc))
        return None


def _url_allowed(settings: Any) -> bool:
    """False (with the reason printed, in the kiosk's language, Vietnamese and English)
    when the portal URL would send the token and personal data in clear."""
    from kiosk.services.i18n import Translator
    from kiosk.services.portal_client import url_problem

    problem = url_problem(settings.portal_url)
    if problem is None:
        return True
    translator = Translator.from_resources(lang=settings.lang)
    for lang in dict.fromkeys((settings.lang, "vi", "en")):
        print(f"outbox: {translator.tr(problem, lang)}", file=sys.stderr)
    return False


def _services(cli: Cli, settings: Any, create_key: bool = False) -> tuple[Any, Any]:
    """The store and the dossier service, without the rest of the app. The data key is
    made only for a brand-new folder (`outbox seed`); otherwise it is read and checked,
    and a missing or wrong one stops the command (exit 2) before anything changes."""
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.datakey import open_store
    from kiosk.services.dossiers import DossierService

    try:
        store, cipher = open_store(settings, create_key=create_key)
    except DataKeyError as exc:
        raise SystemExit(key_failure(cli, "kiosk outbox", exc)) from None
    return store, DossierService(
        store, cipher, settings.kiosk_id, settings.receipt_prefix, settings.attachments_dir
    )


def handle_status(args: argparse.Namespace) -> int:
    from kiosk.services.outbox import Outbox, PortalConfig

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    store, dossiers = _services(cli, settings)
    try:
        outbox = Outbox(
            store,
            dossiers,
            PortalConfig.from_settings(settings),
            lease_seconds=max(
                300.0, settings.portal_connect_timeout + settings.portal_read_timeout + 1
            ),
        )
        snapshot = outbox.status().to_json()
        snapshot["payments"] = payment_counts(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(snapshot, ensure_ascii=False, sort_keys=True))
    else:
        names = {state: cli.tr(f"cli.outbox.state.{state}") for state in snapshot["counts"]}
        width = max([len(n) for n in names.values()] + [14])
        for state, n in snapshot["counts"].items():
            print(f"{names[state]:<{width}} {n}")
        cli.say(
            "cli.outbox.others_waiting",
            payments=snapshot["payments_waiting"],
            feedback=snapshot["feedback_waiting"],
            refused=snapshot["others_need_clerk"],
        )
        cli.say("cli.outbox.oldest", at=snapshot["oldest_waiting_since"] or "-")
        cli.say("cli.outbox.last_delivery", at=snapshot["last_success_at"] or "-")
        if snapshot["auth_alert"]:
            cli.say("cli.outbox.alert.auth", error=snapshot["auth_alert"]["error"])
        if snapshot["clock_offset_seconds"] is not None:
            cli.say("cli.outbox.alert.clock", seconds=snapshot["clock_offset_seconds"])
    return 0


def handle_drain(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading
    import time

    from kiosk.services.outbox import Backoff, Outbox, PortalConfig
    from kiosk.services.sync import SyncWorker

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    if not _url_allowed(settings):
        return 2
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    store, dossiers = _services(cli, settings)
    try:
        outbox = Outbox(
            store,
            dossiers,
            PortalConfig.from_settings(settings),
            worker_id=args.worker_id,
            lease_seconds=args.lease_seconds,
            batch_size=args.batch,
            senders=args.senders,
            backoff=Backoff(base=args.backoff_base, cap=args.backoff_cap),
            auth_probe_interval=args.probe_interval,
        )
    except ValueError as exc:
        cli.error("cli.outbox.error", message=str(exc))
        store.close()
        return 2
    worker = SyncWorker(
        outbox,
        catalogue_interval=None,
        status_interval=None,
        offline_retry=(0.2, 5.0),
        idle_interval=1.0,
        state_interval=0.5,
    )
    done = threading.Event()

    def _terminate(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    start = time.monotonic()
    # No request outlives --timeout: a portal that answers slowly is cut off on time.
    outbox.set_deadline(start + args.timeout)
    worker.start()
    last_line = 0.0
    empty = False
    try:
        while not done.is_set():
            empty = not outbox.has_work()
            elapsed = time.monotonic() - start
            if empty or elapsed >= args.timeout:
                break
            if args.progress and time.monotonic() - last_line >= args.progress:
                last_line = time.monotonic()
                state = worker.state
                counts = outbox.counts()
                online = {True: "online", False: "offline", None: "?"}[state.online]
                print(
                    f"progress {elapsed:6.1f}s {online} delivered_now={state.delivered_total}"
                    f" queued={counts['queued']} sending={counts['sending']}"
                    f" needs_clerk={counts['needs_clerk']}"
                    f" auth_blocked={counts['auth_blocked']}",
                    flush=True,
                )
            done.wait(0.1)
    finally:
        worker.stop(timeout=60)
        elapsed = time.monotonic() - start
        status = outbox.status()
        payments = payment_counts(store)
        outbox.close()
        store.close()
    final = {
        "final": True,
        "empty": empty,
        "counts": status.counts,
        "delivered_now": worker.state.delivered_total,
        "elapsed": round(elapsed, 3),
        "online": worker.state.online,
        "auth_alert": status.auth_alert.error if status.auth_alert else None,
        "payments": payments,
    }
    print(json.dumps(final, sort_keys=True), flush=True)
    return 0 if empty else 1


# --- synthetic dossiers ------------------------------------------------------------------------
_FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Lò",
    "Hà",
    "Nông",
    "Triệu",
    "Lục",
)
_MIDDLE = ("Thị", "Văn", "Đức", "Ngọc", "Thu", "Minh", "Hữu", "Thành", "Quỳnh")
_GIVEN = (
    "Hồng Nhung",
    "Quý",
    "Hoà",
    "Khôi",
    "Thuỷ",
    "Dũng",
    "Hương",
    "Tuấn",
    "Mỹ",
    "Ánh",
    "Sơn",
    "Yến",
    "Đạt",
    "Lộc",
    "Phượng",
)
_PLACES = (
    "Thôn Nà Pò, xã Đồng Văn, huyện Bình Liêu, tỉnh Quảng Ninh",
    "Bản Khe Tre, xã Hướng Hoá, huyện Hướng Hoá, tỉnh Quảng Trị",
    "Thôn Lũng Cú, xã Lũng Cú, huyện Đồng Văn, tỉnh Hà Giang",
)


def synthetic_draft(rng: Any, attachments: int = 0, procedure_version: int = 1) -> Any:
    """A valid draft for procedure 1.004873 (marital status), with a fictitious citizen."""
    import hashlib
    from datetime import UTC, date, datetime, timedelta

    from kiosk.services.dossiers import Applicant, AttachmentDraft, DossierDraft
    from kiosk.services.provinces import PROVINCE_CODES

    sex = rng.choice(("male", "female"))
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    century = 0 if born.year < 2000 else 2
    digit = century + (0 if sex == "male" else 1)
    id_number = (
        rng.choice(sorted(PROVINCE_CODES))
        + str(digit)
        + f"{born.year % 100:02d}"
        + f"{rng.randrange(10**6):06d}"
    )
    middle = "Thị" if sex == "female" else rng.choice(_MIDDLE)
    name = f"{rng.choice(_FAMILY)} {middle} {rng.choice(_GIVEN)}"
    phone = "0" + rng.choice("3579") + f"{rng.randrange(10**8):08d}"
    files = []
    for i in range(attachments):
        content = hashlib.sha256(f"{rng.random()}:{i}".encode()).digest() * 8
        files.append(
            AttachmentDraft(f"supporting_{i + 1}", "image/png", b"\x89PNG\r\n\x1a\n" + content)
        )
    return DossierDraft(
        procedure_code="1.004873",
        procedure_version=procedure_version,
        language="vi",
        applicant=Applicant(
            id_number,
            name,
            born,
            sex,
            rng.choice(_PLACES),
            phone=phone,
            id_source=rng.choice(("qr_scan", "manual")),
        ),
        fields={
            "purpose": rng.choice(("marriage", "other")),
            "current_status": rng.choice(("never_married", "divorced", "widowed")),
            "phone": phone,
        },
        consent_version="consent-2026-1",
        consent_given_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        attachments=files,
    )


def payment_counts(store: Any) -> dict[str, int]:
    """Recorded fee payments by delivery state (queued, delivered, needs_clerk, ...)."""
    from sqlalchemy import func, select

    from kiosk.services.models import Payment

    rows = store.read(
        lambda s: s.execute(
            select(Payment.state, func.count())
            .where(Payment.state.is_not(None))
            .group_by(Payment.state)
        ).all()
    )
    counts = {"queued": 0, "delivered": 0, "needs_clerk": 0}
    counts.update({state: int(n) for state, n in rows})
    return counts


def handle_seed(args: argparse.Namespace) -> int:
    import random
    import time

    cli = cli_of(args)
    settings = _settings(cli)
    if settings is None:
        return 2
    if args.count < 0:
        cli.error("cli.outbox.count_negative")
        return 2
    if getattr(args, "kind", "dossier") == "feedback":
        from kiosk.commands.feedback import seed_feedback

        start = time.perf_counter()
        seed_feedback(settings, args.count, args.seed)
        elapsed = time.perf_counter() - start
        print(json.dumps({"seeded": args.count, "elapsed": round(elapsed, 3)}), flush=True)
        return 0
    rng = random.Random(args.seed)
    store, dossiers = _services(cli, settings, create_key=True)
    start = time.perf_counter()
    payments = None
    if args.kind == "payment":
        from kiosk.services.payments import PaymentService

        payments = PaymentService(store, settings.kiosk_id)
    try:
        for _ in range(args.count):
            confirmed = dossiers.confirm(synthetic_draft(rng, args.attachments))
            if payments is not None:
                # Marital status certification's fee, paid in cash at the counter.
                payments.fee_due(confirmed.id, "cash", 5000)
                payments.record(confirmed.id, "cash", None, e_receipt_number=None)
    finally:
        store.close()
    elapsed = time.perf_counter() - start
    print(
        json.dumps({"seeded": args.count, "kind": args.kind, "elapsed": round(elapsed, 3)}),
        flush=True,
    )
    return 0
