"""The clerk's desk through real widgets (pytest-qt, offscreen): login and lock-out, the
queue desk, the citizen's ticket, the call display, the dossier list and its actions,
assisted mode, the dashboard and the admin settings — each action audited."""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.printers import FailingPrinter, PaperOut, SimulatedPrinter
from kiosk.qt.tasks import TaskRunner
from kiosk.services.dossiers import Applicant
from kiosk.services.flow import Step
from kiosk.services.journey import REVIEW
from kiosk.services.models import AuditEntry, Dossier
from kiosk.views.call_display import CallDisplay
from kiosk.views.screens.clerk_common import AssistBanner, desk
from kiosk.views.shell import MainWindow
from tests.clerk_helpers import confirm, needs_clerk

ADMIN_PIN, CLERK_PIN = "482913", "2468"


class Taps:
    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot

    def __call__(self, widget) -> None:
        QApplication.processEvents()
        assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName()} not tappable"
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


@pytest.fixture
def win(kiosk_qapp, data_dir, qtbot, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(data_dir / "settings.toml"))
    settings = load_settings(env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    ctx.receipts.printer = SimulatedPrinter()
    d = desk(ctx)
    d.clerks.create("admin", "Nguyễn Văn Quản", "admin", ADMIN_PIN)
    d.clerks.create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    tasks = TaskRunner()
    tasks.inline = True
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    yield window
    ctx.close()


def current(win):
    return win.current_screen()


def actions(win) -> list[str]:
    return win.vc.app.store.read(
        lambda s: [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    )


def login(win, taps, username="admin", pin=ADMIN_PIN) -> None:
    win.nav.go("clerk_login")
    screen = current(win)
    assert screen.name == "clerk_login"
    screen.username.setText(username)
    screen.pin.setText(pin)
    taps(screen.login)


def test_login_warns_before_the_last_try_then_locks_out(win, qtbot):
    taps = Taps(qtbot)
    tr = win.vc.app.translator.tr
    for left in (4, 3, 2, 1):
        login(win, taps, "mai", "0000")
        screen = current(win)
        assert screen.name == "clerk_login"
        # No count of tries before the last one (it would tell a name exists).
        expected = "security.login.last_try" if left == 1 else "security.login.bad"
        assert screen.error.text() == tr(expected)
        assert screen.pin.text() == ""  # a PIN never stays on screen
    login(win, taps, "mai", "0000")
    assert current(win).error.text().startswith(tr("clerk.login.locked", until="")[:20])
    login(win, taps, "mai", CLERK_PIN)  # the right PIN, but locked
    assert current(win).name == "clerk_login" and desk(win.vc.app).clerk is None
    assert actions(win) == ["clerk.create", "clerk.create"] + ["clerk.login.bad_pin"] * 4 + [
        "clerk.login.lockout",
        "clerk.login.locked",
    ]
    login(win, taps, "admin", ADMIN_PIN)
    assert current(win).name == "clerk_home"
    assert current(win).tiles["settings"].isVisible()


def _grid_places(home) -> dict[str, tuple[int, int]]:
    grid = home.grid
    places = {}
    for key, tile in home.tiles.items():
        index = grid.indexOf(tile)
        if tile.isVisible() and index >= 0:
            row, column, _rows, _columns = grid.getItemPosition(index)
            places[key] = (row, column)
    return places


def test_desk_tiles_follow_the_role_and_leave_no_gap(win, qtbot):
    taps = Taps(qtbot)
    login(win, taps)  # an admin: settings, studio roles and accounts; no studio of their own
    home = current(win)
    places = _grid_places(home)
    assert set(places) == {
        "queue",
        "dossiers",
        "dashboard",
        "fees",
        "assist",
        "settings",
        "roles",
        "accounts",
        "notices",
        "feedback",
    }
    # Ten tiles: five a row, in order, without a hole where the studio tile is hidden.
    assert sorted(places.values()) == [(i // 5, i % 5) for i in range(10)]
    assert places["accounts"] == (1, 2)
    for tile in home.tiles.values():
        if tile.isVisible():  # every shown tile fits on the 1280x800 screen
            bottom = tile.mapTo(win, tile.rect().bottomLeft()).y()
            assert bottom <= win.height(), tile.text()
    taps(home.logout_button)
    login(win, taps, "mai", CLERK_PIN)
    home = current(win)
    assert set(_grid_places(home)) == {
        "queue",
        "dossiers",
        "dashboard",
        "fees",
        "assist",
        "notices",
        "feedback",
    }


def test_queue_desk_calls_recalls_skips_completes_all_audited(win, qtbot):
    taps = Taps(qtbot)
    queue = desk(win.vc.app).queue
    queue.take("civil_status")
    elder = queue.take("certification", "elderly")
    login(win, taps, "mai", CLERK_PIN)
    home = current(win)
    assert not home.tiles["settings"].isVisible()  # not an admin
    taps(home.tiles["queue"])
    screen = current(win)
    assert screen.name == "clerk_queue"
    screen.counter.setText("4")
    screen.counter.editingFinished.emit()
    taps(screen.call_button)
    assert screen.number.text() == elder.number  # priority first
    assert win.vc.app.translator.tr("clerk.priority.elderly") in screen.current_info.text()
    taps(screen.recall_button)
    taps(screen.complete_button)
    assert screen.number.text() == "—" and not screen.skip_button.isEnabled()
    taps(screen.call_button)
    taps(screen.skip_button)
    taps(screen.call_button)
    assert screen.error.text() == win.vc.app.translator.tr("clerk.queue.nobody")
    calls = queue.recent_calls(5)
    assert {c.counter for c in calls} == {"4"}
    log = actions(win)
    for action in (
        "clerk.login",
        "queue.counter",
        "queue.call_next",
        "queue.recall",
        "queue.complete",
        "queue.skip",
    ):
        assert action in log, action
    assert log.count("queue.call_next") == 3


def test_citizen_takes_a_ticket_that_prints_or_says_it_did_not(win, qtbot):
    taps = Taps(qtbot)
    taps(current(win).tiles["home.queue"])
    take = current(win)
    assert take.name == "queue_take"
    taps(take.priority_buttons["pregnant"])
    taps(take.tiles["social"])
    ticket = current(win)
    assert ticket.name == "queue_ticket" and ticket.number.text() == "D001"
    assert ticket.message.text() == win.vc.tr("clerk.ticket.printed")
    printer = win.vc.app.receipts.printer
    assert [name for name, _ in printer.jobs] == ["ticket-D001"]
    taps(ticket.finish)
    win.vc.app.receipts.printer = FailingPrinter(PaperOut())
    taps(current(win).tiles["home.queue"])
    taps(current(win).tiles["social"])
    ticket = current(win)
    assert ticket.number.text() == "D002" and ticket.state["ahead"] == 1
    assert ticket.message.text() == win.vc.tr("clerk.ticket.not_printed")


def test_call_display_shows_the_called_number_and_announces_each_call_once(win, qtbot):
    queue = desk(win.vc.app).queue
    spoken: list[tuple[str, str]] = []
    tasks = TaskRunner()
    tasks.inline = True
    display = CallDisplay(
        queue, win.vc.app.translator, tasks, announce=lambda text, lang: spoken.append((text, lang))
    )
    qtbot.addWidget(display)
    display.show()
    queue.take("civil_status")
    queue.call_next("1")  # called before the display started: shown, not announced
    display.poll()
    assert display.number.text() == "A001" and display.counter.text() == "1" and spoken == []
    queue.take("civil_status")
    second = queue.call_next("2")
    display.poll()
    display.poll()
    assert display.number.text() == "A002" and display.counter.text() == "2"
    assert display.prev_labels[0][0].text() == "A001"
    assert spoken == [("Mời số A002 đến quầy 2", "vi")]
    queue.recall(second.id)
    display.poll()
    assert spoken[-1] == ("Mời số A002 đến quầy 2", "vi") and len(spoken) == 2


def test_timer_polling_runs_in_the_background(win, qtbot):
    queue = desk(win.vc.app).queue
    display = CallDisplay(queue, win.vc.app.translator, poll_ms=50)
    qtbot.addWidget(display)
    display.start()
    queue.take("results")
    queue.call_next("7")
    qtbot.waitUntil(lambda: display.number.text() == "E001", timeout=5000)
    display.stop()
    display.tasks.wait()


def test_dossier_list_search_detail_and_correction(win, qtbot):
    taps = Taps(qtbot)
    app = win.vc.app
    nhung = confirm(app.dossiers, "Nguyễn Thị Hồng Nhung", "001190012345", phone="0912000000")
    confirm(app.dossiers, "Đặng Văn Quỳnh", "022085000123")
    needs_clerk(app.store, nhung)
    code = app.dossiers.get(nhung).receipt_code
    login(win, taps)
    taps(current(win).tiles["dossiers"])
    screen = current(win)
    assert screen.name == "clerk_dossiers" and screen.table.rowCount() == 2
    # Receipt not printed and not-verified procedure are marked on the row.
    assert win.vc.tr("clerk.list.not_printed") in screen.table.item(0, 0).text()
    assert win.vc.tr("clerk.list.unverified") in screen.table.item(0, 2).text()
    screen.search.setText("nguyen nhung")
    taps(screen.search_button)
    assert (
        screen.table.rowCount() == 1 and screen.table.item(0, 1).text() == "Nguyễn Thị Hồng Nhung"
    )
    screen.search.setText(code.lower())
    taps(screen.search_button)
    assert screen.table.rowCount() == 1 and screen.table.item(0, 0).text().startswith(code)
    screen.search.setText("022085000123")
    taps(screen.search_button)
    assert screen.table.item(0, 1).text() == "Đặng Văn Quỳnh"
    screen.search.setText("")
    taps(screen.search_button)
    cell = screen.table.visualItemRect(screen.table.item(screen.row_ids.index(nhung), 1))
    qtbot.mouseClick(screen.table.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())

    detail = current(win)
    assert detail.name == "clerk_dossier" and detail.detail.id == nhung
    assert not detail.retry_button.isEnabled() and detail.edit_button.isEnabled()
    taps(detail.reprint_button)
    assert detail.message.text() == win.vc.tr("clerk.detail.reprinted")
    assert app.dossiers.get(nhung).receipt_printed
    taps(detail.edit_button)
    form = current(win)
    assert form.name == "clerk_dossier_edit"
    assert form.errors["fields.phone"].text() == "phone number not in service"
    form.inputs["fields.phone"].setText("12")
    taps(form.save_button)
    assert current(win) is form and form.errors["fields.phone"].text() == win.vc.tr(
        "catalogue.err.phone_invalid"
    )
    form.inputs["fields.phone"].setText("0987654321")
    taps(form.save_button)
    detail = current(win)
    assert detail.name == "clerk_dossier" and detail.message.text() == win.vc.tr("clerk.edit.saved")
    row = app.dossiers.get(nhung)
    assert row.state == "queued" and row.receipt_code == code
    assert json.loads(app.dossiers.body(row))["fields"]["phone"] == "0987654321"
    assert detail.retry_button.isEnabled()
    taps(detail.retry_button)
    trail = app.store.read(
        lambda s: [
            e.action
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.dossier_id == nhung).order_by(AuditEntry.id)
            )
        ]
    )
    assert trail == [
        "dossier.view",
        "dossier.reprint",
        "dossier.resubmit",
        "dossier.view",
        "dossier.retry_now",
    ]
    assert "dossier.search" in actions(win)
    # Going back from the corrected dossier returns to the list, not to the form.
    win.nav.back()
    assert current(win).name == "clerk_dossiers"


def test_mark_handled_from_the_detail(win, qtbot):
    taps = Taps(qtbot)
    app = win.vc.app
    dossier_id = confirm(app.dossiers, "Lò Văn Quý", "019092004567")
    needs_clerk(app.store, dossier_id)
    login(win, taps)
    win.nav.go("clerk_dossier", dossier_id=dossier_id)
    detail = current(win)
    taps(detail.handled_button)
    assert app.dossiers.get(dossier_id).state == "handled"
    assert not detail.handled_button.isEnabled()


def test_assisted_mode_records_the_clerk_and_steps_out_in_one_tap(win, qtbot):
    taps = Taps(qtbot)
    app = win.vc.app
    login(win, taps, "mai", CLERK_PIN)
    taps(current(win).tiles["assist"])
    assert current(win).name == "home" and app.session.assisted_by == "mai"
    banner = AssistBanner.find(win)
    assert banner is not None and banner.isVisible() and "Lò Thị Mai" in banner.label.text()
    # A citizen's dossier made now records the clerk.
    journey = app.journey
    journey.choose("1.004873")
    journey.consent(datetime(2026, 1, 1, 8, 0))
    journey.identified(Applicant("001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 5, 6)))
    for key, raw in (
        ("purpose", "marriage"),
        ("current_status", "never_married"),
        ("phone", "0912345678"),
    ):
        assert journey.answer(key, raw) is None
    win.nav.go("review", step=journey.flow.jump(Step(REVIEW)))
    taps(current(win).confirm)
    assert current(win).name == "done"
    row = app.store.read(lambda s: s.scalars(select(Dossier)).one())
    assert row.assisted_by == "mai"
    # The citizen's journey ends (Done resets the session): the clerk stays, helping.
    taps(current(win).finish)
    assert app.session.assisted_by == "mai" and desk(app).clerk is not None
    assert AssistBanner.find(win) is banner and banner.isVisible()
    taps(banner.end_button)
    assert app.session.assisted_by is None and desk(app).clerk is None
    assert AssistBanner.find(win) is None and current(win).name == "home"
    log = actions(win)
    assert (
        log.index("clerk.assist.start") < log.index("clerk.assist.end") < log.index("clerk.logout")
    )


def test_assisted_mode_ends_when_the_kiosk_is_left_alone(win, qtbot):
    taps = Taps(qtbot)
    login(win, taps, "mai", CLERK_PIN)
    taps(current(win).tiles["assist"])
    win.nav.go("procedures")
    win.still_there.open()
    win.still_there.expired.emit()  # the countdown ran out: nobody is there
    assert current(win).name == "home" and win.vc.app.session.assisted_by is None
    assert desk(win.vc.app).clerk is None and AssistBanner.find(win) is None
    assert actions(win)[-2:] == ["clerk.assist.end", "clerk.logout"]


def test_a_reset_after_the_store_closed_does_not_fail(win, qtbot):
    taps = Taps(qtbot)
    login(win, taps)
    win.vc.app.store.close()
    win.reset_session()  # e.g. a window that outlives its context
    assert desk(win.vc.app).clerk is None


def test_back_to_desk_from_assisted_mode_and_idle_logs_out(win, qtbot):
    taps = Taps(qtbot)
    login(win, taps)
    taps(current(win).tiles["assist"])
    taps(AssistBanner.find(win).desk_button)
    assert current(win).name == "clerk_home" and win.vc.app.session.assisted_by is None
    assert desk(win.vc.app).clerk is not None
    win.reset_session()  # the idle guard's reset, outside assisted mode
    assert desk(win.vc.app).clerk is None and current(win).name == "home"
    assert actions(win)[-1] == "clerk.logout"
    win.nav.go("clerk_queue")  # a clerk screen without a clerk asks for the login
    assert current(win).name == "clerk_login"


def test_dashboard_draws_the_charts_and_writes_the_daily_report(win, qtbot):
    taps = Taps(qtbot)
    app = win.vc.app
    confirm(app.dossiers, "Lò Văn Quý", "019092004567")
    desk(app).queue.take("civil_status")
    login(win, taps)
    taps(current(win).tiles["dashboard"])
    screen = current(win)
    assert screen.name == "clerk_dashboard"
    for key in ("per_day", "per_procedure", "queue", "rating"):
        chart = screen.views[key].chart()
        assert chart is not None and len(chart.series()) == 1
    assert screen.kpi["waiting"].text() == win.vc.tr("clerk.dash.kpi.waiting", n=1)
    taps(screen.report_button)
    folder = app.settings.data_dir / "reports"
    assert sorted(p.suffix for p in folder.iterdir()) == [".csv", ".pdf"]
    taps(screen.print_button)
    assert app.receipts.printer.jobs[-1][0].startswith("report-")
    assert {"report.daily", "report.print"} <= set(actions(win))


def test_settings_are_for_admins_and_saved_as_toml_without_showing_secrets(win, qtbot, data_dir):
    taps = Taps(qtbot)
    app = win.vc.app
    path = data_dir / "settings.toml"
    path.write_text(
        'commune_name = "UBND xã Đồng Văn"\n[portal]\ntoken = "old-token"\n', encoding="utf-8"
    )
    login(win, taps, "mai", CLERK_PIN)
    win.nav.go("clerk_settings")
    assert current(win).name == "clerk_home"  # not for clerks
    taps(current(win).logout_button)
    login(win, taps)
    taps(current(win).tiles["settings"])
    screen = current(win)
    assert screen.name == "clerk_settings"
    assert screen.preview.text() == win.vc.tr("clerk.settings.preview_off")
    taps(screen.preview_button)
    assert screen.preview.text() == win.vc.tr("clerk.settings.no_camera")
    screen.edits["portal_url"].setText("ftp://nowhere")
    taps(screen.save_button)
    assert "portal_url" in screen.message.text() and "old-token" in path.read_text()
    screen.edits["portal_url"].setText("https://dvc.quangninh.gov.vn/api/v1")
    screen.edits["idle_timeout_s"].setText("120")
    screen.edits["portal_token"].setText('s3cret-Đ"quote')
    taps(screen.lang_buttons["bru"])  # offered no more
    taps(screen.save_button)
    saved = tomllib.loads(path.read_text(encoding="utf-8"))
    assert saved["portal_url"] == "https://dvc.quangninh.gov.vn/api/v1"
    assert saved["portal_token"] == 's3cret-Đ"quote' and "portal" not in saved
    assert saved["idle_timeout_s"] == 120 and saved["commune_name"] == "UBND xã Đồng Văn"
    assert saved["languages"] == ["vi", "en", "tyz", "ium"]
    assert (path.stat().st_mode & 0o777) == 0o600
    settings = load_settings(env={}, config_path=path)
    assert settings.idle_timeout_s == 120 and settings.portal_token == 's3cret-Đ"quote'
    assert screen.secret_state["portal_token"].text() == "••••"
    assert screen.edits["portal_token"].text() == ""
    details = app.store.read(
        lambda s: [
            e.detail
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "settings.change"))
        ]
    )
    assert sorted(d.split(" ")[0] for d in details) == [
        "idle_timeout_s",
        "languages",
        "portal_token",
        "portal_url",
    ]
    assert not any("s3cret" in d for d in details)
    taps(screen.test_button)
    assert screen.message.text() == win.vc.tr("clerk.settings.test_ok")
    assert "settings.test_print" in actions(win)


def test_call_display_command_renders_the_calls(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtGui import QImage

    from kiosk.services.queue import QueueService, load_groups
    from kiosk.services.store import Store

    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'kiosk.db'}")
    queue = QueueService(store, load_groups())
    queue.take("certification")
    queue.call_next("5")
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data), QT_QPA_PLATFORM="offscreen")
    shot = tmp_path / "display.png"
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk",
            "call-display",
            "--announce",
            "",
            "--screenshot",
            str(shot),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1920, 1080)
    # The big number is drawn in the display's yellow somewhere in the middle band.
    yellow = sum(
        1
        for x in range(0, 1920, 8)
        for y in range(300, 700, 8)
        if image.pixelColor(x, y).name() == "#ffd84d"
    )
    assert yellow > 50


