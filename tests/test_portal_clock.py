"""Clock skew: a kiosk whose clock is hours off is refused, measures the skew with /health,
corrects its timestamps and then delivers the very same bytes."""

from __future__ import annotations

import time

import pytest
from portal_helpers import make_dossier, new_client, new_portal, to_bytes

from kiosk.services.portal_client import AuthBlocked


@pytest.fixture
def portal(tmp_path):
    portal = new_portal(tmp_path)
    yield portal
    portal.stop()


@pytest.mark.parametrize("off_by", [7200.0, -7200.0])
def test_kiosk_clock_two_hours_off(portal, off_by):
    client = new_client(portal.url, clock=lambda: time.time() + off_by)
    doc = make_dossier()
    body = to_bytes(doc)
    with pytest.raises(AuthBlocked) as caught:
        client.submit_dossier(body, doc["client_ref"])
    assert (caught.value.status, caught.value.error) == (401, "clock_skew")
    assert portal.dossiers() == []

    health = client.health()
    assert health.skew == pytest.approx(-off_by, abs=2)
    assert client.clock_offset == health.skew
    assert abs(client.now() - time.time()) < 2

    delivered = client.submit_dossier(body, doc["client_ref"])
    assert delivered.replay is False
    recorded = portal.requests(doc["client_ref"])
    assert [r.status for r in recorded] == [401, 201]
    assert recorded[0].body == recorded[1].body == body
    assert recorded[0].headers["x-timestamp"] != recorded[1].headers["x-timestamp"]


def test_health_without_apply_only_measures(portal):
    client = new_client(portal.url, clock=lambda: time.time() - 600, clock_offset=5.0)
    health = client.health(apply=False)
    assert health.skew == pytest.approx(600, abs=2)
    assert client.clock_offset == 5.0
    assert health.round_trip >= 0


def test_portal_clock_off(portal):
    client = new_client(portal.url)
    client.procedures()
    portal.set_clock_offset(-3 * 3600)
    with pytest.raises(AuthBlocked) as caught:
        client.procedures()
    assert caught.value.error == "clock_skew"
    assert client.health().skew == pytest.approx(-3 * 3600, abs=2)
    client.procedures()
