"""The chip read through the real PC/SC stack: pcscd + vsmartcard-vpcd + pyscard, with the
project's card emulator on the other end of vpcd's socket (see tests/pcsc_helpers.py)."""

from __future__ import annotations

import socket
from datetime import date

import pytest

from kiosk.hardware.cardreader import (
    CardRemovedError,
    NoReaderError,
    PcscReader,
    ReaderGoneError,
)
from kiosk.services.icao9303 import pa
from kiosk.services.icao9303.reader import BacRefusedError, ChipReader, access_keys
from tests.chip_helpers import Person, big_jpeg, make_card, pki
from tests.pcsc_helpers import PcscStack, why_no_pcscd

REASON = why_no_pcscd()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"real PC/SC stack: {REASON}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = PcscStack(tmp_path_factory.mktemp("pcscd"))
    s.start()
    yield s
    s.close()


@pytest.fixture
def pcsc(stack):
    if not stack.running():
        stack.start()
    stack.card_side.pull_after = None
    stack.card_side.hook = None
    yield stack
    stack.card_side.hook = None
    stack.card_side.pull_after = None


def _keys(person=None, **kw):
    person = person or Person()
    if kw:
        return access_keys(person.id_number, person.date_of_birth, **kw)
    return access_keys(person.id_number, person.date_of_birth, person.issue_date)


def test_vpcd_port_is_not_reachable_from_this_network(pcsc):
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", pcsc.port)) != 0


def test_good_card_is_verified_through_pcscd(pcsc):
    good = pki()
    pcsc.insert(make_card(pki=good, portrait=big_jpeg()))
    assert "Virtual PCD 00 00" in PcscReader().readers()
    result = ChipReader(PcscReader("Virtual PCD"), [good.csca_cert]).read(_keys())
    assert result.level == pa.VERIFIED
    assert result.reader_name == "Virtual PCD 00 00"
    assert result.dg13.full_name == "Lò Thị Mai" and result.mrz.id_number == "011190001234"
    assert len(result.portrait.data) > 32767  # read past offset 32767 (odd INS)


def test_short_length_card_through_pcscd(pcsc):
    good = pki()
    pcsc.insert(make_card(pki=good, extended_length=False))
    result = ChipReader(PcscReader("Virtual PCD"), [good.csca_cert]).read(_keys())
    assert result.level == pa.VERIFIED


def test_wrong_expiry_refused_then_the_right_one(pcsc):
    good = pki()
    card = make_card(pki=good)
    pcsc.insert(card)
    reader = ChipReader(PcscReader("Virtual PCD"), [good.csca_cert])
    with pytest.raises(BacRefusedError):
        reader.read(_keys(expiry_date=date(2029, 5, 17)))
    assert card.bac_failures == 2
    result = reader.read(_keys(expiry_date=date(2030, 5, 17)))
    assert result.level == pa.VERIFIED and result.bac_attempts == 1


def test_tampered_data_group_is_invalid(pcsc):
    good = pki()
    pcsc.insert(make_card(pki=good, tamper=1))
    result = ChipReader(PcscReader("Virtual PCD"), [good.csca_cert]).read(_keys())
    assert result.level == pa.INVALID and result.mrz is None and result.dg13 is None
    assert [c.matched for c in result.hashes] == [False, True, True]


def test_unknown_csca_is_unverified(pcsc):
    pcsc.insert(make_card(pki=pki()))
    result = ChipReader(PcscReader("Virtual PCD"), [pki("CSCA Other").csca_cert]).read(_keys())
    assert (result.level, result.unverified_reason) == (pa.UNVERIFIED, "unknown_csca")


def test_card_pulled_mid_read(pcsc):
    good = pki()
    pcsc.insert(make_card(pki=good, portrait=big_jpeg()))
    pcsc.card_side.pull_after = 20
    with pytest.raises(CardRemovedError) as pulled:
        ChipReader(PcscReader("Virtual PCD"), [good.csca_cert]).read(_keys())
    assert pulled.value.key == "chip.error.card_removed"
    assert "Virtual PCD 00 00" in pulled.value.detail


def test_pcscd_stopped_mid_session(pcsc):
    good = pki()
    pcsc.insert(make_card(pki=good, portrait=big_jpeg()))
    pcsc.card_side.hook = lambda n: pcsc.kill_now() if n == 15 else None
    with pytest.raises(ReaderGoneError) as gone:
        ChipReader(PcscReader("Virtual PCD"), [good.csca_cert]).read(_keys())
    assert gone.value.key == "chip.error.reader_gone"
    with pytest.raises(NoReaderError):
        PcscReader().readers()
    # pcscd is gone before the next test looks at it (and starts a new one).
    assert pcsc.proc.wait(15) is not None


def _cli(*args, env_extra=None):
    import os
    import subprocess
    import sys

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "chip", "read", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_prints_fields_and_level_through_pcscd(pcsc, tmp_path):
    import json

    good = pki()
    csca = tmp_path / "csca.pem"
    csca.write_bytes(good.csca_pem())
    ident = ["--id", "011190001234", "--dob", "1990-05-17", "--reader", "Virtual PCD"]
    pcsc.insert(make_card(pki=good))
    verified = _cli(*ident, "--csca", str(csca))
    assert verified.returncode == 0, verified.stderr
    out = json.loads(verified.stdout)
    assert out["level"] == "chip_verified"
    assert out["mrz"]["document_number"] == "190001234"
    assert out["dg13"]["full_name"] == "Lò Thị Mai" and out["dg13"]["mother_name"]
    assert [g["matched"] for g in out["data_groups"]] == [True, True, True]
    assert "data" not in json.dumps(out["portrait"])

    unverified = _cli(*ident)
    assert unverified.returncode == 0
    assert json.loads(unverified.stdout)["unverified_reason"] == "no_trust_anchor"

    pcsc.insert(make_card(pki=good, tamper=13))
    invalid = _cli(*ident, "--csca", str(csca))
    assert invalid.returncode == 2
    out = json.loads(invalid.stdout)
    assert out["level"] == "chip_invalid" and "dg13" not in out

    pcsc.remove()
    failed = _cli(*ident, "--timeout", "1")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"] == "chip.error.no_card"


def test_doctor_lists_readers_and_fails_on_virtual_reader_in_production(pcsc, settings):
    from dataclasses import replace

    from kiosk.commands.doctor import FAIL, WARN, Check, Doctor

    production = Doctor(settings).run(["card_reader"])[0]
    assert isinstance(production, Check)
    assert production.status == FAIL and "Virtual PCD 00 00" in production.detail
    demo = Doctor(replace(settings, demo=True)).run(["card_reader"])[0]
    assert demo.status == WARN and "Virtual PCD 00 01" in demo.detail
