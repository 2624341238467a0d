"""Notices and feedback on the real widgets: a notice published at the reference portal
appears on the home screen after a sync, is spoken (its recording first), and goes away
when withdrawn; a clerk posts a local notice with a recorded message and citizens see it;
a citizen records feedback with the simulated microphone, plays it back, sends it
anonymously, gets a slip; it is delivered once and the answer shows in the status look-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hardware.microphone import SimulatedMicrophone
from kiosk.services.feedback_delivery import FeedbackOutbox
from kiosk.services.portal_client import PortalClient
from tests.feedback_helpers import voice
from tests.portal_helpers import SECRET, TOKEN, new_portal
from tests.test_studio import ADMIN, Taps, login, make_window


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def kiosk(kiosk_qapp, tmp_path, qtbot):
    portal = new_portal(tmp_path)
    folder = tmp_path / "kiosk"
    folder.mkdir()
    win, ctx = make_window(folder, qtbot)
    portal.add_kiosk(ctx.settings.kiosk_id, SECRET)  # the kiosk's own identity
    client = PortalClient(
        portal.url, ctx.settings.kiosk_id, SECRET, TOKEN, connect_timeout=2, read_timeout=5
    )
    yield win, ctx, portal, client
    client.close()
    ctx.close()
    portal.stop()


def spoken(ctx):
    return ctx.speech.engine.spoken


def test_portal_notice_shown_spoken_and_withdrawn(kiosk, qtbot):
    win, ctx, portal, client = kiosk
    taps = Taps(qtbot)
    now = datetime.now(UTC)
    recording = voice(2.0)
    sha = portal.feedback.put_media(recording)
    portal.feedback.publish_notice(
        {
            "id": "hop-dan",
            "title": {"vi": "Họp dân về đường", "en": "Meeting about the road"},
            "body": {"vi": "Tối thứ Sáu tại nhà văn hoá", "en": "Friday evening, village hall"},
            "pictogram": "meeting",
            "audio": {"vi": sha},
            "valid_from": iso(now - timedelta(hours=1)),
            "valid_to": iso(now + timedelta(days=3)),
        }
    )
    portal.feedback.publish_notice(
        {
            "id": "tiem-phong",
            "title": {"vi": "Tiêm phòng", "en": "Vaccination"},
            "body": {"vi": "Thứ Hai ở trạm y tế", "en": "Monday at the health station"},
            "priority": "urgent",
            "valid_from": iso(now - timedelta(days=2)),
        }
    )
    ctx.two_way(client, force=True)
    win.nav.home()
    home = win.current_screen()
    home.retranslate()
    tile = home.tiles["notices.citizen.tile"]
    assert tile.text() == ctx.translator.tr("notices.citizen.tile_new", "vi", n=2)
    taps(tile)
    listing = win.current_screen()
    assert listing.name == "notices"
    rows = [listing.rows.itemAt(i).widget() for i in range(listing.rows.count() - 1)]
    assert [r.title_text.text() for r in rows] == ["Tiêm phòng", "Họp dân về đường"]
    taps(rows[1])
    notice = win.current_screen()
    assert notice.name == "notice" and notice.heading.text() == "Họp dân về đường"
    taps(notice.listen)
    last = spoken(ctx)[-1]
    assert last.source == "recording" and last.path.read_bytes() == recording
    # In English: the English text with the Vietnamese beside it, spoken by the engine.
    ctx.session.lang = "en"
    notice.retranslate()
    assert notice.text.text() == "Friday evening, village hall"
    assert notice.text_vi.text() == "Tối thứ Sáu tại nhà văn hoá" and notice.text_vi.isVisible()
    taps(notice.listen)
    assert spoken(ctx)[-1].source == "tts" and "Meeting about the road" in spoken(ctx)[-1].text
    ctx.session.lang = "vi"
    assert ctx.two_way.notices.new_count() == 1  # the one opened is no longer new

    # Withdrawn at the portal: gone from the list after the next sync.
    portal.feedback.withdraw_notice("hop-dan")
    ctx.two_way(client, force=True)
    win.nav.go("notices")
    listing = win.current_screen()
    titles = [
        listing.rows.itemAt(i).widget().title_text.text() for i in range(listing.rows.count() - 1)
    ]
    assert titles == ["Tiêm phòng"]
    # And a notice past its end date disappears by itself.
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=4)
    assert [n.ref for n in ctx.two_way.notices.visible(later)] == ["tiem-phong"]


def test_clerk_posts_a_local_notice_with_a_recorded_message(kiosk, qtbot):
    win, ctx, portal, client = kiosk
    taps = Taps(qtbot)
    from kiosk.views.screens.clerk_common import desk

    desk(ctx).clerks.create(ADMIN[0], "Nguyễn Văn Quản", "admin", ADMIN[1])
    login(win, taps, ADMIN)
    taps(win.current_screen().tiles["notices"])
    screen = win.current_screen()
    assert screen.name == "clerk_notices"
    taps(screen.post_button)
    assert screen.message.text() == ctx.translator.tr("notices.clerk.err.title", "vi")
    screen.title_edit.setText("Nghỉ làm việc chiều thứ Bảy")
    screen.body_edit.setPlainText("Bộ phận một cửa nghỉ chiều thứ Bảy tuần này.")
    screen.recorder.microphone = SimulatedMicrophone(voice(4.0), realtime=True)
    taps(screen.record_button)
    screen.recorder.microphone._started -= 4.5
    taps(screen.record_button)
    assert screen.take is not None and screen.play_button.isEnabled()
    taps(screen.post_button)
    assert screen.table.rowCount() == 1
    [posted] = ctx.two_way.notices.visible()
    assert posted.source == "local" and posted.audio.get("vi")
    ctx.two_way(client, force=True)  # a sync round sends nothing of it
    assert not any("Nghỉ làm việc".encode() in r.body for r in portal.requests())
    screen.table.selectRow(0)
    taps(screen.withdraw_button)
    assert ctx.two_way.notices.visible() == []


def test_voice_feedback_recorded_sent_once_and_answered(kiosk, qtbot):
    win, ctx, portal, client = kiosk
    taps = Taps(qtbot)
    win.nav.home()
    taps(win.current_screen().tiles["feedback.citizen.tile"])
    topics = win.current_screen()
    assert topics.name == "feedback_topic"
    taps(topics.tiles["water"])
    message = win.current_screen()
    assert message.name == "feedback_message"

    # Too long a text is refused with a message; nothing is stored.
    message.text.setPlainText("x" * 4001)
    taps(message.next_button)
    assert message.message.text() == ctx.translator.tr("feedback.citizen.err.text_too_long", "vi")
    assert win.current_screen() is message
    message.text.setPlainText("")
    # A one-second take is refused and kept nowhere.
    message.recorder.microphone = SimulatedMicrophone(voice(1.0), realtime=True)
    message.recorder.microphone.max_seconds = 120
    taps(message.record_button)
    message.recorder.microphone._started -= 1.0
    taps(message.record_button)
    assert message.message.text() == ctx.translator.tr("recording.err.too_short", "vi")
    assert not message.play_button.isEnabled()
    # A good take: the timer shows, it plays back to the citizen, then goes on.
    message.recorder.microphone = SimulatedMicrophone(voice(8.0), realtime=True)
    taps(message.record_button)
    message.recorder.microphone._started -= 8.5
    message.recorder.tick()
    assert message.timer_label.text().startswith("0:08 / 2:00")
    taps(message.record_button)
    assert message.play_button.isEnabled()
    taps(message.play_button)
    assert spoken(ctx)[-1].source == "recording"
    taps(message.next_button)
    identity = win.current_screen()
    assert identity.name == "feedback_identity"
    taps(identity.tiles["anonymous"])
    warning = ctx.translator.tr("feedback.citizen.anonymous.voice", "vi")
    assert identity.explain.text() == warning and identity.type_instead.isVisible()
    taps(identity.confirm_button)
    done = win.current_screen()
    assert done.name == "feedback_done"
    slip = done.code.text()
    assert slip.startswith("GY-") and done.state["printed"] is True
    assert list(ctx.settings.receipts_dir.glob("*.pdf"))  # the slip went to the printer

    # Delivered once, recording first; no identity, no phone.
    outbox = FeedbackOutbox(ctx.two_way.feedback)
    for _ in range(2):
        outbox.drain(client)
    posts = portal.requests(method="POST", path="/api/v1/feedback")
    puts = [r for r in portal.requests(method="PUT") if "/attachments/" in r.path]
    assert len(posts) == 1 and len(puts) == 1 and puts[0].id < posts[0].id
    body = json.loads(posts[0].body)
    assert body["anonymous"] is True and "applicant" not in body and "phone" not in body
    assert body["slip_code"] == slip and body["recording"]["seconds"] >= 7

    # The authority answers; the status look-up finds it by the slip code.
    assert posts[0].status == 201, (posts[0].status, posts[0].error, puts[0].status)
    [stored] = portal.feedback.feedbacks()
    portal.feedback.answer_feedback(stored["code"], text={"vi": "Đã kiểm tra nguồn nước."})
    ctx.two_way(client, force=True)
    win.nav.go("status_lookup")
    lookup = win.current_screen()
    lookup.code.setText(slip.lower())
    taps(lookup.look)
    status = win.current_screen()
    assert status.name == "feedback_status"
    assert status.answer.text() == "Đã kiểm tra nguồn nước."
    taps(status.listen)
    assert spoken(ctx)[-1].text == "Đã kiểm tra nguồn nước."
    # The portal's own code works as well.
    win.nav.go("status_lookup")
    lookup = win.current_screen()
    lookup.code.setText(stored["code"])
    taps(lookup.look)
    assert win.current_screen().name == "feedback_status"
