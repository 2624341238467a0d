"""The project keeps its own copy of the portal contract, and cites it by that path."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_contract_is_kept_in_docs_at_version_1_1():
    text = (ROOT / "docs" / "portal-api.yaml").read_text(encoding="utf-8")
    assert text.startswith("openapi: 3.")
    assert re.search(r'^  version: "1\.1"$', text, re.MULTILINE)
    assert "/dossiers" in text


def test_docs_and_code_cite_the_copy_not_a_folder_outside_the_project():
    outside = []
    for path in [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "kiosk").rglob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        if "shared/portal-api" in text:
            outside.append(str(path.relative_to(ROOT)))
    assert outside == []
