"""The operating system's printers (CUPS, Windows spooler) through QtPrintSupport.

Each PDF page is rendered with pypdfium2 on a white background and painted onto a
QPrinter with QPainter, so the printer needs no PDF support of its own. QPrinter aborts
the whole process when no QCoreApplication exists, so that is checked first.
QPainter on a QPrinter may be used from a worker thread.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from kiosk.hardware.printers import (
    KEY_OFFLINE,
    Printer,
    PrinterFailed,
    PrinterOffline,
    PrinterStatus,
)

log = logging.getLogger(__name__)


class SystemPrinter(Printer):
    """A printer known to the operating system; `printer_name=None` is the default one.

    `output_file` prints into a PDF file instead (Qt's own PDF engine): it exercises the
    same painting path, for tests and for machines without a printer.
    `dpi` caps the resolution of the page images sent to the printer.
    """

    def __init__(
        self, printer_name: str | None = None, *, output_file: Path | None = None, dpi: int = 300
    ) -> None:
        self.printer_name = printer_name
        self.output_file = Path(output_file) if output_file else None
        self.dpi = dpi
        if self.output_file:
            self.name = f"system-pdf:{self.output_file}"
        else:
            self.name = f"system:{printer_name or 'default'}"

    # -- Printer --

    def status(self) -> PrinterStatus:
        try:
            self._require_app()
            if self.output_file is not None:
                if not os.access(self.output_file.parent, os.W_OK):
                    return PrinterStatus(
                        False, KEY_OFFLINE, f"folder {self.output_file.parent} is not writable"
                    )
                return PrinterStatus(True)
            info = self._info()
        except (PrinterOffline, PrinterFailed) as exc:
            return PrinterStatus.from_error(exc)
        if info.state() in (QPrinter.PrinterState.Error, QPrinter.PrinterState.Aborted):
            return PrinterStatus(
                False, KEY_OFFLINE, f"printer {info.printerName()} reports an error"
            )
        return PrinterStatus(True)

    def print_pdf(self, pdf: bytes, job_name: str) -> None:
        import pypdfium2 as pdfium

        self._require_app()
        if not pdf.startswith(b"%PDF-"):
            raise PrinterFailed("the job is not a PDF document")
        printer = self._make_printer()
        printer.setDocName(job_name)
        printer.setCreator("commune-kiosk")
        printer.setFullPage(True)
        try:
            doc = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError as exc:
            raise PrinterFailed(f"cannot read the PDF: {exc}") from exc
        if len(doc) == 0:
            doc.close()
            raise PrinterFailed("the PDF has no pages")
        painter = QPainter()
        try:
            for index in range(len(doc)):
                page = doc[index]
                width_pt, height_pt = page.get_size()
                self._set_page(printer, width_pt, height_pt)
                if index == 0:
                    if not painter.begin(printer):
                        raise PrinterFailed(f"{self.name}: cannot start the print job")
                elif not printer.newPage():
                    raise PrinterFailed(f"{self.name}: cannot start page {index + 1}")
                dpi = min(self.dpi, printer.resolution())
                image = _page_image(page, dpi / 72.0)
                page.close()
                target = _fit(painter.viewport().toRectF(), width_pt / height_pt)
                # pdfium already renders on white; the fill covers the margins too.
                painter.fillRect(painter.viewport(), Qt.GlobalColor.white)
                painter.drawImage(target, image)
        except BaseException:
            if painter.isActive():
                printer.abort()  # drop the half-spooled job rather than print half a page
                painter.end()
            raise
        finally:
            doc.close()
        if not painter.end():
            raise PrinterFailed(f"{self.name}: the print job did not finish")
        log.info("sent print job to %s", self.name)

    # -- helpers --

    @staticmethod
    def _require_app() -> None:
        if QGuiApplication.instance() is None:
            raise PrinterFailed("system printing needs a QGuiApplication")

    def _info(self) -> QPrinterInfo:
        if self.printer_name:
            info = QPrinterInfo.printerInfo(self.printer_name)
            if info.isNull():
                raise PrinterOffline(f"no system printer named {self.printer_name!r}")
        else:
            info = QPrinterInfo.defaultPrinter()
            if info.isNull():
                raise PrinterOffline("no system printer is installed")
        return info

    def _make_printer(self) -> QPrinter:
        if self.output_file is not None:
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
            printer.setOutputFileName(str(self.output_file))
            printer.setResolution(self.dpi)
            return printer
        return QPrinter(self._info(), QPrinter.PrinterMode.HighResolution)

    @staticmethod
    def _set_page(printer: QPrinter, width_pt: float, height_pt: float) -> None:
        size = QPageSize(
            QSizeF(width_pt, height_pt),
            QPageSize.Unit.Point,
            "",
            QPageSize.SizeMatchPolicy.FuzzyMatch,
        )
        # A printer that lacks the size keeps its own paper; the page is then fitted.
        printer.setPageSize(size)
        printer.setPageOrientation(
            QPageLayout.Orientation.Landscape
            if width_pt > height_pt
            else QPageLayout.Orientation.Portrait
        )
        printer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)


def _page_image(page: Any, scale: float) -> QImage:
    bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=False)
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    fmt = QImage.Format.Format_RGB888 if bitmap.n_channels == 3 else QImage.Format.Format_RGBA8888
    data = bytes(bitmap.buffer)
    # copy(): the QImage must own its pixels once `data` goes away.
    return QImage(data, width, height, stride, fmt).copy()


def _fit(area: QRectF, aspect: float) -> QRectF:
    """The largest rectangle of `aspect` (width / height) centred in `area`."""
    width, height = area.width(), area.height()
    if width / height > aspect:
        width = height * aspect
    else:
        height = width / aspect
    return QRectF(
        area.x() + (area.width() - width) / 2,
        area.y() + (area.height() - height) / 2,
        width,
        height,
    )
