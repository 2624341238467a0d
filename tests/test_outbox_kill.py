"""kill -9 at random moments: a drain process killed again and again, restarted each time,
ends with every dossier delivered exactly once and every replay byte-identical."""

from __future__ import annotations

import random

import pytest

from kiosk.portal import Faults
from kiosk.services.models import DELIVERED
from tests.outbox_helpers import (
    DRAIN_FAST,
    assert_exactly_once,
    counts,
    drain_env,
    finish_drain,
    kill_loop,
    new_portal,
    open_kiosk,
    seed,
    start_drain,
)

KILLS = 20


@pytest.mark.slow
def test_drain_killed_20_times_delivers_everything_exactly_once(tmp_path):
    # Latency slows the portal so that kills land while dossiers are in flight; a few
    # answers are lost after the portal stored the dossier (the ambiguous case).
    portal = new_portal(
        tmp_path,
        faults=Faults(
            latency=0.04, drop_after_store_rate=0.03, endpoints=["attachments", "dossiers"], seed=11
        ),
    )
    kiosk = open_kiosk(tmp_path / "data")
    try:
        seed(kiosk, 200, attachment_every=3)
        env = drain_env(kiosk, portal.url)
        report = kill_loop(portal, env, KILLS, rng=random.Random(20261123))
        assert report.kills == KILLS and report.killed_while_sending >= KILLS // 2
        partial = counts(kiosk)
        assert 0 < partial.get(DELIVERED, 0) < 200  # the kills interrupted real work
        portal.set_faults(Faults())  # the last run at full speed
        final = finish_drain(start_drain(env, *DRAIN_FAST), timeout=120)
        assert final["returncode"] == 0 and final["empty"] is True, final["stderr"][-2000:]
        assert final["counts"][DELIVERED] == 200
        per_key = assert_exactly_once(portal, kiosk)
        assert counts(kiosk) == {DELIVERED: 200}
        # Some dossiers were sent more than once (a kill or a lost answer in between),
        # always with the same bytes and never stored twice.
        assert any(len(rs) > 1 for rs in per_key.values())
    finally:
        kiosk.close()
        portal.stop()
