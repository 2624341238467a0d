"""The studio's "offer to the province" button, tapped by a reviewer on the real screen: the
commune's approved work reaches the reference portal (127.0.0.1, real HTTP) as a pack."""

from __future__ import annotations

import pytest

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.speech_bridge import install_speech
from kiosk.qt.sync_bridge import SyncBridge
from kiosk.qt.tasks import TaskRunner
from kiosk.services.langpacks import read_pack, sha256
from kiosk.views.screens.clerk_common import desk
from kiosk.views.shell import MainWindow
from tests.outbox_helpers import KIOSK_ID, SECRET, TOKEN, new_portal
from tests.test_studio import Taps


@pytest.fixture
def kiosk(kiosk_qapp, tmp_path, qtbot):
    portal = new_portal(tmp_path)
    data = tmp_path / "kiosk"
    data.mkdir()
    settings = load_settings(
        env={},
        config_path=data / "none.toml",
        data_dir=str(data),
        speech="mock",
        microphone="simulated",
        portal_url=portal.url,
        kiosk_id=KIOSK_ID,
        secret=SECRET,
        portal_token=TOKEN,
        portal_connect_timeout=1.0,
        portal_read_timeout=3.0,
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    install_speech(win, ctx)
    qtbot.addWidget(win)
    # The sync bridge's outbox is how the studio reaches the portal (its worker not started:
    # the button's own request is what is tested).
    ctx.sync = SyncBridge.from_context(ctx, parent=win)
    win.resize(1280, 800)
    win.show()
    yield win, ctx, portal
    win.close()
    ctx.sync.outbox.close()
    ctx.close()
    portal.stop()


def test_a_reviewer_offers_the_approved_work_to_the_province(kiosk, tmp_path, qtbot):
    win, ctx, portal = kiosk
    taps = Taps(qtbot)
    screen = win.show_sample("studio")  # a clerk who translates and reviews; Tày
    assert screen.name == "studio" and screen.lang() == "tyz"
    assert screen.offer_button.isVisible()
    # Nothing approved yet: the portal is not bothered, the reviewer is told.
    taps(screen.offer_button)
    assert screen.message.text() == ctx.translator.tr("studio.err.nothing_approved", "vi")
    assert portal.contributions() == []
    # Another reviewer approves the draft the sample clerk made.
    clerks = desk(ctx).clerks
    admin = desk(ctx).clerk
    clerks.create("hoa", "Hoàng Văn Hoà", "clerk", "1357")
    hoa = clerks.set_role("hoa", "reviewer", True, admin)
    item = ctx.studio.items()[1].item
    ctx.studio.review("tyz", item, hoa, approve=True)

    taps(screen.offer_button)
    assert screen.message.text() == ctx.translator.tr("studio.offer.sent", "vi")
    [(sha, kiosk_id, data)] = portal.contributions()
    assert kiosk_id == KIOSK_ID and sha == sha256(data)
    pack_file = tmp_path / "offered.zip"
    pack_file.write_bytes(data)
    pack = read_pack(pack_file)
    assert pack.language == "tyz" and "Khảm pây!" in pack.strings.values()
    assert pack.manifest["reviewers"] == ["hoa"]
    # The same work again: the province has it already, nothing is added.
    taps(screen.offer_button)
    assert screen.message.text() == ctx.translator.tr("studio.offer.already", "vi")
    assert len(portal.contributions()) == 1

    # The portal out of reach: the reviewer is told to try later.
    portal.stop()
    taps(screen.offer_button)
    assert screen.message.text() == ctx.translator.tr("studio.offer.offline", "vi")
