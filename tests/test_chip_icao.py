"""ICAO 9303 building blocks: keys and secure messaging against the worked example of
ICAO 9303-11 appendix D, the card's expiry by Law 26/2023, DG1/DG2/DG13, the SOD."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.services.icao9303 import expiry, lds, pa, sm, tlv
from tests.chip_helpers import Person, make_card, pki


def test_bac_keys_match_icao_worked_example():
    info = sm.mrz_information("L898902C", "690806", "940623")
    assert info == "L898902C<369080619406236"
    seed = sm.bac_seed(info)
    assert seed.hex() == "239ab9cb282daf66231dc5a4df6bfbae"
    assert sm.derive_key(seed, sm.KENC).hex() == "ab94fdecf2674fdfb9b391f85d7f76f2"
    assert sm.derive_key(seed, sm.KMAC).hex() == "7962d9ece03d1acd4c76089dce131543"
    k_enc, k_mac = sm.derive_key(seed, sm.KENC), sm.derive_key(seed, sm.KMAC)
    s = bytes.fromhex("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B")
    e = sm.encrypt(k_enc, s)
    assert e.hex() == "72c29c2371cc9bdb65b779b8e8d37b29ecc154aa56a8799fae2f498f76ed92f2"
    assert sm.mac(k_mac, e).hex() == "5f1448eea8ad90a7"


def test_secure_messaging_matches_icao_worked_example():
    keys = sm.SessionKeys(
        bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5"),
        bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8"),
        int("887022120C06C226", 16),
    )
    channel = sm.SecureChannel(keys)
    select = channel.wrap(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))
    assert select.hex() == "0ca4020c158709016375432908c044f68e08bf8b92d635ff24f800"
    assert channel.unwrap(bytes.fromhex("990290008E08FA855A5D4C50A8ED9000")) == (b"", 0x9000)
    read = channel.wrap(0x00, 0xB0, 0x00, 0x00, le=4)
    assert read.hex() == "0cb000000d9701048e08ed6705417e96ba5500"
    # A flipped bit in the chip's MAC ends the session.
    with pytest.raises(sm.SecureMessagingError):
        channel.unwrap(bytes.fromhex("990290008E08FA855A5D4C50A8ED9100"))


def test_reader_and_chip_sides_agree():
    keys_r = sm.SessionKeys.from_seed(b"k" * 16, 41)
    keys_c = sm.SessionKeys.from_seed(b"k" * 16, 41)
    reader, chip = sm.SecureChannel(keys_r), sm.ChipChannel(keys_c)
    apdu = reader.wrap(0x00, 0xB1, 0, 0, tlv.encode(0x54, b"\x80\x00"), le=1000)
    header, data, le = chip.unwrap_command(apdu)
    assert header == b"\x0c\xb1\x00\x00" and data == b"\x54\x02\x80\x00" and le == 1000
    answer = chip.wrap_response(0xB1, b"\x53\x03abc", 0x6282)
    assert reader.unwrap(answer) == (b"\x53\x03abc", 0x6282)


@pytest.mark.parametrize(
    ("birth", "issued", "expected"),
    [
        (date(1990, 5, 17), date(2021, 4, 12), date(2030, 5, 17)),  # 30 -> 40
        (date(1983, 3, 2), date(2021, 6, 1), date(2043, 3, 2)),  # 38: within 2 years of 40 -> 60
        (date(2000, 1, 10), date(2021, 1, 9), date(2025, 1, 10)),  # 20 -> 25
        (date(2000, 1, 10), date(2023, 1, 10), date(2040, 1, 10)),  # exactly 23 -> 40
        (date(2012, 8, 1), date(2024, 7, 20), date(2026, 8, 1)),  # 11 (2023 law) -> 14
        (date(2011, 1, 1), date(2024, 7, 20), date(2036, 1, 1)),  # 13: within 2 years of 14 -> 25
        (date(1960, 1, 1), date(2018, 1, 1), None),  # 58: no expiry
        (date(1960, 1, 2), date(2018, 1, 1), date(2020, 1, 2)),  # 57: expires at 60
        (date(2000, 2, 29), date(2021, 5, 1), date(2025, 2, 28)),  # no 29 Feb in 2025
    ],
)
def test_expiry_by_renewal_ages(birth, issued, expected):
    assert expiry.expiry_for(birth, issued) == expected


def test_expiry_candidates_try_the_law_then_its_neighbours():
    got = expiry.candidates(date(1990, 5, 17), date(2021, 4, 12))
    assert got[:5] == ["300517", "300516", "300518", "500517", "150517"]
    assert got[-2:] == list(expiry.NO_EXPIRY_MRZ)
    no_issue = expiry.candidates(date(1990, 5, 17), None, today=date(2026, 1, 1))
    assert no_issue[:2] == ["300517", "500517"]


def test_td1_mrz_of_a_vietnamese_card_round_trips():
    mrz = lds.build_td1("011190001234", "900517", "F", "300517", "LO", "THI MAI")
    assert sm.check_digit("190001234") == "2"  # 1*7+9*3+0+0+0+1*1+2*7+3*3+4*1 = 62
    assert mrz[:30] == "IDVNM1900012342011190001234<<" + sm.check_digit("011190001234")
    parsed = lds.parse_dg1(lds.build_dg1(mrz))
    assert parsed.document_number == "190001234"
    assert parsed.id_number == "011190001234"
    assert (parsed.birth_yymmdd, parsed.expiry_yymmdd, parsed.sex) == ("900517", "300517", "F")
    assert parsed.name == "LO THI MAI"


def test_a_published_cccd_mrz_parses_and_matches_the_rules():
    """The MRZ of a 2021 CCCD (001093047064, born 05/01/1993, issued 24/07/2021, valid to
    05/01/2033) as a Vietnamese eKYC SDK's demo shows it: the BAC document number is the
    last 9 digits, and the expiry is the law's (age 40 for a card issued at 28)."""
    mrz = "IDVNM0930470641001093047064<<29301054M3301052VNM<<<<<<<<<<<8" + "UNG<<HOANG<HIEP".ljust(
        30, "<"
    )
    parsed = lds.parse_dg1(lds.build_dg1(mrz))
    assert (parsed.document_number, parsed.id_number) == ("093047064", "001093047064")
    assert sm.check_digit("093047064") == mrz[14]
    assert expiry.expiry_for(date(1993, 1, 5), date(2021, 7, 24)) == date(2033, 1, 5)
    assert expiry.yymmdd(date(2033, 1, 5)) == parsed.expiry_yymmdd
    assert lds.build_td1("001093047064", "930105", "M", "330105", "UNG", "HOANG HIEP") == mrz


