"""What the citizen takes away is true: the receipt lists only the documents actually
attached, and a reprint says it is one, with its time."""

from __future__ import annotations

from datetime import date, datetime

from kiosk.services.dossiers import Applicant, AttachmentDraft, DossierDraft
from tests.receipt_helpers import flat, pdf_text

BIRTH = "1.001193"


def _confirm(ctx, attached: list[str]):
    proc = ctx.catalogue.get(BIRTH)
    draft = DossierDraft(
        procedure_code=proc.code,
        procedure_version=proc.version,
        language="vi",
        applicant=Applicant("001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 5, 6), "female"),
        fields={
            "child_full_name": "Lò Văn Quý",
        },
        consent_version="t",
        consent_given_at=datetime(2026, 1, 1, 8, 0),
        attachments=[AttachmentDraft(key, "image/jpeg", b"\xff\xd8\xff photo") for key in attached],
    )
    return ctx.dossiers.confirm(draft)


def _printed(ctx) -> list[str]:
    files = sorted(ctx.settings.receipts_dir.glob("*.pdf"), key=lambda p: p.stat().st_mtime_ns)
    return [flat(pdf_text(p.read_bytes())) for p in files]


def test_receipt_lists_only_the_documents_attached(app_ctx):
    dossier = _confirm(app_ctx, ["birth_certificate"])
    text = flat(pdf_text(app_ctx.receipts.pdf(app_ctx.dossiers.get(dossier.id))))
    assert flat("Giấy chứng sinh") in text
    assert flat("Giấy chứng nhận kết hôn") not in text


def test_receipt_without_attachments_says_none(app_ctx):
    dossier = _confirm(app_ctx, [])
    text = flat(pdf_text(app_ctx.receipts.pdf(app_ctx.dossiers.get(dossier.id))))
    assert flat("Giấy chứng sinh") not in text
    assert flat(app_ctx.translator.tr("receipt.documents_none", "vi")) in text


def test_a_reprint_is_marked_with_its_time(app_ctx):
    dossier = _confirm(app_ctx, ["birth_certificate"])
    app_ctx.receipts.print_receipt(dossier.id)
    app_ctx.receipts.print_receipt(dossier.id)
    first, second = _printed(app_ctx)[-2:]
    assert flat("BẢN IN LẠI") not in first
    assert flat("BẢN IN LẠI") in second
    assert flat("REPRINT") not in first
    now = datetime.now().astimezone()
    assert now.strftime("%d/%m/%Y") in second
