"""Printer backends behind one small interface (no Qt here).

- `PdfFolderPrinter`: writes each job as a PDF file into a folder. The default, for
  demos and tests only: it KEEPS every file, and receipts hold personal data (names,
  masked ID numbers), so it is not for production.
- `EscPosPrinter`: an ESC/POS thermal printer over TCP, USB or a serial port. The PDF
  page is rasterised (ESC/POS code pages have no Vietnamese) and sent as a `GS v 0`
  raster image, then the paper is cut. The real-time status (paper sensor, online) is
  asked first so that an empty roll is reported before anything is sent.
- `SimulatedPrinter` / `FailingPrinter`: in-memory stand-ins for tests and demos.
- `kiosk.qt.printing.SystemPrinter`: the operating system's printers (through Qt).

Every failure is a `PrinterError` carrying a translation key for the citizen and a
plain-English detail for the clerk and the log.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from PIL import Image

from kiosk.files import write_atomic

log = logging.getLogger(__name__)

KEY_PAPER_OUT = "receipt.printer.paper_out"
KEY_PAPER_LOW = "receipt.printer.paper_low"
KEY_OFFLINE = "receipt.printer.offline"
KEY_FAILED = "receipt.printer.failed"
KEY_READY = "receipt.printer.ready"

# ESC/POS real-time status (DLE EOT n). Bit 1 and bit 4 of every answer are fixed
# (0x12), so an answer without them is not a status byte.
DLE_EOT_ONLINE = b"\x10\x04\x01"
DLE_EOT_PAPER = b"\x10\x04\x04"
_STATUS_FIXED = 0x12
_ONLINE_OFFLINE_BIT = 0x08
_PAPER_NEAR_END = 0x0C
_PAPER_END = 0x60

MM_PER_INCH = 25.4
PT_PER_INCH = 72.0


# --- errors and status -------------------------------------------------------------


class PrinterError(Exception):
    """`key`: translation key shown to the citizen; `detail`: plain English for the clerk."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


class PaperOut(PrinterError):
    def __init__(self, detail: str = "paper roll is empty", key: str = KEY_PAPER_OUT) -> None:
        super().__init__(key, detail)


class PrinterOffline(PrinterError):
    def __init__(self, detail: str = "printer is offline", key: str = KEY_OFFLINE) -> None:
        super().__init__(key, detail)


class PrinterFailed(PrinterError):
    def __init__(self, detail: str = "printing failed", key: str = KEY_FAILED) -> None:
        super().__init__(key, detail)


@dataclass(frozen=True)
class PrinterStatus:
    ready: bool
    key: str = KEY_READY  # translation key describing the state (paper low, offline, ...)
    detail: str = ""  # plain English for the clerk
    paper_low: bool = False

    @classmethod
    def from_error(cls, error: PrinterError) -> PrinterStatus:
        return cls(False, error.key, error.detail)


class Printer(ABC):
    """One printer. `print_pdf` raises a PrinterError subclass; `status` never raises.

    `job_name` names the job (use the receipt code, never a citizen's name).
    """

    name: str

    @abstractmethod
    def print_pdf(self, pdf: bytes, job_name: str) -> None: ...

    @abstractmethod
    def status(self) -> PrinterStatus: ...


def _check_pdf(pdf: bytes) -> None:
    if not pdf.startswith(b"%PDF-"):
        raise PrinterFailed("the job is not a PDF document")


# --- PDF folder --------------------------------------------------------------------


class PdfFolderPrinter(Printer):
    """Writes each job to `folder` as `<time>-<job>-<random>.pdf` (atomic write + fsync).

    For demos and tests only: files are kept and hold personal data, so never use it in
    production. A missing folder is an error unless `create` is set.
    """

    def __init__(self, folder: Path, create: bool = False) -> None:
        self.folder = Path(folder)
        self.create = create
        self.name = f"pdf-folder:{self.folder}"
        self.last_path: Path | None = None

    def status(self) -> PrinterStatus:
        if not self.folder.is_dir():
            if self.create:
                return PrinterStatus(True)
            return PrinterStatus(False, KEY_FAILED, f"folder {self.folder} does not exist")
        if not os.access(self.folder, os.W_OK):
            return PrinterStatus(False, KEY_FAILED, f"folder {self.folder} is not writable")
        if shutil.disk_usage(self.folder).free < 1024 * 1024:
            return PrinterStatus(False, KEY_FAILED, f"disk holding {self.folder} is full")
        return PrinterStatus(True)

    def print_pdf(self, pdf: bytes, job_name: str) -> None:
        _check_pdf(pdf)
        if self.create:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PrinterFailed(self._explain(exc)) from exc
        if not self.folder.is_dir():
            raise PrinterFailed(f"folder {self.folder} does not exist or is not a folder")
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", job_name)[:40].strip("_") or "job"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.folder / f"{stamp}-{slug}-{secrets.token_hex(3)}.pdf"
        try:
            write_atomic(target, pdf)
        except OSError as exc:
            raise PrinterFailed(self._explain(exc)) from exc
        self.last_path = target
        log.info("wrote print job (%d bytes) to %s", len(pdf), self.folder)

    def _explain(self, exc: OSError) -> str:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"disk full: cannot write the PDF into {self.folder}"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"folder {self.folder} is not writable ({exc.strerror})"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EEXIST):
            return f"folder {self.folder} does not exist or is not a folder"
        return f"cannot write the PDF into {self.folder}: {exc.strerror or exc}"