def test_dg13_fields_as_vietnamese_readers_parse_them():
    person = Person(spouse_name="Cà Văn Ban")
    raw = lds.build_dg13(
        {
            "id_number": person.id_number,
            "full_name": person.full_name,
            "date_of_birth": person.date_of_birth,
            "sex": "female",
            "ethnicity": "Thái",
            "religion": "Không",
            "place_of_origin": person.place_of_origin,
            "place_of_residence": person.place_of_residence,
            "identifying_marks": person.identifying_marks,
            "issue_date": person.issue_date,
            "expiry_date": None,
            "father_name": "Lò Văn Pọm",
            "mother_name": "Quàng Thị Ún",
            "spouse_name": "Cà Văn Ban",
            "old_id_number": "040123456",
        }
    )
    # The layout: SEQUENCE { INTEGER n, value } items, e.g. item 1 as PrintableString.
    assert bytes.fromhex("3011020101130c") + b"011190001234" in raw
    got = lds.parse_dg13(raw)
    assert got.full_name == "Lò Thị Mai" and got.sex == "female"
    assert got.date_of_birth == date(1990, 5, 17) and got.issue_date == date(2021, 4, 12)
    assert got.expiry_date is None and got.no_expiry
    assert (got.father_name, got.mother_name, got.spouse_name) == (
        "Lò Văn Pọm",
        "Quàng Thị Ún",
        "Cà Văn Ban",
    )
    assert got.ethnicity == "Thái" and got.old_id_number == "040123456"


