"""First run: no default PIN, `kiosk setup` (file and interactive), key export/import between
machines of one centre, the demo's own admin."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiosk.commands.run import ensure_demo_admin, open_kiosk
from kiosk.config import load_settings
from kiosk.services.clerks import BadPin, ClerkService
from kiosk.services.crypto import DataCipher, DataKeyError, KeyRing, load_or_create_keyring
from kiosk.services.datakey import open_store
from kiosk.services.dossiers import DossierService
from kiosk.services.installation import (
    SETUP_KEY,
    import_key,
    meta_get,
    setup_state,
    weak_pin,
    write_settings_file,
)
from kiosk.services.store import Store
from tests.deploy_helpers import (
    ADMIN,
    ADMIN_PIN,
    KIOSK_ID,
    SECRET,
    TOKEN,
    kiosk_env,
    run_cli,
    set_up_kiosk,
    setup_file,
)
from tests.store_helpers import CITIZEN_NAME, draft


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_install_has_no_admin_and_is_not_set_up(tmp_path, monkeypatch):
    kiosk_env(monkeypatch, tmp_path)
    settings = load_settings()
    ctx, reason, cleanup = open_kiosk(settings)
    try:
        assert reason == "setup"
        assert not ClerkService(ctx.store).any_admin()  # no default account, no default PIN
        assert not settings.data_key_path.exists()  # nothing made before setup
    finally:
        ctx.close()
        cleanup()


def test_setup_from_file(tmp_path, monkeypatch, capsys):
    config = set_up_kiosk(monkeypatch, tmp_path)
    assert _mode(config) == 0o600
    settings = load_settings()
    assert (settings.kiosk_id, settings.secret, settings.portal_token) == (KIOSK_ID, SECRET, TOKEN)
    assert settings.commune_name == "UBND xã Đồng Văn"
    assert _mode(settings.data_key_path) == 0o600
    store = open_store(settings)[0]
    try:
        assert meta_get(store, SETUP_KEY) is not None
        assert setup_state(
            store, settings.data_key_path, settings.secret, settings.portal_token
        ).done
        clerks = ClerkService(store)
        assert clerks.verify(ADMIN, ADMIN_PIN).is_admin
        assert any(e.action == "setup.done" for e in clerks.audit_trail())
    finally:
        store.close()
    assert "hãy xóa tệp này ngay" in capsys.readouterr().out  # Vietnamese unless told
    # A second setup changes nothing.
    assert run_cli("setup", "--from", str(setup_file(tmp_path, pin="913482"))) == 1
    ctx, reason, cleanup = open_kiosk(load_settings())
    try:
        assert reason is None
    finally:
        ctx.close()
        cleanup()


def test_setup_keeps_other_settings_of_the_file(tmp_path, monkeypatch):
    config = kiosk_env(monkeypatch, tmp_path)
    config.write_text('lang = "en"\n\n[portal]\nconnect_timeout = 3.0\n', encoding="utf-8")
    assert run_cli("setup", "--from", str(setup_file(tmp_path))) == 0
    settings = load_settings()
    assert settings.portal_connect_timeout == 3.0 and settings.lang == "en"
    assert settings.kiosk_id == KIOSK_ID


@pytest.mark.parametrize("pin", ["1234", "111111", "123456", "987654", "12ab56"])
def test_setup_refuses_a_weak_admin_pin(tmp_path, monkeypatch, pin):
    kiosk_env(monkeypatch, tmp_path)
    assert weak_pin(pin)
    assert run_cli("setup", "--from", str(setup_file(tmp_path, pin=pin))) == 1
    settings = load_settings()
    assert (tmp_path / "settings.toml").read_text() == ""
    store = open_store(settings)[0]
    try:
        assert meta_get(store, SETUP_KEY) is None and not ClerkService(store).any_admin()
    finally:
        store.close()


def test_setup_refuses_the_demo_identity_and_bad_values(tmp_path, monkeypatch, capsys):
    kiosk_env(monkeypatch, tmp_path)
    assert run_cli("setup", "--from", str(setup_file(tmp_path, kiosk_id="KIOSK-DEMO-01"))) == 1
    assert run_cli("setup", "--from", str(setup_file(tmp_path, portal_url="ftp://x"))) == 1
    assert "portal_url" in capsys.readouterr().err
    assert (tmp_path / "settings.toml").read_text() == ""


def test_interactive_setup_asks_the_pin_twice_without_echo(tmp_path, monkeypatch):
    kiosk_env(monkeypatch, tmp_path)
    monkeypatch.setattr("kiosk.commands.setup.has_terminal", lambda: True)
    typed = iter(
        [
            KIOSK_ID,
            "http://127.0.0.1:9/api/v1",
            "UBND xã Đồng Văn",
            "DV01",
            "0215 3800 123",
            ADMIN,
            "Hoàng Văn Tú",
        ]
    )
    hidden = iter(
        [
            TOKEN,
            SECRET,
            "123456",  # too easy: asked again
            ADMIN_PIN,
            "999999",  # differs: asked again
            ADMIN_PIN,
            ADMIN_PIN,
        ]
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(hidden))
    assert run_cli("setup", "--no-doctor") == 0
    settings = load_settings()
    assert (settings.secret, settings.portal_token, settings.receipt_prefix) == (
        SECRET,
        TOKEN,
        "DV01",
    )
    store = open_store(settings)[0]
    try:
        assert ClerkService(store).verify(ADMIN, ADMIN_PIN).display_name == "Hoàng Văn Tú"
    finally:
        store.close()


def test_settings_file_writer_round_trips_unicode_and_quotes(tmp_path):
    path = tmp_path / "s.toml"
    write_settings_file(
        path,
        {
            "commune_name": 'UBND xã "Đồng Văn"\\',
            "languages": ["vi", "en"],
            "idle_timeout_s": 60,
            "headphones": True,
        },
    )
    settings = load_settings(env={}, config_path=path)
    assert settings.commune_name == 'UBND xã "Đồng Văn"\\'
    assert settings.languages == ["vi", "en"] and settings.idle_timeout_s == 60
    assert _mode(path) == 0o600


def _confirm_one(settings) -> None:
    store = open_store(settings)[0]
    cipher = DataCipher(load_or_create_keyring(settings.data_key_path, create=False))
    DossierService(store, cipher, settings.kiosk_id, "DV01", settings.attachments_dir).confirm(
        draft()
    )
    store.close()


def test_second_machine_of_a_centre_imports_the_key(tmp_path, monkeypatch):
    # Machine A, with a dossier in the centre's (shared) database.
    a = tmp_path / "a"
    set_up_kiosk(monkeypatch, a)
    settings_a = load_settings()
    shared_db = settings_a.database_url
    _confirm_one(settings_a)
    exported = tmp_path / "usb" / "centre.key"
    monkeypatch.setattr("kiosk.commands.setup.has_terminal", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "000000")
    assert run_cli("setup", "--export-key", str(exported), "--admin", ADMIN) == 1
    assert not exported.exists()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": ADMIN_PIN)
    assert run_cli("setup", "--export-key", str(exported), "--admin", ADMIN) == 0
    assert _mode(exported) == 0o600

    # Machine B shares the database; without the centre's key it is refused.
    b = tmp_path / "b"
    kiosk_env(monkeypatch, b, KIOSK_DB_URL=shared_db)
    assert run_cli("setup", "--from", str(setup_file(b, kiosk_id="QN-BL-DONGVAN-02"))) == 1
    settings_b = load_settings()
    assert not settings_b.data_key_path.exists()
    # With the key it joins; the existing admin confirms (no second admin is made).
    path = setup_file(b, kiosk_id="QN-BL-DONGVAN-02", key=exported)
    assert run_cli("setup", "--from", str(path)) == 0
    settings_b = load_settings()
    assert settings_b.data_key_path.read_bytes() == settings_a.data_key_path.read_bytes()
    store = Store(shared_db)
    try:
        cipher = DataCipher(load_or_create_keyring(settings_b.data_key_path, create=False))
        service = DossierService(store, cipher, settings_b.kiosk_id, "DV01", b / "data")
        assert service.applicant(service.get(1)).full_name == CITIZEN_NAME
        assert [c.username for c in ClerkService(store).list()] == [ADMIN]
    finally:
        store.close()


def test_import_refuses_a_key_that_does_not_open_the_data(tmp_path, monkeypatch):
    set_up_kiosk(monkeypatch, tmp_path)
    settings = load_settings()
    _confirm_one(settings)
    foreign = tmp_path / "foreign.key"
    foreign.write_text(KeyRing.generate().to_json(), encoding="ascii")
    store = open_store(settings)[0]
    before = settings.data_key_path.read_bytes()
    try:
        with pytest.raises(DataKeyError, match="does not open"):
            import_key(foreign, settings.data_key_path, store)
    finally:
        store.close()
    assert settings.data_key_path.read_bytes() == before


def test_the_demo_counts_as_set_up_with_its_own_admin(tmp_path, monkeypatch):
    kiosk_env(monkeypatch, tmp_path, KIOSK_DEMO="1")
    settings = load_settings()
    ctx, reason, cleanup = open_kiosk(settings)
    try:
        assert reason is None
        first = ensure_demo_admin(ctx)
        second = ensure_demo_admin(ctx)  # the next start prints the same PIN
        assert first == second and weak_pin(first) is None
        pin_file = settings.data_dir / "demo-admin.pin"
        assert pin_file.read_text().strip() == first and _mode(pin_file) == 0o600
        clerks = ClerkService(ctx.store)
        assert clerks.verify("demo-admin", first).is_admin
        # Changed on the clerk screens: the next start makes the printed PIN true again.
        admin = clerks.verify("demo-admin", first)
        clerks.change_pin(admin, "864209", by=admin)
        assert ensure_demo_admin(ctx) == first
        assert clerks.verify("demo-admin", first).is_admin
        with pytest.raises(BadPin):
            clerks.verify("demo-admin", "864209")
    finally:
        ctx.close()
        cleanup()
    # A new demo data folder gets a PIN of its own.
    kiosk_env(monkeypatch, tmp_path / "other", KIOSK_DEMO="1")
    ctx, _, cleanup = open_kiosk(load_settings())
    try:
        assert (load_settings().data_dir / "demo-admin.pin").exists() is False
        assert weak_pin(ensure_demo_admin(ctx)) is None
    finally:
        ctx.close()
        cleanup()
