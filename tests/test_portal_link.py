"""The link to the portal alone (no delivery): a client per thread, the auth gate and its
probe, the clock offset, and the parts that only read through it (status polling,
catalogue refresh). Real SQLite, the reference portal on 127.0.0.1."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.catalogue_refresh import CatalogueRefresher
from kiosk.services.models import DELIVERED, Dossier
from kiosk.services.portal_client import AuthBlocked, url_problem
from kiosk.services.portal_link import PortalLink
from kiosk.services.status_poll import StatusPoller
from tests.outbox_helpers import TOKEN, new_portal, open_kiosk, portal_config, seed


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 5, 0, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


@pytest.fixture
def portal(tmp_path):
    p = new_portal(tmp_path)
    yield p
    p.stop()


def link_for(kiosk, url: str, **options) -> PortalLink:
    return PortalLink(kiosk.store, portal_config(url), machine="host:boot:", **options)


def test_each_thread_gets_its_own_client_and_a_new_one_after_a_change(kiosk, portal):
    link = link_for(kiosk, portal.url)
    here = link.client()
    assert link.client() is here
    other = []
    t = threading.Thread(target=lambda: other.append(link.client()))
    t.start()
    t.join()
    assert other[0] is not here
    link.set_portal(token="new-token")
    assert link.client() is not here
    link.close()


def test_auth_gate_closes_on_a_refusal_then_probes_and_reopens(kiosk, portal):
    clock = FakeClock()
    link = link_for(kiosk, portal.url, clock=clock, auth_probe_interval=60)
    requeued = []
    link.on_unblocked = lambda session, now: requeued.append(now) or 7
    assert link.gate() == "open"
    link.set_portal(token="wrong")
    with pytest.raises(AuthBlocked):
        link.guarded(lambda c: c.procedures())
    assert link.gate() == "closed"
    alert = link.auth_alert()
    assert alert is not None and alert.key == "outbox.alert.auth.unauthorized"
    clock.now += timedelta(seconds=61)
    assert link.gate() == "probe"
    assert link.probe_auth() is False  # still the wrong token: closed again
    assert link.gate() == "closed"
    link.set_portal(token=TOKEN)  # other credentials: not held back by the old refusal
    assert link.gate() == "open"
    assert link.probe_auth() is True
    assert requeued == [clock.now] and link.auth_alert() is None
    link.close()


def test_clock_offset_is_measured_and_kept(kiosk, portal):
    link = link_for(kiosk, portal.url, portal_clock=lambda: 0.0)  # 1970 on this machine
    link.check_health()
    assert link.clock_offset > 3600 and link.clock_alert() is not None
    again = link_for(kiosk, portal.url)
    assert abs(again.clock_offset - link.clock_offset) < 1  # a restart keeps it
    link.close()
    again.close()


def test_status_poller_alone(kiosk, portal):
    (dossier_id,) = seed(kiosk, 1)
    link = link_for(kiosk, portal.url)
    poller = StatusPoller(kiosk.store, link)
    assert poller.refresh(dossier_id) is None  # not delivered yet
    body = kiosk.dossiers.body(kiosk.dossiers.get(dossier_id))
    ref = kiosk.dossiers.get(dossier_id).client_ref
    receipt = link.call(lambda c: c.submit_dossier(body, ref))
    kiosk.store.write_sync(
        lambda s: s.execute(
            update(Dossier)
            .where(Dossier.id == dossier_id)
            .values(state=DELIVERED, dossier_code=receipt.dossier_code)
        )
    )
    portal.set_status(receipt.dossier_code, "completed", {"en": "Ready"})
    info = poller.refresh(dossier_id)
    assert info is not None and info.status == "completed" and info.message == {"en": "Ready"}
    assert poller.poll() == 0  # final: not asked again
    link.close()


def test_catalogue_refresher_alone(kiosk, portal, tmp_path):
    overlay = tmp_path / "overlay.json"
    refresher = CatalogueRefresher(link_for(kiosk, portal.url))
    merged = refresher.refresh(load_default_catalogue(overlay=overlay), overlay)
    assert merged.last_as_of and overlay.exists()
    refresher.link.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://portal.example.gov.vn/api/v1", None),
        ("http://127.0.0.1:8400/api/v1", None),
        ("http://localhost:8400/api/v1", None),
        ("http://[::1]:8400/api/v1", None),
        ("http://127.8.9.10/api/v1", None),
        ("http://portal.example.gov.vn/api/v1", "delivery.url.https_required"),
        ("http://10.0.0.5/api/v1", "delivery.url.https_required"),
        ("http://localhost.example.com/api/v1", "delivery.url.https_required"),
        ("ftp://portal.example.gov.vn/", "delivery.url.invalid"),
        ("https:///api/v1", "delivery.url.invalid"),
    ],
)
def test_url_rule(url, problem):
    assert url_problem(url) == problem
