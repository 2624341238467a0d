"""Lock-down: no way out without an admin PIN, one instance, the crash guard, no citizen
screen before setup, logs that stay small."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from kiosk.commands.run import build_window, open_kiosk
from kiosk.config import load_settings
from kiosk.qt.lockdown import KioskLock, SingleInstance
from kiosk.services.clerks import ClerkService
from kiosk.services.installation import CRASH_FILE, CrashGuard
from kiosk.views import registry
from tests.deploy_helpers import (
    ADMIN,
    ADMIN_PIN,
    CLERK,
    CLERK_PIN,
    ROOT,
    kiosk_env,
    set_up_kiosk,
)


@pytest.fixture
def kiosk(tmp_path, monkeypatch, kiosk_qapp):
    """A set-up kiosk's context (admin + clerk accounts)."""
    set_up_kiosk(monkeypatch, tmp_path)
    ctx, reason, cleanup = open_kiosk(load_settings())
    assert reason is None
    clerks = ClerkService(ctx.store)
    admin = clerks.verify(ADMIN, ADMIN_PIN)
    clerks.create(CLERK, "Lò Thị Mai", "clerk", CLERK_PIN, by=admin)
    yield ctx
    ctx.close()
    cleanup()


@pytest.fixture
def locked(kiosk, qtbot):
    window = build_window(kiosk, None)
    qtbot.addWidget(window)
    lock = KioskLock(window, ClerkService(kiosk.store), kiosk.tr)
    window.show()
    window.start()
    qtbot.waitExposed(window)
    yield window, lock
    lock.unlocked = True  # let the test's clean-up close it
    lock.remove()


def _actions(ctx) -> list[str]:
    return [e.action for e in ClerkService(ctx.store).audit_trail()]


def test_close_requests_are_ignored(locked, qtbot):
    window, _ = locked
    assert window.close() is False
    qtbot.wait(20)
    assert window.isVisible()


def test_escape_and_alt_f4_are_swallowed(locked, qtbot):
    window, lock = locked
    probe = QLineEdit(window)
    probe.show()
    seen: list[int] = []
    probe.keyPressEvent = lambda event: seen.append(event.key())
    QTest.keyClick(probe, Qt.Key.Key_Escape)
    QTest.keyClick(probe, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(probe, Qt.Key.Key_A)  # other keys go through
    assert [k for k in seen if k != Qt.Key.Key_Alt] == [Qt.Key.Key_A]
    assert lock.swallowed == 2
    assert window.isVisible()


def _dialog(lock):
    assert lock.dialog is not None and lock.dialog.isVisible()
    return lock.dialog


def _type(qtbot, dialog, user: str, pin: str) -> None:
    dialog.username.setText(user)
    dialog.pin.clear()
    QTest.keyClicks(dialog.pin, pin)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)


