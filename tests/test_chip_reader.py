"""The chip read end to end with the emulated card in process (SimulatedReader)."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.hardware.card_emulator import sample_portrait
from kiosk.hardware.cardreader import CardRemovedError, NoCardError, SimulatedReader
from kiosk.services.icao9303 import lds, pa
from kiosk.services.icao9303.reader import (
    BacRefusedError,
    ChipReader,
    ChipReadError,
    access_keys,
    decode_portrait,
)
from tests.chip_helpers import Person, big_jpeg, make_card, pki


def _read(card, trust, keys=None, person=None, **kw):
    person = person or Person()
    reader = SimulatedReader()
    reader.insert(card)
    keys = keys or access_keys(person.id_number, person.date_of_birth, person.issue_date)
    return ChipReader(reader, trust, **kw).read(keys)


def test_good_card_is_verified_with_every_field():
    good = pki()
    result = _read(make_card(pki=good), [good.csca_cert])
    assert result.level == pa.VERIFIED and result.bac_attempts == 1
    assert result.mrz.id_number == "011190001234" and result.mrz.document_number == "190001234"
    assert result.dg13.full_name == "Lò Thị Mai" and result.dg13.ethnicity == "Thái"
    assert result.dg13.father_name == "Lò Văn Pọm"
    assert [c.data_group for c in result.hashes] == [1, 2, 13]
    assert all(c.matched for c in result.hashes)
    assert decode_portrait(result.portrait).shape == (320, 240, 3)
    out = result.to_json()
    assert "portrait" in out and "data" not in str(out["portrait"])
    result.wipe()
    assert result.dg13 is None and result.portrait is None and result.mrz is None


def test_wrong_expiry_is_refused_then_the_right_one_opens():
    good = pki()
    card = make_card(pki=good)
    person = Person()
    wrong = access_keys(person.id_number, person.date_of_birth, expiry_date=date(2031, 1, 1))
    with pytest.raises(BacRefusedError) as refused:
        _read(card, [good.csca_cert], keys=wrong)
    assert refused.value.key == "chip.error.bac"
    assert card.bac_failures == 2  # the 9-digit and the 12-digit number
    typed = access_keys(person.id_number, person.date_of_birth, expiry_date=date(2030, 5, 17))
    assert _read(card, [good.csca_cert], keys=typed).level == pa.VERIFIED


def test_expiry_found_among_neighbours_when_issued_near_a_renewal_age():
    # Issued at 38: the card lasts to 60, not 40; the law's rule finds it first time.
    good = pki()
    person = Person(
        id_number="011183001234",
        date_of_birth=date(1983, 3, 2),
        issue_date=date(2021, 6, 1),
        expiry_date=date(2043, 3, 2),
    )
    result = _read(make_card(person, pki=good), [good.csca_cert], person=person)
    assert result.level == pa.VERIFIED and result.expiry_used == "430302"
    # Without the issue date (an old QR) the candidates still reach it.
    keys = access_keys(person.id_number, person.date_of_birth, None, today=date(2022, 1, 1))
    again = _read(make_card(person, pki=good), [good.csca_cert], keys=keys)
    assert again.level == pa.VERIFIED and again.bac_attempts == 2


def test_tampered_data_group_is_invalid_and_keeps_nothing():
    good = pki()
    result = _read(make_card(pki=good, tamper=13), [good.csca_cert])
    assert result.level == pa.INVALID
    assert "DG13" in result.reason
    assert result.mrz is None and result.dg13 is None and result.portrait is None
    out = result.to_json()
    assert "dg13" not in out and "mrz" not in out
    assert [c["matched"] for c in out["data_groups"]] == [True, True, False]


def test_unknown_csca_and_no_trust_store_are_unverified():
    result = _read(make_card(pki=pki()), [pki("CSCA Other").csca_cert])
    assert (result.level, result.unverified_reason) == (pa.UNVERIFIED, "unknown_csca")
    assert result.dg13.full_name == "Lò Thị Mai"  # the data is kept, marked unverified
    bare = _read(make_card(pki=pki()), [])
    assert bare.unverified_reason == "no_trust_anchor"


def test_card_pulled_mid_read_raises_a_clear_error():
    good = pki()
    reader = SimulatedReader()
    reader.insert(make_card(pki=good))
    reader.pull_after = 12
    person = Person()
    keys = access_keys(person.id_number, person.date_of_birth, person.issue_date)
    with pytest.raises(CardRemovedError) as pulled:
        ChipReader(reader, [good.csca_cert]).read(keys)
    assert pulled.value.key == "chip.error.card_removed"


def test_no_card_within_the_wait():
    reader = SimulatedReader()
    person = Person()
    keys = access_keys(person.id_number, person.date_of_birth, person.issue_date)
    with pytest.raises(NoCardError):
        ChipReader(reader, [], wait_s=0.2).read(keys)


@pytest.mark.parametrize("extended", [True, False])
def test_large_portrait_over_32k_short_and_extended(extended):
    good = pki()
    image = big_jpeg()
    card = make_card(pki=good, portrait=image, extended_length=extended, with_dg14=True)
    result = _read(card, [good.csca_cert])
    assert result.level == pa.VERIFIED
    assert result.portrait.data == image
    assert result.has_dg14 and 14 in result.data_groups


def test_jpeg2000_portrait():
    good = pki()
    image = sample_portrait("jp2")
    result = _read(make_card(pki=good, portrait=image), [good.csca_cert])
    assert result.portrait.mime == "image/jp2"
    assert decode_portrait(result.portrait).shape == (320, 240, 3)


def test_end_of_file_answers_6282_and_6b00_end_the_read():
    """A file shorter than its header says: the chip answers 6282 with the 3 bytes it has,
    then 6B00 past the end; the reader stops with a clear error instead of looping."""
    good = pki()
    card = make_card(pki=good)
    fid = lds.FID["COM"]
    card.files[fid] = card.files[fid][:3]
    with pytest.raises(ChipReadError, match="file 011E ended at 3 of"):
        _read(card, [good.csca_cert])
