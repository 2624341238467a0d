"""Logging: a rotating file in the log folder, with personal data kept out.

`PiiFilter` masks 12-digit (CCCD) and 9-digit (old CMND) ID numbers and 10-digit phone
numbers in every record, whatever logger wrote it. Names and addresses cannot be found
by pattern, so code never logs them: log receipt codes and client_refs instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_ID = re.compile(r"(?<!\d)(\d{12}|\d{9}|0\d{9})(?!\d)")
# Libraries that log their own set-up at INFO on every start, burying the kiosk's first lines.
QUIET = ("alembic.runtime.plugins",)
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def mask(text: str) -> str:
    return _ID.sub(lambda m: "•" * (len(m.group(1)) - 4) + m.group(1)[-4:], text)


class PiiFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
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
