"""Feedback goes through the one delivery state machine with the dossiers: recording first
(a part inside the feedback's lease), then the feedback; exactly once through faults and
SIGKILLs of `outbox drain`; attempts recorded without personal data."""

from __future__ import annotations

import json
import random

import pytest

from kiosk.portal import Faults
from kiosk.services.feedback import FeedbackDraft, FeedbackService
from kiosk.services.models import FeedbackAttempt
from tests.feedback_helpers import voice
from tests.outbox_helpers import (
    DRAIN_FAST,
    drain_env,
    fast_outbox,
    finish_drain,
    kill_loop,
    new_portal,
    open_kiosk,
    seed,
    start_drain,
)
from tests.portal_helpers import KIOSK_ID


def feedback_of(kiosk) -> FeedbackService:
    return FeedbackService(
        kiosk.store, kiosk.dossiers.cipher, KIOSK_ID, kiosk.data_dir / "attachments"
    )


def test_the_outbox_delivers_feedback_recording_first(tmp_path):
    from kiosk.services.outbox import drain_all

    portal = new_portal(tmp_path)
    kiosk = open_kiosk(tmp_path / "data")
    try:
        service = feedback_of(kiosk)
        seed(kiosk, 2)
        view = service.confirm(
            FeedbackDraft(topic="water", language="vi", identity="anonymous", recording=voice(3.0))
        )
        outbox = fast_outbox(kiosk, portal.url)
        drain_all(outbox, timeout=30)
        outbox.close()
        done = service.get(view.id)
        assert done.state == "delivered" and done.feedback_code.startswith("PA-")
        paths = [(r.method, r.path) for r in portal.requests() if r.method != "GET"]
        put = paths.index(
            (
                "PUT",
                f"/api/v1/attachments/{json.loads(service.body(view.id))['recording']['sha256']}",
            )
        )
        assert put < paths.index(("POST", "/api/v1/feedback"))
        body = json.loads(portal.requests(method="POST", path="/api/v1/feedback")[0].body)
        assert body["anonymous"] is True and "applicant" not in body and "phone" not in body
        attempts = kiosk.store.read(lambda s: s.query(FeedbackAttempt).all())
        assert [a.outcome for a in attempts] and all(a.feedback_id == view.id for a in attempts)
    finally:
        kiosk.close()
        portal.stop()


@pytest.mark.slow
def test_feedback_and_dossiers_survive_kills_of_outbox_drain_exactly_once(tmp_path):
    portal = new_portal(
        tmp_path,
        faults=Faults(
            latency=0.04,
            drop_after_store_rate=0.05,
            endpoints=["attachments", "dossiers", "feedback"],
            seed=5,
        ),
    )
    kiosk = open_kiosk(tmp_path / "data")
    try:
        env = drain_env(kiosk, portal.url)
        seed(kiosk, 20)
        service = feedback_of(kiosk)
        rng = random.Random(9)
        refs = []
        for n in range(30):
            refs.append(
                service.confirm(
                    FeedbackDraft(
                        topic=rng.choice(("roads", "water", "land")),
                        language="vi",
                        identity=("anonymous", "phone", "anonymous")[n % 3],
                        phone="0912345678" if n % 3 == 1 else None,
                        text=None if n % 3 == 2 else f"góp ý {n}",
                        recording=voice(2.5) if n % 3 == 2 else None,
                    )
                ).client_ref
            )
        report = kill_loop(portal, env, 8, rng=random.Random(4))
        assert report.kills == 8
        portal.set_faults(Faults())
        final = finish_drain(start_drain(env, *DRAIN_FAST), timeout=120)
        assert final["returncode"] == 0, final["stderr"][-2000:]
        assert service.counts() == {"delivered": 30}
        stored = portal.feedback.feedbacks()
        assert sorted(f["client_ref"] for f in stored) == sorted(refs)
        for f in stored:
            bodies = {r.body for r in portal.requests(f["client_ref"]) if r.body}
            assert bodies == {f["body"]}, "a replay sent different bytes"
        assert len(portal.dossiers()) == 20
    finally:
        kiosk.close()
        portal.stop()
