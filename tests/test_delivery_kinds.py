"""The delivery state machine with a kind of item of its own, as a later feature adds one:
a table with the standard columns, a registered class, and a dependency on dossiers
(`after`): the item is claimed only once its dossier is delivered. Real SQLite, the
reference portal on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from kiosk.services.delivery import (
    KINDS,
    PART_KINDS,
    Delivery,
    DeliveryKind,
    Item,
    NeedsClerk,
    Outcome,
    PartKind,
    SendContext,
    default_worker_id,
    register,
)
from kiosk.services.delivery_kinds import AttachmentKind, DossierKind
from kiosk.services.dossiers import utcnow
from kiosk.services.models import DELIVERED, NEEDS_CLERK, QUEUED, Dossier
from kiosk.services.portal_client import DossierStatus
from kiosk.services.portal_link import PortalLink
from tests.outbox_helpers import KIOSK_ID, all_dossiers, new_portal, open_kiosk, portal_config, seed

META = MetaData()
NOTES = Table(
    "test_notes",
    META,
    Column("id", Integer, primary_key=True),
    Column("dossier_id", ForeignKey(Dossier.__table__.c.id), nullable=False),
    Column("kiosk_id", String(64), nullable=False),
    Column("state", String(16), nullable=False, default=QUEUED),
    Column("next_attempt_at", DateTime),
    Column("attempt_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("field_errors", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime),
    Column("seen_status", String(16)),
)
NOTE_ATTEMPTS = Table(
    "test_note_attempts",
    META,
    Column("id", Integer, primary_key=True),
    Column("note_id", ForeignKey("test_notes.id"), nullable=False),
    Column("at", DateTime),
    Column("outcome", String(24)),
    Column("status_code", Integer),
    Column("error", Text),
    Column("worker", String(64)),
)


class NoteKind(DeliveryKind):
    """Asks the portal about its dossier: needs the dossier's code, so it goes after it."""

    name = "note"
    table = NOTES
    order = 20
    after = (("dossier", "dossier_id"),)
    delivered_columns = ("seen_status",)
    attempts_table = NOTE_ATTEMPTS

    def load(self, session: Session, ids: list[int]) -> dict[int, Any]:
        d = Dossier.__table__.c
        return {
            r.id: r
            for r in session.execute(
                select(NOTES.c.id, d.dossier_code)
                .join(Dossier.__table__, d.id == NOTES.c.dossier_id)
                .where(NOTES.c.id.in_(ids))
            )
        }

    def send(self, item: Item, ctx: SendContext) -> DossierStatus:
        if item.data.dossier_code is None:
            raise NeedsClerk("claimed before its dossier was delivered")
        return ctx.call(lambda c: c.dossier_status(item.data.dossier_code))

    def delivered_values(self, answer: DossierStatus, now: datetime) -> dict[str, Any]:
        return {"seen_status": answer.status}

    def attempt_values(self, item_id: int) -> dict[str, Any]:
        return {"note_id": item_id}


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    META.create_all(k.store.write_engine)
    yield k
    k.close()


@pytest.fixture
def portal(tmp_path):
    p = new_portal(tmp_path)
    yield p
    p.stop()


def make_delivery(kiosk, url: str, **options: Any) -> Delivery:
    config = portal_config(url)
    link = PortalLink(kiosk.store, config, machine="test:0:")
    options.setdefault("lease_seconds", 5.0)
    options.setdefault("kinds", [DossierKind, NoteKind])
    options.setdefault("part_kinds", [AttachmentKind])
    return Delivery(kiosk.store, link, kiosk.dossiers, worker_id=default_worker_id(), **options)


def add_notes(kiosk, dossier_ids: list[int]) -> None:
    kiosk.store.write_sync(
        lambda s: s.execute(
            insert(NOTES), [{"dossier_id": i, "kiosk_id": KIOSK_ID} for i in dossier_ids]
        )
    )


def notes(kiosk) -> list[Any]:
    return kiosk.store.read(lambda s: s.execute(select(NOTES).order_by(NOTES.c.id)).all())


