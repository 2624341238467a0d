"""VietQR payloads: the format, the CRC, published test vectors, an independent decoder
(the vietqr-emvco package, test-only) and the QR image decoded with zxing-cpp."""

from __future__ import annotations

import subprocess
import sys

import pytest
import zxingcpp
from PIL import Image
from vietqr_emvco import VietQRParser

from kiosk.services.vietqr import (
    MAX_AMOUNT_VND,
    VietQRError,
    ascii_text,
    build_payload,
    crc16_ccitt_false,
    parse_payload,
    qr_png,
)

# Sample payloads of the NAPAS IBFT QR specification, as reproduced in the tests of public
# VietQR implementations (TypeScript `makeQRData` and `PayCodeGen` test suites, and the
# "NAPAS IBFT v1.5.2 compliance" tests of the npm `vietqr` package): static to account,
# static to card and a dynamic transfer to an account with a bill number and a purpose.
NAPAS_STATIC_ACCOUNT = (
    "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
)
NAPAS_STATIC_CARD = (
    "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC"
    "53037045802VN63044F52"
)
NAPAS_DYNAMIC_ACCOUNT = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)


def test_crc_check_value():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_builds_the_published_dynamic_vector_byte_for_byte():
    payload = build_payload("970403", "0011012345678", 180000, "thanh toan don hang", "NPS6869")
    assert payload == NAPAS_DYNAMIC_ACCOUNT


@pytest.mark.parametrize("vector", [NAPAS_STATIC_ACCOUNT, NAPAS_STATIC_CARD, NAPAS_DYNAMIC_ACCOUNT])
def test_parses_published_vectors(vector):
    parsed = parse_payload(vector)
    assert parsed.bank_bin == "970403"
    assert parsed.currency == "704" and parsed.country == "VN"


def test_field_order_and_values():
    payload = build_payload("970436", "0071000123456", 100000, "QN01-000123-J", "QN01-000123-J")
    assert payload.startswith("000201" + "010212" + "38")
    parsed = parse_payload(payload)
    assert (parsed.bank_bin, parsed.account, parsed.amount) == ("970436", "0071000123456", 100000)
    assert (parsed.purpose, parsed.bill_number) == ("QN01-000123-J", "QN01-000123-J")
    assert parsed.service == "QRIBFTTA" and parsed.initiation == "12"
    assert payload[-8:-4] == "6304" and payload[-4:] == payload[-4:].upper()


def test_independent_decoder_agrees():
    payload = build_payload("970405", "1234567890123", 250000, "DV01-000777-K")
    theirs = VietQRParser.parse(payload)
    assert VietQRParser.verify_checksum(payload)
    assert theirs["bank_bin"] == "970405"
    assert theirs["account_number"] == "1234567890123"
    assert theirs["amount"] == 250000
    assert theirs["currency"] == "704" and theirs["country_code"] == "VN"
    assert theirs["memo"] == "DV01-000777-K"
    assert theirs["service_code"] == "QRIBFTTA" and theirs["napas_guid"] == "A000000727"


def test_text_fields_are_ascii_and_short():
    payload = build_payload("970405", "123456", 5000, "Lệ phí chứng thực bản sao Đồng Văn xã")
    purpose = parse_payload(payload).purpose
    assert purpose.isascii() and len(purpose) <= 25
    assert purpose == "Le phi chung thuc ban sao"
    assert ascii_text("Đặng  Quốc—Việt!") == "Dang Quoc Viet"


def test_wrong_crc_and_broken_structure_are_refused():
    broken = NAPAS_DYNAMIC_ACCOUNT[:-1] + ("F" if NAPAS_DYNAMIC_ACCOUNT[-1] != "F" else "0")
    with pytest.raises(VietQRError) as info:
        parse_payload(broken)
    assert info.value.key == "fees.qr_bad_crc"
    with pytest.raises(VietQRError):
        parse_payload("000201010212389")


@pytest.mark.parametrize(
    ("bin_", "account", "amount", "key"),
    [
        ("97040", "123456", 1000, "fees.bin_invalid"),
        ("970405", "12345A789", 1000, "fees.account_invalid"),
        ("970405", "12345", 1000, "fees.account_invalid"),
        ("970405", "1" * 20, 1000, "fees.account_invalid"),
        ("970405", "123456", 0, "fees.amount_not_positive"),
        ("970405", "123456", MAX_AMOUNT_VND + 1, "fees.amount_too_large"),
        ("970405", "123456", 1.5, "fees.amount_not_whole"),
    ],
)
def test_bad_values_give_a_keyed_error(bin_, account, amount, key):
    with pytest.raises(VietQRError) as info:
        build_payload(bin_, account, amount, "X")
    assert info.value.key == key


def test_qr_image_decodes_to_exactly_the_payload(tmp_path):
    payload = build_payload("970418", "21510001234567", 20000, "QN01-000042-7")
    png = tmp_path / "qr.png"
    qr_png(payload, png)
    found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [payload]


def test_command_prints_the_payload_and_writes_the_image(tmp_path):
    png = tmp_path / "pay.png"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "vietqr", "--bin", "970405", "--account", "3500205123456",
         "--amount", "100000", "--purpose", "QN01-000123-J", "--png", str(png)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = result.stdout.strip()
    theirs = VietQRParser.parse(payload)
    assert VietQRParser.verify_checksum(payload)
    assert (theirs["bank_bin"], theirs["account_number"]) == ("970405", "3500205123456")
    assert theirs["amount"] == 100000 and theirs["memo"] == "QN01-000123-J"
    found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [payload]


def test_command_refuses_letters_in_the_account_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--lang", "vi", "vietqr", "--bin", "970405",
         "--account", "35002O5123", "--amount", "100000"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "chỉ gồm chữ số" in result.stderr
    assert result.stdout == ""
