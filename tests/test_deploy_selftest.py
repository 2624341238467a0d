"""`python -m kiosk --self-test`: passes on a healthy install, fails loudly otherwise. (The
same check runs from the PyInstaller bundle in scripts/build-bundle.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import kiosk.commands.selftest as selftest
from kiosk.views import registry
from tests.deploy_helpers import ROOT


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """These assertions read the English lines (the default is Vietnamese)."""
    monkeypatch.setenv("KIOSK_LANG", "en")


def test_self_test_passes_from_a_clean_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "XDG_"))}
    env.update(HOME=str(tmp_path), QT_QPA_PLATFORM="xcb")  # offscreen is forced anyway
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "--lang", "en", "--self-test"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1].startswith("self-test: ") and " 0 failed" in lines[-1]
    names = {s.name for s in registry.screens()}
    for name in names:
        assert any(line.startswith("ok") and f"screen {name} " in line for line in lines), name
    for check in ("qr sample (zxing)", "qr sample (zbar)", "receipt pdf", "database"):
        assert any(line.startswith("ok") and check in line for line in lines), check
    assert not list(tmp_path.iterdir())  # it left nothing behind


def test_a_failing_check_fails_the_self_test(monkeypatch, tmp_path):
    def broken() -> str:
        raise AssertionError("the receipt's text lacks the Vietnamese name")

    monkeypatch.setattr(selftest, "check_receipt", broken)
    monkeypatch.setattr(selftest, "check_screens", lambda folder: [])
    out: list[str] = []
    assert selftest.run_self_test(None, out.append) == 1
    assert any(line.startswith("FAIL  receipt pdf") for line in out)
    assert out[-1].startswith("self-test: ") and "1 failed" in out[-1]


def test_a_wrong_qr_sample_fails(monkeypatch, tmp_path):
    bad = tmp_path / "resources" / "samples"
    bad.mkdir(parents=True)
    import segno

    segno.make(
        "001190012345||Someone Else|06051990|Nữ|Xã Đồng Văn|01012022", encoding="utf-8"
    ).save(str(bad / "selftest_cccd.png"), scale=6)
    monkeypatch.setattr("kiosk.paths.resources_dir", lambda: tmp_path / "resources")
    folder = tmp_path / "work"
    folder.mkdir()
    with pytest.raises(AssertionError, match="differ"):
        selftest.check_qr(folder, "zxing")


def test_self_test_passes_without_the_reference_portal(tmp_path):
    """The bundle ships no test double (kiosk.spec leaves kiosk/portal and its command
    out): from a copy of the program without them, the command line and the self-test
    work."""
    import shutil

    app = tmp_path / "app"
    ignore = shutil.ignore_patterns("__pycache__", "portal", "portal.py")
    shutil.copytree(ROOT / "kiosk", app / "kiosk", ignore=ignore)
    shutil.copytree(ROOT / "resources", app / "resources")
    assert not (app / "kiosk" / "portal").exists()
    assert not (app / "kiosk" / "commands" / "portal.py").exists()
    assert (app / "kiosk" / "services" / "portal_client.py").exists()  # the client ships
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(app), KIOSK_LANG="en")
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "--self-test"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout.splitlines()[-1]
    helped = subprocess.run(
        [sys.executable, "-m", "kiosk", "--help"], cwd=home, env=env, capture_output=True, text=True
    )
    commands = [line.split()[0] for line in helped.stdout.splitlines() if line.startswith("    ")]
    assert helped.returncode == 0 and "outbox" in commands and "portal" not in commands