def test_call_display_on_a_store_not_yet_upgraded(tmp_path):
    """The call display started before the kiosk on a data folder of an older version:
    its own database is upgraded with the data key, as the kiosk does; another
    machine's older database is left alone with a message saying what to do."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from kiosk.services.store import Store, head_revision

    root = Path(__file__).resolve().parent.parent
    fixture = root / "tests" / "fixtures" / "schema" / "0001"
    data = tmp_path / "data"
    shutil.copytree(fixture, data)
    (data / "keys").mkdir()
    shutil.move(data / "data.key", data / "keys" / "data.key")
    other = tmp_path / "other"
    shutil.copytree(fixture, other)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data), QT_QPA_PLATFORM="offscreen", KIOSK_LANG="en")

    def run(*extra):
        return subprocess.run(
            [sys.executable, "-m", "kiosk", "call-display", "--announce", "", *extra],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    away = run(
        "--db-url", f"sqlite:///{other / 'kiosk.db'}", "--screenshot", str(tmp_path / "a.png")
    )
    assert away.returncode == 2
    assert "older schema" in away.stderr and "Traceback" not in away.stderr
    assert Store(f"sqlite:///{other / 'kiosk.db'}", migrate=False).revision() == "0001"
    own = run("--screenshot", str(tmp_path / "b.png"))
    assert own.returncode == 0, own.stderr[-2000:]
    assert (tmp_path / "b.png").exists()
    assert Store(f"sqlite:///{data / 'kiosk.db'}", migrate=False).revision() == head_revision()


def test_dossier_detail_renders_a_dossier_with_a_photo(win, qtbot):
    taps = Taps(qtbot)
    app = win.vc.app
    dossier_id = confirm(app.dossiers, "Lò Văn Quý", "019092004567", with_file=True)
    login(win, taps)
    win.nav.go("clerk_dossier", dossier_id=dossier_id)
    detail = current(win)
    assert detail.name == "clerk_dossier"
    texts = " ".join(label.text() for label in detail.findChildren(type(detail.message)))
    attachment = app.dossiers.get(dossier_id)
    assert win.vc.tr("clerk.detail.attachments") in texts
    assert "KB" in texts, "the attachment line is missing"
    assert attachment is not None