def test_wrong_pin_keeps_the_window_right_admin_pin_closes_it(locked, qtbot, kiosk):
    window, lock = locked
    exited: list[bool] = []
    lock.exited.connect(lambda: exited.append(True))
    QTest.keyClick(
        window,
        Qt.Key.Key_Q,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    dialog = _dialog(lock)
    _type(qtbot, dialog, ADMIN, "000000")
    assert window.isVisible() and not exited
    assert dialog.isVisible() and dialog.message.text() == kiosk.tr("deploy.exit.bad_pin")
    assert dialog.pin.text() == ""  # a wrong PIN is not left in the field
    _type(qtbot, dialog, "nobody", ADMIN_PIN)
    assert window.isVisible()
    _type(qtbot, dialog, ADMIN, ADMIN_PIN)
    assert exited == [True]
    assert not window.isVisible()
    actions = _actions(kiosk)
    assert "kiosk.unlock.bad_pin" in actions and "kiosk.unlock.unknown_user" in actions
    assert actions[0] == "kiosk.exit"


def test_a_clerk_pin_cannot_leave_the_kiosk(locked, qtbot, kiosk):
    window, lock = locked
    dialog = lock.request_exit()
    _type(qtbot, dialog, CLERK, CLERK_PIN)
    assert window.isVisible() and not lock.unlocked
    assert dialog.message.text() == kiosk.tr("deploy.exit.not_admin")
    assert "kiosk.exit.refused" in _actions(kiosk)


def test_five_wrong_pins_lock_the_admin_out(locked, qtbot, kiosk):
    window, lock = locked
    dialog = lock.request_exit()
    for _ in range(5):
        _type(qtbot, dialog, ADMIN, "000000")
    _type(qtbot, dialog, ADMIN, ADMIN_PIN)  # right PIN, but locked for 5 minutes
    assert window.isVisible()
    assert dialog.message.text() == kiosk.tr("deploy.exit.locked")


def test_five_taps_in_the_corner_open_the_pin_dialog(locked, qtbot):
    window, lock = locked
    opened: list[object] = []
    lock.dialog_opened.connect(opened.append)
    for _ in range(4):
        QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert not opened
    QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(400, 400))  # breaks the run
    for _ in range(5):
        QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert len(opened) == 1


# --- no citizen screen before setup ------------------------------------------------------------


def _oos_window(tmp_path, monkeypatch, qtbot, crashed: bool = False, demo: bool = False):
    kiosk_env(monkeypatch, tmp_path, **({"KIOSK_DEMO": "1"} if demo else {}))
    ctx, reason, cleanup = open_kiosk(load_settings(), crashed)
    window = build_window(ctx, reason)
    qtbot.addWidget(window)
    window.show()
    window.start()
    return ctx, reason, cleanup, window


def test_no_citizen_screen_before_setup(tmp_path, monkeypatch, qtbot, kiosk_qapp):
    ctx, reason, cleanup, window = _oos_window(tmp_path, monkeypatch, qtbot)
    try:
        assert reason == "setup"
        screen = window.current_screen()
        assert screen.name == "out_of_service"
        assert screen.message.text() == ctx.tr("oos.reason.setup")
        # Cancel, the idle reset and "home" all lead back to the same screen.
        window.nav.cancel()
        window.reset_session()
        window.nav.home()
        window._on_idle()
        assert window.current_screen().name == "out_of_service"
        citizen = {s.name for s in registry.screens() if s.audience == "citizen"}
        assert not citizen & set(window.screens)
    finally:
        window.close()
        ctx.close()
        cleanup()


def test_crashed_kiosk_shows_out_of_service_with_the_phone(
    tmp_path, monkeypatch, qtbot, kiosk_qapp
):
    set_up_kiosk(monkeypatch, tmp_path)
    ctx, reason, cleanup = open_kiosk(load_settings(), crashed=True)
    window = build_window(ctx, reason)
    qtbot.addWidget(window)
    try:
        window.show()
        window.start()
        window.reset_session()
        screen = window.current_screen()
        assert (reason, screen.name) == ("crashed", "out_of_service")
        assert screen.message.text() == ctx.tr("oos.reason.crashed")
        assert screen.phone.text() == ctx.settings.support_phone
    finally:
        window.close()
        ctx.close()
        cleanup()


def test_a_broken_database_shows_out_of_service(tmp_path, monkeypatch, qtbot, kiosk_qapp):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    (settings.data_dir / "kiosk.db").write_bytes(b"this is not a database" * 100)
    for extra in settings.data_dir.glob("kiosk.db-*"):
        extra.unlink()
    ctx, reason, cleanup = open_kiosk(settings)
    try:
        assert reason == "store"
    finally:
        ctx.close()
        cleanup()


# --- one instance ----------------------------------------------------------------------------

HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from kiosk.qt.lockdown import SingleInstance
lock = SingleInstance(Path({folder!r}))
print("held" if lock.acquire() else "refused", flush=True)
time.sleep(60)
"""


def test_a_second_kiosk_is_refused_and_a_dead_ones_lock_taken_over(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(root=str(ROOT), folder=str(data))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not SingleInstance(data).acquire()
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_FULLSCREEN": "0"}
        second = subprocess.run(
            [sys.executable, "-m", "kiosk", "run", "--exit-when-ready"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3
        assert "đang chạy" in second.stderr and f"PID {holder.pid}" in second.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = SingleInstance(data)
    assert lock.acquire()  # the killed process's lock is stale
    lock.release()


# --- crash guard -----------------------------------------------------------------------------


def test_crash_guard_trips_after_three_crashes_in_five_minutes(tmp_path):
    guard = CrashGuard(tmp_path / CRASH_FILE)
    t = 1_000_000.0
    assert [guard.start(t), guard.start(t + 10), guard.start(t + 20)] == [False, False, False]
    assert guard.start(t + 30) is True  # three earlier starts never exited cleanly
    assert guard.tripped(t + 30 + 301) is False  # the old ones age out of the window
    guard.clean_exit()
    assert not guard.path.exists()
    assert guard.start(t + 40) is False


def test_crash_file_written_at_start_and_cleared_on_clean_exit(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    crash_file = tmp_path / "data" / CRASH_FILE
    now = time.time()
    crash_file.write_text(json.dumps({"starts": [now - 100, now - 50, now - 10]}))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_FULLSCREEN": "0"}
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--exit-when-ready"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    log = (tmp_path / "data" / "logs" / "kiosk.log").read_text(encoding="utf-8")
    assert "out of service (crashed)" in log
    assert not crash_file.exists()  # a clean exit clears the record


def test_sigterm_is_a_clean_exit(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # full screen and locked
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "data" / "logs" / "kiosk.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "kiosk started" not in (
        log.read_text(encoding="utf-8") if log.exists() else ""
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not (tmp_path / "data" / CRASH_FILE).exists()


# --- logs ------------------------------------------------------------------------------------


def test_logs_rotate_and_stay_below_the_set_size(tmp_path):
    from kiosk.logs import setup_logging

    folder = tmp_path / "logs"
    setup_logging(folder, max_bytes=20_000, backups=2)
    log = logging.getLogger("kiosk.test.rotation")
    try:
        for i in range(3000):
            log.info("line %d of a long day at the commune office %s", i, "x" * 40)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_kiosk", False):
                logging.getLogger().removeHandler(handler)
                handler.close()
    files = sorted(folder.glob("kiosk.log*"))
    assert [f.name for f in files] == ["kiosk.log", "kiosk.log.1", "kiosk.log.2"]
    assert sum(f.stat().st_size for f in files) <= 3 * 20_000


def test_run_uses_the_log_size_settings(tmp_path, monkeypatch):
    import kiosk.logs
    from kiosk.commands.run import run_kiosk

    kiosk_env(monkeypatch, tmp_path, KIOSK_LOG_MAX_BYTES="12345", KIOSK_LOG_BACKUPS="3")
    seen = []

    def fake(folder, max_bytes, backups, *args, **kw):
        seen.append((max_bytes, backups))
        raise RuntimeError("stop here")

    monkeypatch.setattr(kiosk.logs, "setup_logging", fake)
    with pytest.raises(RuntimeError, match="stop here"):
        run_kiosk(type("Args", (), {"windowed": True, "exit_when_ready": True})())
    assert seen == [(12345, 3)]


def test_demo_runs_set_up_without_setup(tmp_path, monkeypatch, qtbot, kiosk_qapp):
    ctx, reason, cleanup, window = _oos_window(tmp_path, monkeypatch, qtbot, demo=True)
    try:
        assert reason is None
        assert window.current_screen().name == "home"
        assert window.top.demo.isVisibleTo(window)  # says on screen that it is a demo
    finally:
        window.close()
        ctx.close()
        cleanup()
