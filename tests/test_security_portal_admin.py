"""Issue 14, item 6: the reference portal's /_admin API is off unless asked for, and then
answers only to its own token (it shows bearer tokens, signatures and personal data)."""

from __future__ import annotations

import pytest
from portal_helpers import TOKEN, portal_process, raw_request

from kiosk.portal import ReferencePortal
from kiosk.portal.admin import PortalAdmin

ADMIN_TOKEN = "admin-token-for-tests"


def test_item6_admin_api_is_off_by_default_in_process_and_as_a_command(tmp_path):
    portal = ReferencePortal(tmp_path / "p.sqlite3", tokens=[TOKEN], procedures=[])
    portal.start()
    try:
        status, _payload, _ = raw_request(portal.url, "GET", "/_admin/requests")
        assert status == 404
    finally:
        portal.stop()
    with portal_process(tmp_path / "q.sqlite3") as (_proc, url):
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            status, _payload, _ = raw_request(url, "GET", "/_admin/requests", headers=headers)
            assert status == 404


def test_item6_admin_api_asked_for_needs_its_own_token(tmp_path):
    with pytest.raises(ValueError, match="token"):
        ReferencePortal(tmp_path / "p.sqlite3", admin=True)
    with portal_process(tmp_path / "q.sqlite3", "--admin-token", ADMIN_TOKEN) as (_proc, url):
        for headers in (
            {},
            {"Authorization": f"Bearer {TOKEN}"},  # the kiosks' token is not the admin's
            {"Authorization": "Bearer wrong"},
            {"X-Admin-Token": ADMIN_TOKEN[:-1]},
        ):
            status, _payload, _ = raw_request(url, "GET", "/_admin/requests", headers=headers)
            assert status == 401
        assert PortalAdmin(url, ADMIN_TOKEN).requests() is not None
        status, payload, _ = raw_request(
            url, "GET", "/_admin/faults", headers={"X-Admin-Token": ADMIN_TOKEN}
        )
        assert status == 200 and "retry_after" in payload


def test_item6_the_demo_script_starts_the_portal_without_the_admin_api():
    from pathlib import Path

    script = (Path(__file__).resolve().parent.parent / "scripts" / "kiosk-demo").read_text()
    portal_line = next(line for line in script.splitlines() if "-m kiosk portal" in line)
    assert "admin" not in portal_line