# --- in-memory stand-ins ---------------------------------------------------------------


@dataclass
class SimulatedPrinter(Printer):
    """Keeps jobs in memory. Set `paper`/`online` to False to simulate those faults."""

    name: str = "simulated"
    paper: bool = True
    online: bool = True
    jobs: list[tuple[str, bytes]] = field(default_factory=list)

    def status(self) -> PrinterStatus:
        try:
            self._check()
        except PrinterError as exc:
            return PrinterStatus.from_error(exc)
        return PrinterStatus(True)

    def print_pdf(self, pdf: bytes, job_name: str) -> None:
        _check_pdf(pdf)
        self._check()
        self.jobs.append((job_name, pdf))

    def _check(self) -> None:
        if not self.online:
            raise PrinterOffline("simulated printer is offline")
        if not self.paper:
            raise PaperOut("simulated printer is out of paper")


@dataclass
class FailingPrinter(Printer):
    """Always fails with `error` (a PaperOut, PrinterOffline or PrinterFailed)."""

    error: PrinterError = field(default_factory=lambda: PrinterFailed("simulated failure"))
    name: str = "failing"

    def status(self) -> PrinterStatus:
        return PrinterStatus.from_error(self.error)

    def print_pdf(self, pdf: bytes, job_name: str) -> None:
        raise self.error


# --- rasterising -------------------------------------------------------------------


def rasterise_pdf(
    pdf: bytes, dots: int = 576, printable_mm: float = 72.0, threshold: int = 160
) -> list[Image.Image]:
    """Each page as a 1-bit image exactly `dots` wide, blank rows at the bottom trimmed.

    A page up to a quarter wider than the printable width (an 80 mm roll page with
    72 mm printable) is cropped to its centred printable column at 1:1 scale; any other
    page is scaled to fit the width. A hard threshold (no dithering) keeps text and QR
    modules crisp; the default prints dark grey as black.
    """
    import pypdfium2 as pdfium
    from PIL import Image, ImageOps

    printable_pt = printable_mm / MM_PER_INCH * PT_PER_INCH
    table = [255 if v >= threshold else 0 for v in range(256)]
    pages: list[Image.Image] = []
    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise PrinterFailed(f"cannot read the PDF: {exc}") from exc
    try:
        for index in range(len(doc)):
            page = doc[index]
            width_pt, _ = page.get_size()
            if printable_pt < width_pt <= printable_pt * 1.25:
                side = (width_pt - printable_pt) / 2
                scale = dots / printable_pt
            else:
                side = 0.0
                scale = dots / width_pt
            # A hair over, so rounding never leaves the bitmap one dot short.
            bitmap = page.render(
                scale=scale * 1.0005,
                crop=(side, 0, side, 0),
                grayscale=True,
                may_draw_forms=False,
            )
            gray = bitmap.to_pil()
            page.close()
            if gray.width != dots:
                canvas = Image.new("L", (dots, gray.height), 255)
                canvas.paste(gray.crop((0, 0, min(dots, gray.width), gray.height)), (0, 0))
                gray = canvas
            mono = gray.point(table, "1")
            box = ImageOps.invert(gray.point(table)).getbbox()
            bottom = min(gray.height, box[3] + 24) if box else 1
            pages.append(mono.crop((0, 0, dots, bottom)))
    finally:
        doc.close()
    return pages


# --- ESC/POS -----------------------------------------------------------------------


@dataclass(frozen=True)
class EscPosTarget:
    kind: str  # "tcp" | "usb" | "serial"
    host: str = ""
    port: int = 9100
    vendor_id: int = 0
    product_id: int = 0
    device: str = ""
    baudrate: int = 19200
    options: dict[str, str] = field(default_factory=dict)


