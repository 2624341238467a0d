"""Notices: published at the reference portal, fetched over real HTTP into a real SQLite
file, shown urgent first then newest, gone after their end date or withdrawal; media checked
against their hash; a clerk's local notice stays on the kiosk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.services.notices import NoticeError
from tests.feedback_helpers import open_feedback_kiosk, voice
from tests.portal_helpers import new_client, new_portal


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def notice(nid: str, **extra):
    doc = {
        "id": nid,
        "title": {"vi": f"Thông báo {nid}", "en": f"Notice {nid}"},
        "body": {"vi": "Họp thôn lúc 8 giờ", "en": "Village meeting at 8"},
        "pictogram": "meeting",
        "valid_from": iso(datetime.now(UTC) - timedelta(hours=1)),
    }
    doc.update(extra)
    return doc


@pytest.fixture
def world(tmp_path):
    portal = new_portal(tmp_path)
    kiosk = open_feedback_kiosk(tmp_path / "kiosk")
    client = new_client(portal.url)
    yield portal, kiosk, client
    client.close()
    kiosk.close()
    portal.stop()


def test_published_notice_appears_sorted_and_goes_away(world):
    portal, kiosk, client = world
    now = datetime.now(UTC)  # when this test runs, not when the suite was collected
    area = portal.feedback
    audio = area.put_media(voice(1.5))
    area.publish_notice(notice("n-old", valid_from=iso(now - timedelta(days=2))))
    area.publish_notice(notice("n-new", audio={"vi": audio}))
    area.publish_notice(
        notice("n-urgent", priority="urgent", valid_from=iso(now - timedelta(days=3)))
    )
    area.publish_notice(notice("n-ending", valid_to=iso(now + timedelta(minutes=10))))
    area.publish_notice(notice("n-future", valid_from=iso(now + timedelta(days=1))))
    result = kiosk.notices.sync(client)
    assert result.stored == 5 and result.refused == []
    shown = [n.ref for n in kiosk.notices.visible()]
    assert shown == ["n-urgent", "n-ending", "n-new", "n-old"]
    assert kiosk.notices.new_count() == 4
    new = next(n for n in kiosk.notices.visible() if n.ref == "n-new")
    path, lang = kiosk.notices.recording_for(new, "vi")
    assert lang == "vi" and path.read_bytes() == portal.feedback.media(audio)[1]
    assert kiosk.notices.recording_for(new, "tyz") is None
    kiosk.notices.mark_seen(new.id)
    assert kiosk.notices.new_count() == 3

    # After its end date it disappears by itself; the future one appears in time.
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    assert "n-ending" not in [n.ref for n in kiosk.notices.visible(later)]
    assert "n-future" in [n.ref for n in kiosk.notices.visible(later + timedelta(days=1))]

    # Withdrawn at the portal: gone after the next sync, which asks only for changes.
    area.withdraw_notice("n-new")
    result = kiosk.notices.sync(client)
    assert result.stored == 1
    assert "n-new" not in [n.ref for n in kiosk.notices.visible()]
    since = portal.requests(path="/api/v1/notices")[-1].query
    assert since.startswith("since=")


def test_an_older_version_arriving_later_is_ignored(world):
    portal, kiosk, client = world
    portal.feedback.publish_notice(notice("n1", version=3, title={"vi": "Bản 3"}))
    kiosk.notices.sync(client)
    portal.feedback.publish_notice(notice("n1", version=2, title={"vi": "Bản 2"}))
    kiosk.store.write_sync(lambda s: None)
    from kiosk.services.models import Meta

    kiosk.store.write_sync(lambda s: s.delete(s.get(Meta, "notices.as_of")))
    result = kiosk.notices.sync(client)
    assert result.ignored == 1
    [shown] = kiosk.notices.visible()
    assert shown.title == {"vi": "Bản 3"} and shown.version == 3


def test_media_whose_hash_does_not_match_is_refused_and_nothing_is_stored(world):
    portal, kiosk, client = world
    good = voice(1.0)
    sha = portal.feedback.put_media(good)
    portal.feedback.corrupt_media(sha, good[:2000] + b"\x55" * 100 + good[2100:])
    portal.feedback.publish_notice(notice("bad", audio={"vi": sha}))
    result = kiosk.notices.sync(client)
    assert result.refused == ["bad"] and result.stored == 0
    assert kiosk.notices.all() == []
    assert not (kiosk.data_dir / "notice-media" / sha).exists()
    assert (
        list((kiosk.data_dir / "notice-media").glob("*")) == []
        or not (kiosk.data_dir / "notice-media").exists()
    )
    # Repaired at the portal: the next round fetches it again and keeps it.
    portal.feedback.corrupt_media(sha, good)
    result = kiosk.notices.sync(client)
    assert result.stored == 1
    assert (kiosk.data_dir / "notice-media" / sha).read_bytes() == good


def test_local_notice_is_shown_withdrawn_and_never_sent(world):
    portal, kiosk, client = world
    rec = voice(2.0)
    posted = kiosk.notices.post_local(
        title="Tiêm phòng cho trẻ em",
        body="Thứ Hai, tại trạm y tế xã",
        pictogram="health",
        recording=rec,
        valid_to=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=7),
        posted_by="clerk1",
    )
    assert [n.ref for n in kiosk.notices.visible()] == [posted.ref]
    assert kiosk.notices.recording_for(posted, "vi")[0].read_bytes() == rec
    kiosk.notices.sync(client)
    sent = b"".join(r.body for r in portal.requests())
    assert "Tiêm phòng".encode() not in sent
    assert kiosk.notices.withdraw_local(posted.id) is True
    assert kiosk.notices.visible() == []
    with pytest.raises(NoticeError) as err:
        kiosk.notices.post_local(title=" ", body="x")
    assert err.value.key == "notices.clerk.err.title"
    with pytest.raises(NoticeError):
        kiosk.notices.post_local(
            title="x",
            body="y",
            valid_to=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1),
        )
    assert len(kiosk.notices.all()) == 1


def test_notices_endpoint_needs_a_signature(world):
    import requests

    portal, _, _ = world
    answer = requests.get(portal.url + "/notices", timeout=5)
    assert answer.status_code == 401
    assert json.loads(answer.content)["error"] == "unauthorized"


def test_the_demo_portal_publishes_its_sample_notices(tmp_path):
    """`kiosk portal --notices FILE` (what scripts/kiosk-demo runs) publishes them, and the
    admin API publishes and withdraws one over HTTP."""
    import os
    import subprocess
    import sys

    from tests.outbox_helpers import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk",
            "portal",
            "--port",
            "0",
            "--db",
            str(tmp_path / "p.db"),
            "--token",
            "T",
            "--kiosk",
            "K1:S1",
            "--admin-token",
            "ADM",
            "--notices",
            str(ROOT / "resources" / "samples" / "notices.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("portal listening on "), proc.stderr.read()
        api = line.split()[-1]
        base = api.rsplit("/api/v1", 1)[0]
        import requests

        from kiosk.services.portal_client import PortalClient
        from kiosk.services.portal_notices import fetch_notices

        with PortalClient(api, "K1", "S1", "T") as client:
            feed = fetch_notices(client)
            assert sorted(n["id"] for n in feed.notices) == ["demo-hop-dan", "demo-tiem-phong"]
            answer = requests.put(
                base + "/_admin/notices",
                json=notice("admin-one"),
                headers={"X-Admin-Token": "ADM"},
                timeout=5,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["version"] == 1
            assert requests.post(
                base + "/_admin/notices/admin-one/withdraw",
                headers={"X-Admin-Token": "ADM"},
                timeout=5,
            ).ok
            [changed] = fetch_notices(client, feed.as_of).notices
            assert changed["id"] == "admin-one" and changed["withdrawn"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)
