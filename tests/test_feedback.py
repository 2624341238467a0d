"""Citizens' feedback: checked and stored in one step (voice encrypted at rest), delivered
recording first then the feedback, exactly once through faults, its answer in the status
look-up by either code; anonymous feedback sends and keeps no identity and no phone."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pytest

from kiosk.portal import Faults
from kiosk.services.dossiers import Applicant
from kiosk.services.feedback import FeedbackDraft, FeedbackRefused, make_slip_code
from kiosk.services.feedback_delivery import FeedbackOutbox
from kiosk.services.models import Feedback
from tests.feedback_helpers import open_feedback_kiosk, voice
from tests.portal_helpers import new_client, new_portal

CITIZEN = Applicant("001190012345", "Lò Thị Mai", date(1990, 5, 6), "female", "Thôn Nà Pò")


@pytest.fixture
def world(tmp_path):
    portal = new_portal(tmp_path)
    kiosk = open_feedback_kiosk(tmp_path / "kiosk")
    client = new_client(portal.url)
    yield portal, kiosk, client
    client.close()
    kiosk.close()
    portal.stop()


def _files(kiosk):
    folder = kiosk.data_dir / "attachments"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_voice_feedback_is_encrypted_delivered_once_and_answered(world):
    portal, kiosk, client = world
    take = voice(5.0)
    view = kiosk.feedback.confirm(
        FeedbackDraft(
            topic="water", language="tyz", identity="phone", recording=take, phone="0912 345 678"
        )
    )
    assert view.slip_code.startswith("GY-") and view.state == "queued"
    # At rest: the voice file and the row hold no plain audio and no phone.
    [path] = _files(kiosk)
    blob = path.read_bytes()
    kept = kiosk.feedback.recording(view.id)
    assert kept[:4] == b"RIFF" and kept[44:1044] not in blob
    raw = (kiosk.data_dir / "kiosk.db").read_bytes()
    assert b"0912 345 678" not in raw and b"0912345678" not in raw

    outbox = FeedbackOutbox(kiosk.feedback)
    report = outbox.drain(client)
    assert report.delivered == 1
    calls = [(r.method, r.path.rsplit("/", 1)[0]) for r in portal.requests()]
    assert calls == [("PUT", "/api/v1/attachments"), ("POST", "/api/v1")]
    [stored] = portal.feedback.feedbacks()
    body = json.loads(stored["body"])
    assert body["recording"]["content_type"] == "audio/wav"
    assert portal.attachment(body["recording"]["sha256"])[1] == kept
    assert body["phone"] == "0912 345 678" and body["slip_code"] == view.slip_code
    delivered = kiosk.feedback.get(view.id)
    assert delivered.state == "delivered" and delivered.feedback_code == stored["code"]

    # The authority answers; either code finds it and the look-up shows the answer.
    answer_audio = portal.feedback.put_media(voice(3.0))
    portal.feedback.answer_feedback(
        stored["code"],
        text={"vi": "Đã sửa đường ống nước", "en": "The water pipe was repaired"},
        audio={"vi": answer_audio},
        answered_by="UBND xã Hoành Mô",
    )
    for code in (view.slip_code.lower(), stored["code"]):
        found = kiosk.feedback.find(code)
        assert found is not None and found.id == view.id
    refreshed = kiosk.feedback.refresh_status(client, view.id)
    assert refreshed.portal_status == "answered"
    assert refreshed.answer["text"]["vi"] == "Đã sửa đường ống nước"
    assert refreshed.answer["audio"] == {"vi": answer_audio}
    # Nothing is sent twice.
    assert outbox.drain(client).claimed == 0
    assert len(portal.requests(method="POST")) == 1


def test_anonymous_feedback_holds_no_applicant_and_no_phone(world):
    portal, kiosk, client = world
    view = kiosk.feedback.confirm(
        FeedbackDraft(
            topic="security",
            language="vi",
            identity="anonymous",
            text="Đèn đường hỏng ở thôn Nà Pò",
            applicant=CITIZEN,
            phone="0912345678",
        )
    )
    row = kiosk.store.read(lambda s: s.get(Feedback, view.id))
    assert row.applicant_enc is None and row.phone_enc is None and row.id_index is None
    FeedbackOutbox(kiosk.feedback).drain(client)
    [request] = portal.requests(method="POST")
    body = json.loads(request.body)
    assert body["anonymous"] is True
    assert "applicant" not in body and "phone" not in body
    assert CITIZEN.id_number.encode() not in request.body
    assert b"0912345678" not in request.body


def test_identified_feedback_is_exported_and_erased(world):
    portal, kiosk, client = world
    view = kiosk.feedback.confirm(
        FeedbackDraft(
            topic="land", language="vi", identity="card", applicant=CITIZEN, recording=voice(3.0)
        )
    )
    exported = kiosk.feedback.export_citizen(CITIZEN.id_number)
    assert [e["slip_code"] for e in exported] == [view.slip_code]
    assert kiosk.feedback.erase_citizen(CITIZEN.id_number) == 1
    assert _files(kiosk) == []
    assert kiosk.feedback.export_citizen(CITIZEN.id_number) == []
    assert kiosk.feedback.get(view.id).state == "handled"


def test_retention_purge_removes_the_voice_of_old_delivered_feedback(world):
    portal, kiosk, client = world
    view = kiosk.feedback.confirm(FeedbackDraft(topic="roads", language="vi", recording=voice(3.0)))
    FeedbackOutbox(kiosk.feedback).drain(client)
    from kiosk.services.dossiers import utcnow

    assert kiosk.feedback.purge_older_than(utcnow() - timedelta(days=1)) == 0
    assert kiosk.feedback.purge_older_than(utcnow() + timedelta(seconds=1)) == 1
    assert _files(kiosk) == [] and kiosk.feedback.recording(view.id) is None
    assert kiosk.feedback.get(view.id).feedback_code  # the codes stay for the look-up


@pytest.mark.parametrize(
    ("draft", "key"),
    [
        ({"recording": b""}, "feedback.citizen.err.empty"),
        ({"recording": "silence"}, "recording.err.empty"),
        ({"recording": 1.0}, "recording.err.too_short"),
        ({"recording": 180.0}, "recording.err.too_long"),
        ({"text": "x" * 4001}, "feedback.citizen.err.text_too_long"),
        ({"text": "ok", "identity": "phone", "phone": "12"}, "feedback.citizen.err.phone"),
        ({"text": "ok", "identity": "card"}, "feedback.citizen.err.no_card"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(tmp_path, draft, key):
    kiosk = open_feedback_kiosk(tmp_path / "kiosk")
    try:
        rec = draft.get("recording")
        if isinstance(rec, float):
            draft["recording"] = voice(rec)
        elif rec == "silence":
            draft["recording"] = voice(3.0, amplitude=0.0)
        with pytest.raises(FeedbackRefused) as err:
            kiosk.feedback.confirm(FeedbackDraft(topic="health", language="vi", **draft))
        assert err.value.key == key
        assert kiosk.feedback.list() == [] and _files(kiosk) == []
    finally:
        kiosk.close()
    assert FeedbackDraft(topic="health", language="vi", text="y" * 4000)  # the limit itself


def test_text_at_the_limit_is_accepted(tmp_path):
    kiosk = open_feedback_kiosk(tmp_path / "kiosk")
    try:
        view = kiosk.feedback.confirm(FeedbackDraft(topic="other", language="vi", text="y" * 4000))
        assert kiosk.feedback.text(view.id) == "y" * 4000
    finally:
        kiosk.close()


def test_slip_codes_are_unguessable():
    codes = {make_slip_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 17 and not set(c[3:].replace("-", "")) & set("01OIL") for c in codes)


def test_feedback_is_delivered_exactly_once_through_faults(world):
    portal, kiosk, client = world
    portal.set_faults(
        Faults(
            drop_after_store_rate=0.3,
            error_rate=0.2,
            drop_rate=0.1,
            endpoints=["attachments", "feedback"],
            retry_after=None,
            seed=7,
        )
    )
    rng = random.Random(5)
    views = []
    for n in range(12):
        kind = n % 3
        views.append(
            kiosk.feedback.confirm(
                FeedbackDraft(
                    topic=rng.choice(["roads", "water", "health"]),
                    language="vi",
                    identity=("anonymous", "phone", "anonymous")[kind],
                    phone="0912345678" if kind == 1 else None,
                    text=f"góp ý số {n}" if kind != 2 else None,
                    recording=voice(2.5 + n / 10) if kind == 2 else None,
                )
            )
        )
    outbox = FeedbackOutbox(kiosk.feedback, backoff=(0.0, 0.0))
    for _ in range(200):
        outbox.run_once(client)
        if kiosk.feedback.counts().get("delivered") == 12:
            break
    assert kiosk.feedback.counts() == {"delivered": 12}
    stored = portal.feedback.feedbacks()
    assert sorted(f["client_ref"] for f in stored) == sorted(v.client_ref for v in views)
    assert {kiosk.feedback.find(f["code"]).client_ref for f in stored} == {
        v.client_ref for v in views
    }
    # Every replay of a feedback carried the same bytes.
    for v in views:
        bodies = {r.body for r in portal.requests(v.client_ref) if r.body}
        assert len(bodies) == 1
    assert any(r.fault == "drop_after_store" for r in portal.requests(method="POST"))


def test_privacy_tools_cover_feedback(world):
    """The orphan sweep keeps voice files, key rotation re-encrypts them (old keys can then
    be dropped), export includes the voice, erase removes it, the retention purge too."""
    import os

    from kiosk.services import privacy
    from kiosk.services.dossiers import DossierService

    portal, kiosk, client = world
    folder = kiosk.data_dir / "attachments"
    view = kiosk.feedback.confirm(
        FeedbackDraft(
            topic="land", language="vi", identity="card", applicant=CITIZEN, recording=voice(3.0)
        )
    )
    [path] = _files(kiosk)
    old = path.stat().st_mtime - 3 * 86400
    os.utime(path, (old, old))
    assert privacy.sweep_orphan_files(kiosk.store, folder) == 0 and path.exists()

    key_path = kiosk.data_dir / "keys" / "data.key"
    before = path.read_bytes()
    result = privacy.rotate_key(kiosk.store, kiosk.cipher, folder, key_path)
    assert result.dropped and result.files >= 1 and path.read_bytes() != before
    assert kiosk.feedback.recording(view.id)[:4] == b"RIFF"
    assert kiosk.feedback.text(view.id) is None and kiosk.feedback.body(view.id)

    dossiers = DossierService(kiosk.store, kiosk.cipher, "K", "QN01", folder)
    exported = privacy.export_citizen(dossiers, CITIZEN.id_number)
    [item] = exported["feedback"]
    assert item["slip_code"] == view.slip_code and item["recording_wav_base64"]
    erased = privacy.erase_citizen(
        kiosk.store, kiosk.cipher, folder, CITIZEN.id_number, withdraw_undelivered=True
    )
    assert erased.feedback_erased == 1 and _files(kiosk) == []


def test_retention_purge_of_the_kiosk_includes_feedback(world):
    from kiosk.services import privacy
    from kiosk.services.dossiers import utcnow

    portal, kiosk, client = world
    kiosk.feedback.confirm(FeedbackDraft(topic="roads", language="vi", recording=voice(3.0)))
    FeedbackOutbox(kiosk.feedback).drain(client)
    privacy.purge_expired(kiosk.store, kiosk.data_dir / "attachments", 30, now=utcnow())
    assert len(_files(kiosk)) == 1  # within the retention period
    later = utcnow() + timedelta(days=31)
    privacy.purge_expired(kiosk.store, kiosk.data_dir / "attachments", 30, now=later)
    assert _files(kiosk) == []


def test_retry_after_is_honoured_and_a_missing_endpoint_keeps_feedback_queued(world):
    from kiosk.services.dossiers import utcnow

    portal, kiosk, client = world
    view = kiosk.feedback.confirm(FeedbackDraft(topic="other", language="vi", text="Góp ý"))
    portal.set_faults(Faults(script=["rate_limit"], retry_after=120, endpoints=["feedback"]))
    report = FeedbackOutbox(kiosk.feedback, backoff=(0.0, 0.0)).run_once(client)
    assert report.retry == 1
    row = kiosk.store.read(lambda s: s.get(Feedback, view.id))
    assert row.state == "queued" and row.next_attempt_at >= utcnow() + timedelta(seconds=100)
    assert FeedbackOutbox(kiosk.feedback).run_once(client).claimed == 0  # not due yet


def test_tools_deliver_feedback_through_the_one_delivery_machine(world):
    """A tool holding its own client goes through the outbox's state machine: each attempt
    is recorded, and a refusal of the credentials stops sending until they are probed
    again, as it does for the outbox."""
    from kiosk.services.models import FeedbackAttempt

    portal, kiosk, client = world
    view = kiosk.feedback.confirm(FeedbackDraft(topic="water", language="vi", text="Góp ý"))
    with new_client(portal.url, token="not-the-token") as refused:
        outbox = FeedbackOutbox(kiosk.feedback)
        assert outbox.run_once(refused).auth_blocked
        assert outbox.run_once(refused).auth_blocked
    assert len(portal.requests(method="POST")) == 1  # refused once, not tried again
    assert kiosk.feedback.get(view.id).state == "auth_blocked"
    attempts = kiosk.store.read(lambda s: s.query(FeedbackAttempt).all())
    assert [(a.feedback_id, a.outcome, a.status_code) for a in attempts] == [
        (view.id, "auth_blocked", 401)
    ]


def test_two_machines_on_one_database_deliver_each_feedback_once(tmp_path, db_url):
    """Two senders of one centre (SQLite file or PostgreSQL) share the queue: every
    feedback is claimed by one of them and reaches the portal once."""
    import threading

    portal = new_portal(tmp_path)
    a = open_feedback_kiosk(tmp_path / "a", db_url)
    b = open_feedback_kiosk(tmp_path / "a", db_url)
    try:
        for n in range(20):
            a.feedback.confirm(FeedbackDraft(topic="water", language="vi", text=f"số {n}"))
        outboxes = [
            FeedbackOutbox(k.feedback, f"machine-{i}", batch_size=3) for i, k in enumerate((a, b))
        ]

        def run(outbox):
            with new_client(portal.url) as client:
                while outbox.run_once(client).claimed:
                    pass

        threads = [threading.Thread(target=run, args=(o,)) for o in outboxes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert a.feedback.counts() == {"delivered": 20}
        assert len(portal.feedback.feedbacks()) == 20
        assert len(portal.requests(method="POST")) == 20  # no feedback was sent twice
    finally:
        a.close()
        b.close()
        portal.stop()
