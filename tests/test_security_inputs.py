"""Issue 14, item 11: bad input from a scanner, a keyboard, a portal or a full disk."""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import subprocess
import sys
import zlib
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from identity_helpers import SAMPLE_PAYLOAD, qr_gray

from kiosk.logs import mask, setup_logging
from kiosk.services import dossiers as dossiers_module
from kiosk.services.catalogue import Field, validate_value
from kiosk.services.cccd import CccdError, CitizenRecord, parse
from kiosk.services.crypto import DataCipher, KeyRing
from kiosk.services.dossiers import Applicant, AttachmentDraft, DossierService
from kiosk.services.privacy import erase_citizen, export_citizen
from kiosk.services.store import Store
from tests.store_helpers import draft

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00" * 64
    )


def test_item11_scan_refuses_a_huge_image_header_and_goes_on_with_the_batch(tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(60_000, 60_000))
    card = tmp_path / "card.png"
    frame = np.full((480, 640), 240, np.uint8)
    qr = qr_gray(SAMPLE_PAYLOAD, scale=4)
    frame[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr
    cv2.imwrite(str(card), frame)
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "scan", "--json", str(huge), str(card)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert b"Traceback" not in proc.stderr
    assert [r["file"] for r in lines] == [str(huge), str(card)]
    assert lines[0]["ok"] is False and "too large" in lines[0]["error"]
    assert lines[0]["error_key"] == "scan.too_large"
    assert lines[1]["kind"] == "cccd" and lines[1]["ok"] is True
    assert proc.returncode == 1  # one file could not be read


def test_item11_number_fields_have_a_length_limit():
    field = Field(key="n", type="number", required=True, labels={"vi": "Số", "en": "Number"})
    value, error = validate_value(field, "9" * 5000, "vi", today=TODAY)
    assert value is None and error is not None
    assert validate_value(field, "12", "vi", today=TODAY) == (12, None)


@pytest.mark.parametrize(
    "dirty",
    ["\x00", "\x1b", "\u202e", "\u200b", "\u2066", "\ufeff", "\u200d"],
    ids=["nul", "esc", "rlo", "zwsp", "lri", "bom", "zwj"],
)
def test_item11_card_parser_strips_control_and_format_characters(dirty):
    payload = SAMPLE_PAYLOAD.replace("Nguyễn Thị", f"Nguyễn{dirty} Thị").replace(
        "Số 12", f"Số{dirty} 12"
    )
    result = parse(payload, today=TODAY)
    assert isinstance(result, CitizenRecord), result
    assert result.full_name == "Nguyễn Thị Hồng Nhung"
    for text in (result.full_name, result.address):
        assert not any(ord(ch) < 32 or 0x200B <= ord(ch) <= 0x206F or ch == "\ufeff" for ch in text)


def test_item11_card_parser_requires_a_name_that_looks_like_a_name():
    shifted = SAMPLE_PAYLOAD.replace("|012345678|", "||A|")
    result = parse(shifted, today=TODAY)
    assert isinstance(result, CitizenRecord) and result.full_name == "Nguyễn Thị Hồng Nhung"
    for bad in ("Nguyễn Thị Hồng Nhung2", "Иван Петров", "X", "<script>", "Nguyễn\x1b[31m"):
        result = parse(SAMPLE_PAYLOAD.replace("Nguyễn Thị Hồng Nhung", bad), today=TODAY)
        assert isinstance(result, CccdError), bad
    # Central Highlands names keep their apostrophe or hyphen.
    ede = parse(SAMPLE_PAYLOAD.replace("Nguyễn Thị Hồng Nhung", "H'Hen Niê"), today=TODAY)
    assert isinstance(ede, CitizenRecord) and ede.full_name == "H'Hen Niê"


@pytest.fixture
def service(tmp_path):
    cipher = DataCipher(KeyRing.generate())
    store = Store(f"sqlite:///{tmp_path / 'k.db'}", cipher=cipher)
    yield DossierService(store, cipher, "KIOSK-T1", "QN01", tmp_path / "att")
    store.close()


def test_item11_privacy_erase_and_export_accept_the_old_nine_digit_id(service):
    d = draft()
    d.applicant = Applicant(
        d.applicant.id_number,
        d.applicant.full_name,
        d.applicant.date_of_birth,
        d.applicant.sex,
        d.applicant.address,
        old_id_number="012345678",
    )
    mine = service.confirm(d)
    other = service.confirm(draft(name="Đặng Văn Quỳnh", id_number="002095001234"))
    exported = export_citizen(service, "012345678")
    assert [x["receipt_code"] for x in exported["dossiers"]] == [mine.receipt_code]
    result = erase_citizen(
        service.store,
        service.cipher,
        service.attachments_dir,
        "012345678",
        withdraw_undelivered=True,
    )
    assert result.purged == [mine.receipt_code]
    assert service.get(mine.id).applicant_enc is None
    assert service.get(other.id).applicant_enc is not None


def test_item11_log_lines_escape_newlines_and_mask_every_number_form(tmp_path):
    for text, hidden in (
        ("0912 345 678", "0912"),
        ("0912.345.678", "0912"),
        ("+84 912 345 678", "912"),
        ("+84912345678", "912"),
        ("001 190 012 345", "001 190"),
        ("001.190.012.345", "001.190"),
        ("012 345 678", "012 345"),
    ):
        masked = mask(f"value {text} end")
        assert hidden not in masked and masked.endswith(" end"), (text, masked)
    path = setup_logging(tmp_path)
    logging.getLogger("kiosk.test").error(
        "portal said: %s", "bad\n2026-12-06 10:00:00 INFO kiosk forged line"
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    forged = [line for line in lines if "forged line" in line]
    assert len(forged) == 1 and forged[0].startswith(lines[-1][:4]) and "\\n2026" in forged[0]


def test_item11_a_failed_confirm_on_a_full_disk_removes_its_files_at_once(service, monkeypatch):
    d = draft()
    d.attachments.append(AttachmentDraft("other", "image/jpeg", b"\xff\xd8\xff second page"))

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dossiers_module, "next_value", full)  # after the files, before commit
    with pytest.raises(OSError):
        service.confirm(d)
    assert not list(service.attachments_dir.iterdir())
    monkeypatch.undo()
    # A disk that fills while a file is written: the partial file goes too.
    real_write = os.write
    calls = []

    def write(fd, data):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError):
        service.confirm(d)
    monkeypatch.undo()
    assert not list(service.attachments_dir.iterdir())
    assert service.confirm(d).receipt_code  # and the next confirm works


def test_item11_the_assist_banner_goes_with_the_session(kiosk_qapp, data_dir, qtbot, monkeypatch):
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views.screens.clerk_common import AssistBanner, desk
    from kiosk.views.shell import MainWindow

    monkeypatch.setenv("KIOSK_CONFIG", str(data_dir / "settings.toml"))
    settings = load_settings(env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    d = desk(ctx)
    d.clerks.create("mai", "Lò Thị Mai", "clerk", "2468")
    tasks = TaskRunner()
    tasks.inline = True
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    try:
        d.clerk = d.clerks.verify("mai", "2468")
        window.nav.go("clerk_home")
        window.current_screen().start_assist()
        assert AssistBanner.find(window) is not None
        # The clerk's session ends by a way that does not pass through the banner.
        d.logout("elsewhere")
        window.nav.home()
        assert AssistBanner.find(window) is None
    finally:
        window.close()
        ctx.close()
