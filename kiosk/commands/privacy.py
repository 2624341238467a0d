"""`python -m kiosk privacy ...`: a citizen's access and deletion requests, the retention
purge and data-key rotation. Requests and rotation need an admin's PIN and are audited;
the ID number is asked without echo (so it stays out of the shell history) unless --id
is given.

    privacy export --admin USER --out FILE      everything held about one ID number (JSON)
    privacy erase  --admin USER [--withdraw-undelivered]
    privacy purge  [--retention-days N]         what the kiosk does daily
    privacy rotate-key --admin USER [--keep-old-key]   (the kiosk must be stopped)
    privacy reencrypt  --admin USER [--drop-old-key]   after importing a rotated key
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("privacy", help="access/erasure requests, purge, key rotation")
    sub = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)

    e = sub.add_parser("export", help="export a citizen's data (access request)")
    e.add_argument("--admin", required=True, metavar="USER")
    e.add_argument("--id", dest="id_number", help="ID number (asked without echo if absent)")
    e.add_argument("--out", required=True, type=Path, help="JSON file to write (owner-only)")
    e.add_argument("--no-files", action="store_true", help="leave attachment contents out")
    e.set_defaults(func=handle_export)

    d = sub.add_parser("erase", aliases=["delete"], help="erase a citizen's data (request)")
    d.add_argument("--admin", required=True, metavar="USER")
    d.add_argument("--id", dest="id_number", help="ID number (asked without echo if absent)")
    d.add_argument(
        "--withdraw-undelivered",
        action="store_true",
        help="also erase dossiers not delivered yet: they will never be sent",
    )
    d.set_defaults(func=handle_erase)

    g = sub.add_parser("purge", help="purge dossiers past the retention period now")
    g.add_argument("--retention-days", type=int, help="default: the retention_days setting")
    g.set_defaults(func=handle_purge)

    r = sub.add_parser("rotate-key", help="new data key; re-encrypt everything; drop the old")
    r.add_argument("--admin", required=True, metavar="USER")
    r.add_argument(
        "--keep-old-key",
        action="store_true",
        help="keep the old key (centre with several machines: drop it later)",
    )
    r.add_argument("--batch", type=int, default=100)
    r.set_defaults(func=handle_rotate)

    c = sub.add_parser("reencrypt", help="re-encrypt what still uses an old key")
    c.add_argument("--admin", required=True, metavar="USER")
    c.add_argument("--drop-old-key", action="store_true")
    c.add_argument("--batch", type=int, default=100)
    c.set_defaults(func=handle_reencrypt)


class _Env:
    """Settings, store and cipher of this kiosk for one command."""

    def __init__(self) -> None:
        from kiosk.config import load_settings
        from kiosk.services.datakey import open_store
        from kiosk.services.dossiers import DossierService

        self.settings = s = load_settings()
        self.store, self.cipher = open_store(s)
        self.dossiers = DossierService(
            self.store, self.cipher, s.kiosk_id, s.receipt_prefix, s.attachments_dir
        )
        self.receipts_dir = s.receipts_dir if s.printer == "pdf" else None

    def close(self) -> None:
        self.store.close()


def _run(fn, args) -> int:
    from kiosk.commands.setup import SetupFailed
    from kiosk.config import SettingsError
    from kiosk.services.crypto import DataKeyError
    from kiosk.services.privacy import PrivacyError

    try:
        env = _Env()
    except DataKeyError as exc:
        from kiosk.cli_messages import key_failure

        return key_failure("kiosk privacy", exc)
    except SettingsError as exc:
        print(f"kiosk privacy: {exc}", file=sys.stderr)
        return 2
    try:
        return fn(env, args)
    except (SetupFailed, DataKeyError) as exc:
        print(f"kiosk privacy: {exc}", file=sys.stderr)
        return 1
    except PrivacyError as exc:
        print(f"kiosk privacy: refused: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        env.close()


def _admin(env: _Env, args, action: str):
    from kiosk.commands.setup import ask_admin

    return ask_admin(env.store, env.settings.kiosk_id, action, args.admin)


def _id_number(args) -> str:
    from kiosk.services.text import nfc

    text = args.id_number or getpass.getpass("Citizen's ID number (12 digits): ")
    text = nfc(text).strip().replace(" ", "")
    if not (text.isdigit() and len(text) in (9, 12)):
        from kiosk.commands.setup import SetupFailed

        raise SetupFailed("an ID number is 12 digits (or 9 for an old card)")
    return text


def handle_export(args) -> int:
    return _run(_export, args)


def _export(env: _Env, args) -> int:
    from kiosk.services.privacy import export_citizen, write_export

    clerks, admin = _admin(env, args, "privacy.export")
    id_number = _id_number(args)
    data = export_citizen(env.dossiers, id_number, with_files=not args.no_files)
    write_export(args.out, data)
    codes = [d["receipt_code"] for d in data["dossiers"]]
    clerks.audit(admin, "privacy.export", detail=f"{len(codes)} dossiers: {', '.join(codes)}")
    print(
        f"{len(codes)} dossier(s) written to {args.out} (owner-only). Hand the file to the "
        "citizen on their own medium and delete it here."
    )
    return 0


def handle_erase(args) -> int:
    return _run(_erase, args)


def _erase(env: _Env, args) -> int:
    from kiosk.services.privacy import PrivacyError, erase_citizen

    clerks, admin = _admin(env, args, "privacy.erase")
    id_number = _id_number(args)
    s = env.settings
    try:
        result = erase_citizen(
            env.store,
            env.cipher,
            s.attachments_dir,
            id_number,
            args.withdraw_undelivered,
            env.receipts_dir,
        )
    except PrivacyError as exc:
        clerks.audit(admin, "privacy.erase.refused", detail=exc.detail)
        raise
    clerks.audit(
        admin,
        "privacy.erase",
        detail=f"{len(result.purged)} dossiers: {', '.join(result.purged)}"
        + (f"; withdrawn: {', '.join(result.withdrawn)}" if result.withdrawn else ""),
    )
    print(
        f"erased the personal data of {len(result.purged)} dossier(s)"
        + (
            f", {len(result.withdrawn)} of them withdrawn before delivery"
            if result.withdrawn
            else ""
        )
        + ". Receipt codes, procedures and dates remain for statistics."
    )
    return 0


def handle_purge(args) -> int:
    return _run(_purge, args)


def _purge(env: _Env, args) -> int:
    from kiosk.services.privacy import scheduled_purge

    s = env.settings
    days = args.retention_days or s.retention_days
    result = scheduled_purge(env.store, s.attachments_dir, days, env.receipts_dir, s.kiosk_id)
    print(
        f"purged {result.count} dossier(s) delivered more than {days} days ago "
        f"({result.files_removed} attachment files removed)"
    )
    return 0


def _kiosk_stopped(env: _Env):
    from kiosk.commands.setup import SetupFailed
    from kiosk.qt.lockdown import SingleInstance

    lock = SingleInstance(env.settings.data_dir)
    if not lock.acquire():
        raise SetupFailed(
            f"the kiosk is running ({lock.holder()}): stop it first, it holds the old key in memory"
        )
    return lock


def handle_rotate(args) -> int:
    return _run(_rotate, args)


def _progress(what: str, n: int) -> None:
    print(f"  re-encrypted {n} {what}", flush=True)


def _rotate(env: _Env, args) -> int:
    from kiosk.services.privacy import rotate_key

    clerks, admin = _admin(env, args, "key.rotate")
    lock = _kiosk_stopped(env)
    try:
        s = env.settings
        result = rotate_key(
            env.store,
            env.cipher,
            s.attachments_dir,
            s.data_key_path,
            drop_old=not args.keep_old_key,
            batch=args.batch,
            progress=_progress,
        )
    finally:
        lock.release()
    clerks.audit(
        admin,
        "key.rotate",
        detail=f"key {result.new_key_id}; {result.values} values, "
        f"{result.files} files; dropped {result.dropped or 'none'}",
    )
    print(
        f"new data key {result.new_key_id}: {result.values} values and {result.files} files "
        f"re-encrypted; old keys dropped: {result.dropped or 'none (kept)'}"
    )
    if args.keep_old_key:
        print(
            "Export the key to the other machines of the centre, run `privacy reencrypt` on "
            "each, then `privacy reencrypt --drop-old-key`."
        )
    return 0


def handle_reencrypt(args) -> int:
    return _run(_reencrypt, args)


def _reencrypt(env: _Env, args) -> int:
    from kiosk.services.privacy import checkpoint, drop_old_keys, reencrypt

    clerks, admin = _admin(env, args, "key.reencrypt")
    lock = _kiosk_stopped(env)
    try:
        s = env.settings
        result = reencrypt(env.store, env.cipher, s.attachments_dir, args.batch, _progress)
        if args.drop_old_key:
            result.dropped = drop_old_keys(
                env.store, env.cipher, s.attachments_dir, s.data_key_path
            )
        checkpoint(env.store)
    finally:
        lock.release()
    clerks.audit(
        admin,
        "key.reencrypt",
        detail=f"{result.values} values, {result.files} files; dropped {result.dropped or 'none'}",
    )
    print(
        f"{result.values} values and {result.files} files re-encrypted; old keys dropped: "
        f"{result.dropped or 'none'}"
    )
    return 0
