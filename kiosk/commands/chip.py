"""`python -m kiosk chip read`: read an ID card's chip and say whether it is genuine.

    python -m kiosk chip read --json [--reader NAME] [--csca FILE_OR_FOLDER]
                              [--id 12-DIGITS --dob YYYY-MM-DD [--issued YYYY-MM-DD]
                               [--expiry YYYY-MM-DD]] [--sim]

Prints the MRZ fields, the DG13 fields, every data group's hash and whether it matched
the SOD, and the level (never the portrait's bytes). Exit 0 for chip_verified and
chip_unverified, 2 for chip_invalid, 1 for a failed read. Without --id/--dob the card's
QR code is scanned with the configured camera first, as the journey does.

    python -m kiosk chip emulate [--vpcd HOST:PORT]

puts the demo card on vpcd's virtual reader (vsmartcard-vpcd) for demonstrations.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import date

from kiosk.clitext import cli_of

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def register(subparsers) -> None:
    p = subparsers.add_parser("chip", help="cli.chip.help")
    sub = p.add_subparsers(dest="chip_command", metavar="ACTION", required=True)
    r = sub.add_parser("read", help="cli.chip.read.help")
    r.add_argument("--json", action="store_true", help="cli.chip.opt.json")
    r.add_argument("--reader", default=None, help="cli.chip.opt.reader")
    r.add_argument("--csca", default=None, help="cli.chip.opt.csca")
    r.add_argument("--id", dest="id_number", help="cli.chip.opt.id")
    r.add_argument("--dob", type=date.fromisoformat, help="cli.chip.opt.dob")
    r.add_argument("--issued", type=date.fromisoformat, help="cli.chip.opt.issued")
    r.add_argument("--expiry", type=date.fromisoformat, help="cli.chip.opt.expiry")
    r.add_argument("--timeout", type=float, default=None, help="cli.chip.opt.timeout")
    r.add_argument("--sim", action="store_true", help="cli.chip.opt.sim")
    r.set_defaults(func=handle_read)
    e = sub.add_parser("emulate", help="cli.chip.emulate.help")
    e.add_argument("--vpcd", default="127.0.0.1:35963", help="cli.chip.opt.vpcd")
    e.set_defaults(func=handle_emulate)


def _scan_qr(cli, settings, timeout: float = 30.0):
    """The QR code of the card in front of the camera, parsed (as the journey does)."""
    from kiosk.hardware.camera import OpenCvCamera, ScanWorker, SimulatedCamera
    from kiosk.paths import resource
    from kiosk.services import cccd

    if settings.camera == "sim":
        camera = SimulatedCamera(settings.camera_sim_source or resource("samples", "camera"))
    else:
        camera = OpenCvCamera(settings.camera_index, settings.camera_width, settings.camera_height)
    found: list[str] = []
    failed: list[str] = []
    done = threading.Event()
    worker = ScanWorker(
        camera,
        on_result=lambda text: (found.append(text), done.set()),
        on_error=lambda _key, detail: (failed.append(detail), done.set()),
    )
    cli.error("cli.chip.hold_qr")
    worker.start()
    done.wait(timeout)
    worker.stop()
    if failed or not found:
        detail = failed[0] if failed else cli.tr("cli.chip.no_qr_timeout")
        raise SystemExit(cli.tr("cli.chip.no_qr", detail=detail))
    result = cccd.parse(found[0])
    if isinstance(result, cccd.CccdError):
        raise SystemExit(cli.tr("cli.chip.not_card_qr", detail=result.detail))
    return result


def handle_read(args) -> int:
    from kiosk.config import SettingsError, load_settings
    from kiosk.hardware.cardreader import CardReaderError
    from kiosk.services.chip_identity import build_chip_service
    from kiosk.services.icao9303 import pa
    from kiosk.services.icao9303.reader import ChipReadError

    cli = cli_of(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(cli.settings_error(exc), file=sys.stderr)
        return EXIT_FAILED
    service = build_chip_service(settings, kind="sim" if args.sim else "pcsc", name=args.reader)
    if args.csca is not None:
        service.trust = pa.load_trust_store(args.csca)
    if args.timeout:
        service.timeout_s = args.timeout
    if args.id_number or args.dob:
        if not (args.id_number and args.dob):
            cli.error("cli.chip.id_dob_together")
            return EXIT_FAILED
        if len(args.id_number) != 12 or not args.id_number.isdigit():
            cli.error("cli.chip.id_format")
            return EXIT_FAILED
        id_number, birth, issued = args.id_number, args.dob, args.issued
    else:
        citizen = _scan_qr(cli, settings)
        id_number, birth, issued = citizen.id_number, citizen.date_of_birth, citizen.issue_date
    try:
        identity = service.read(id_number, birth, issued, args.expiry)
    except (CardReaderError, ChipReadError) as exc:
        out = {"level": None, "error": exc.key, "detail": exc.detail}
        if args.json:
            print(json.dumps(out, ensure_ascii=False))
        else:
            cli.say("cli.chip.read_failed", reason=cli.tr(exc.key), detail=exc.detail)
        return EXIT_FAILED
    data = identity.to_json()
    identity.wipe()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_text(cli, data)
    return EXIT_INVALID if data["level"] == pa.INVALID else EXIT_OK


def _print_text(cli, data: dict) -> None:
    cli.say("cli.chip.level", level=data["level"])
    for key in ("unverified_reason", "invalid_reason"):
        if data.get(key):
            cli.say("cli.chip.reason", name=key, value=data[key])
    for group in data["data_groups"]:
        mark = cli.tr("cli.chip.group_matched" if group["matched"] else "cli.chip.group_mismatch")
        print(f"DG{group['dg']:<3} {group['algorithm']} {group['hash'][:16]}... {mark}")
    for section in ("mrz", "dg13"):
        for key, value in (data.get(section) or {}).items():
            print(f"{section}.{key}: {value}")


def handle_emulate(args) -> int:
    from kiosk.hardware.card_emulator import TestPki, VpcdClient, demo_person, make_card

    cli = cli_of(args)
    host, _, port = args.vpcd.rpartition(":")
    client = VpcdClient(host or "127.0.0.1", int(port))
    pki = TestPki(csca_name="CSCA Demo (not for citizens)")
    try:
        client.insert(make_card(demo_person(), pki=pki))
    except OSError as exc:
        cli.error("cli.chip.vpcd_unreachable", vpcd=args.vpcd, error=exc)
        return EXIT_FAILED
    cli.error("cli.chip.emulating", vpcd=args.vpcd)
    try:
        client.wait()  # until vpcd (pcscd) closes the connection
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return EXIT_OK
