"""Durable file writes, shared by every part that must not lose or half-write a file.

`write_atomic` writes a temporary file beside the target, fsyncs it, renames it over the
target and fsyncs the folder, so a crash or a power cut leaves the old file or the new
one, never a mix. No Qt here: services, hardware and settings all use it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable. Windows cannot open a folder for
    this (its renames are durable through the journal), so there it does nothing."""
    if sys.platform.startswith("win"):
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, sync_dir: bool = True) -> None:
    """Replace `path` with `data` durably (owner-only by default: most of what the kiosk
    writes holds keys or personal data). On any error the target is untouched and no
    temporary file is left behind. `sync_dir=False` lets a caller writing several files
    fsync their folder once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; some files may be shared
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)