def parse_target(target: str) -> EscPosTarget:
    """`tcp://HOST:PORT`, `usb://VID:PID` (hex, `?in_ep=0x82&out_ep=0x01`) or
    `serial:///dev/ttyUSB0?baudrate=19200`. Raises ValueError with an example."""
    text = target.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ValueError(f"printer target {target!r} needs a scheme: tcp://, usb:// or serial://")
    rest, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    scheme = scheme.lower()
    if scheme == "tcp":
        m = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?/?", rest)
        if not m:
            raise ValueError(f"printer target {target!r}: expected tcp://HOST:PORT")
        port = int(m.group(3) or 9100)
        if not 0 < port < 65536:
            raise ValueError(f"printer target {target!r}: port out of range")
        host = m.group(1) or m.group(2)
        return EscPosTarget("tcp", host=host, port=port, options=options)
    if scheme == "usb":
        m = re.fullmatch(r"(?:0x)?([0-9A-Fa-f]{1,4}):(?:0x)?([0-9A-Fa-f]{1,4})/?", rest)
        if not m:
            raise ValueError(
                f"printer target {target!r}: expected usb://VID:PID in hex, e.g. usb://04b8:0202"
            )
        return EscPosTarget(
            "usb", vendor_id=int(m.group(1), 16), product_id=int(m.group(2), 16), options=options
        )
    if scheme == "serial":
        if not rest:
            raise ValueError(
                f"printer target {target!r}: expected serial:///dev/ttyUSB0?baudrate=19200"
            )
        try:
            baudrate = int(options.get("baudrate", 19200))
        except ValueError:
            raise ValueError(f"printer target {target!r}: baudrate must be a number") from None
        return EscPosTarget("serial", device=rest, baudrate=baudrate, options=options)
    raise ValueError(f"printer target {target!r}: scheme must be tcp, usb or serial")


class EscPosPrinter(Printer):
    """An ESC/POS thermal printer. Nothing touches the disk: the raster is built in memory.

    `profile` is a python-escpos printer profile; its paper width in dots (576 for the
    default TM-T20II, 80 mm paper at 203 dpi) sets the raster width unless `dots` is
    given. `check_status=False` skips the DLE EOT queries for printers that never answer
    them (some network adapters).
    """

    def __init__(
        self,
        target: str,
        *,
        profile: str = "TM-T20II",
        dots: int | None = None,
        printable_mm: float = 72.0,
        timeout: float = 5.0,
        check_status: bool = True,
        cut: bool = True,
        fragment_height: int = 512,
    ) -> None:
        self.target = parse_target(target)
        self.name = f"escpos:{target}"
        self.profile = profile
        self._dots = dots
        self.printable_mm = printable_mm
        self.timeout = timeout
        self.check_status = check_status
        self.cut = cut
        self.fragment_height = fragment_height

    @property
    def dots(self) -> int:
        if self._dots is None:
            from escpos.capabilities import get_profile

            pixels = get_profile(self.profile).profile_data["media"]["width"].get("pixels")
            self._dots = int(pixels) if str(pixels).isdigit() else 576
        return self._dots

    # -- public --

    def status(self) -> PrinterStatus:
        try:
            device = self._open()
        except PrinterError as exc:
            return PrinterStatus.from_error(exc)
        try:
            paper_low = self._query(device)
        except PrinterError as exc:
            return PrinterStatus.from_error(exc)
        finally:
            _close_quietly(device)
        if paper_low:
            return PrinterStatus(True, KEY_PAPER_LOW, "paper roll near its end", paper_low=True)
        return PrinterStatus(True)

    def print_pdf(self, pdf: bytes, job_name: str) -> None:
        _check_pdf(pdf)
        job = self.render_job(pdf)
        device = self._open()
        try:
            if self.check_status:
                self._query(device)
            try:
                device._raw(job)
            except (ConnectionError, TimeoutError) as exc:
                raise PrinterOffline(
                    f"{self._where()}: connection lost while sending ({exc})"
                ) from exc
            except Exception as exc:  # pyusb/pyserial raise their own types
                raise PrinterFailed(f"{self._where()}: sending failed ({exc})") from exc
        finally:
            _close_quietly(device)
        log.info("sent print job (%d bytes) to %s", len(job), self.name)

    def render_job(self, pdf: bytes) -> bytes:
        """The complete ESC/POS byte stream for `pdf`: init, raster images, feed and cut."""
        from escpos.printer import Dummy

        images = rasterise_pdf(pdf, self.dots, self.printable_mm)
        out = Dummy(profile=self.profile)
        out._raw(b"\x1b@")  # ESC @: reset modes left by a previous job
        for image in images:
            out.image(
                image, impl="bitImageRaster", fragment_height=self.fragment_height, center=False
            )
        if self.cut:
            out.cut()
        return out.output

    # -- device --

    def _where(self) -> str:
        t = self.target
        if t.kind == "tcp":
            return f"{t.host}:{t.port}"
        if t.kind == "usb":
            return f"usb {t.vendor_id:04x}:{t.product_id:04x}"
        return t.device

    def _open(self) -> Any:
        from escpos.exceptions import DeviceNotFoundError

        t = self.target
        try:
            if t.kind == "tcp":
                from escpos.printer import Network

                device = Network(t.host, t.port, timeout=self.timeout, profile=self.profile)
            elif t.kind == "usb":
                from escpos.printer import Usb

                device = Usb(
                    t.vendor_id,
                    t.product_id,
                    timeout=int(self.timeout * 1000),
                    in_ep=int(t.options.get("in_ep", "0x82"), 0),
                    out_ep=int(t.options.get("out_ep", "0x01"), 0),
                    profile=self.profile,
                )
            else:
                from escpos.printer import Serial

                device = Serial(
                    t.device,
                    baudrate=t.baudrate,
                    timeout=self.timeout,
                    dsrdtr=t.options.get("dsrdtr", "1") not in ("0", "false", "no"),
                    profile=self.profile,
                )
            device.open(raise_not_found=True)
        except DeviceNotFoundError as exc:
            raise PrinterOffline(f"{self._where()}: cannot connect ({_reason(exc)})") from exc
        except (OSError, ValueError) as exc:
            # Missing libusb backend, permission on the device file, and similar.
            raise PrinterOffline(f"{self._where()}: cannot open ({exc})") from exc
        if device.device is None:
            raise PrinterOffline(f"{self._where()}: cannot connect")
        return device

    def _query(self, device: Any) -> bool:
        """Raise PaperOut/PrinterOffline from the real-time status; return paper-low."""
        paper = self._status_byte(device, DLE_EOT_PAPER, "paper sensor")
        online = self._status_byte(device, DLE_EOT_ONLINE, "printer status")
        # Paper first: an empty printer also reports offline, and "out of paper" is the
        # useful message.
        if paper & _PAPER_END:
            raise PaperOut(f"{self._where()}: paper roll is empty (status 0x{paper:02x})")
        if online & _ONLINE_OFFLINE_BIT:
            raise PrinterOffline(
                f"{self._where()}: printer reports offline, e.g. cover open (status 0x{online:02x})"
            )
        return bool(paper & _PAPER_NEAR_END)

    def _status_byte(self, device: Any, query: bytes, what: str) -> int:
        try:
            device._raw(query)
            if self.target.kind == "serial":
                # The library reads 16 bytes, which on a serial port waits the whole
                # timeout; a status answer is one byte.
                answer = bytes(device.device.read(1))
            else:
                answer = bytes(device._read())
        except TimeoutError as exc:
            raise PrinterOffline(f"{self._where()}: no answer to the {what} query") from exc
        except (ConnectionError, OSError) as exc:
            raise PrinterOffline(f"{self._where()}: {what} query failed ({exc})") from exc
        except Exception as exc:  # pyusb/pyserial errors
            raise PrinterOffline(f"{self._where()}: {what} query failed ({exc})") from exc
        if not answer:
            raise PrinterOffline(f"{self._where()}: no answer to the {what} query")
        value = answer[-1]  # the newest answer, should an older one still be queued
        if value & 0x93 != _STATUS_FIXED:
            raise PrinterFailed(f"{self._where()}: unexpected {what} answer 0x{value:02x}")
        return value