def test_an_item_waits_for_the_item_it_depends_on(kiosk, portal):
    ids = seed(kiosk, 3, attachment_every=2)
    add_notes(kiosk, ids)
    delivery = make_delivery(kiosk, portal.url, batch_size=10)
    # Nothing of a dependent kind is due while its dossier is not delivered.
    kiosk.store.write_sync(
        lambda s: s.execute(
            update(Dossier)
            .where(Dossier.id == ids[2])
            .values(next_attempt_at=utcnow() + timedelta(minutes=30))
        )
    )
    first = delivery.claim(10)
    assert sorted((i.kind, i.id) for i in first) == [("dossier", ids[0]), ("dossier", ids[1])]
    # The dossier's attachments are parts of it, loaded with it.
    assert [p.kind for p in first[0].parts] == ["attachment"]
    delivery.release_mine()

    report = delivery.run_once()  # the two due dossiers go; their notes are not due yet
    assert report.delivered == 2
    report = delivery.run_once()  # now their notes are
    assert report.delivered == 2
    rows = notes(kiosk)
    assert [r.state for r in rows] == [DELIVERED, DELIVERED, QUEUED]
    assert [r.seen_status for r in rows[:2]] == ["received", "received"]
    assert all(r.lease_owner is None for r in rows)
    attempts = kiosk.store.read(lambda s: s.execute(select(NOTE_ATTEMPTS)).all())
    assert sorted(a.note_id for a in attempts) == [rows[0].id, rows[1].id]
    assert delivery.has_work()  # the third dossier and its note
    assert delivery.run_once().claimed == 0
    delivery.close()


def test_a_refused_dependency_keeps_its_dependents_queued(kiosk, portal):
    fields = {"purpose": "holiday", "current_status": "never_married", "phone": "0912345678"}
    ids = seed(kiosk, 1, fields=fields)  # the portal answers 422
    add_notes(kiosk, ids)
    delivery = make_delivery(kiosk, portal.url)
    assert delivery.run_once().needs_clerk == 1
    assert delivery.run_once().claimed == 0
    assert all_dossiers(kiosk)[0].state == NEEDS_CLERK
    assert notes(kiosk)[0].state == QUEUED
    delivery.close()


def test_outcomes_of_several_kinds_are_recorded_together(kiosk, portal):
    ids = seed(kiosk, 1)
    add_notes(kiosk, ids)
    delivery = make_delivery(kiosk, portal.url)
    delivery.run_once()
    (item,) = delivery.claim(5)
    assert item.kind == "note"
    delivery.record([Outcome(item.id, "transient", "note", error="read timeout", status=None)])
    row = notes(kiosk)[0]
    assert row.state == QUEUED and row.last_error == "read timeout"
    assert row.next_attempt_at is not None and row.lease_owner is None
    delivery.close()


def test_a_kind_must_name_its_parts():
    class Orphan(DeliveryKind):
        name = "orphan"
        table = NOTES
        parts = ("recording",)

    with pytest.raises(ValueError, match="recording"):
        Delivery(None, _Link(), None, worker_id="w", kinds=[Orphan], part_kinds=[])


def test_registration_by_name():
    assert KINDS["dossier"] is DossierKind and PART_KINDS["attachment"] is AttachmentKind

    class Nameless(PartKind):
        pass

    with pytest.raises(ValueError):
        register(Nameless)
    with pytest.raises(TypeError):
        register(type("NotAKind", (), {"name": "x"}))


class _Link:
    """Only what the constructor reads."""

    class portal:
        request_budget = 1.0

    on_unblocked = None


def test_a_stop_request_releases_the_rest_of_the_batch(kiosk, portal):
    seed(kiosk, 4)
    delivery = make_delivery(kiosk, portal.url)
    sent = []
    original = DossierKind.send

    def stop_after_first(self, item, ctx):
        sent.append(item.id)
        answer = original(self, item, ctx)
        delivery.request_stop()  # as the sync worker's stop() does, mid-batch
        return answer

    DossierKind.send = stop_after_first
    try:
        report = delivery.run_once()
    finally:
        DossierKind.send = original
    assert report.delivered == 1 and report.released == 3
    assert len(portal.requests(path="/api/v1/dossiers", method="POST")) == 1
    assert sorted(d.state for d in all_dossiers(kiosk)) == [DELIVERED, QUEUED, QUEUED, QUEUED]
    delivery.close()


def test_a_body_that_cannot_be_read_goes_to_a_clerk_before_any_upload(kiosk, portal):
    (dossier_id,) = seed(kiosk, 1, attachment_every=1)
    kiosk.store.write_sync(
        lambda s: s.execute(
            update(Dossier).where(Dossier.id == dossier_id).values(body_enc=b"\x00" * 64)
        )
    )
    delivery = make_delivery(kiosk, portal.url)
    assert delivery.run_once().needs_clerk == 1
    (row,) = all_dossiers(kiosk)
    assert row.state == NEEDS_CLERK and row.last_error == "stored body cannot be decrypted"
    assert portal.requests() == []  # not even the attachment went
    delivery.close()
