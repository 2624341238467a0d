"""The shipped OS profiles agree with the kiosk: restart limits match the crash guard, the
files parse, and the bundle spec ships what the kiosk loads from disk."""

from __future__ import annotations

import configparser
import xml.dom.minidom

from kiosk.services.installation import CRASH_LIMIT, CRASH_WINDOW_S
from tests.deploy_helpers import ROOT

DEPLOY = ROOT / "deploy"


def test_systemd_unit_lets_the_crash_guard_act_first():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "linux" / "kiosk.service")
    assert unit["Service"]["Restart"] == "on-failure"
    assert float(unit["Unit"]["StartLimitIntervalSec"]) == CRASH_WINDOW_S
    # The start after CRASH_LIMIT crashes must happen: it shows the out-of-service screen.
    assert int(unit["Unit"]["StartLimitBurst"]) > CRASH_LIMIT + 1
    assert "3" in unit["Service"]["RestartPreventExitStatus"].split()  # already running


def test_windows_profiles_parse():
    doc = xml.dom.minidom.parse(str(DEPLOY / "windows" / "AssignedAccess.xml"))
    assert doc.getElementsByTagName("App")[0].getAttribute("rs5:AutoLaunch") == "true"
    task = xml.dom.minidom.parse(str(DEPLOY / "windows" / "kiosk-task.xml"))
    restart = task.getElementsByTagName("RestartOnFailure")[0]
    assert int(restart.getElementsByTagName("Count")[0].firstChild.data) == CRASH_LIMIT


def test_spec_ships_resources_migrations_and_every_command_and_screen():
    spec = (ROOT / "kiosk.spec").read_text(encoding="utf-8")
    for needle in (
        '"resources"',
        '"migrations"',
        'collect_submodules("kiosk.views.screens")',
        "rthook_zbar.py",
        'NOT_SHIPPED = ("kiosk.portal", "kiosk.commands.portal")',
        "*NOT_SHIPPED,",  # in the excludes
        'collect_submodules("kiosk.commands", filter=shipped)',
    ):
        assert needle in spec, needle
    assert (DEPLOY / "pyinstaller" / "rthook_zbar.py").exists()