def _reason(exc: BaseException) -> str:
    """The underlying OS error when the library wrapped one, else the message."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        return str(cause)
    return " ".join(str(exc).split()) or type(exc).__name__


def _close_quietly(device: Any) -> None:
    try:
        device.close()
    except Exception:  # closing a broken connection must not hide the real error
        log.debug("closing the printer connection failed", exc_info=True)


# --- factory -----------------------------------------------------------------------


# printer name (None: the default printer) -> the OS print queue's printer. It needs Qt,
# so the Qt side provides it (kiosk.qt.app.system_printer); nothing here imports Qt.
SystemPrinterFactory = Callable[[str | None], Printer]


def make_printer(
    kind: str,
    target: str = "",
    folder: Path | None = None,
    system: SystemPrinterFactory | None = None,
) -> Printer:
    """'pdf' (folder; created if missing), 'escpos' (target), 'system' (target = printer
    name, empty for the default printer; made by `system`) or 'simulated'."""
    if kind == "pdf":
        if folder is None:
            raise ValueError("the pdf printer needs a folder")
        return PdfFolderPrinter(folder, create=True)
    if kind == "escpos":
        if not target:
            raise ValueError("the escpos printer needs a target, e.g. tcp://192.168.1.50:9100")
        return EscPosPrinter(target)
    if kind == "system":
        if system is None:
            raise ValueError("the system printer is only available in the kiosk's window")
        return system(target or None)
    if kind == "simulated":
        return SimulatedPrinter()
    raise ValueError(f"unknown printer kind {kind!r}; allowed: pdf, escpos, system, simulated")
