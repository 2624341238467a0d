"""Services and hardware stay free of Qt: importing all of them loads no PySide6."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import importlib, pkgutil, sys
import kiosk.hardware, kiosk.services
for package in (kiosk.services, kiosk.hardware):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
loaded = sorted(m for m in sys.modules if m.startswith("PySide6"))
print(len([m for m in sys.modules if m.startswith("kiosk.")]), loaded)
"""


def test_services_and_hardware_import_no_qt():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split(" ", 1)
    assert int(out[0]) > 20  # the modules were really imported
    assert out[1].strip() == "[]"
