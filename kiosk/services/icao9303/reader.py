"""Read a CCCD / Căn cước chip: BAC, secure messaging, the LDS files, passive authentication.

`ChipReader(reader, trust).read(keys)` waits for a card on a `kiosk.hardware.cardreader`
reader, opens BAC with the first access key the chip accepts (`access_keys` makes them
from the QR code's number, date of birth and issue date), reads EF.COM, EF.SOD, DG1, DG2,
DG13 and DG14/DG15 where present, and checks them (`pa.verify`). A `chip_invalid` chip
yields its hash table and nothing personal. Nothing personal is ever logged.

Reads follow ICAO 9303-10/11: the first bytes of a file give its length; the rest comes in
blocks of at most 223 bytes with short APDUs (the protected answer then fits in 256) or
larger blocks when the card's ATR announces extended lengths; offsets above 32767 use
READ BINARY with odd INS (B1, offset in DO'54'); a chip answering 6282 (end of file
reached) or 6B00 (offset beyond the end) has no more data.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from kiosk.hardware.cardreader import CardConnection, CardReader
from kiosk.services.icao9303 import expiry, lds, pa, sm, tlv

log = logging.getLogger(__name__)

SHORT_BLOCK = 0xDF
EXTENDED_BLOCK = 0x0F00
DEFAULT_GROUPS = (1, 2, 13, 14, 15)


class ChipReadError(Exception):
    key = "chip.error.protocol"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BacRefusedError(ChipReadError):
    """No access key opened the chip: the expiry (or number, or birth date) is wrong."""

    key = "chip.error.bac"


class NotAnIdCardError(ChipReadError):
    key = "chip.error.not_id_card"


class ChipTimeoutError(ChipReadError):
    key = "chip.error.timeout"


@dataclass(frozen=True)
class AccessKey:
    document_number: str
    birth_yymmdd: str
    expiry_yymmdd: str


def access_keys(
    id_number: str,
    birth: date,
    issued: date | None = None,
    expiry_date: date | None = None,
    today: date | None = None,
) -> list[AccessKey]:
    """Keys to try, most likely first.

    The document number in a CCCD's MRZ is the last 9 digits of the 12-digit number, the
    full number following in the optional data (a 2021 card's MRZ published in a
    Vietnamese eKYC SDK's demo, `IDVNM0930470641001093047064<<2`, see lds.build_td1;
    Vietnamese NFC SDKs likewise take the 12-digit number and derive the key). For the 2024
    Căn cước card we found no published MRZ; its chip profile is the same TD1/LDS1 one, so
    the same rule is tried first, then the full 12-digit number (ICAO 9303's key for a
    document number longer than 9 characters). The expiry is the one given (a clerk typed
    it) or the law's candidates (`expiry.candidates`)."""
    birth_s = expiry.yymmdd(birth)
    expiries = (
        [expiry.yymmdd(expiry_date)] if expiry_date else expiry.candidates(birth, issued, today)
    )
    numbers = [id_number[-9:]]
    if len(id_number) > 9:
        numbers.append(id_number)
    return [AccessKey(n, birth_s, e) for n in numbers for e in expiries]


@dataclass
class ChipIdentity:
    level: str
    reason: str = ""  # unverified_reason, or why the chip is invalid
    mrz: lds.Mrz | None = None
    dg13: lds.Dg13 | None = None
    portrait: lds.Portrait | None = None
    hashes: list[pa.HashCheck] = field(default_factory=list)
    data_groups: list[int] = field(default_factory=list)
    has_dg14: bool = False
    has_dg15: bool = False
    expiry_used: str = ""
    bac_attempts: int = 0
    seconds: float = 0.0
    reader_name: str = ""
    signer: str = ""
    csca: str = ""
    sod_sha256: str = ""

    @property
    def verified(self) -> bool:
        return self.level == pa.VERIFIED

    @property
    def unverified_reason(self) -> str:
        return self.reason if self.level == pa.UNVERIFIED else ""

    def wipe(self) -> None:
        """Forget everything personal (the session ends)."""
        self.mrz = None
        self.dg13 = None
        self.portrait = None

    def to_json(self) -> dict[str, object]:
        """What `kiosk chip read --json` prints: no portrait bytes."""
        out: dict[str, object] = {
            "level": self.level,
            "unverified_reason": self.unverified_reason or None,
            "invalid_reason": self.reason if self.level == pa.INVALID else None,
            "data_groups": [
                {
                    "dg": c.data_group,
                    "algorithm": c.algorithm,
                    "hash": c.computed,
                    "sod_hash": c.expected,
                    "matched": c.matched,
                }
                for c in self.hashes
            ],
            "dg14_present": self.has_dg14,
            "dg15_present": self.has_dg15,
            "document_signer": self.signer or None,
            "csca": self.csca or None,
            "sod_sha256": self.sod_sha256 or None,
            "bac_attempts": self.bac_attempts,
            "read_seconds": round(self.seconds, 3),
            "reader": self.reader_name,
        }
        if self.level != pa.INVALID:
            out["mrz"] = self.mrz.to_json() if self.mrz else None
            out["dg13"] = self.dg13.to_json() if self.dg13 else None
            out["portrait"] = (
                {"mime": self.portrait.mime, "bytes": len(self.portrait.data)}
                if self.portrait
                else None
            )
        return out


