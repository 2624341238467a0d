import logging

from kiosk.logs import PiiFilter, mask, setup_logging
from tests.store_helpers import CITIZEN_ID


def test_mask_ids_and_phones():
    assert mask(f"id {CITIZEN_ID} ok") == "id ••••••••2345 ok"
    assert mask("old 123456789") == "old •••••6789"
    assert mask("phone 0912345678") == "phone ••••••5678"
    assert mask("receipt QN01-000123-J, 2026-11-23") == "receipt QN01-000123-J, 2026-11-23"
    assert mask("code 1234567890123") == "code 1234567890123"  # 13 digits: not an ID


def test_log_file_never_holds_an_id(tmp_path):
    path = setup_logging(tmp_path, max_bytes=10_000, backups=2)
    log = logging.getLogger("kiosk.test")
    log.info("scanned %s", CITIZEN_ID)
    log.warning(f"f-string {CITIZEN_ID}")
    try:
        raise ValueError(f"bad {CITIZEN_ID}")
    except ValueError:
        log.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "scanned ••••••••2345" in text and "ValueError" in text
    assert CITIZEN_ID not in text


def test_logs_rotate_and_stay_small(tmp_path):
    path = setup_logging(tmp_path, max_bytes=2_000, backups=2)
    log = logging.getLogger("kiosk.test")
    for i in range(500):
        log.info("line %d %s", i, "x" * 40)
    files = sorted(tmp_path.glob("kiosk.log*"))
    assert path in files and len(files) == 3
    assert all(f.stat().st_size <= 2_200 for f in files)


def test_filter_is_on_every_kiosk_handler(tmp_path):
    setup_logging(tmp_path)
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_kiosk", False)]
    assert handlers and all(any(isinstance(f, PiiFilter) for f in h.filters) for h in handlers)
