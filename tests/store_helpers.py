"""Test citizens and drafts for store tests."""

from __future__ import annotations

from datetime import date, datetime

from kiosk.services.dossiers import Applicant, AttachmentDraft, DossierDraft

CITIZEN_ID = "001190012345"
CITIZEN_NAME = "Nguyễn Thị Hồng Nhung"
CITIZEN_ADDRESS = "Thôn Nà Pò, xã Đồng Văn, huyện Bình Liêu, tỉnh Quảng Ninh"


def draft(
    name: str = CITIZEN_NAME,
    id_number: str = CITIZEN_ID,
    with_file: bool = True,
    code: str = "1.001193",
) -> DossierDraft:
    return DossierDraft(
        procedure_code=code,
        procedure_version=1,
        language="vi",
        applicant=Applicant(
            id_number, name, date(1990, 5, 6), "female", CITIZEN_ADDRESS, phone="0912345678"
        ),
        fields={"child_name": "Lò Văn Quý", "child_dob": "2026-11-01"},
        consent_version="consent-2026-1",
        consent_given_at=datetime(2026, 11, 23, 4, 0, 0),
        attachments=[
            AttachmentDraft(
                "birth_certificate", "image/jpeg", b"\xff\xd8\xff" + f"scan of {name}".encode()
            )
        ]
        if with_file
        else [],
    )
