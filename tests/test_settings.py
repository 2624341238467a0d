from pathlib import Path

import pytest

from kiosk.config import SettingsError, load_settings


def test_defaults_need_no_file(tmp_path: Path):
    s = load_settings(env={}, config_path=tmp_path / "none.toml")
    assert s.lang == "vi"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("kiosk.db")
    assert s.idle_timeout_s == 90 and s.idle_countdown_s == 15
    assert s.printer == "pdf"


def test_toml_flat_and_tables_then_environment_wins(tmp_path: Path):
    cfg = tmp_path / "settings.toml"
    cfg.write_text(
        'lang = "en"\nidle_timeout_s = 60\n[portal]\nurl = "https://portal.example.gov.vn/api/v1"\n'
        'token = "from-file"\n',
        encoding="utf-8",
    )
    s = load_settings(
        env={
            "KIOSK_CONFIG": str(cfg),
            "KIOSK_PORTAL_TOKEN": "from-env",
            "KIOSK_ID": "QN-MK-01",
            "KIOSK_DATA_DIR": str(tmp_path / "d"),
        }
    )
    assert s.lang == "en"
    assert s.idle_timeout_s == 60
    assert s.portal_url == "https://portal.example.gov.vn/api/v1"
    assert s.portal_token == "from-env"
    assert s.kiosk_id == "QN-MK-01"
    assert s.data_dir == tmp_path / "d"
    assert s.log_dir == tmp_path / "d" / "logs"  # a hand-chosen data folder keeps logs beside it


@pytest.mark.parametrize(
    ("env", "name", "allowed"),
    [
        ({"KIOSK_LANG": "fr"}, "lang", "vi, en, tyz, ium, bru"),
        ({"KIOSK_IDLE_TIMEOUT_S": "soon"}, "idle_timeout_s", "int"),
        ({"KIOSK_IDLE_TIMEOUT_S": "0"}, "idle_timeout_s", "greater than 0"),
        ({"KIOSK_PORTAL_URL": "portal.local"}, "portal_url", "http"),
        ({"KIOSK_DB_URL": "mysql://x"}, "db_url", "postgresql"),
        ({"KIOSK_ID": "kiosk with spaces"}, "kiosk_id", "letters"),
        ({"KIOSK_RECEIPT_PREFIX": "QNO1"}, "receipt_prefix", "without I, L, O, U"),
        ({"KIOSK_FULLSCREEN": "maybe"}, "fullscreen", "bool"),
        ({"KIOSK_LANGUAGES": "en,tyz"}, "languages", "containing vi"),
    ],
)
def test_wrong_value_names_setting_value_and_allowed(tmp_path, env, name, allowed):
    with pytest.raises(SettingsError) as err:
        load_settings(env=env, config_path=tmp_path / "none.toml")
    message = str(err.value)
    assert repr(name) in message
    assert repr(next(iter(env.values()))) in message
    assert allowed in message


def test_unknown_key_and_broken_file_and_missing_config(tmp_path: Path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('colour = "blue"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="colour"):
        load_settings(env={}, config_path=cfg)
    cfg.write_text("lang = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="TOML"):
        load_settings(env={}, config_path=cfg)
    with pytest.raises(SettingsError, match="existing TOML"):
        load_settings(env={"KIOSK_CONFIG": str(tmp_path / "nope.toml")})


def test_start_up_stops_with_the_message(tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "KIOSK_LANG": "fr", "KIOSK_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 2
    # In Vietnamese (the wrong language cannot be used): what, where from, what to do.
    assert "lang = 'fr'" in proc.stderr and "tyz" in proc.stderr
    assert "biến môi trường KIOSK_LANG" in proc.stderr and "Cần làm" in proc.stderr
