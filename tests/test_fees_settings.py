"""The commune's fee account: the shipped bank list, the settings and their checks, the
interactive `setup` questions and the admin settings screen (real widgets)."""

from __future__ import annotations

import json
import tomllib

import pytest

from kiosk.config import SettingsError, load_settings
from kiosk.paths import resource
from kiosk.services.banks import (
    BankListError,
    fee_account_problems,
    find_bank,
    load_banks,
)
from kiosk.services.i18n import Translator


def _load(tmp_path, **env):
    return load_settings(env=env, config_path=tmp_path / "none.toml")


def test_bank_list_is_data_with_unique_six_digit_bins():
    doc = json.loads(resource("banks.json").read_text(encoding="utf-8"))
    bins = [row["bin"] for row in doc["banks"]]
    assert len(bins) == len(set(bins)) >= 40
    assert all(len(b) == 6 and b.isdigit() for b in bins)
    assert find_bank("970405").short_name == "Agribank"
    assert find_bank("999888").short_name == "VBSP"  # social policy bank: poor households
    assert find_bank("970436").name == "Ngân hàng TMCP Ngoại Thương Việt Nam"
    assert find_bank("123456") is None


def test_a_broken_bank_list_names_the_entry(tmp_path):
    path = tmp_path / "banks.json"
    path.write_text(json.dumps({"banks": [{"bin": "97040X", "short_name": "A", "name": "B"}]}))
    with pytest.raises(BankListError, match=r"banks\[0\]"):
        load_banks(path)


def test_no_fee_account_means_cash_only(tmp_path):
    assert _load(tmp_path).fee_account is None


def test_a_valid_fee_account(tmp_path):
    s = _load(
        tmp_path,
        KIOSK_FEE_BANK_BIN="970405",
        KIOSK_FEE_ACCOUNT_NUMBER="3500205000123",
        KIOSK_FEE_ACCOUNT_NAME="UBND XA DONG VAN",
    )
    account = s.fee_account
    assert account.bank.short_name == "Agribank" and account.account == "3500205000123"
    assert account.holder == "UBND XA DONG VAN"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"KIOSK_FEE_BANK_BIN": "123456"}, "fee_bank_bin"),
        ({"KIOSK_FEE_ACCOUNT_NUMBER": "35002O5000"}, "fee_account_number"),
        ({"KIOSK_FEE_ACCOUNT_NUMBER": "12345"}, "fee_account_number"),
        ({"KIOSK_FEE_BANK_BIN": "970405", "KIOSK_FEE_ACCOUNT_NUMBER": "3500205000"}, None),
    ],
)
def test_bad_fee_settings_stop_with_a_message_naming_the_setting(tmp_path, env, name):
    with pytest.raises(SettingsError) as info:
        _load(tmp_path, **env)
    if name:
        assert info.value.name == name
    else:  # a holder's name is missing: the message says all three or none
        assert "fee_account_name" in str(info.value)


def test_problems_are_translator_keys_in_both_languages():
    tr = Translator.from_resources()
    problems = fee_account_problems("111111", "12ab56", "")
    assert [n for n, _ in problems] == ["fee_bank_bin", "fee_account_number", "fee_account_name"]
    for _name, key in problems:
        assert tr.has(key, "vi") and tr.has(key, "en")
    assert fee_account_problems("", "", "") == []


def test_interactive_setup_asks_again_until_the_account_is_valid(monkeypatch, capsys, tmp_path):
    from kiosk.commands.setup import ask_fee_account

    typed = iter(["?", "970405", "3500A05", "UBND XA", "970405", "3500205000123", "UBND XA"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    from kiosk.clitext import Cli

    values = ask_fee_account(Cli.for_language("en"), _load(tmp_path))
    assert values == {
        "fee_bank_bin": "970405",
        "fee_account_number": "3500205000123",
        "fee_account_name": "UBND XA",
    }
    out = capsys.readouterr().out
    assert "970405  Agribank" in out  # the list
    assert "digits only" in out  # the refused account, in words


def test_admin_screen_refuses_letters_then_saves_the_account(
    kiosk_qapp, data_dir, qtbot, monkeypatch
):
    from kiosk.context import build_context
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views.screens.clerk_common import desk
    from kiosk.views.shell import MainWindow

    path = data_dir / "settings.toml"
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    settings = load_settings(env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir))
    ctx = build_context(settings)
    desk(ctx).clerks.create("admin", "Nguyễn Văn Quản", "admin", "482913")
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        win.nav.go("clerk_login")
        login = win.current_screen()
        login.username.setText("admin")
        login.pin.setText("482913")
        login.login.click()
        win.nav.go("clerk_settings")
        screen = win.current_screen()
        assert screen.name == "clerk_settings"
        assert screen.fee_state.text() == win.vc.tr("fees.settings.cash_only")
        screen.fee_bank.setCurrentIndex(screen.fee_bank.findData("970405"))
        screen.edits["fee_account_number"].setText("3500 2050 O0123")
        screen.edits["fee_account_name"].setText("UBND XA MINH KHAI")
        screen.save_button.click()
        assert screen.message.text() == win.vc.tr("fees.account_invalid")
        assert not path.exists()  # nothing written
        screen.edits["fee_account_number"].setText("3500205000123")
        screen.save_button.click()
        saved = tomllib.loads(path.read_text(encoding="utf-8"))
        assert saved["fee_bank_bin"] == "970405"
        assert saved["fee_account_number"] == "3500205000123"
        assert load_settings(env={}, config_path=path).fee_account.bank.short_name == "Agribank"
    finally:
        win.close()
        ctx.close()


def test_setup_from_a_file_takes_the_fee_account_and_refuses_a_bad_one(
    tmp_path, monkeypatch, capsys
):
    from tests.deploy_helpers import kiosk_env, run_cli, set_up_kiosk, setup_file

    kiosk_env(monkeypatch, tmp_path / "bad")
    bad = setup_file(tmp_path / "bad", fee_bank_bin="970405", fee_account_number="35002O5")
    assert run_cli("setup", "--from", str(bad)) == 1
    assert "fee_account_number" in capsys.readouterr().err
    config = set_up_kiosk(
        monkeypatch,
        tmp_path / "good",
        fee_bank_bin="970405",
        fee_account_number="3500205000123",
        fee_account_name="UBND XA DONG VAN",
    )
    settings = load_settings(env={}, config_path=config)
    assert settings.fee_account.account == "3500205000123"
