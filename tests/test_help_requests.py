"""'Ask a clerk' reaches a clerk: the citizen's tap on the unreadable-card screen is stored,
the clerks' screens on the same database show it with its time and kiosk, the citizen is
told (and hears) that a clerk is coming, and the clerk marks it handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt import stage
from kiosk.qt.tasks import TaskRunner
from kiosk.services.help_requests import HelpRequests
from kiosk.services.models import AuditEntry, HelpRequest

LEFT = Qt.MouseButton.LeftButton


def test_a_visit_asks_once_and_a_clerk_closes_it(app_ctx):
    clock = [datetime(2026, 12, 6, 9, 0)]
    help_requests = HelpRequests(app_ctx.store, "KIOSK-A", clock=lambda: clock[0])
    first = help_requests.ask(visit=3)
    clock[0] += timedelta(minutes=1)
    again = help_requests.ask(visit=3)  # the same citizen tapping twice: one request
    other = HelpRequests(app_ctx.store, "KIOSK-B", clock=lambda: clock[0]).ask(visit=3)
    assert again.id == first.id and again.asked_at == datetime(2026, 12, 6, 9, 0)
    assert [c.id for c in help_requests.waiting()] == [first.id, other.id]  # oldest first
    assert [c.kiosk_id for c in help_requests.waiting()] == ["KIOSK-A", "KIOSK-B"]
    clock[0] += timedelta(minutes=2)
    done = help_requests.handle(first.id, clerk_id=None)
    assert done.handled_at == datetime(2026, 12, 6, 9, 3) and not done.open
    assert help_requests.handle(first.id, clerk_id=None).handled_at == done.handled_at
    assert [c.id for c in help_requests.waiting()] == [other.id]
    assert help_requests.ask(visit=3).id != first.id  # a new request once the last was handled
    with pytest.raises(ValueError):
        help_requests.ask(visit=4, reason="anything")


def _settings(data_dir):
    return load_settings(
        env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir), speech="mock"
    )


@pytest.fixture
def kiosk(stage_window):
    return stage_window


def _unreadable_card(win):
    """The identify screen, 8 s without a read: the tips and 'ask a clerk' are shown."""
    win.nav.history = [("home", {})]
    win.nav.go("identify")
    stage.settle()
    screen = win.current_screen()
    screen.hint_timer.timeout.emit()
    assert screen.clerk_button.isVisible()
    return screen


def test_ask_a_clerk_reaches_the_clerks_queue_screen_and_is_handled(kiosk, data_dir, qtbot):
    app = kiosk.vc.app
    screen = _unreadable_card(kiosk)
    qtbot.mouseClick(screen.clerk_button, LEFT)
    stage.settle()
    rows = app.store.read(lambda s: s.scalars(select(HelpRequest)).all())
    assert len(rows) == 1
    row = rows[0]
    assert (row.kiosk_id, row.visit, row.reason) == (
        app.settings.kiosk_id,
        app.session.visit,
        "card_unreadable",
    )
    # The citizen reads and hears that a clerk is coming; the button cannot call twice.
    local = row.asked_at.replace(tzinfo=UTC).astimezone()
    assert screen.tips.text() == kiosk.vc.tr("help.coming_since", time=local.strftime("%H:%M"))
    assert screen.tips.isVisible()
    assert not screen.clerk_button.isEnabled()
    assert screen.clerk_button.text() == kiosk.vc.tr("help.asked")
    assert app.speech.engine.spoken[-1].key == "help.coming"

    # The counter's screen: another machine on the same database.
    ctx = build_context(_settings(data_dir))
    tasks = TaskRunner()
    tasks.inline = True
    counter = stage.build_window(ctx, tasks, 1280, 800)
    try:
        from kiosk.views.screens.clerk_samples import sample_login

        desk = sample_login(counter.vc)
        counter.nav.history = [("home", {})]
        counter.nav.go("clerk_queue")
        stage.settle()
        queue = counter.current_screen()
        assert queue.name == "clerk_queue"
        assert queue.help_title.isVisible()
        assert list(queue.help_buttons) == [row.id]
        line = queue.findChild(type(queue.help_title), "help_line")
        assert app.settings.kiosk_id in line.text() and local.strftime("%H:%M") in line.text()
        assert kiosk.vc.tr("help.reason.card_unreadable") in line.text()
        bar = counter.clerk_bar
        assert bar.isVisible() and bar.help.isVisible()
        assert bar.help.text() == counter.vc.tr(
            "help.bar", n=1, time=local.strftime("%H:%M"), kiosk=app.settings.kiosk_id
        )
        qtbot.mouseClick(queue.help_buttons[row.id], LEFT)
        stage.settle()
        done = ctx.store.read(lambda s: s.get(HelpRequest, row.id))
        assert done.handled_at is not None and done.handled_by == desk.clerk.id
        audit = ctx.store.read(
            lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == "help.handled")).all()
        )
        assert len(audit) == 1 and app.settings.kiosk_id in audit[0].detail
        assert queue.help_buttons == {} and not queue.help_title.isVisible()
        bar.poll_help()
        assert not bar.help.isVisible()
    finally:
        counter.close()
        counter.deleteLater()
        stage.settle()
        ctx.close()


def test_a_request_that_cannot_be_stored_says_to_go_to_the_desk(kiosk, qtbot, monkeypatch):
    def broken(self, visit, reason="card_unreadable"):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(HelpRequests, "ask", broken)
    screen = _unreadable_card(kiosk)
    qtbot.mouseClick(screen.clerk_button, LEFT)
    stage.settle()
    assert screen.tips.text() == kiosk.vc.tr("help.failed")
    assert screen.clerk_button.isEnabled()  # the citizen may try again
    assert kiosk.vc.app.speech.engine.spoken[-1].key == "help.failed"
    assert kiosk.vc.app.store.read(lambda s: s.scalars(select(HelpRequest)).all()) == []
