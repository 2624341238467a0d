"""Services and hardware stay free of Qt, and so does the context that builds them."""

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_FREE = ("kiosk/services", "kiosk/hardware")
FORBIDDEN = ("PySide6", "shiboken6", "kiosk.qt", "kiosk.views", "kiosk.commands")

SCRIPT = """
import importlib, pkgutil, sys
import kiosk.hardware, kiosk.services
for package in (kiosk.services, kiosk.hardware):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
loaded = sorted(m for m in sys.modules if m.startswith("PySide6"))
print(len([m for m in sys.modules if m.startswith("kiosk.")]), loaded)
"""


def imported_names(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """Every module an import statement names, wherever it stands (functions, branches)."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append((node.lineno, str(node.args[0].value)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def forbidden_imports(source: str, module: str) -> list[str]:
    tree = ast.parse(source)
    return [
        f"{module}:{line} imports {name}"
        for line, name in sorted(imported_names(tree, module))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


def scan_trees() -> tuple[int, list[str]]:
    problems, files = [], 0
    for folder in QT_FREE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            problems += forbidden_imports(path.read_text(encoding="utf-8"), module)
            files += 1
    return files, problems


SAMPLE = (
    "import os\n"
    "def make():\n"
    "    if True:\n"
    "        from kiosk.qt.printing import SystemPrinter\n"
    "    import PySide6.QtGui\n"
    "    from . import qt\n"
    "    importlib.import_module('PySide6.QtCore')\n"
)


def in_fresh_python(expression: str):
    """Evaluate `expression` (JSON-able) with this module in a new interpreter: CPython
    3.11's ast.parse can fail with "AST constructor recursion depth mismatch" late in a
    long test session."""
    code = f"import json, tests.test_layers as t; print(json.dumps({expression}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_no_import_of_qt_anywhere_in_services_and_hardware():
    files, problems = in_fresh_python("t.scan_trees()")
    assert files > 30  # the trees were really read
    assert problems == []


def test_the_check_sees_imports_inside_functions_and_branches():
    found = in_fresh_python("t.forbidden_imports(t.SAMPLE, 'kiosk.printers')")
    assert [p.split(" imports ")[1] for p in found] == [
        "kiosk.qt.printing",
        "kiosk.qt.printing.SystemPrinter",
        "PySide6.QtGui",
        "kiosk.qt",
        "PySide6.QtCore",
    ]
    clean = "t.forbidden_imports('from kiosk.services import qtext', 'kiosk.services.x')"
    assert in_fresh_python(clean) == []


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


def test_the_context_and_the_journey_load_without_qt():
    code = (
        "import sys; sys.modules['PySide6'] = None\n"
        "import kiosk.context, kiosk.services.journey, kiosk.services.clerk_desk\n"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_the_context_has_no_bag_of_services():
    from dataclasses import fields

    from kiosk.context import AppContext

    for f in fields(AppContext):
        assert "dict" not in str(f.type) and f.type not in ("Any", "object"), f.name
