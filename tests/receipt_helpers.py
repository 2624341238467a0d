"""Helpers for the receipt and printer tests: sample data, PDF text/raster, QR decoding,
and a small ESC/POS printer served on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from kiosk.services.receipt_code import make_code, receipt_uri
from kiosk.services.receipts import ReceiptData, TicketData

STATUS_BASE = "https://portal.example.gov.vn/r/"
ICT = timezone(timedelta(hours=7))

# Combining tone marks: huyền, sắc, hỏi, ngã, nặng.
TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
BASE_VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")

REAL_NAMES = (
    "Nguyễn Thị Hồng Nhung",
    "Đặng Quốc Việt",
    "Trương Mỹ Lệ",
    "Huỳnh Thị Ngọc Ánh",
    "Phạm Đức Thắng",
    "Lê Ngữ Quỳnh",
    "Vũ Hoàng Yến",
    "Bùi Thị Thủy Tiên",
    "Hồ Sỹ Dũng",
    "Ông Ích Khiêm",
    "Kpă H'Hươn",
)


def toned(vowel: str, tone: str) -> str:
    return unicodedata.normalize("NFC", vowel + tone)


def tone_names() -> list[str]:
    """One 'name' per base vowel holding all five tones, lower and upper case, plus Đ/đ."""
    names = []
    for vowel in BASE_VOWELS:
        words = ["Đ" + toned(vowel, tone) + "ng" for tone in TONES]
        words.append("đ" + vowel + "m")
        words.append("".join(toned(vowel.upper(), tone) for tone in TONES))
        names.append(" ".join(words))
    return names


def sample_data(**changes: object) -> ReceiptData:
    code = make_code("QN01", 123)
    data = ReceiptData(
        commune_name="UBND xã Hòa Tiến",
        procedure_code="1.001193",
        procedure_title={"vi": "Đăng ký khai sinh", "en": "Birth registration"},
        applicant_name="Nguyễn Thị Hồng Nhung",
        id_number="051190004321",
        receipt_code=code,
        confirmed_at=datetime(2025, 3, 14, 9, 26, tzinfo=ICT),
        fee_vnd=50_000,
        expected_date=date(2025, 3, 19),
        documents=[
            {"vi": "Tờ khai đăng ký khai sinh", "en": "Birth registration form"},
            {"vi": "Giấy chứng sinh", "en": "Certificate of birth"},
        ],
        dossier_code=None,
        status_url=receipt_uri(STATUS_BASE, code),
        lang="vi",
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def sample_ticket_data(**changes: object) -> TicketData:
    data = TicketData(
        number="A012",
        service_group={"vi": "Hộ tịch", "en": "Civil status"},
        issued_at=datetime(2025, 3, 14, 8, 5),
        waiting_ahead=3,
        priority=False,
        commune_name="UBND xã Hòa Tiến",
        lang="vi",
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


# --- PDF inspection ----------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """Text as poppler extracts it (what a copy-paste or an indexer would see), NFC."""
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is not installed"
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode("utf-8")
    return unicodedata.normalize("NFC", out)


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_fonts(pdf: bytes) -> str:
    return subprocess.run(
        ["pdffonts", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def page_sizes_pt(pdf: bytes) -> list[tuple[float, float]]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_size() for i in range(len(doc))]
    finally:
        doc.close()


def render_page(pdf: bytes, dpi: int = 150, page: int = 0) -> Image.Image:
    """Render with poppler (an independent renderer from the one the backends use)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-gray",
                "-r",
                str(dpi),
                "-f",
                str(page + 1),
                "-singlefile",
                str(source),
                str(Path(folder) / "page"),
            ],
            capture_output=True,
            check=True,
        )
        image = Image.open(Path(folder) / "page.png")
        image.load()
    return image.convert("L")


def decode_qr(image: Image.Image) -> list[str]:
    results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results]


# --- ESC/POS raster parsing ----------------------------------------------------------


@dataclass
class RasterBlock:
    width_bytes: int
    height: int
    data: bytes

    def image(self) -> Image.Image:
        # GS v 0 data: 1 = black; PIL "1" raw: 1 = white.
        inverted = bytes(b ^ 0xFF for b in self.data)
        return Image.frombytes("1", (self.width_bytes * 8, self.height), inverted)


def parse_gs_v0(stream: bytes) -> tuple[list[RasterBlock], bytes]:
    """The GS v 0 raster blocks in an ESC/POS stream, and the other bytes (commands)."""
    blocks: list[RasterBlock] = []
    rest = bytearray()
    pos = 0
    while True:
        at = stream.find(b"\x1dv0", pos)
        if at < 0:
            rest += stream[pos:]
            return blocks, bytes(rest)
        rest += stream[pos:at]
        header = stream[at + 3 : at + 8]
        width_bytes = header[1] | header[2] << 8
        height = header[3] | header[4] << 8
        start = at + 8
        end = start + width_bytes * height
        assert end <= len(stream), "raster block truncated"
        blocks.append(RasterBlock(width_bytes, height, stream[start:end]))
        pos = end


def stack(blocks: list[RasterBlock]) -> Image.Image:
    width = blocks[0].width_bytes * 8
    out = Image.new("1", (width, sum(b.height for b in blocks)), 1)
    y = 0
    for block in blocks:
        out.paste(block.image(), (0, y))
        y += block.height
    return out


# --- a small ESC/POS printer on 127.0.0.1 -----------------------------------------------


@dataclass
class FakeEscPos:
    """Answers DLE EOT status queries and records the job bytes, one entry per connection.

    Status queries are answered while they lead the stream (as our backend sends them);
    once job data starts, everything is recorded as data, so raster bytes that happen to
    look like a query are never answered.
    """

    online: int = 0x12  # DLE EOT 1 answer: 0x12 online, 0x1A offline
    paper: int = 0x12  # DLE EOT 4 answer: 0x12 ok, 0x1E near end, 0x72 empty
    answer: bool = True
    jobs: list[bytes] = field(default_factory=list)
    queries: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        # accept() in a thread is not woken by close(): poll with a short timeout.
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buffer = b""
        data_started = False
        received = bytearray()
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            if data_started:
                received += chunk
                continue
            buffer += chunk
            while not data_started and buffer:
                if buffer.startswith(b"\x10\x04") and len(buffer) >= 3:
                    query, buffer = buffer[:3], buffer[3:]
                    self.queries.append(query)
                    if self.answer:
                        value = self.online if query[2] == 1 else self.paper
                        conn.sendall(bytes([value]))
                elif buffer.startswith(b"\x10\x04") or buffer == b"\x10":
                    break  # wait for the rest of the query
                else:
                    data_started = True
                    received += buffer
                    buffer = b""
        self.jobs.append(bytes(received))

    def wait_jobs(self, count: int, timeout: float = 10) -> list[bytes]:
        """The recorded connections once `count` of them have ended."""
        deadline = time.monotonic() + timeout
        while len(self.jobs) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.jobs) >= count, f"expected {count} connections, saw {len(self.jobs)}"
        return self.jobs

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()

    def __enter__(self) -> FakeEscPos:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refused_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
