"""Every screen of the registry renders with data in the kiosk's window, and the screens
that no other test renders with real data get their own test here (the clerk's feedback
list, the card scan for feedback with one's identity)."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.qt import stage
from kiosk.views import registry

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def win(stage_window):
    return stage_window


def _visible_texts(screen) -> list[str]:
    texts = [w.text() for w in screen.findChildren(QLabel) if w.isVisible() and w.text()]
    texts += [w.text() for w in screen.findChildren(QPushButton) if w.isVisible() and w.text()]
    return texts


@pytest.mark.timeout(300)
def test_every_registered_screen_renders_its_data_without_an_error(win, caplog):
    registry.discover()
    names = sorted(spec.name for spec in registry.screens())
    assert len(names) >= 45
    caplog.set_level(logging.ERROR)
    rendered = []
    for name in names:
        screen = win.show_sample(name)
        stage.settle()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], f"{name}: {[r.getMessage() for r in errors]}"
        render_error = getattr(screen, "render_error", None)
        assert render_error is None or not render_error.text(), name
        assert _visible_texts(screen), f"{name} shows nothing"
        rendered.append(name)
    assert rendered == names


def test_the_clerks_feedback_list_shows_each_feedback_and_its_answer(win, qtbot):
    screen = win.show_sample("clerk_feedback")
    stage.settle()
    table = screen.table
    assert table.rowCount() == 2
    rows = [
        [table.item(r, c).text() if table.item(r, c) else "" for c in range(7)]
        for r in range(table.rowCount())
    ]
    answered = next(r for r in rows if "PA-QN-2026-000042" in r[5])
    assert answered[2] == win.vc.tr("feedback.citizen.topic.roads")
    assert answered[6].startswith("Đã cử người")
    assert screen.summary.text() == win.vc.tr("clerk.feedback.summary", n=2)
    # Tapping a row shows its whole answer under the table.
    row = rows.index(answered)
    table.cellClicked.emit(row, 0)
    assert screen.detail.text() == "Đã cử người sửa đường."
    # Nobody's phone number is shown: the feedback given with one says only how.
    assert not any("0912345678" in cell for r in rows for cell in r)


def test_feedback_with_ones_identity_reads_the_card(win, qtbot):
    from kiosk.hardware.camera import SimulatedCamera
    from kiosk.paths import resource
    from kiosk.qt.camera_bridge import bridge_factory

    app = win.vc.app
    app.camera = bridge_factory(lambda: SimulatedCamera(resource("samples", "camera")))
    win.nav.history = [("home", {})]
    win.nav.go("feedback_card")
    stage.settle()
    assert win.current_screen().status.text() == win.vc.tr("feedback.citizen.card.hint")
    qtbot.waitUntil(lambda: win.nav.current == "feedback_identity", timeout=20000)
    applicant = app.session.applicant
    assert applicant is not None and len(applicant.id_number) == 12
    assert applicant.id_source == "qr_scan"


def test_feedback_card_without_a_camera_says_so(win):
    win.vc.app.camera = None
    win.nav.history = [("home", {})]
    win.nav.go("feedback_card")
    stage.settle()
    assert win.current_screen().status.text() == win.vc.tr("identify.no_camera")
