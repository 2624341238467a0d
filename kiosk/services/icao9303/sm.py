"""BAC keys, 3DES, retail MAC and secure messaging: ICAO 9303 part 11, sections 4.3 and 9.8.

Both ends are here: the reader (`SecureChannel.wrap` / `unwrap`) and the chip
(`ChipChannel`), so the project's card emulator speaks exactly what a reader expects.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from kiosk.services.icao9303 import tlv

ZERO_IV = bytes(8)
KENC = b"\x00\x00\x00\x01"
KMAC = b"\x00\x00\x00\x02"


class SecureMessagingError(Exception):
    """The other side's MAC or format is wrong: the session is over."""


# --------------------------------------------------------------------------- MRZ keys
_MRZ_VALUES = {**{str(d): d for d in range(10)}, "<": 0}
_MRZ_VALUES.update({chr(ord("A") + i): 10 + i for i in range(26)})


def check_digit(text: str) -> str:
    weights = (7, 3, 1)
    total = sum(_MRZ_VALUES[ch] * weights[i % 3] for i, ch in enumerate(text))
    return str(total % 10)


def mrz_information(document_number: str, birth_yymmdd: str, expiry_yymmdd: str) -> str:
    """Document number (padded to 9 with '<'), birth and expiry dates, each with its check digit."""
    doc = document_number.upper()
    if len(doc) < 9:
        doc = doc.ljust(9, "<")
    return (
        doc
        + check_digit(doc)
        + birth_yymmdd
        + check_digit(birth_yymmdd)
        + expiry_yymmdd
        + check_digit(expiry_yymmdd)
    )


def _parity(key: bytes) -> bytes:
    out = bytearray()
    for b in key:
        b &= 0xFE
        out.append(b | (bin(b).count("1") % 2 == 0))
    return bytes(out)


def derive_key(seed: bytes, counter: bytes) -> bytes:
    """16-byte 2-key 3DES key (ICAO 9303-11 §9.7.1), parity bits adjusted."""
    return _parity(hashlib.sha1(seed + counter).digest()[:16])


def bac_seed(mrz_info: str) -> bytes:
    return hashlib.sha1(mrz_info.encode("ascii")).digest()[:16]


# --------------------------------------------------------------------------- primitives
def _3des(key16: bytes) -> TripleDES:
    return TripleDES(key16 + key16[:8])


