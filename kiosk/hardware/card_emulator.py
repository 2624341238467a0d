"""The project's own CCCD chip emulator: BAC, secure messaging and the LDS files.

`EmulatedIdCard` answers APDUs as an ICAO 9303 chip does (SELECT of the LDS1 application
and of files, GET CHALLENGE, EXTERNAL AUTHENTICATE, READ BINARY with even and odd INS,
short and extended lengths, end-of-file answers 6282/6B00). It is used in process by
`kiosk.hardware.cardreader.SimulatedReader` and over the real PC/SC stack by
`VpcdClient`, which speaks vpcd's socket protocol (the `vsmartcard-vpcd` pcscd driver:
2-byte big-endian length, then an APDU, or one control byte 0 off / 1 on / 2 reset /
4 ATR). vpcd 0.8 (Debian 12) cannot run in its reverse mode (`DEVICENAME host:port`):
when the card side disconnects it calls select() on an invalid socket and pcscd aborts,
so the card side always connects to vpcd. `TestPki` and `make_card` make test cards, their SOD, Document Signer and CSCA
with `cryptography`; nothing here is a real citizen's data.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from kiosk.services.icao9303 import lds, pa, sm, tlv

log = logging.getLogger(__name__)

# T=1, historical bytes: category 80, card capabilities (73) with "extended Lc/Le" (40).
_HIST = bytes([0x80, 0x73, 0x00, 0x00, 0x40])
_ATR_BODY = bytes([0x80 | len(_HIST), 0x80, 0x01]) + _HIST
_tck = 0
for _b in _ATR_BODY:
    _tck ^= _b
ATR_EXTENDED = bytes([0x3B]) + _ATR_BODY + bytes([_tck])
_HIST_SHORT = bytes([0x80, 0x73, 0x00, 0x00, 0x00])
_BODY_SHORT = bytes([0x80 | len(_HIST_SHORT), 0x80, 0x01]) + _HIST_SHORT
_tck = 0
for _b in _BODY_SHORT:
    _tck ^= _b
ATR_SHORT = bytes([0x3B]) + _BODY_SHORT + bytes([_tck])

SW_OK = 0x9000


def _sw(code: int) -> bytes:
    return code.to_bytes(2, "big")


class EmulatedIdCard:
    """One chip. `files` maps a file identifier (lds.FID) to its content."""

    def __init__(
        self,
        files: dict[int, bytes],
        document_number: str,
        birth_yymmdd: str,
        expiry_yymmdd: str,
        extended_length: bool = True,
    ) -> None:
        self.files = dict(files)
        self.mrz_info = sm.mrz_information(document_number, birth_yymmdd, expiry_yymmdd)
        self.extended_length = extended_length
        self.atr = ATR_EXTENDED if extended_length else ATR_SHORT
        seed = sm.bac_seed(self.mrz_info)
        self._k_enc = sm.derive_key(seed, sm.KENC)
        self._k_mac = sm.derive_key(seed, sm.KMAC)
        self.bac_failures = 0
        self.reset()

    def reset(self) -> None:
        self._selected_app = False
        self._challenge: bytes | None = None
        self._channel: sm.ChipChannel | None = None
        self._current: int | None = None

    # ------------------------------------------------------------------ dispatch
    def process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return _sw(0x6700)
        cla, ins = apdu[0], apdu[1]
        if cla & 0x0C:
            return self._secure(apdu)
        if self._channel is not None:
            # A plain command ends the secure session (ICAO 9303-11 §9.8.6).
            self._channel = None
        if ins == 0xA4 and apdu[2] == 0x04:
            return self._select_app(apdu)
        if ins == 0x84:
            return self._get_challenge()
        if ins == 0x82:
            return self._external_authenticate(apdu)
        if ins in (0xA4, 0xB0, 0xB1):
            return _sw(0x6982)  # security status not satisfied: BAC first
        return _sw(0x6D00)

    def _select_app(self, apdu: bytes) -> bytes:
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if data != lds.LDS1_AID:
            return _sw(0x6A82)
        self.reset()
        self._selected_app = True
        return _sw(SW_OK)

    def _get_challenge(self) -> bytes:
        if not self._selected_app:
            return _sw(0x6985)
        self._challenge = os.urandom(8)
        return self._challenge + _sw(SW_OK)

    def _external_authenticate(self, apdu: bytes) -> bytes:
        challenge, self._challenge = self._challenge, None
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if challenge is None:
            return _sw(0x6985)
        if len(data) != 40:
            return _sw(0x6700)
        cryptogram, cc = data[:32], data[32:]
        if sm.mac(self._k_mac, cryptogram) != cc:
            self.bac_failures += 1
            return _sw(0x6300)
        plain = sm.decrypt(self._k_enc, cryptogram)
        rnd_ifd, rnd_ic, k_ifd = plain[:8], plain[8:16], plain[16:]
        if rnd_ic != challenge:
            self.bac_failures += 1
            return _sw(0x6300)
        k_ic = os.urandom(16)
        answer = sm.encrypt(self._k_enc, rnd_ic + rnd_ifd + k_ic)
        answer += sm.mac(self._k_mac, answer)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(rnd_ic[-4:] + rnd_ifd[-4:], "big")
        self._channel = sm.ChipChannel(sm.SessionKeys.from_seed(seed, ssc))
        return answer + _sw(SW_OK)

    # ------------------------------------------------------------------ secure messaging
    def _secure(self, apdu: bytes) -> bytes:
        channel = self._channel
        if channel is None:
            return _sw(0x6988)
        try:
            header, data, le = channel.unwrap_command(apdu)
        except (sm.SecureMessagingError, tlv.TlvError):
            self._channel = None
            return _sw(0x6988)
        ins, p1, p2 = header[1], header[2], header[3]
        if ins == 0xA4:
            result, sw = self._select_file(p1, data)
        elif ins in (0xB0, 0xB1):
            result, sw = self._read_binary(ins, p1, p2, data, le)
        else:
            result, sw = b"", 0x6D00
        return channel.wrap_response(ins, result, sw)

    def _select_file(self, p1: int, data: bytes) -> tuple[bytes, int]:
        if p1 != 0x02 or len(data) != 2:
            return b"", 0x6A86
        fid = int.from_bytes(data, "big")
        if fid not in self.files:
            return b"", 0x6A82
        self._current = fid
        return b"", SW_OK

    def _read_binary(self, ins: int, p1: int, p2: int, data: bytes, le: int) -> tuple[bytes, int]:
        if ins == 0xB0 and p1 & 0x80:
            fid = 0x0100 + (p1 & 0x1F) if (p1 & 0x1F) != 0x1E else 0x011E
            if (p1 & 0x1F) == 0x1D:
                fid = 0x011D
            if fid not in self.files:
                return b"", 0x6A82
            self._current = fid
            offset = p2
        elif ins == 0xB0:
            offset = ((p1 & 0x7F) << 8) | p2
        else:
            try:
                obj, _ = tlv.parse_one(data)
            except tlv.TlvError:
                return b"", 0x6A80
            if obj.tag != 0x54:
                return b"", 0x6A80
            offset = int.from_bytes(obj.value, "big")
        if self._current is None:
            return b"", 0x6986
        content = self.files[self._current]
        if le < 0:
            le = 256
        if le > 256 and not self.extended_length:
            return b"", 0x6700
        if offset > len(content):
            return b"", 0x6B00
        chunk = content[offset : offset + le]
        sw = SW_OK if len(chunk) == le else 0x6282
        if ins == 0xB1:
            chunk = tlv.encode(0x53, chunk)
        return chunk, sw


# --------------------------------------------------------------------------- test cards
@dataclass
class TestPki:
    """A CSCA and a Document Signer it issued, made now (EC P-256)."""

    country: str = "VN"
    ds_valid_days: int = 3650
    ds_not_before_days: int = -30
    csca_name: str = "CSCA Test"
    csca_cert: object = None
    csca_key: object = None
    ds_cert: object = None
    ds_key: object = None

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.now(UTC)
        csca_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, self.country),
                x509.NameAttribute(NameOID.COMMON_NAME, self.csca_name),
            ]
        )
        self.csca_key = ec.generate_private_key(ec.SECP256R1())
        self.csca_cert = (
            x509.CertificateBuilder()
            .subject_name(csca_name)
            .issuer_name(csca_name)
            .public_key(self.csca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=365))
            .not_valid_after(now + timedelta(days=365 * 15))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.csca_key, hashes.SHA256())
        )
        self.ds_key = ec.generate_private_key(ec.SECP256R1())
        start = now + timedelta(days=self.ds_not_before_days)
        self.ds_cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, self.country),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"{self.csca_name} DS"),
                    ]
                )
            )
            .issuer_name(csca_name)
            .public_key(self.ds_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=self.ds_valid_days))
            .sign(self.csca_key, hashes.SHA256())
        )

    def csca_pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.csca_cert.public_bytes(Encoding.PEM)


@dataclass
class Person:
    """A test citizen (invented)."""

    id_number: str = "011190001234"
    full_name: str = "Lò Thị Mai"
    surname_mrz: str = "LO"
    given_mrz: str = "THI MAI"
    date_of_birth: date = date(1990, 5, 17)
    sex: str = "female"
    ethnicity: str = "Thái"
    religion: str = "Không"
    place_of_origin: str = "Xã Mường Phăng, Điện Biên"
    place_of_residence: str = "Bản Che Căn, Xã Mường Phăng, Điện Biên"
    identifying_marks: str = "Nốt ruồi C:1cm trên trước mép trái"
    issue_date: date = date(2021, 4, 12)
    expiry_date: date | None = date(2030, 5, 17)
    father_name: str = "Lò Văn Pọm"
    mother_name: str = "Quàng Thị Ún"
    spouse_name: str = ""
    old_id_number: str = "040123456"
    extra: dict = field(default_factory=dict)

    def qr_text(self) -> str:
        """The card's QR payload (2021 layout)."""
        return "|".join(
            [
                self.id_number,
                self.old_id_number,
                self.full_name,
                self.date_of_birth.strftime("%d%m%Y"),
                "Nam" if self.sex == "male" else "Nữ",
                self.place_of_residence,
                self.issue_date.strftime("%d%m%Y"),
            ]
        )


