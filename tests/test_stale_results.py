"""A background result belongs to the visit and the screen that asked for it: an answer
that arrives after the citizen left never moves the screen they are on now."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.tasks import TaskRunner
from kiosk.views.screens.status import _sample_result
from kiosk.views.shell import MainWindow
from tests.test_journey import MARITAL, Taps, answer_marital, dossiers, screen, start_procedure
from tests.test_journey import type_manual as type_card


class SlowStatus:
    """A status service whose answer waits until the test lets it go."""

    def __init__(self) -> None:
        self.asked, self.release = threading.Event(), threading.Event()

    def lookup(self, text: str):
        self.asked.set()
        assert self.release.wait(20)
        return _sample_result(None)["view"]


class SlowDossiers:
    """The dossier service, with confirm() held until the test lets it go."""

    def __init__(self, real) -> None:
        self.real = real
        self.asked, self.release = threading.Event(), threading.Event()

    def confirm(self, draft):
        self.asked.set()
        assert self.release.wait(20)
        return self.real.confirm(draft)


@pytest.fixture
def win(kiosk_qapp, data_dir, qtbot):
    settings = load_settings(env={}, config_path=data_dir / "x.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    tasks = TaskRunner()  # real threads: results come back later, through the event loop
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    yield window
    tasks.wait(20000)
    ctx.close()


def ask_status(win, qtbot, slow: SlowStatus) -> None:
    win.vc.app.status = slow
    taps = Taps(qtbot)
    taps(screen(win).tiles["home.status"])
    lookup = screen(win)
    assert lookup.name == "status_lookup"
    lookup.code.setText("QN01-000123-J")
    taps(lookup.look)
    assert slow.asked.wait(10)


def answer_arrives(win, qtbot, slow, dropped: int) -> None:
    slow.release.set()
    qtbot.waitUntil(lambda: win.vc.tasks.dropped == dropped and not win.vc.tasks._relays)
    qtbot.wait(50)


def test_a_status_answer_still_shows_when_the_citizen_waits(win, qtbot):
    slow = SlowStatus()
    ask_status(win, qtbot, slow)
    slow.release.set()
    qtbot.waitUntil(lambda: win.nav.current == "status_result", timeout=10000)


def test_a_status_answer_after_cancel_leaves_the_home_screen(win, qtbot):
    slow = SlowStatus()
    ask_status(win, qtbot, slow)
    win.nav.cancel()  # what Cancel and the idle timeout do: the visit ends
    assert win.nav.current == "home"
    answer_arrives(win, qtbot, slow, dropped=1)
    assert win.nav.current == "home" and len(win.nav.history) == 1


def test_a_status_answer_after_back_leaves_the_home_screen(win, qtbot):
    slow = SlowStatus()
    ask_status(win, qtbot, slow)
    Taps(qtbot)(screen(win).back_button)
    assert win.nav.current == "home"
    answer_arrives(win, qtbot, slow, dropped=1)
    assert win.nav.current == "home" and len(win.nav.history) == 1


def review_with_slow_save(win, qtbot) -> SlowDossiers:
    app = win.vc.app
    slow = SlowDossiers(app.dossiers)
    app.journey.dossiers = slow
    taps = Taps(qtbot)
    start_procedure(win, taps, MARITAL)
    taps(screen(win).manual_button)
    type_card(win, taps)
    answer_marital(win, taps)
    review = screen(win)
    assert review.name == "review"
    qtbot.mouseClick(review.confirm, Qt.MouseButton.LeftButton)
    assert slow.asked.wait(10)
    return slow


def test_a_dossier_saved_after_back_still_gets_its_receipt(win, qtbot):
    slow = review_with_slow_save(win, qtbot)
    Taps(qtbot)(screen(win).back_button)
    assert screen(win).name == "form"
    slow.release.set()
    qtbot.waitUntil(lambda: win.nav.current == "done", timeout=20000)
    assert len(dossiers(win)) == 1 and dossiers(win)[0].receipt_printed


def test_a_dossier_saved_after_cancel_does_not_reopen_the_journey(win, qtbot):
    slow = review_with_slow_save(win, qtbot)
    win.nav.cancel()
    answer_arrives(win, qtbot, slow, dropped=1)
    assert win.nav.current == "home" and len(win.nav.history) == 1
    rows = dossiers(win)
    assert len(rows) == 1 and rows[0].state == "queued"  # saved is saved
    assert win.vc.app.journey.session.applicant is None
