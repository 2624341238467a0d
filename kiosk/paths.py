"""Where bundled resources live, from a source tree and from a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def app_root() -> Path:
    # PyInstaller unpacks data beside the executable and exposes it as sys._MEIPASS.
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return app_root() / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