def encrypt(key16: bytes, data: bytes, iv: bytes = ZERO_IV) -> bytes:
    enc = Cipher(_3des(key16), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt(key16: bytes, data: bytes, iv: bytes = ZERO_IV) -> bytes:
    if len(data) % 8:
        raise SecureMessagingError("cryptogram is not a whole number of blocks")
    dec = Cipher(_3des(key16), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2."""
    data = data + b"\x80"
    return data + bytes(-len(data) % 8)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise SecureMessagingError("bad padding")
    return stripped[:-1]


def retail_mac(key16: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES, over already padded data."""
    ka, kb = key16[:8], key16[8:16]
    single_a = TripleDES(ka * 3)
    enc = Cipher(single_a, modes.CBC(ZERO_IV)).encryptor()
    h = (enc.update(data) + enc.finalize())[-8:]
    d = Cipher(TripleDES(kb * 3), modes.ECB()).decryptor()
    h = d.update(h) + d.finalize()
    e = Cipher(single_a, modes.ECB()).encryptor()
    return e.update(h) + e.finalize()


def mac(key16: bytes, data: bytes) -> bytes:
    return retail_mac(key16, pad(data))


# --------------------------------------------------------------------------- sessions
class SessionKeys:
    def __init__(self, k_enc: bytes, k_mac: bytes, ssc: int) -> None:
        self.k_enc = k_enc
        self.k_mac = k_mac
        self.ssc = ssc

    @classmethod
    def from_seed(cls, seed: bytes, ssc: int) -> SessionKeys:
        return cls(derive_key(seed, KENC), derive_key(seed, KMAC), ssc)

    def next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << 64)
        return self.ssc.to_bytes(8, "big")


def _data_object(ins: int, cryptogram: bytes) -> bytes:
    # Even INS: DO'87' with the padding-content indicator 01; odd INS: DO'85', no indicator.
    if ins & 1:
        return tlv.encode(0x85, cryptogram)
    return tlv.encode(0x87, b"\x01" + cryptogram)


def _le_object(le: int) -> bytes:
    if le < 0:
        return b""
    if le in (256, 65536):
        raw = b"\x00" if le == 256 else b"\x00\x00"
    elif le > 255:
        raw = le.to_bytes(2, "big")
    else:
        raw = bytes([le])
    return tlv.encode(0x97, raw)


class SecureChannel:
    """The reader's side of a BAC secure-messaging session."""

    def __init__(self, keys: SessionKeys) -> None:
        self.keys = keys

    def wrap(self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int = -1) -> bytes:
        """Protected command APDU. `le` = -1 for none, 256 for '00' (all, short)."""
        header = bytes([cla | 0x0C, ins, p1, p2])
        do_data = _data_object(ins, encrypt(self.keys.k_enc, pad(data))) if data else b""
        do_le = _le_object(le)
        ssc = self.keys.next_ssc()
        cc = mac(self.keys.k_mac, ssc + pad(header) + do_data + do_le)
        body = do_data + do_le + tlv.encode(0x8E, cc)
        extended = len(body) > 255 or le > 256
        if extended:
            return header + b"\x00" + len(body).to_bytes(2, "big") + body + b"\x00\x00"
        return header + bytes([len(body)]) + body + b"\x00"

    def unwrap(self, response: bytes) -> tuple[bytes, int]:
        """(plain data, status word) of a protected response; raises if its MAC is wrong."""
        if len(response) < 2:
            raise SecureMessagingError("response shorter than a status word")
        body, sw = response[:-2], int.from_bytes(response[-2:], "big")
        ssc = self.keys.next_ssc()
        if not body:
            # The chip answered without secure messaging: an error it could not protect.
            raise SecureMessagingError(f"unprotected answer {sw:04X}")
        raw_objects = b""
        cc = None
        data_do = None
        sw_do = None
        pos = 0
        while pos < len(body):
            try:
                obj, end = tlv.parse_one(body, pos)
            except tlv.TlvError as exc:
                raise SecureMessagingError(f"malformed protected response: {exc}") from exc
            if obj.tag == 0x8E:
                cc = obj.value
            else:
                raw_objects += body[pos:end]
                if obj.tag in (0x87, 0x85):
                    data_do = obj
                elif obj.tag == 0x99:
                    sw_do = obj.value
            pos = end
        if cc is None or sw_do is None or len(sw_do) != 2:
            raise SecureMessagingError("protected response lacks DO'99' or DO'8E'")
        if not hmac.compare_digest(mac(self.keys.k_mac, ssc + raw_objects), cc):
            raise SecureMessagingError("wrong MAC on the chip's answer")
        data = b""
        if data_do is not None:
            crypt = data_do.value[1:] if data_do.tag == 0x87 else data_do.value
            if data_do.tag == 0x87 and data_do.value[:1] != b"\x01":
                raise SecureMessagingError("unknown padding-content indicator")
            data = unpad(decrypt(self.keys.k_enc, crypt))
        return data, int.from_bytes(sw_do, "big")


class ChipChannel:
    """The chip's side, for the project's card emulator."""

    def __init__(self, keys: SessionKeys) -> None:
        self.keys = keys

    def unwrap_command(self, apdu: bytes) -> tuple[bytes, bytes, int]:
        """(header CLA INS P1 P2, plain data, le) of a protected command; raises on a bad MAC."""
        if len(apdu) < 4 or not apdu[0] & 0x0C:
            raise SecureMessagingError("command without secure messaging")
        header = apdu[:4]
        body = apdu[4:]
        if len(body) >= 3 and body[0] == 0 and len(body) > 3:
            length = int.from_bytes(body[1:3], "big")
            body = body[3 : 3 + length]
        elif body:
            body = body[1 : 1 + body[0]]
        raw = b""
        cc = None
        data = b""
        le = -1
        pos = 0
        while pos < len(body):
            try:
                obj, end = tlv.parse_one(body, pos)
            except tlv.TlvError as exc:
                raise SecureMessagingError(f"malformed protected command: {exc}") from exc
            if obj.tag == 0x8E:
                cc = obj.value
                pos = end
                continue
            raw += body[pos:end]
            pos = end
            if obj.tag == 0x87:
                data = obj.value[1:]
            elif obj.tag == 0x85:
                data = obj.value
            elif obj.tag == 0x97:
                le = int.from_bytes(obj.value, "big") or (256 if len(obj.value) == 1 else 65536)
        ssc = self.keys.next_ssc()
        if cc is None or not hmac.compare_digest(mac(self.keys.k_mac, ssc + pad(header) + raw), cc):
            raise SecureMessagingError("wrong MAC on the command")
        plain = unpad(decrypt(self.keys.k_enc, data)) if data else b""
        return header, plain, le

    def wrap_response(self, ins: int, data: bytes, sw: int) -> bytes:
        do_data = _data_object(ins, encrypt(self.keys.k_enc, pad(data))) if data else b""
        do_sw = tlv.encode(0x99, sw.to_bytes(2, "big"))
        ssc = self.keys.next_ssc()
        cc = mac(self.keys.k_mac, ssc + do_data + do_sw)
        return do_data + do_sw + tlv.encode(0x8E, cc) + sw.to_bytes(2, "big")
