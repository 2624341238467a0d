"""`python -m kiosk --self-test` (and `kiosk --self-test` from the bundle).

Works in a throwaway data folder, offscreen, and touches nothing of the installation:
opens every registered screen with its sample data, decodes the bundled ID-card QR
samples with both decoders and checks the parsed name, builds a receipt PDF, creates and
migrates a database and confirms + reads back a dossier. One line per check; exit 0 only
if every check passed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kiosk.clitext import Cli, cli_of

SAMPLE_NAME = "Nguyễn Thị Hồng Nhung"  # in resources/samples/selftest_cccd.png
SAMPLE_ID = "001190012345"


def register(subparsers) -> None:
    p = subparsers.add_parser("selftest", help="cli.selftest.help")
    p.set_defaults(func=run_self_test)


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    ms: float


def run_self_test(args=None, out: Callable[[str], None] = print) -> int:
    # Offscreen whatever the environment says: the self-test never needs a display.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    cli = cli_of(args)
    _quiet_qt()
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-selftest-") as tmp:
        folder = Path(tmp)
        checks: list[tuple[str, Callable[[], str]]] = [
            ("qr sample (zxing)", lambda: check_qr(folder, "zxing")),
            ("qr sample (zbar)", lambda: check_qr(folder, "zbar")),
            ("id card sample", check_card_sample),
            ("receipt pdf", check_receipt),
            ("database", lambda: check_database(folder / "db")),
        ]
        for name, fn in checks:
            results.append(_timed(name, fn, out, cli))
        try:
            for result in check_screens(folder / "screens"):
                results.append(result)
                _print(result, out, cli)
        except Exception as exc:
            result = Result("screens", False, _why(exc), 0.0)
            results.append(result)
            _print(result, out, cli)
    failed = [r for r in results if not r.ok]
    total = time.perf_counter() - started
    out(
        cli.tr(
            "cli.selftest.summary",
            passed=len(results) - len(failed),
            failed=len(failed),
            seconds=f"{total:.1f}",
        )
    )
    return 0 if not failed else 1


def _quiet_qt() -> None:
    """Drop Qt's harmless offscreen-plugin chatter so the report stays readable."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def _why(exc: BaseException) -> str:
    if os.environ.get("KIOSK_SELFTEST_TRACE"):
        traceback.print_exception(exc)
    return f"{type(exc).__name__}: {exc}"


def _print(result: Result, out: Callable[[str], None], cli: Cli) -> None:
    status = cli.tr("cli.selftest.ok" if result.ok else "cli.selftest.fail")
    out(f"{status:<4}  {result.name:<28} {result.detail} ({result.ms:.0f} ms)")


def _timed(name: str, fn: Callable[[], str], out: Callable[[str], None], cli: Cli) -> Result:
    t0 = time.perf_counter()
    try:
        result = Result(name, True, fn(), 0.0)
    except Exception as exc:
        result = Result(name, False, _why(exc), 0.0)
    result.ms = 1000 * (time.perf_counter() - t0)
    _print(result, out, cli)
    return result


# --- checks ---------------------------------------------------------------------------------


