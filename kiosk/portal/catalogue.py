"""The procedure catalogue the reference portal serves, and result-date arithmetic."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Dates a citizen is told are Vietnamese calendar dates (UTC+7, no daylight saving).
VIETNAM = timezone(timedelta(hours=7), "ICT")


class CatalogueFileError(ValueError):
    pass


def load_procedure_files(source: Path) -> list[dict[str, Any]]:
    """Procedures from a JSON file or every *.json file of a folder.

    A file holds one procedure object, a list of them, or {"procedures": [...]}.
    Only `code` is insisted on; the portal serves what it is given.
    """
    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    procedures: list[dict[str, Any]] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogueFileError(f"{path}: not readable JSON ({exc})") from exc
        if isinstance(data, dict) and isinstance(data.get("procedures"), list):
            items = data["procedures"]
        elif isinstance(data, dict):
            items = [data]
        elif isinstance(data, list):
            items = data
        else:
            raise CatalogueFileError(f"{path}: expected an object or a list of procedures")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                raise CatalogueFileError(f"{path}: procedure #{i} has no string 'code'")
            missing = [k for k in ("version", "title", "fields") if k not in item]
            if missing:
                log.warning("%s: procedure %s lacks %s", path, item["code"], ", ".join(missing))
            procedures.append(item)
    return procedures


def add_working_days(start: date, days: int) -> date:
    """`days` working days after `start`, skipping Saturdays and Sundays.

    Public holidays are not modelled by the reference portal.
    """
    current = start
    remaining = max(0, days)
    while remaining:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def expected_result_date(received_at: datetime, processing_days: int | None) -> str | None:
    if processing_days is None:
        return None
    local = received_at.astimezone(VIETNAM).date()
    return add_working_days(local, processing_days).isoformat()
