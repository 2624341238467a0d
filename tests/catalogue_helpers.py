"""Shared helpers for the catalogue tests: the shipped folders and broken copies of them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.paths import resource

PROCEDURES = resource("procedures")
PICTOGRAMS = resource("pictograms")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def copy_procedures(tmp_path: Path) -> Path:
    """A writable copy of the shipped procedure folder."""
    target = tmp_path / "procedures"
    shutil.copytree(PROCEDURES, target)
    return target


def broken_copy(tmp_path: Path, file_name: str, mutate: Callable[[dict[str, Any]], None]) -> Path:
    """Copy the shipped procedures and break one file with `mutate`; returns the folder."""
    folder = copy_procedures(tmp_path)
    path = folder / file_name
    data = read_json(path)
    mutate(data)
    write_json(path, data)
    return folder