def demo_person() -> Person:
    """The citizen of the sample QR code (resources/samples/cccd_sample.png), invented."""
    return Person(
        id_number="001190012345",
        full_name="Nguyễn Thị Hồng Nhung",
        surname_mrz="NGUYEN",
        given_mrz="THI HONG NHUNG",
        date_of_birth=date(1990, 2, 1),
        sex="female",
        ethnicity="Kinh",
        religion="Không",
        place_of_origin="Xã Đông Hưng, Thái Bình",
        place_of_residence="Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội",
        identifying_marks="Sẹo chấm C:2cm dưới sau đuôi mắt phải",
        issue_date=date(2021, 8, 15),
        expiry_date=date(2030, 2, 1),
        father_name="Nguyễn Văn Hùng",
        mother_name="Trần Thị Lan",
        old_id_number="012345678",
    )


def sample_portrait(kind: str = "jpeg", width: int = 240, height: int = 320) -> bytes:
    """A drawn head-and-shoulders picture (not a person), JPEG or JPEG 2000."""
    import cv2
    import numpy as np
    from PIL import Image

    img = np.full((height, width, 3), (235, 225, 215), np.uint8)
    cx, cy = width // 2, int(height * 0.42)
    cv2.ellipse(img, (cx, height), (width // 2, height // 4), 0, 180, 360, (90, 70, 60), -1)
    cv2.ellipse(img, (cx, cy), (width // 4, height // 5), 0, 0, 360, (140, 175, 215), -1)
    cv2.ellipse(
        img, (cx, cy - height // 8), (width // 4 + 4, height // 10), 0, 180, 360, (30, 30, 30), -1
    )
    for dx in (-width // 10, width // 10):
        cv2.circle(img, (cx + dx, cy - 6), 5, (40, 40, 40), -1)
    cv2.ellipse(img, (cx, cy + height // 12), (width // 14, 6), 0, 0, 180, (60, 60, 160), 2)
    rgb = Image.fromarray(img[:, :, ::-1])
    out = io.BytesIO()
    if kind == "jp2":
        rgb.save(out, "JPEG2000", quality_mode="rates", quality_layers=[40])
    else:
        rgb.save(out, "JPEG", quality=80)
    return out.getvalue()


def _dg13_fields(person: Person) -> dict[str, object]:
    return {
        "id_number": person.id_number,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth,
        "sex": person.sex,
        "ethnicity": person.ethnicity,
        "religion": person.religion,
        "place_of_origin": person.place_of_origin,
        "place_of_residence": person.place_of_residence,
        "identifying_marks": person.identifying_marks,
        "issue_date": person.issue_date,
        "expiry_date": person.expiry_date,
        "father_name": person.father_name,
        "mother_name": person.mother_name,
        "spouse_name": person.spouse_name,
        "old_id_number": person.old_id_number,
        **person.extra,
    }


def make_card(
    person: Person | None = None,
    pki: TestPki | None = None,
    portrait: bytes | None = None,
    tamper: int | None = None,
    extended_length: bool = True,
    with_dg14: bool = False,
    mrz_expiry: str | None = None,
) -> EmulatedIdCard:
    """A chip for `person`, signed by `pki`'s Document Signer. `tamper=N` changes DG N
    after signing (a forged card); `mrz_expiry` overrides the expiry in the MRZ."""
    person = person or Person()
    pki = pki or TestPki()
    birth = person.date_of_birth.strftime("%y%m%d")
    expiry = mrz_expiry or (
        person.expiry_date.strftime("%y%m%d") if person.expiry_date else "991231"
    )
    image = portrait if portrait is not None else sample_portrait()
    groups = {
        1: lds.build_dg1(
            lds.build_td1(
                person.id_number,
                birth,
                "M" if person.sex == "male" else "F",
                expiry,
                person.surname_mrz,
                person.given_mrz,
            )
        ),
        2: lds.build_dg2(image, 240, 320),
        13: lds.build_dg13(_dg13_fields(person)),
    }
    if with_dg14:
        groups[14] = tlv.encode(0x6E, tlv.encode(0x31, b""))
    sod = pa.build_sod(groups, pki.ds_cert, pki.ds_key)
    if tamper is not None:
        raw = bytearray(groups[tamper])
        raw[-3] ^= 0x01  # one bit of the value, the structure stays valid
        groups[tamper] = bytes(raw)
    files = {lds.FID[f"DG{n}"]: data for n, data in groups.items()}
    files[lds.FID["COM"]] = lds.build_com(sorted(groups))
    files[lds.FID["SOD"]] = sod
    return EmulatedIdCard(files, person.id_number[-9:], birth, expiry, extended_length)


# --------------------------------------------------------------------------- vpcd
VPCD_OFF, VPCD_ON, VPCD_RESET, VPCD_ATR = 0, 1, 2, 4


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        if _QUICKACK is not None:
            # vpcd writes the length and the APDU separately and Nagle holds the APDU
            # until the length is acknowledged: acknowledge at once (Linux forgets the
            # flag after each read), or every APDU waits for the 40 ms delayed ACK.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        part = sock.recv(size - len(buf))
        if not part:
            return None
        buf += part
    return buf


def serve_vpcd_connection(sock: socket.socket, card: EmulatedIdCard, on_apdu=None) -> None:
    """Answer vpcd on one connection until it closes or `on_apdu` returns False."""
    while True:
        head = _recv_exact(sock, 2)
        if head is None:
            return
        (size,) = struct.unpack(">H", head)
        msg = _recv_exact(sock, size) if size else b""
        if msg is None:
            return
        if size == 1:
            if msg[0] == VPCD_ATR:
                sock.sendall(struct.pack(">H", len(card.atr)) + card.atr)
            elif msg[0] in (VPCD_ON, VPCD_RESET, VPCD_OFF):
                card.reset()
            continue
        if on_apdu is not None and on_apdu() is False:
            return
        answer = card.process(msg)
        sock.sendall(struct.pack(">H", len(answer)) + answer)


class VpcdClient:
    """The card side of vpcd: vpcd (pcscd's driver, `DEVICENAME /dev/null:PORT` in its
    reader.conf) listens on PORT and a card "is on the reader" while a client is connected.

    `insert(card)` connects and serves the card, `remove()` disconnects (the citizen took
    the card away), `pull_after=N` disconnects after N APDUs, `hook(n)` runs before the
    n-th APDU is answered. `connect` makes the socket (tests open it inside the network
    namespace their pcscd runs in)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 35963,
        connect=None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._connect = connect or (lambda: socket.create_connection((host, port), 2.0))
        self.card: EmulatedIdCard | None = None
        self.pull_after: int | None = None
        self.hook = None
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self, card: EmulatedIdCard) -> None:
        self.remove()
        card.reset()
        self.card = card
        self.apdus = 0
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = self._connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock, card), daemon=True)
        self._thread.start()

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        self.card = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _count(self) -> bool:
        self.apdus += 1
        if self.hook is not None:
            self.hook(self.apdus)
        return self.pull_after is None or self.apdus <= self.pull_after

    def _serve(self, sock: socket.socket, card: EmulatedIdCard) -> None:
        try:
            serve_vpcd_connection(sock, card, self._count)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def wait(self, timeout: float | None = None) -> None:
        """Until vpcd closes the connection (or `timeout`)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        self.remove()
