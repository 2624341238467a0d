"""Status look-up from the receipt alone, and ratings."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.tasks import TaskRunner
from kiosk.services.models import Dossier, Rating
from kiosk.services.receipt_code import make_code
from kiosk.services.status import StatusError, StatusService
from kiosk.views.shell import MainWindow
from tests.store_helpers import draft


@pytest.fixture
def ctx(data_dir):
    settings = load_settings(env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir))
    c = build_context(settings)
    yield c
    c.close()


def set_state(ctx, dossier_id, **values):
    def write(s):
        d = s.get(Dossier, dossier_id)
        for k, v in values.items():
            setattr(d, k, v)

    ctx.store.write_sync(write)


@pytest.mark.parametrize(
    ("state", "portal_status", "expected"),
    [
        ("queued", None, "waiting_to_send"),
        ("sending", None, "waiting_to_send"),
        ("auth_blocked", None, "waiting_to_send"),
        ("needs_clerk", None, "needs_clerk"),
        ("delivered", None, "received"),
        ("delivered", "processing", "processing"),
        ("delivered", "needs_info", "needs_info"),
        ("delivered", "completed", "completed"),
        ("delivered", "rejected", "rejected"),
    ],
)
def test_each_state_offline(ctx, state, portal_status, expected):
    confirmed = ctx.dossiers.confirm(draft())
    seen_at = datetime(2026, 11, 22, 8, 0)
    set_state(
        ctx,
        confirmed.id,
        state=state,
        portal_status=portal_status,
        portal_status_at=seen_at if portal_status else None,
        delivered_at=seen_at if state == "delivered" else None,
        dossier_code="QN-2026-000001" if state == "delivered" else None,
        portal_message=json.dumps({"vi": "Thiếu giấy chứng sinh"}) if portal_status else None,
    )

    def offline(_dossier_id):
        raise ConnectionError("no network")

    view = StatusService(ctx.store, refresh=offline).lookup(confirmed.receipt_code.lower())
    assert view.status == expected and not view.fresh
    if state == "delivered":
        assert view.as_of == seen_at  # the last status known, with its time
    else:
        assert view.as_of is None  # nothing heard from the portal yet: said honestly


def test_online_refresh_is_used_and_reported_fresh(ctx):
    confirmed = ctx.dossiers.confirm(draft())
    set_state(
        ctx,
        confirmed.id,
        state="delivered",
        dossier_code="QN-2026-000009",
        delivered_at=datetime(2026, 11, 22, 8, 0),
    )
    calls = []

    def refresh(dossier_id):
        calls.append(dossier_id)
        set_state(
            ctx,
            dossier_id,
            portal_status="completed",
            portal_status_at=datetime(2026, 11, 23, 9, 0),
        )

    view = StatusService(ctx.store, refresh=refresh).lookup(confirmed.receipt_code)
    assert calls == [confirmed.id] and view.status == "completed" and view.fresh


def test_bad_and_unknown_codes(ctx):
    service = StatusService(ctx.store)
    with pytest.raises(StatusError) as err:
        service.lookup("hello")
    assert err.value.key == "status.err.bad_code"
    with pytest.raises(StatusError) as err:
        service.lookup(make_code("QN01", 999999))
    assert err.value.key == "status.err.unknown"


def test_lookup_from_the_receipt_qr_uri(ctx):
    from kiosk.services.receipt_code import receipt_uri

    confirmed = ctx.dossiers.confirm(draft())
    uri = receipt_uri(ctx.settings.status_url, confirmed.receipt_code)
    assert StatusService(ctx.store).lookup(uri).receipt_code == confirmed.receipt_code


def test_rating_stored_per_procedure_and_day(ctx):
    service = StatusService(ctx.store)
    service.rate(4, None, "1.001193", "vi")
    service.rate(2, "waiting_time", "1.001193", "tyz")
    service.rate(3)
    rows = ctx.store.read(lambda s: s.scalars(select(Rating).order_by(Rating.id)).all())
    assert [(r.face, r.reason, r.procedure_code, r.language) for r in rows] == [
        (4, None, "1.001193", "vi"),
        (2, "waiting_time", "1.001193", "tyz"),
        (3, None, None, "vi"),
    ]
    assert all(r.day == date.today() for r in rows)
    with pytest.raises(ValueError):
        service.rate(5)
    with pytest.raises(ValueError):
        service.rate(3, "weather")


def test_screens_look_up_typed_code_and_rate(ctx, kiosk_qapp, qtbot):
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.start()
    confirmed = ctx.dossiers.confirm(draft())
    home = win.current_screen()
    qtbot.mouseClick(home.tiles["home.status"], Qt.MouseButton.LeftButton)
    lookup = win.current_screen()
    assert lookup.name == "status_lookup"
    lookup.code.setText("nonsense")
    qtbot.mouseClick(lookup.look, Qt.MouseButton.LeftButton)
    assert lookup.error.text() == ctx.translator.tr("status.err.bad_code", "vi")
    lookup.code.setText(confirmed.receipt_code)
    qtbot.mouseClick(lookup.look, Qt.MouseButton.LeftButton)
    result = win.current_screen()
    assert result.name == "status_result"
    assert result.title.text() == ctx.translator.tr("status.state.waiting_to_send", "vi")
    win.nav.cancel()
    qtbot.mouseClick(win.current_screen().tiles["home.rate"], Qt.MouseButton.LeftButton)
    rating = win.current_screen()
    qtbot.mouseClick(rating.face_tiles[1], Qt.MouseButton.LeftButton)
    kiosk_qapp.processEvents()
    qtbot.mouseClick(rating.reason_tiles["kiosk_hard"], Qt.MouseButton.LeftButton)
    assert rating.thanks.text() == ctx.translator.tr("rating.thanks", "vi")
    rows = ctx.store.read(lambda s: s.scalars(select(Rating)).all())
    assert [(r.face, r.reason) for r in rows] == [(1, "kiosk_hard")]
    # The thank-you shows for 5 s, then the kiosk is home again by itself.
    assert rating.home_timer.interval() == 5000 and rating.home_timer.isActive()
    assert win.nav.current == "rating"
    rating.home_timer.setInterval(50)
    rating.home_timer.start()
    qtbot.waitUntil(lambda: win.nav.current == "home", timeout=3000)
