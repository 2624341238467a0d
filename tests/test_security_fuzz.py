"""Issue 14: a short run of benchmarks/fuzz_inputs.py (the full one runs 100,000 cases per
input path): no crash and no accepted garbage from the card parser, the field validators
and the scan command."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import fuzz_inputs


def test_fuzz_inputs_short_run_finds_no_crash_and_no_garbage():
    lines: list[str] = []
    reports = fuzz_inputs.run(3000, seed=2026, scan_cases=300, out=lines.append)
    assert [r.cases for r in reports] == [3000, 3000, 300]
    for r in reports:
        assert not r.crashes and not r.garbage, "\n".join(lines)
