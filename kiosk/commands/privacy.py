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

from pathlib import Path

from kiosk.clitext import T, cli_of, key_failure


def register(subparsers) -> None:
    p = subparsers.add_parser("privacy", help="cli.privacy.help")
    sub = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)

    e = sub.add_parser("export", help="cli.privacy.export.help")
    e.add_argument("--admin", required=True, metavar="USER", help="cli.privacy.opt.admin")
    e.add_argument("--id", dest="id_number", help="cli.privacy.opt.id")
    e.add_argument("--out", required=True, type=Path, help="cli.privacy.opt.out")
    e.add_argument("--no-files", action="store_true", help="cli.privacy.opt.no_files")
    e.set_defaults(func=handle_export)

    d = sub.add_parser("erase", aliases=["delete"], help="cli.privacy.erase.help")
    d.add_argument("--admin", required=True, metavar="USER", help="cli.privacy.opt.admin")
    d.add_argument("--id", dest="id_number", help="cli.privacy.opt.id")
    d.add_argument("--withdraw-undelivered", action="store_true", help="cli.privacy.opt.withdraw")
    d.set_defaults(func=handle_erase)

    g = sub.add_parser("purge", help="cli.privacy.purge.help")
    g.add_argument("--retention-days", type=int, help="cli.privacy.opt.retention_days")
    g.set_defaults(func=handle_purge)

    r = sub.add_parser("rotate-key", help="cli.privacy.rotate.help")
    r.add_argument("--admin", required=True, metavar="USER", help="cli.privacy.opt.admin")
    r.add_argument("--keep-old-key", action="store_true", help="cli.privacy.opt.keep_old_key")
    r.add_argument("--batch", type=int, default=100, help="cli.privacy.opt.batch")
    r.set_defaults(func=handle_rotate)

    c = sub.add_parser("reencrypt", help="cli.privacy.reencrypt.help")
    c.add_argument("--admin", required=True, metavar="USER", help="cli.privacy.opt.admin")
    c.add_argument("--drop-old-key", action="store_true", help="cli.privacy.opt.drop_old_key")
    c.add_argument("--batch", type=int, default=100, help="cli.privacy.opt.batch")
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

    cli = cli_of(args)
    try:
        env = _Env()
    except SettingsError as exc:
        cli.error("cli.privacy.failed", reason=cli.settings_error(exc))
        return 2
    except DataKeyError as exc:
        return key_failure(cli, "kiosk privacy", exc)
    try:
        return fn(env, args)
    except SetupFailed as exc:
        cli.error("cli.privacy.failed", reason=T(exc.key, **exc.values))
        return exc.code
    except DataKeyError as exc:
        cli.error("cli.privacy.failed", reason=T("cli.privacy.key_error", error=str(exc)))
        return 1
    except PrivacyError as exc:
        cli.error("cli.privacy.refused", error=exc.detail)
        return 1
    finally:
        env.close()


def _admin(env: _Env, args, action: str):
    from kiosk.commands.setup import ask_admin

    return ask_admin(cli_of(args), env.store, env.settings.kiosk_id, action, args.admin)


def _id_number(args) -> str:
    from kiosk.commands.setup import SetupFailed, read_line
    from kiosk.services.text import nfc

    text = args.id_number or read_line(cli_of(args).tr("cli.privacy.ask_id") + ": ", secret=True)
    text = nfc(text).strip().replace(" ", "")
    if not (text.isdigit() and len(text) in (9, 12)):
        raise SetupFailed("cli.privacy.bad_id")
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
    cli_of(args).say("cli.privacy.exported", count=len(codes), path=args.out)
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
    key = "cli.privacy.erased_withdrawn" if result.withdrawn else "cli.privacy.erased"
    cli_of(args).say(key, count=len(result.purged), withdrawn=len(result.withdrawn))
    return 0


def handle_purge(args) -> int:
    return _run(_purge, args)


def _purge(env: _Env, args) -> int:
    from kiosk.services.privacy import scheduled_purge

    s = env.settings
    days = args.retention_days or s.retention_days
    result = scheduled_purge(env.store, s.attachments_dir, days, env.receipts_dir, s.kiosk_id)
    cli_of(args).say(
        "cli.privacy.purged", count=result.count, days=days, files=result.files_removed
    )
    return 0


def _kiosk_stopped(env: _Env):
    from kiosk.commands.setup import SetupFailed
    from kiosk.qt.lockdown import SingleInstance

    lock = SingleInstance(env.settings.data_dir)
    if not lock.acquire():
        raise SetupFailed("cli.privacy.kiosk_running", holder=lock.holder())
    return lock


def handle_rotate(args) -> int:
    return _run(_rotate, args)


def _progress(what: str, n: int) -> None:
    print(f"  re-encrypted {n} {what}", flush=True)  # a progress line for scripts and logs


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
    cli = cli_of(args)
    cli.say(
        "cli.privacy.rotated",
        key=result.new_key_id,
        values=result.values,
        files=result.files,
        dropped=", ".join(map(str, result.dropped)) or cli.tr("cli.privacy.none_kept"),
    )
    if args.keep_old_key:
        cli.say("cli.privacy.rotated_keep")
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
    cli = cli_of(args)
    cli.say(
        "cli.privacy.reencrypted",
        values=result.values,
        files=result.files,
        dropped=", ".join(map(str, result.dropped)) or cli.tr("cli.privacy.none"),
    )
    return 0
