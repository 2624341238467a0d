"""The Qt bridge re-emits the worker's state on the UI thread; the clerk bar says in plain
words what is going on (offline, waiting, refused credentials, wrong clock)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from kiosk.portal import Faults
from kiosk.qt.sync_bridge import SyncBridge
from kiosk.services.i18n import Translator
from kiosk.services.models import DELIVERED
from kiosk.services.outbox import AuthAlert, ClockAlert, OutboxStatus
from kiosk.services.sync import SyncState
from kiosk.views.clerk_bar import ClerkBar, format_age
from tests.outbox_helpers import TOKEN, counts, fast_outbox, new_portal, open_kiosk, seed


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


@pytest.fixture
def tr():
    translator = Translator.from_resources()
    return lambda key, **values: translator.tr(key, "en", **values)


def _bridge(outbox) -> SyncBridge:
    return SyncBridge(
        outbox,
        status_interval=None,
        catalogue_interval=None,
        idle_interval=0.2,
        state_interval=0.05,
    )


def test_bridge_emits_on_the_ui_thread_and_the_bar_follows(qtbot, kiosk_qapp, kiosk, tmp_path, tr):
    portal = new_portal(tmp_path, faults=Faults(latency=0.01))
    seed(kiosk, 5)
    bridge = _bridge(fast_outbox(kiosk, portal.url))
    bar = ClerkBar(bridge, tr)
    qtbot.addWidget(bar)
    threads = []
    bridge.state_changed.connect(lambda _state: threads.append(threading.current_thread()))
    assert bar.connection.text() == "Checking the connection to the portal…"
    bridge.start()
    try:
        qtbot.waitUntil(lambda: counts(kiosk) == {DELIVERED: 5}, timeout=15000)
        qtbot.waitUntil(
            lambda: (
                bridge.state is not None
                and bridge.state.status is not None
                and bridge.state.status.counts[DELIVERED] == 5
            ),
            timeout=5000,
        )
    finally:
        bridge.stop()
        portal.stop()
    assert threads and all(t is threading.main_thread() for t in threads)
    assert bar.connection.text() == "Connected to the portal"
    assert bar.waiting.text() == "Nothing waiting to be sent"
    assert bar.last.text().startswith("Last delivered: ")
    assert not bar.alert.isVisible() and bar.alert.text() == ""


def test_clerk_bar_tells_the_clerk_when_credentials_are_refused(
    qtbot, kiosk_qapp, kiosk, tmp_path, tr
):
    portal = new_portal(tmp_path)
    portal.remove_token(TOKEN)
    seed(kiosk, 3)
    bridge = _bridge(fast_outbox(kiosk, portal.url))
    bar = ClerkBar(bridge, tr)
    qtbot.addWidget(bar)
    bar.show()
    bridge.start()
    try:
        qtbot.waitUntil(
            lambda: (
                bridge.state is not None
                and bridge.state.status is not None
                and bridge.state.status.auth_alert is not None
            ),
            timeout=10000,
        )
        assert "access token is no longer valid" in bar.alert.text()
        assert bar.alert.isVisible()
        assert bar.waiting.text().startswith("3 dossier(s) waiting to be sent (since ")
        # The clerk types the new token: the alert goes away, the dossiers go out.
        portal.add_token("token-fixed")
        bridge.update_credentials(token="token-fixed")
        qtbot.waitUntil(lambda: counts(kiosk) == {DELIVERED: 3}, timeout=10000)
        qtbot.waitUntil(lambda: not bar.alert.isVisible(), timeout=5000)
    finally:
        bridge.stop()
        portal.stop()


def test_clerk_bar_texts_offline_clock_and_needs_clerk(qtbot, kiosk_qapp, tr):
    now = datetime(2026, 11, 23, 10, 0, 0)
    bar = ClerkBar(None, tr, now=lambda: now)
    qtbot.addWidget(bar)
    counts_ = {
        "queued": 4,
        "sending": 0,
        "delivered": 10,
        "needs_clerk": 2,
        "auth_blocked": 0,
        "handled": 0,
    }
    status = OutboxStatus(
        counts_,
        4,
        now - timedelta(hours=3),
        now - timedelta(hours=3, minutes=5),
        2,
        None,
        ClockAlert(7200.0, "outbox.alert.clock", "2 h"),
    )
    bar.set_state(SyncState(False, status))
    assert bar.connection.text().startswith("Offline")
    assert bar.waiting.text().startswith("4 dossier(s) waiting to be sent (since ")
    assert bar.waiting.text().endswith(", 3 h)")
    assert "clock is off by about 120 min" in bar.alert.text()
    assert "2 dossier(s) need a clerk's check." in bar.alert.text()
    blocked = OutboxStatus(
        counts_,
        4,
        None,
        None,
        0,
        AuthAlert("revoked", 401, now, "outbox.alert.auth.revoked", ""),
        None,
    )
    bar.set_state(SyncState(True, blocked))
    assert "permission to send dossiers was revoked" in bar.alert.text()
    assert bar.last.text() == "Last delivered: none yet"


def test_ages_in_plain_words(tr):
    assert format_age(20, tr) == "just now"
    assert format_age(12 * 60, tr) == "12 min"
    assert format_age(5 * 3600, tr) == "5 h"
    assert format_age(3 * 86400, tr) == "3 days"


def test_vietnamese_texts_exist_for_every_key():
    translator = Translator.from_resources()
    keys = [k for k in translator.catalogues["en"] if k.startswith("outbox.")]
    assert len(keys) >= 20
    assert all(translator.has(k, "vi") for k in keys)


def test_clerk_bar_counts_waiting_payments_and_feedback(qtbot, kiosk_qapp, tr, tmp_path):
    """A fee payment and a citizen's feedback recorded while the portal is away wait
    beside the dossier, and the clerk bar says so (not "nothing waiting")."""
    from kiosk.services.feedback import FeedbackDraft, FeedbackService
    from kiosk.services.payments import CASH, PaymentService
    from tests.feedback_helpers import voice
    from tests.outbox_helpers import KIOSK_ID, fast_outbox, open_kiosk, seed

    kiosk = open_kiosk(tmp_path / "data")
    try:
        outbox = fast_outbox(kiosk, "http://127.0.0.1:9/api/v1")  # nobody listens there
        bar = ClerkBar(None, tr)
        qtbot.addWidget(bar)
        bar.set_state(SyncState(False, outbox.status()))
        assert bar.waiting.text() == tr("outbox.bar.none_waiting")
        [dossier_id] = seed(kiosk, 1)
        PaymentService(kiosk.store, KIOSK_ID).record(dossier_id, CASH, None, amount_vnd=5000)
        feedback = FeedbackService(
            kiosk.store, kiosk.dossiers.cipher, KIOSK_ID, kiosk.data_dir / "attachments"
        )
        feedback.confirm(
            FeedbackDraft(topic="water", language="vi", identity="anonymous", recording=voice(3.0))
        )
        feedback.confirm(
            FeedbackDraft(topic="roads", language="vi", identity="anonymous", text="x")
        )
        status = outbox.status()
        assert (status.waiting, status.payments_waiting, status.feedback_waiting) == (1, 1, 2)
        assert status.to_json()["feedback_waiting"] == 2
        bar.set_state(SyncState(False, status))
        text = bar.waiting.text()
        assert text.startswith("1 dossier(s) waiting to be sent")
        assert "1 fee payment(s) waiting to be sent" in text
        assert "2 feedback message(s) waiting to be sent" in text
        assert bar.waiting.property("level") == "warn"
        outbox.close()
    finally:
        kiosk.close()