def decode_portrait(portrait: lds.Portrait):
    """The portrait as an RGB numpy array (JPEG or JPEG 2000, through Pillow)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(portrait.data)) as img:
        return np.asarray(img.convert("RGB"))


def _supports_extended(atr: bytes) -> bool:
    """ISO 7816-4 §8.1.1.2.7: the card-capabilities object (tag 7, in the historical bytes)
    says whether the card takes extended Lc/Le fields (third byte, bit 0x40)."""
    if len(atr) < 2:
        return False
    t0 = atr[1]
    count = t0 & 0x0F
    pos, y = 2, t0 >> 4
    while True:
        pos += bin(y & 0x07).count("1")  # TA, TB, TC
        if y & 0x08:
            if pos >= len(atr):
                return False
            td = atr[pos]
            pos += 1
            y = td >> 4
        else:
            break
    hist = atr[pos : pos + count]
    if not hist or hist[0] != 0x80:
        return False
    i = 1
    while i < len(hist):
        tag, length = hist[i] >> 4, hist[i] & 0x0F
        value = hist[i + 1 : i + 1 + length]
        if tag == 7 and len(value) >= 3:
            return bool(value[2] & 0x40)
        i += 1 + length
    return False


class ChipReader:
    def __init__(
        self,
        reader: CardReader,
        trust: list | None = None,
        wait_s: float = 15.0,
        read_s: float = 15.0,
    ) -> None:
        self.reader = reader
        self.trust = trust or []
        self.wait_s = wait_s
        self.read_s = read_s
        self._conn: CardConnection | None = None
        self._channel: sm.SecureChannel | None = None
        self._deadline = 0.0
        self._block = SHORT_BLOCK
        self._cancel: threading.Event | None = None

    # ------------------------------------------------------------------ the whole read
    def read(
        self,
        keys: list[AccessKey],
        groups: tuple[int, ...] = DEFAULT_GROUPS,
        progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ChipIdentity:
        if not keys:
            raise BacRefusedError("no access key to try")
        report = progress or (lambda _f: None)
        self._cancel = cancel
        conn = self.reader.wait_for_card(self.wait_s, cancel)
        started = time.perf_counter()
        self._deadline = time.monotonic() + self.read_s
        self._conn = conn
        self._block = EXTENDED_BLOCK if _supports_extended(conn.atr) else SHORT_BLOCK
        raw: dict[int, bytes] = {}
        try:
            report(0.05)
            used, attempts = self._open(keys)
            report(0.15)
            com = lds.parse_com(self._read_file(lds.FID["COM"]))
            wanted = [g for g in groups if g in com.data_groups]
            if 1 not in wanted:
                raise ChipReadError("the chip lists no DG1")
            sod_raw = self._read_file(lds.FID["SOD"])
            report(0.25)
            for i, group in enumerate(wanted):
                raw[group] = self._read_file(lds.FID[f"DG{group}"])
                report(0.25 + 0.65 * (i + 1) / len(wanted))
            try:
                sod = pa.parse_sod(sod_raw)
            except pa.SodError as exc:
                return self._invalid(str(exc), [], conn, started, attempts)
            result = pa.verify(sod, raw, self.trust)
            if result.level == pa.INVALID:
                return self._invalid(result.reason, result.hashes, conn, started, attempts)
            try:
                identity = ChipIdentity(
                    level=result.level,
                    reason=result.reason,
                    mrz=lds.parse_dg1(raw[1]),
                    dg13=lds.parse_dg13(raw[13]) if 13 in raw else None,
                    portrait=lds.parse_dg2(raw[2]) if 2 in raw else None,
                    hashes=result.hashes,
                    data_groups=sorted(raw),
                    has_dg14=14 in raw,
                    has_dg15=15 in raw,
                    expiry_used=used.expiry_yymmdd,
                    bac_attempts=attempts,
                    reader_name=conn.reader_name,
                    signer=result.signer_subject,
                    csca=result.csca_subject,
                    sod_sha256=pa.digest("sha256", sod_raw).hex(),
                )
            except lds.LdsError as exc:
                raise ChipReadError(f"genuine chip, unreadable content: {exc}") from exc
            identity.seconds = time.perf_counter() - started
            report(1.0)
            log.info(
                "chip read: %s%s, DGs %s, %d BAC attempt(s), %.2f s",
                identity.level,
                f" ({identity.reason})" if identity.reason else "",
                identity.data_groups,
                attempts,
                identity.seconds,
            )
            return identity
        finally:
            raw.clear()
            self._channel = None
            self._conn = None
            conn.close()

    def _invalid(self, reason, hashes, conn, started, attempts) -> ChipIdentity:
        log.warning("chip read: chip_invalid: %s", reason)
        return ChipIdentity(
            level=pa.INVALID,
            reason=reason,
            hashes=hashes,
            bac_attempts=attempts,
            seconds=time.perf_counter() - started,
            reader_name=conn.reader_name,
        )

    # ------------------------------------------------------------------ APDUs
    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if time.monotonic() > self._deadline:
            raise ChipTimeoutError(f"the chip was not read within {self.read_s:.0f} s")
        if self._cancel is not None and self._cancel.is_set():
            raise ChipTimeoutError("the read was cancelled")
        assert self._conn is not None
        return self._conn.transmit(apdu)

    def _select_application(self) -> None:
        aid = lds.LDS1_AID
        _data, sw = self._transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid)
        if sw != 0x9000:
            raise NotAnIdCardError(f"no ICAO LDS1 application (SELECT answered {sw:04X})")

    def _open(self, keys: list[AccessKey]) -> tuple[AccessKey, int]:
        self._select_application()
        for attempt, key in enumerate(keys, start=1):
            if attempt > 1:
                self._select_application()  # some chips want it after a refused BAC
            if self._bac(key):
                return key, attempt
        raise BacRefusedError(f"the chip refused all {len(keys)} access keys")

    def _bac(self, key: AccessKey) -> bool:
        info = sm.mrz_information(key.document_number, key.birth_yymmdd, key.expiry_yymmdd)
        seed = sm.bac_seed(info)
        k_enc, k_mac = sm.derive_key(seed, sm.KENC), sm.derive_key(seed, sm.KMAC)
        rnd_ic, sw = self._transmit(bytes.fromhex("0084000008"))
        if sw != 0x9000 or len(rnd_ic) != 8:
            raise ChipReadError(f"GET CHALLENGE answered {sw:04X}")
        rnd_ifd, k_ifd = os.urandom(8), os.urandom(16)
        cryptogram = sm.encrypt(k_enc, rnd_ifd + rnd_ic + k_ifd)
        body = cryptogram + sm.mac(k_mac, cryptogram)
        answer, sw = self._transmit(bytes([0x00, 0x82, 0x00, 0x00, 0x28]) + body + b"\x28")
        if sw != 0x9000:
            return False
        if len(answer) != 40 or sm.mac(k_mac, answer[:32]) != answer[32:]:
            raise ChipReadError("EXTERNAL AUTHENTICATE: the chip's MAC is wrong")
        plain = sm.decrypt(k_enc, answer[:32])
        if plain[:8] != rnd_ic or plain[8:16] != rnd_ifd:
            raise ChipReadError("EXTERNAL AUTHENTICATE: the chip's nonces do not match")
        k_ic = plain[16:32]
        session_seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(rnd_ic[-4:] + rnd_ifd[-4:], "big")
        self._channel = sm.SecureChannel(sm.SessionKeys.from_seed(session_seed, ssc))
        return True

    def _secure(self, ins: int, p1: int, p2: int, data: bytes = b"", le: int = -1):
        assert self._channel is not None
        apdu = self._channel.wrap(0x00, ins, p1, p2, data, le)
        response, sw = self._transmit(apdu)
        try:
            return self._channel.unwrap(response + sw.to_bytes(2, "big"))
        except sm.SecureMessagingError as exc:
            raise ChipReadError(f"secure messaging broke: {exc}") from exc

    def _read_file(self, fid: int) -> bytes:
        _data, sw = self._secure(0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))
        if sw != 0x9000:
            raise ChipReadError(f"SELECT of file {fid:04X} answered {sw:04X}")
        head = self._read_binary(0, 8)
        try:
            size, length = tlv.header_length(head)
        except tlv.TlvError as exc:
            raise ChipReadError(f"file {fid:04X} does not start with a TLV: {exc}") from exc
        total = size + length
        data = bytearray(head[:total])
        while len(data) < total:
            chunk = self._read_binary(len(data), min(self._block, total - len(data)))
            if not chunk:
                raise ChipReadError(f"file {fid:04X} ended at {len(data)} of {total} bytes")
            data += chunk
        return bytes(data[:total])

    def _read_binary(self, offset: int, le: int) -> bytes:
        while True:
            if offset <= 0x7FFF:
                data, sw = self._secure(0xB0, offset >> 8, offset & 0xFF, le=le)
            else:
                raw_offset = offset.to_bytes((offset.bit_length() + 7) // 8, "big")
                body, sw = self._secure(0xB1, 0x00, 0x00, tlv.encode(0x54, raw_offset), le=le)
                data = b""
                if body:
                    try:
                        data = tlv.parse_one(body)[0].value
                    except tlv.TlvError as exc:
                        raise ChipReadError(f"READ BINARY (B1) answer: {exc}") from exc
            if sw in (0x9000, 0x6282):
                return data
            if sw == 0x6B00:
                return b""
            if sw >> 8 == 0x6C and sw & 0xFF:
                le = sw & 0xFF
                continue
            if sw == 0x6700 and le > SHORT_BLOCK:
                self._block = SHORT_BLOCK  # the card refuses extended lengths after all
                le = min(le, SHORT_BLOCK)
                continue
            raise ChipReadError(f"READ BINARY at {offset} answered {sw:04X}")
