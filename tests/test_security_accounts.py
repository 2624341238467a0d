"""Issue 14, items 7 and 9: demo accounts never reach production; clerks can be
deactivated, reactivated and unlocked (audited); a lock-out that grows, names that cannot
be probed, a per-kiosk delay, admin PINs of 6+ digits and PIN hashes keyed from keys/."""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.tasks import TaskRunner
from kiosk.services.clerks import (
    UNTIL_UNLOCKED,
    BadPin,
    ClerkError,
    ClerkService,
    Locked,
    NotAllowed,
    Throttled,
    hash_pin,
)
from kiosk.services.datakey import open_store
from kiosk.services.dossiers import utcnow
from kiosk.services.installation import DEMO_ADMIN
from kiosk.services.models import AuditEntry, Clerk
from kiosk.services.store import Store
from kiosk.views.screens.clerk_common import desk
from kiosk.views.shell import MainWindow
from tests.deploy_helpers import ADMIN, ADMIN_PIN, kiosk_env, run_cli, set_up_kiosk, setup_file

CLERK_PIN = "2468"


def _audit(store) -> list[AuditEntry]:
    return store.read(lambda s: list(s.scalars(select(AuditEntry).order_by(AuditEntry.id))))


@pytest.fixture
def clerks(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    yield ClerkService(store, machine="kiosk-1", pepper=b"p" * 32)
    store.close()


# --- item 7 -----------------------------------------------------------------------------------


def test_item7_setup_refuses_a_folder_with_demo_data_unless_told_to_wipe_it(
    tmp_path, monkeypatch, capsys
):
    from kiosk.commands.run import ensure_demo_admin, open_kiosk

    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    ctx, reason, cleanup = open_kiosk(load_settings())
    demo_pin = ensure_demo_admin(ctx)
    ctx.close()
    cleanup()
    monkeypatch.delenv("KIOSK_DEMO")
    capsys.readouterr()
    assert run_cli("setup", "--from", str(setup_file(tmp_path))) == 1
    err = capsys.readouterr().err
    assert "--wipe-demo" in err and "chạy thử" in err
    settings = load_settings()
    assert (tmp_path / "settings.toml").read_text() == ""  # nothing written
    assert run_cli("setup", "--wipe-demo", "--from", str(setup_file(tmp_path))) == 0
    store, _cipher = open_store(settings)
    try:
        clerks = ClerkService(store)
        with pytest.raises(BadPin):
            clerks.verify(DEMO_ADMIN, demo_pin)
        assert [c.username for c in clerks.list()] == [ADMIN]
    finally:
        store.close()


def test_item7_admin_deactivates_and_reactivates_a_clerk_on_screen(
    kiosk_qapp, data_dir, qtbot, monkeypatch
):
    monkeypatch.setenv("KIOSK_CONFIG", str(data_dir / "settings.toml"))
    settings = load_settings(env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    d = desk(ctx)
    admin = d.clerks.create("admin", "Nguyễn Văn Quản", "admin", ADMIN_PIN)
    d.clerks.create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    tasks = TaskRunner()
    tasks.inline = True
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.start()
    try:
        d.clerk = d.clerks.verify("admin", ADMIN_PIN)
        window.nav.go("clerk_home")
        home = window.current_screen()
        assert home.tiles["accounts"].isVisible()
        qtbot.mouseClick(home.tiles["accounts"], Qt.MouseButton.LeftButton)
        screen = window.current_screen()
        assert screen.name == "clerk_accounts"
        assert "toggle" not in screen.rows["admin"]  # never one's own account
        QApplication.processEvents()
        qtbot.mouseClick(screen.rows["mai"]["toggle"], Qt.MouseButton.LeftButton)
        assert screen.message.text() == ctx.tr("security.accounts.done.deactivate", name="mai")
        with pytest.raises(BadPin):
            d.clerks.verify("mai", CLERK_PIN)
        assert ctx.tr("security.accounts.inactive") in screen.rows["mai"]["label"].text()
        qtbot.mouseClick(screen.rows["mai"]["toggle"], Qt.MouseButton.LeftButton)
        assert d.clerks.verify("mai", CLERK_PIN).username == "mai"
        # Locked out after wrong PINs: the admin unlocks on screen.
        past = utcnow() - timedelta(hours=1)
        for i in range(5):
            with pytest.raises((BadPin, Locked)):
                d.clerks.verify("mai", "0000", now=past + timedelta(seconds=61 * i))
        d.clerks.store.write_sync(
            lambda s: s.execute(
                Clerk.__table__.update()
                .where(Clerk.username == "mai")
                .values(locked_until=utcnow() + timedelta(minutes=5))
            )
        )
        screen.refresh()
        assert (
            ctx.tr("security.accounts.locked", until="")[:8] in screen.rows["mai"]["label"].text()
        )
        qtbot.mouseClick(screen.rows["mai"]["unlock"], Qt.MouseButton.LeftButton)
        assert screen.message.text() == ctx.tr("security.accounts.done.unlock", name="mai")
        assert "unlock" not in screen.rows["mai"]
        assert d.clerks.verify("mai", CLERK_PIN).username == "mai"
        actions = [(e.action, e.clerk_id, e.detail) for e in _audit(ctx.store)]
        assert ("clerk.deactivate", admin.id, "mai") in actions
        assert ("clerk.reactivate", admin.id, "mai") in actions
        assert ("clerk.unlock", admin.id, "mai") in actions
        # A clerk does not see the tile, and the screen sends them home.
        d.clerk = d.clerks.verify("mai", CLERK_PIN)
        window.nav.go("clerk_home")
        assert not window.current_screen().tiles["accounts"].isVisible()
        window.nav.go("clerk_accounts")
        assert window.current_screen().name == "clerk_home"
    finally:
        window.close()
        ctx.close()


def test_item7_clerks_cli_deactivates_and_reactivates_audited(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    store, _ = open_store(settings)
    try:
        ClerkService(store).create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    finally:
        store.close()
    assert run_cli("clerks", "deactivate", "mai") == 0
    assert run_cli("clerks", "deactivate", "nobody") == 1
    store, _ = open_store(settings)
    try:
        clerks = ClerkService(store)
        with pytest.raises(BadPin):
            clerks.verify("mai", CLERK_PIN)
        entry = next(e for e in _audit(store) if e.action == "clerk.deactivate")
        assert entry.detail.startswith("mai (console: ")
    finally:
        store.close()
    assert run_cli("clerks", "reactivate", "mai") == 0
    store, _ = open_store(settings)
    try:
        assert ClerkService(store).verify("mai", CLERK_PIN).username == "mai"
    finally:
        store.close()


def test_item7_an_admin_never_deactivates_their_own_account(clerks):
    a = clerks.create("a", "A", "admin", "482913")
    b = clerks.create("b", "B", "admin", "593024")
    with pytest.raises(NotAllowed):
        clerks.set_active("a", False, by=a)  # not one's own account
    clerks.set_active("a", False, by=b)
    clerks.set_active("a", True, by=b)
    clerks.set_active("b", False, by=a)
    with pytest.raises(NotAllowed):
        clerks.set_active("a", False, by=clerks.verify("a", "482913"))
    clerk = clerks.create("c", "C", "clerk", "1357", by=a)
    with pytest.raises(NotAllowed):  # a clerk manages no account
        clerks.set_active("c", False, by=clerk)


# --- item 9 -----------------------------------------------------------------------------------


def _wrong(clerks, name, times, start):
    """`times` wrong PINs a minute apart (the per-kiosk delay is not what is tested)."""
    out = []
    for i in range(times):
        with pytest.raises((BadPin, Locked)) as caught:
            clerks.verify(name, "000000", now=start + timedelta(seconds=61 * i))
        out.append(caught.value)
    return out, start + timedelta(seconds=61 * (times - 1))


def test_item9_lockout_grows_then_holds_until_unlocked(clerks):
    clerks.create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    now = utcnow() - timedelta(days=1)
    errors, last = _wrong(clerks, "mai", 5, now)
    assert isinstance(errors[-1], Locked) and errors[-1].until == last + timedelta(minutes=5)
    errors, last = _wrong(clerks, "mai", 5, last + timedelta(minutes=6))
    assert isinstance(errors[-1], Locked) and errors[-1].until == last + timedelta(hours=1)
    with pytest.raises(Locked):  # even the right PIN
        clerks.verify("mai", CLERK_PIN, now=last + timedelta(minutes=59))
    errors, last = _wrong(clerks, "mai", 5, last + timedelta(hours=1, minutes=1))
    assert isinstance(errors[-1], Locked) and errors[-1].until == UNTIL_UNLOCKED
    with pytest.raises(Locked):
        clerks.verify("mai", CLERK_PIN, now=now + timedelta(days=30))


def test_item9_unknown_and_known_users_get_the_same_answer_and_time(clerks):
    clerks.create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    known, unknown = [], []
    now = utcnow() - timedelta(days=1)
    for i in range(5):
        for j, (name, out) in enumerate((("mai", known), ("ghost", unknown))):
            t0 = time.perf_counter()
            with pytest.raises((BadPin, Locked)) as caught:
                clerks.verify(name, "000000", now=now + timedelta(seconds=122 * i + 61 * j))
            out.append((time.perf_counter() - t0, type(caught.value), str(caught.value)))
    assert [x[1:] for x in known][:4] == [x[1:] for x in unknown][:4]
    assert [x[1] for x in known] == [x[1] for x in unknown] == [BadPin] * 4 + [Locked]
    tk = statistics.median(x[0] for x in known[:4])
    tu = statistics.median(x[0] for x in unknown[:4])
    assert 0.5 < tk / tu < 2.0, (tk, tu)
    # No count of tries before the last one: only the fourth says it is the last.
    with pytest.raises(BadPin) as first:
        clerks.verify("nobody", "1", now=now + timedelta(hours=1))
    assert first.value.last_try is False


def test_item9_no_remaining_count_before_the_last_try(clerks):
    clerks.create("mai", "Lò Thị Mai", "clerk", CLERK_PIN)
    now = utcnow()
    flags = []
    for _ in range(4):
        with pytest.raises(BadPin) as caught:
            clerks.verify("mai", "0", now=now)
        flags.append(caught.value.last_try)
    assert flags == [False, False, False, True]


def test_item9_a_kiosk_waits_after_repeated_failures_whatever_the_names(clerks):
    now = utcnow()
    for i in range(8):
        with pytest.raises(BadPin):
            clerks.verify(f"guess{i}", "000000", now=now)
    with pytest.raises(Throttled) as caught:
        clerks.verify("guess9", "000000", now=now + timedelta(seconds=1))
    assert caught.value.wait_s > 0
    other = ClerkService(clerks.store, machine="kiosk-2", pepper=clerks.pepper)
    with pytest.raises(BadPin):  # per kiosk: another kiosk is not held up
        other.verify("guess9", "000000", now=now + timedelta(seconds=1))
    with pytest.raises(BadPin):
        clerks.verify("guess9", "000000", now=now + timedelta(seconds=caught.value.wait_s + 2))


def test_item9_only_another_admin_or_the_console_unlocks(clerks, tmp_path, monkeypatch):
    a = clerks.create("a", "A", "admin", "482913")
    b = clerks.create("b", "B", "admin", "593024")
    now = utcnow() - timedelta(hours=6)
    for step in range(3):
        _wrong(clerks, "a", 5, now + timedelta(hours=2 * step))
    with pytest.raises(Locked):
        clerks.verify("a", "482913")
    with pytest.raises(NotAllowed):
        clerks.unlock("a", by=a)
    clerks.unlock("a", by=b)
    assert clerks.verify("a", "482913").username == "a"
    entry = next(e for e in _audit(clerks.store) if e.action == "clerk.unlock")
    assert (entry.clerk_id, entry.detail) == (b.id, "a")


def test_item9_console_unlock_of_the_only_admin(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    store, _ = open_store(settings)
    try:
        clerks = ClerkService(store, machine="touch")
        now = utcnow() - timedelta(hours=6)
        for step in range(3):
            _wrong(clerks, ADMIN, 5, now + timedelta(hours=2 * step))
        with pytest.raises(Locked):
            clerks.verify(ADMIN, ADMIN_PIN)
    finally:
        store.close()
    assert run_cli("clerks", "unlock", ADMIN) == 0
    store, _ = open_store(settings)
    try:
        assert ClerkService(store).verify(ADMIN, ADMIN_PIN).is_admin
        assert any(e.action == "clerk.unlock" and "console" in e.detail for e in _audit(store))
    finally:
        store.close()


def test_item9_admin_pins_have_six_digits_at_least(clerks):
    with pytest.raises(ClerkError, match="6 to 12"):
        clerks.create("a", "A", "admin", "48291")
    admin = clerks.create("a", "A", "admin", "482913")
    with pytest.raises(ClerkError, match="6 to 12"):
        clerks.change_pin(admin, "1357", by=admin)
    clerks.create("c", "C", "clerk", "1357")  # clerks keep 4


def test_item9_pin_hashes_are_keyed_and_old_hashes_are_wrapped(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    store, _ = open_store(settings)
    try:
        # An account made before hashes were keyed (plain scrypt), as an old build left it.
        old = hash_pin(CLERK_PIN)
        store.write_sync(
            lambda s: s.add(
                Clerk(
                    username="old",
                    display_name="Old",
                    role="clerk",
                    pin_hash=old,
                    failed_pins=0,
                    active=True,
                    created_at=utcnow(),
                )
            )
        )
    finally:
        store.close()
    store, _ = open_store(settings)  # the next start keys it
    try:
        hashes = store.read(lambda s: dict(s.execute(select(Clerk.username, Clerk.pin_hash)).all()))
        assert all(h.startswith("hscrypt$") for h in hashes.values())
        assert ClerkService(store).verify("old", CLERK_PIN).username == "old"
        assert ClerkService(store).verify(ADMIN, ADMIN_PIN).is_admin
    finally:
        store.close()
    # A copy of the database alone (no keys/) does not check a PIN: guessing needs the key.
    copy = tmp_path / "copy.db"
    shutil.copy2(settings.data_dir / "kiosk.db", copy)
    bare = Store(f"sqlite:///{copy}", migrate=False)
    try:
        with pytest.raises(BadPin):
            ClerkService(bare).verify(ADMIN, ADMIN_PIN)
        with pytest.raises(BadPin):
            ClerkService(bare, pepper=b"x" * 32).verify(ADMIN, ADMIN_PIN)
    finally:
        bare.close()