def check_qr(folder: Path, decoder: str) -> str:
    import cv2
    import numpy as np

    from kiosk.hardware.decoders import decode_file, decode_zbar
    from kiosk.paths import resource
    from kiosk.services.cccd import interpret

    path = resource("samples", "selftest_cccd.png")
    # A non-ASCII path on purpose: the kiosk's folders may have Vietnamese names.
    copy = folder / "ảnh mẫu.png"
    copy.write_bytes(path.read_bytes())
    if decoder == "zxing":
        _, found = decode_file(str(copy))
    else:
        image = cv2.imdecode(np.fromfile(str(copy), dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        found = decode_zbar(image)  # loads libzbar: proves the native library is there
    if not found:
        raise AssertionError(f"no QR code read from {path.name}")
    card = interpret(found[0].text, today=date(2026, 1, 1))
    if card.citizen is None:
        raise AssertionError(f"not read as an ID card: {card.kind}")
    if card.citizen.full_name != SAMPLE_NAME or card.citizen.id_number != SAMPLE_ID:
        raise AssertionError("parsed name or ID number differ from the sample's")
    return f"name and ID number parsed ({found[0].decoder})"


def check_card_sample() -> str:
    from kiosk.hardware.decoders import decode_file
    from kiosk.paths import resource
    from kiosk.services.cccd import interpret

    path = resource("samples", "cccd_sample.png")
    if not path.exists():
        return "no cccd_sample.png shipped (skipped)"
    _, found = decode_file(str(path))
    if not found:
        raise AssertionError("no QR code read from cccd_sample.png")
    card = interpret(found[0].text)
    if card.citizen is None or not card.citizen.full_name:
        raise AssertionError(f"cccd_sample.png is not read as an ID card ({card.kind})")
    return "read as an ID card with a name"


def check_receipt() -> str:
    from kiosk.services.i18n import Translator
    from kiosk.services.receipts import build_receipt_pdf, sample_receipt

    translator = Translator.from_resources()
    pdf = build_receipt_pdf(sample_receipt("vi"), "80mm", translator)
    if not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-64:]:
        raise AssertionError("not a complete PDF")
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        text = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    if "Nguyễn Thị Hồng Nhung" not in unicodedata.normalize("NFC", text):
        raise AssertionError("the receipt's text lacks the Vietnamese name (font problem?)")
    return f"{len(pdf) // 1024} KB, Vietnamese text embedded"


def check_database(folder: Path) -> str:
    from kiosk.services.crypto import DataCipher, KeyRing
    from kiosk.services.dossiers import (
        Applicant,
        AttachmentDraft,
        DossierDraft,
        DossierService,
        read_attachment_file,
    )
    from kiosk.services.store import Store, head_revision

    cipher = DataCipher(KeyRing.generate())  # a throwaway folder: its own throwaway key
    store = Store(f"sqlite:///{folder / 'kiosk.db'}")
    try:
        if store.revision() != head_revision():
            raise AssertionError(
                f"schema {store.revision()} after migrating, not {head_revision()}"
            )
        service = DossierService(store, cipher, "SELFTEST", "ST01", folder / "attachments")
        scan = b"\xff\xd8\xff selftest scan"
        draft = DossierDraft(
            procedure_code="1.001193",
            procedure_version=1,
            language="vi",
            applicant=Applicant(
                SAMPLE_ID, SAMPLE_NAME, date(1990, 5, 6), "female", "Thôn Nà Pò, xã Đồng Văn"
            ),
            fields={"note": "tự kiểm tra"},
            consent_version="selftest",
            consent_given_at=datetime(2026, 1, 1, 8, 0),
            attachments=[AttachmentDraft("scan", "image/jpeg", scan)],
        )
        confirmed = service.confirm(draft)
        dossier = service.by_receipt_code(confirmed.receipt_code)
        applicant = service.applicant(dossier)
        if applicant is None or applicant.full_name != SAMPLE_NAME:
            raise AssertionError("the dossier did not read back")
        if (
            read_attachment_file(service.attachments_dir, cipher, dossier.attachments[0].file_name)
            != scan
        ):
            raise AssertionError("the attachment did not read back")
        if SAMPLE_NAME.encode() in (folder / "kiosk.db").read_bytes():
            raise AssertionError("the name is in the database file in plain text")
    finally:
        store.close()
    return (
        f"migrated to {head_revision()}, dossier {confirmed.receipt_code} confirmed and read back"
    )


def check_screens(folder: Path) -> list[Result]:
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt import stage
    from kiosk.qt.app import ensure_app, system_printer
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views import registry

    t0 = time.perf_counter()
    app = ensure_app(offscreen=True)
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        env={},
        config_path=folder / "absent.toml",
        data_dir=str(folder),
        demo="true",
        fullscreen="false",
        camera="sim",
        speech="off",
    )
    ctx = build_context(settings, system_printer)
    tasks = TaskRunner()
    tasks.inline = True
    results = [
        Result(
            "qt start", True, f"platform {app.platformName()}", 1000 * (time.perf_counter() - t0)
        )
    ]
    # One window for every screen, as in service (a window per screen costs seconds), each
    # screen in the same shell as the kiosk's, with its keyboard open where it has a field.
    window = stage.build_window(ctx, tasks, 1280, 800, speech=False)
    try:
        for spec in registry.screens():
            t1 = time.perf_counter()
            try:
                screen = stage.stage(window, spec.name, settings.lang)
                app.processEvents()
                image = screen.grab().toImage()
                if image.isNull() or image.width() < 100:
                    raise AssertionError("nothing was drawn")
                shown = window.nav.current
                detail = spec.audience + ("" if shown == spec.name else f", then {shown}")
                results.append(
                    Result(f"screen {spec.name}", True, detail, 1000 * (time.perf_counter() - t1))
                )
            except Exception as exc:
                results.append(
                    Result(
                        f"screen {spec.name}", False, _why(exc), 1000 * (time.perf_counter() - t1)
                    )
                )
            finally:
                ctx.end_visit()
        window.close()
        window.deleteLater()
        app.processEvents()
    finally:
        tasks.wait(5000)
        ctx.close()
    if len(results) < 3:
        results.append(Result("screens", False, "fewer screens registered than expected", 0))
    return results


if __name__ == "__main__":
    sys.exit(run_self_test())
