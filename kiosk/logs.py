"""Logging: a rotating file in the log folder, with personal data kept out.

`PiiFilter` masks 12-digit (CCCD) and 9-digit (old CMND) ID numbers and phone numbers
(0 + 9 digits, +84/84 + 9 digits) in every record, whatever logger wrote it, also when
written with spaces, dots or dashes between the digits ("0912 345 678", "001.190.012.345").
It also escapes line breaks and other control characters in the message, so text from
outside (a portal's error, a scanned code) cannot forge a log line. Names and addresses
cannot be found by pattern, so code never logs them: log receipt codes and client_refs
instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_SEP = r"[ .\-]?"
_ID = re.compile(
    r"(?<![\d+])("
    rf"(?:\+84|84|0){_SEP}\d(?:{_SEP}\d){{8}}"  # phone: 0 / 84 / +84 and 9 digits
    rf"|\d(?:{_SEP}\d){{11}}"  # CCCD: 12 digits
    rf"|\d(?:{_SEP}\d){{8}}"  # old CMND: 9 digits
    r")(?!\d)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")
# Libraries that log their own set-up at INFO on every start, burying the kiosk's first lines.
QUIET = ("alembic.runtime.plugins",)
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def _hide(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group(1))
    return "•" * (len(digits) - 4) + digits[-4:]


def mask(text: str) -> str:
    return _ID.sub(_hide, text)


def escape_controls(text: str) -> str:
    """One record, one line: line breaks and control characters as visible escapes."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


class PiiFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = escape_controls(mask(message))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    log_dir: Path,
    max_bytes: int = 2_000_000,
    backups: int = 5,
    level: int = logging.INFO,
    console: bool = False,
) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "kiosk.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kiosk", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    ]
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler._kiosk = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(PiiFilter())
        root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return path