def test_dg13_prefix_layout_seen_on_cards():
    """Item prefixes as a published CCCD reader matches them byte for byte."""
    raw = lds.build_dg13({"id_number": "001099012345", "date_of_birth": date(1999, 1, 2)})
    assert bytes([48, 17, 2, 1, 1, 19, 12]) in raw  # number: PrintableString, 12
    assert bytes([48, 15, 2, 1, 3, 19, 10]) in raw  # date of birth: dd/mm/yyyy


def test_dg2_portrait_jpeg_and_jpeg2000():
    from kiosk.hardware.card_emulator import sample_portrait
    from kiosk.services.icao9303.reader import decode_portrait

    for kind, mime in (("jpeg", "image/jpeg"), ("jp2", "image/jp2")):
        image = sample_portrait(kind)
        portrait = lds.parse_dg2(lds.build_dg2(image, 240, 320))
        assert portrait.mime == mime and portrait.data == image
        assert decode_portrait(portrait).shape == (320, 240, 3)


def test_sod_verification_levels():
    good = pki()
    card = make_card(pki=good)
    files = card.files
    sod = pa.parse_sod(files[lds.FID["SOD"]])
    groups = {n: files[lds.FID[f"DG{n}"]] for n in (1, 2, 13)}
    assert pa.verify(sod, groups, [good.csca_cert]).level == pa.VERIFIED
    none = pa.verify(sod, groups, [])
    assert (none.level, none.reason) == (pa.UNVERIFIED, "no_trust_anchor")
    other = pa.verify(sod, groups, [pki("CSCA Other").csca_cert])
    assert (other.level, other.reason) == (pa.UNVERIFIED, "unknown_csca")
    altered = dict(groups)
    altered[13] = altered[13][:-1] + bytes([altered[13][-1] ^ 1])
    bad = pa.verify(sod, altered, [good.csca_cert])
    assert bad.level == pa.INVALID
    assert [c.matched for c in bad.hashes] == [True, True, False]


def test_sod_with_a_forged_signature_is_invalid():
    good = pki()
    card = make_card(pki=good)
    raw = bytearray(card.files[lds.FID["SOD"]])
    sod = pa.parse_sod(bytes(raw))
    signature = bytes(sod.signed_data["signer_infos"][0]["signature"].native)
    at = bytes(raw).index(signature)
    raw[at + 10] ^= 0x01
    groups = {n: card.files[lds.FID[f"DG{n}"]] for n in (1, 2, 13)}
    result = pa.verify(pa.parse_sod(bytes(raw)), groups, [good.csca_cert])
    assert result.level == pa.INVALID and "signature" in result.reason


def test_expired_document_signer_is_unverified():
    from kiosk.hardware.card_emulator import TestPki

    old = TestPki(csca_name="CSCA Old", ds_not_before_days=-400, ds_valid_days=30)
    card = make_card(pki=old)
    sod = pa.parse_sod(card.files[lds.FID["SOD"]])
    groups = {n: card.files[lds.FID[f"DG{n}"]] for n in (1, 2, 13)}
    result = pa.verify(sod, groups, [old.csca_cert])
    assert (result.level, result.reason) == (pa.UNVERIFIED, "expired_signer")


def test_trust_store_from_folder_file_and_master_list(tmp_path):
    good, other = pki(), pki("CSCA Other")
    folder = tmp_path / "csca"
    folder.mkdir()
    (folder / "vn.pem").write_bytes(good.csca_pem())
    (folder / "readme.txt").write_text("not a certificate")
    assert [c.subject for c in pa.load_trust_store(folder)] == [good.csca_cert.subject]
    ml = tmp_path / "masterlist.ml"
    ml.write_bytes(
        pa.build_master_list([good.csca_cert, other.csca_cert], other.csca_cert, other.csca_key)
    )
    assert len(pa.load_trust_store(ml)) == 2
    assert pa.load_trust_store("") == []
