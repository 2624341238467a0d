"""Dossier receipts and queue tickets as PDF (reportlab), for an 80 mm roll, A5 or A4.

Every receipt is printed in Vietnamese and, when the citizen chose another language,
also in that language ("Mã biên nhận / Receipt code"). Text uses the shipped Noto Sans
TTF: reportlab's built-in Helvetica has no glyph for ă, ư, ơ, Đ, ậ, ₫ and prints boxes.

The 80 mm roll page is 80 mm wide with a 72 mm printable column (576 dots at 203 dpi)
and exactly as tall as its content. The ID number is printed masked; the QR code holds
only the status link (`receipt_code.receipt_uri`), nothing personal.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Literal
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from kiosk.paths import resource
from kiosk.services.formats import format_date, format_datetime, format_vnd
from kiosk.services.i18n import FALLBACK, Translator
from kiosk.services.text import nfc

Size = Literal["80mm", "a5", "a4"]
SIZES: tuple[str, ...] = ("80mm", "a5", "a4")

FONT = "NotoSans"
FONT_BOLD = "NotoSans-Bold"

ROLL_WIDTH = 80 * mm
ROLL_PRINTABLE = 72 * mm  # 576 dots at 203 dpi on a common 80 mm thermal head

_SECONDARY_GREY = colors.Color(0.25, 0.25, 0.25)


@dataclass
class ReceiptData:
    """What a dossier receipt shows. Text is NFC-normalised when the PDF is built."""

    commune_name: str
    procedure_code: str
    procedure_title: dict[str, str]  # lang -> title; "vi" expected
    applicant_name: str
    id_number: str  # printed masked, see mask_id()
    receipt_code: str
    confirmed_at: datetime  # aware datetimes are printed in the machine's local time
    fee_vnd: int
    expected_date: date | None
    documents: list[dict[str, str]]  # each: lang -> document name
    dossier_code: str | None  # None until the portal has issued one
    status_url: str  # QR content, from receipt_code.receipt_uri()
    lang: str = FALLBACK  # the citizen's language
    demo: bool = False  # prints a visible "BẢN THỬ / DEMO" mark
    # True while the dossier is only saved on the kiosk: prints a note that the
    # official dossier code comes later from the portal.
    receipt_not_final: bool = False
    commune_address: str = ""
    # Fees: how many pages/copies were counted, an exemption ground (lang -> label) and
    # whether a clerk has seen its proof, and the VietQR payload to pay by transfer.
    fee_quantity: str = ""
    exemption_ground: dict[str, str] | None = None
    exemption_confirmed: bool = False
    payment_qr: str | None = None  # a VietQR payload (kiosk.services.vietqr)
    payment_bank: str = ""  # "Agribank · 3500205000123 · UBND XA MINH KHAI"
    payment_recorded: bool = False  # a clerk has recorded the payment

    # Set on a reprint (local time): the receipt says it is one, and when it was printed.
    reprinted_at: datetime | None = None


@dataclass
class PaymentNoteData:
    """A payment note, printed when a clerk records a payment. Not the legal receipt:
    that is the e-receipt of the commune's finance system, whose number is shown."""

    commune_name: str
    receipt_code: str
    procedure_code: str
    procedure_title: dict[str, str]
    method: str  # vietqr_transfer, cash, exempt
    amount_vnd: int
    recorded_at: datetime
    clerk_name: str
    exemption_ground: dict[str, str] | None = None
    e_receipt_number: str | None = None
    bank_reference: str | None = None
    lang: str = FALLBACK
    demo: bool = False


@dataclass
class TicketData:
    """A queue ticket."""

    number: str  # e.g. "A012"
    service_group: dict[str, str]  # lang -> title of the counter's service group
    issued_at: datetime
    waiting_ahead: int
    priority: bool
    commune_name: str
    lang: str = FALLBACK
    demo: bool = False


# --- formatting helpers ------------------------------------------------------------


def mask_id(id_number: str) -> str:
    """`••••••••1234`: only the last four characters, and only for numbers of 8 or more.

    Shorter numbers are fully masked so that never most of a number is shown.
    """
    value = "".join(nfc(id_number).split())
    if not value:
        return ""
    shown = 4 if len(value) >= 8 else 0
    return "•" * (len(value) - shown) + value[len(value) - shown :]


def _pick(texts: dict[str, str], lang: str) -> str:
    """The text in `lang`, else Vietnamese, else any."""
    for key in (lang, FALLBACK):
        if texts.get(key):
            return nfc(texts[key])
    return nfc(next((v for v in texts.values() if v), ""))


def _pair(primary: str, secondary: str) -> tuple[str, str | None]:
    return primary, (secondary if secondary and secondary != primary else None)


def _picked(texts: dict[str, str], lang: str) -> tuple[str, str | None]:
    """A text of the data in Vietnamese, and in `lang` where that differs (else None)."""
    vi = _pick(texts, FALLBACK)
    return vi, (_pair(vi, _pick(texts, lang))[1] if lang != FALLBACK else None)


# --- fonts and styles --------------------------------------------------------------


@cache
def register_fonts() -> None:
    """Register the shipped Noto Sans (idempotent)."""
    pdfmetrics.registerFont(TTFont(FONT, str(resource("fonts", "NotoSans-Regular.ttf"))))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(resource("fonts", "NotoSans-Bold.ttf"))))
    # No italic face is shipped; <i> falls back to the upright faces instead of Helvetica.
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


@dataclass(frozen=True)
class _Paper:
    width: float
    height: float | None  # None: a roll, the height is fitted to the content
    margin_x: float
    margin_top: float
    margin_bottom: float
    base: float  # body font size in points
    code: float  # receipt code font size
    ticket: float  # ticket number font size
    qr: float  # QR side including its quiet zone
    roll: bool
    secondary_color: colors.Color = field(default=colors.black)

    @property
    def frame_width(self) -> float:
        return self.width - 2 * self.margin_x


_PAPERS: dict[str, _Paper] = {
    "80mm": _Paper(
        ROLL_WIDTH,
        None,
        (ROLL_WIDTH - ROLL_PRINTABLE) / 2,
        3 * mm,
        6 * mm,
        base=8.5,
        code=20,
        ticket=64,
        qr=34 * mm,
        roll=True,
        # Thermal heads print black or nothing: grey would turn into dither noise.
        secondary_color=colors.black,
    ),
    "a5": _Paper(
        A5[0],
        A5[1],
        12 * mm,
        10 * mm,
        10 * mm,
        base=9,
        code=24,
        ticket=96,
        qr=32 * mm,
        roll=False,
        secondary_color=_SECONDARY_GREY,
    ),
    "a4": _Paper(
        A4[0],
        A4[1],
        20 * mm,
        18 * mm,
        18 * mm,
        base=11,
        code=28,
        ticket=130,
        qr=44 * mm,
        roll=False,
        secondary_color=_SECONDARY_GREY,
    ),
}


def _paper(size: str) -> _Paper:
    try:
        return _PAPERS[size]
    except KeyError:
        raise ValueError(f"unknown receipt size {size!r}; allowed: {', '.join(SIZES)}") from None


class _Styles:
    def __init__(self, paper: _Paper) -> None:
        b = paper.base
        lead = 1.28

        def style(name: str, size: float, font: str = FONT, **kw: object) -> ParagraphStyle:
            kw.setdefault("leading", size * lead)
            # bulletFontName defaults to Helvetica, which has no Vietnamese glyphs.
            return ParagraphStyle(
                name,
                fontName=font,
                fontSize=size,
                bulletFontName=font,
                bulletFontSize=size,
                **kw,
            )

        self.header = style("header", b + 2, FONT_BOLD, alignment=TA_CENTER)
        self.address = style("address", b - 0.5, alignment=TA_CENTER)
        self.title = style("title", b + 3, FONT_BOLD, alignment=TA_CENTER, spaceBefore=4)
        self.title2 = style("title2", b, alignment=TA_CENTER, textColor=paper.secondary_color)
        self.label = style("label", b - 1, FONT_BOLD, spaceBefore=3)
        self.value = style("value", b, alignment=TA_LEFT)
        self.value_bold = style("value_bold", b + 0.5, FONT_BOLD)
        self.value2 = style("value2", b - 0.5, textColor=paper.secondary_color)
        self.code_label = style("code_label", b - 1, FONT_BOLD, alignment=TA_CENTER)
        self.code = style("code", paper.code, FONT_BOLD, alignment=TA_CENTER)
        self.center = style("center", b, alignment=TA_CENTER)
        self.center_small = style("center_small", b - 1, alignment=TA_CENTER)
        self.note = style("note", b - 1, spaceBefore=2)
        self.doc = style("doc", b, leftIndent=b * 2, bulletIndent=0)
        self.doc2 = style("doc2", b - 0.5, leftIndent=b * 2, textColor=paper.secondary_color)
        self.banner = style(
            "banner",
            b,
            FONT_BOLD,
            alignment=TA_CENTER,
            textColor=colors.white,
            backColor=colors.black,
            borderPadding=(2, 2, 3, 2),
            spaceBefore=2,
            spaceAfter=5,
        )
        self.ticket = style(
            "ticket", paper.ticket, FONT_BOLD, alignment=TA_CENTER, leading=paper.ticket * 1.1
        )
        self.priority = style(
            "priority",
            b + 4,
            FONT_BOLD,
            alignment=TA_CENTER,
            textColor=colors.white,
            backColor=colors.black,
            borderPadding=(2, 2, 3, 2),
            spaceBefore=4,
            spaceAfter=4,
        )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(nfc(text)), style)


def _fit_style(text: str, style: ParagraphStyle, width: float) -> ParagraphStyle:
    """Shrink a one-line style (the receipt code) until the text fits the width."""
    size = style.fontSize
    while size > 8 and pdfmetrics.stringWidth(text, style.fontName, size) > width:
        size -= 0.5
    if size == style.fontSize:
        return style
    return ParagraphStyle(style.name + "_fit", parent=style, fontSize=size, leading=size * 1.2)


class _Labels:
    """Bilingual labels: Vietnamese first, then the citizen's language when it differs."""

    def __init__(self, translator: Translator, lang: str) -> None:
        self.translator = translator
        self.lang = lang

    def vi(self, key: str, **values: object) -> str:
        return self.translator.tr(key, FALLBACK, **values)

    def other(self, key: str, **values: object) -> str | None:
        if self.lang == FALLBACK:
            return None
        return _pair(self.vi(key, **values), self.translator.tr(key, self.lang, **values))[1]

    def joined(self, key: str, sep: str = " / ", **values: object) -> str:
        other = self.other(key, **values)
        return self.vi(key, **values) + (sep + other if other else "")

    def both(
        self, key: str, style: ParagraphStyle, style2: ParagraphStyle, **values: object
    ) -> list[Flowable]:
        """The Vietnamese text, then the other language's on its own line."""
        return _bilingual(self.vi(key, **values), self.other(key, **values), style, style2)


# --- the QR code -------------------------------------------------------------------


class QrFlowable(Flowable):
    """A QR code drawn as vector squares, with its 4-module quiet zone inside `size`."""

    QUIET = 4

    def __init__(self, content: str, size: float) -> None:
        super().__init__()
        self.content = content
        self.qr = segno.make(content, error="m", micro=False)
        self.size = size
        self.width = self.height = size
        self.hAlign = "CENTER"

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        matrix = self.qr.matrix
        n = len(matrix) + 2 * self.QUIET
        module = self.size / n
        path = self.canv.beginPath()
        for row, bits in enumerate(matrix):
            y = self.size - (row + self.QUIET + 1) * module
            col = 0
            while col < len(bits):
                if not bits[col]:
                    col += 1
                    continue
                start = col
                while col < len(bits) and bits[col]:
                    col += 1
                path.rect((start + self.QUIET) * module, y, (col - start) * module, module)
        self.canv.setFillColor(colors.black)
        self.canv.drawPath(path, stroke=0, fill=1)


# --- page assembly -----------------------------------------------------------------


def _rule(paper: _Paper) -> HRFlowable:
    return HRFlowable(
        width="100%",
        thickness=0.6 if paper.roll else 0.4,
        color=colors.black if paper.roll else colors.Color(0.6, 0.6, 0.6),
        dash=(2, 2) if paper.roll else None,
        spaceBefore=4,
        spaceAfter=3,
    )


def _render(
    paper: _Paper,
    story: list[Flowable],
    title: str,
    watermark: str | None,
) -> bytes:
    out = io.BytesIO()
    if paper.roll:
        _render_roll(paper, story, title, out)
    else:
        _render_sheet(paper, story, title, watermark, out)
    return out.getvalue()


def _render_roll(paper: _Paper, story: list[Flowable], title: str, out: io.BytesIO) -> None:
    # A roll never breaks pages, so KeepTogether groups are flattened.
    flat: list[Flowable] = []
    for item in story:
        flat.extend(item._content if isinstance(item, KeepTogether) else [item])
    width = paper.frame_width
    canvas = Canvas(
        out,
        pagesize=(paper.width, 100),
        pageCompression=1,
        initialFontName=FONT,
        initialFontSize=paper.base,  # else Helvetica is referenced
    )
    height = 0.0
    for i, item in enumerate(flat):
        _, h = item.wrapOn(canvas, width, 10_000)
        # A frame drops the space before its first flowable.
        height += h + item.getSpaceAfter() + (item.getSpaceBefore() if i else 0)
    height = height + paper.margin_top + paper.margin_bottom + 2  # 2 pt against rounding
    canvas.setPageSize((paper.width, height))
    _metadata(canvas, title)
    frame = Frame(
        paper.margin_x,
        paper.margin_bottom,
        width,
        height - paper.margin_top - paper.margin_bottom,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        showBoundary=0,
    )
    frame.addFromList(flat, canvas)
    if flat:  # cannot happen unless a flowable changes size between wraps
        raise RuntimeError("roll receipt content did not fit its computed height")
    canvas.showPage()
    canvas.save()


def _render_sheet(
    paper: _Paper, story: list[Flowable], title: str, watermark: str | None, out: io.BytesIO
) -> None:
    assert paper.height is not None
    doc = BaseDocTemplate(
        out,
        pagesize=(paper.width, paper.height),
        leftMargin=paper.margin_x,
        rightMargin=paper.margin_x,
        topMargin=paper.margin_top,
        bottomMargin=paper.margin_bottom,
        title=title,
        author="",
        subject="",
        creator="commune-kiosk",
        pageCompression=1,
        initialFontName=FONT,
        initialFontSize=paper.base,  # else Helvetica is referenced
    )
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )

    def on_page(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        if watermark:
            _draw_watermark(canvas, paper, watermark)

    doc.addPageTemplates([PageTemplate("page", [frame], onPage=on_page)])
    doc.build(story)


def _metadata(canvas: Canvas, title: str) -> None:
    canvas.setTitle(title)
    canvas.setAuthor("")
    canvas.setSubject("")
    canvas.setCreator("commune-kiosk")


def _draw_watermark(canvas: Canvas, paper: _Paper, text: str) -> None:
    assert paper.height is not None
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.88, 0.88, 0.88))
    canvas.translate(paper.width / 2, paper.height / 2)
    canvas.rotate(50)
    size = paper.width / 7
    while size > 10 and pdfmetrics.stringWidth(text, FONT_BOLD, size) > paper.height * 0.8:
        size -= 2
    canvas.setFont(FONT_BOLD, size)
    canvas.drawCentredString(0, -size / 3, text)
    canvas.restoreState()


def _bilingual(
    vi_text: str, other: str | None, style: ParagraphStyle, style2: ParagraphStyle
) -> list[Flowable]:
    items: list[Flowable] = [_p(vi_text, style)]
    if other:
        items.append(_p(other, style2))
    return items


def _rows_table(paper: _Paper, rows: Sequence[tuple[Flowable, list[Flowable]]]) -> list[Flowable]:
    """Label/value rows: stacked on a roll, a two-column table on a sheet."""
    if paper.roll:
        return [KeepTogether([label, *values]) for label, values in rows]
    width = paper.frame_width
    table = Table(
        [[label, values] for label, values in rows],
        colWidths=[width * 0.36, width * 0.64],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # else cells set Helvetica
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, -1), 6),
                ("RIGHTPADDING", (1, 0), (1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.Color(0.75, 0.75, 0.75)),
            ]
        ),
        hAlign="LEFT",
    )
    return [table]


def _banner(labels: _Labels, styles: _Styles) -> Paragraph:
    """The black DEMO band; each language on its own line so neither is split."""
    other = labels.other("receipt.demo")
    text = escape(labels.vi("receipt.demo")) + ("<br/>" + escape(other) if other else "")
    return Paragraph(text, styles.banner)


def _label(labels: _Labels, key: str, styles: _Styles, paper: _Paper) -> Paragraph:
    # In a table the cell padding spaces the rows; on a roll the label does.
    style = ParagraphStyle("label_row", parent=styles.label, spaceBefore=4 if paper.roll else 0)
    return _p(labels.joined(key), style)


def _begin(
    size: Size | str, translator: Translator, lang: str, demo: bool
) -> tuple[_Paper, _Styles, _Labels, list[Flowable]]:
    """The paper, its styles, the labels and the story (a demo starts with its band)."""
    register_fonts()
    paper = _paper(size)
    styles = _Styles(paper)
    labels = _Labels(translator, lang)
    return paper, styles, labels, [_banner(labels, styles)] if demo else []


def _heading(
    paper: _Paper, styles: _Styles, labels: _Labels, commune: str, title: str, address: str = ""
) -> list[Flowable]:
    """The commune, its address, the document's title in both languages, a rule."""
    out = [_p(commune, styles.header)]
    if address:
        out.append(_p(address, styles.address))
    return [*out, *labels.both(title, styles.title, styles.title2), _rule(paper)]


def _code_block(
    labels: _Labels, styles: _Styles, code: str, width: float, when: datetime
) -> list[Flowable]:
    """The receipt code, as large as `width` allows, and its time."""
    return [
        _p(labels.joined("receipt.code"), styles.code_label),
        _p(code, _fit_style(code, styles.code, width)),
        _p(format_datetime(when), styles.center),
    ]


def _qr_box(paper: _Paper, text: list[Flowable], content: str) -> Table:
    """On a sheet: `text` on the left, the QR code of `content` on the right, in a box."""
    pad = 6
    qr_width = paper.qr + 2 * pad
    return Table(
        [[text, QrFlowable(content, paper.qr)]],
        colWidths=[paper.frame_width - qr_width, qr_width],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # else cells set Helvetica
                ("LEFTPADDING", (0, 0), (-1, -1), pad),
                ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                ("TOPPADDING", (0, 0), (-1, -1), pad),
                ("BOTTOMPADDING", (0, 0), (-1, -1), pad),
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
            ]
        ),
    )


def _finish(paper: _Paper, story: list[Flowable], labels: _Labels, demo: bool, title: str) -> bytes:
    """The PDF; a demo sheet carries the DEMO watermark."""
    watermark = labels.joined("receipt.demo_short") if demo else None
    return _render(paper, story, title, watermark)


# --- receipts ----------------------------------------------------------------------


def build_receipt_pdf(data: ReceiptData, size: Size | str, translator: Translator) -> bytes:
    """The receipt as PDF bytes. Raises ValueError for an unknown size or negative fee."""
    lang = data.lang
    paper, styles, labels, story = _begin(size, translator, lang, data.demo)
    if data.reprinted_at is not None:
        when = format_datetime(data.reprinted_at)
        story += labels.both("receipt.reprint", styles.title, styles.title2, time=when)
    story += _heading(
        paper, styles, labels, data.commune_name, "receipt.title", data.commune_address
    )

    code_text = nfc(data.receipt_code)
    code_block = _code_block(labels, styles, code_text, _code_width(paper), data.confirmed_at)
    scan = labels.both("receipt.scan_status", styles.center_small, styles.center_small)
    rows = _receipt_rows(data, labels, styles, paper, lang)

    if paper.roll:
        story += code_block
        story.append(_rule(paper))
        story += _rows_table(paper, rows)
        story.append(_rule(paper))
        story += _documents(data, labels, styles, lang)
        story.append(_rule(paper))
        story.append(Spacer(1, 2))
        story.append(QrFlowable(data.status_url, paper.qr))
        story += scan
    else:
        # Sheet: code and time on the left, QR on the right, in one box.
        story.append(Spacer(1, 4))
        story.append(_qr_box(paper, [*code_block, Spacer(1, 6), *scan], data.status_url))
        story.append(Spacer(1, 6))
        story += _rows_table(paper, rows)
        story.append(_rule(paper))
        story += _documents(data, labels, styles, lang)

    story += _payment_block(data, labels, styles, paper)
    story.append(_rule(paper))
    if data.receipt_not_final:
        story += labels.both("receipt.not_final", styles.note, styles.value2)
    story += labels.both("receipt.keep", styles.note, styles.value2)
    if data.demo and paper.roll:
        # Repeated at the end so that a torn-off half still carries the mark.
        story.append(Spacer(1, 4))
        story.append(_banner(labels, styles))
    return _finish(paper, story, labels, data.demo, code_text)


def _payment_block(
    data: ReceiptData, labels: _Labels, styles: _Styles, paper: _Paper
) -> list[Flowable]:
    """The VietQR code to pay the fee later from a phone, with the bank and the amount."""
    if not data.payment_qr or data.payment_recorded or data.exemption_ground:
        return []
    text: list[Flowable] = [
        _p(labels.joined("fees.receipt.pay_qr"), ParagraphStyle("pq", parent=styles.label)),
        _p(format_vnd(data.fee_vnd), styles.value_bold),
    ]
    if data.payment_bank:
        text.append(_p(data.payment_bank, styles.value))
    text.append(_p(labels.joined("fees.receipt.pay_purpose", code=data.receipt_code), styles.value))
    text += labels.both("fees.receipt.pay_cash", styles.note, styles.value2)
    if paper.roll:
        return [_rule(paper), *text, Spacer(1, 2), QrFlowable(data.payment_qr, paper.qr)]
    return [Spacer(1, 6), KeepTogether([_qr_box(paper, text, data.payment_qr)])]


# --- payment notes -------------------------------------------------------------------

METHOD_KEYS = {
    "cash": "fees.method.cash",
    "vietqr_transfer": "fees.method.transfer",
    "exempt": "fees.method.exempt",
}


def build_payment_note_pdf(
    data: PaymentNoteData, size: Size | str, translator: Translator
) -> bytes:
    """The note a clerk prints when recording a payment (not the legal e-receipt)."""
    lang = data.lang
    paper, styles, labels, story = _begin(size, translator, lang, data.demo)
    story += _heading(paper, styles, labels, data.commune_name, "fees.note.title")
    code = nfc(data.receipt_code)
    story += _code_block(labels, styles, code, paper.frame_width, data.recorded_at)
    story.append(_rule(paper))
    title_vi, title_other = _picked(data.procedure_title, lang)
    method = [_p(labels.joined(METHOD_KEYS.get(data.method, data.method)), styles.value_bold)]
    if data.exemption_ground:
        method.append(_p(_pick(data.exemption_ground, lang), styles.value))
    rows: list[tuple[Flowable, list[Flowable]]] = [
        (
            _label(labels, "receipt.procedure", styles, paper),
            [
                *_bilingual(title_vi, title_other, styles.value_bold, styles.value2),
                _p(data.procedure_code, styles.value2),
            ],
        ),  # fmt: skip
        (_label(labels, "fees.note.method", styles, paper), method),
        (
            _label(labels, "fees.note.amount", styles, paper),
            [_p(format_vnd(data.amount_vnd), styles.value_bold)],
        ),
        (
            _label(labels, "fees.note.e_receipt", styles, paper),
            [_p(data.e_receipt_number or labels.joined("fees.note.e_receipt_later"), styles.value)],
        ),
        (_label(labels, "fees.note.clerk", styles, paper), [_p(data.clerk_name, styles.value)]),
    ]
    if data.bank_reference:
        rows.append(
            (_label(labels, "fees.note.reference", styles, paper),
             [_p(data.bank_reference, styles.value)])
        )  # fmt: skip
    story += _rows_table(paper, rows)
    story.append(_rule(paper))
    story += labels.both("fees.note.legal", styles.note, styles.value2)
    return _finish(paper, story, labels, data.demo, code)


def _code_width(paper: _Paper) -> float:
    if paper.roll:
        return paper.frame_width
    return paper.frame_width - paper.qr - 24


def _receipt_rows(
    data: ReceiptData, labels: _Labels, styles: _Styles, paper: _Paper, lang: str
) -> list[tuple[Flowable, list[Flowable]]]:
    title_vi, title_other = _picked(data.procedure_title, lang)
    procedure = _bilingual(title_vi, title_other, styles.value_bold, styles.value2)
    if data.procedure_code:
        procedure.append(_p(data.procedure_code, styles.value2))

    fee: list[Flowable]
    if data.fee_vnd == 0:
        fee = [_p(labels.joined("receipt.fee_free"), styles.value)]
    else:
        fee = [_p(format_vnd(data.fee_vnd), styles.value_bold)]
        if data.fee_quantity:
            fee.append(_p(data.fee_quantity, styles.value2))
        if data.exemption_ground:
            ground_vi, other = _picked(data.exemption_ground, lang)
            key = "fees.receipt.exempt" if data.exemption_confirmed else "fees.receipt.claimed"
            fee += _bilingual(
                labels.vi(key, ground=ground_vi),
                labels.other(key, ground=other or ground_vi),
                styles.value,
                styles.value2,
            )
        elif data.payment_recorded:
            fee.append(_p(labels.joined("fees.receipt.paid"), styles.value))
        else:
            fee.append(_p(labels.joined("fees.receipt.unpaid"), styles.value))

    if data.expected_date is not None:
        expected = [_p(format_date(data.expected_date), styles.value_bold)]
    else:
        expected = [_p(labels.joined("receipt.expected_unknown"), styles.value)]

    if data.dossier_code:
        dossier = [_p(data.dossier_code, styles.value)]
    else:
        dossier = [_p(labels.joined("receipt.dossier_pending"), styles.value)]

    return [
        (_label(labels, "receipt.procedure", styles, paper), procedure),
        (
            _label(labels, "receipt.applicant", styles, paper),
            [_p(data.applicant_name, styles.value_bold)],
        ),
        (
            _label(labels, "receipt.id_number", styles, paper),
            [_p(mask_id(data.id_number), styles.value)],
        ),
        (_label(labels, "receipt.fee", styles, paper), fee),
        (_label(labels, "receipt.expected_date", styles, paper), expected),
        (_label(labels, "receipt.dossier_code", styles, paper), dossier),
    ]


def _documents(data: ReceiptData, labels: _Labels, styles: _Styles, lang: str) -> list[Flowable]:
    out: list[Flowable] = [
        _p(labels.joined("receipt.documents"), ParagraphStyle("dl", parent=styles.label))
    ]
    if not data.documents:
        out.append(_p(labels.joined("receipt.documents_none"), styles.value))
        return out
    for i, doc in enumerate(data.documents, start=1):
        name_vi, other = _picked(doc, lang)
        item: list[Flowable] = [Paragraph(escape(name_vi), styles.doc, bulletText=f"{i}.")]
        if other:
            item.append(_p(other, styles.doc2))
        out.append(KeepTogether(item))
    return out


# --- queue tickets -----------------------------------------------------------------


def build_ticket_pdf(data: TicketData, size: Size | str, translator: Translator) -> bytes:
    """A queue ticket as PDF bytes."""
    paper, styles, labels, story = _begin(size, translator, data.lang, data.demo)
    story += _heading(paper, styles, labels, data.commune_name, "ticket.title")
    story.append(_p(labels.joined("ticket.number"), styles.code_label))
    number = nfc(data.number)
    story.append(_p(number, _fit_style(number, styles.ticket, paper.frame_width)))
    if data.priority:
        story.append(_p(labels.joined("ticket.priority"), styles.priority))
    group_vi, group_other = _picked(data.service_group, data.lang)
    bold_center = ParagraphStyle("group", parent=styles.center, fontName=FONT_BOLD)
    story += _bilingual(group_vi, group_other, bold_center, styles.title2)
    story.append(_rule(paper))
    ahead = max(0, data.waiting_ahead)
    story += labels.both("ticket.waiting_ahead", styles.center, styles.title2, count=ahead)
    story.append(_p(format_datetime(data.issued_at), styles.center_small))
    story.append(Spacer(1, 3))
    story += labels.both("ticket.wait_note", styles.center_small, styles.center_small)
    return _finish(paper, story, labels, data.demo, number)


# --- a sample for IT staff -------------------------------------------------------------


def sample_receipt(
    lang: str = FALLBACK,
    now: Callable[[], datetime] = datetime.now,
    procedure: str | None = None,
    fee_account=None,
) -> ReceiptData:
    """A fictitious receipt (demo-marked) for printer tests; with `procedure`, that
    procedure of the shipped catalogue with its fee and the VietQR code to pay it (to
    `fee_account`, by default the demo's)."""
    from kiosk.services.receipt_code import make_code, receipt_uri

    code = make_code("QN01", 123)
    confirmed = now().replace(second=0, microsecond=0)
    data = _sample_birth(
        lang, code, confirmed, receipt_uri("https://portal.example.gov.vn/r/", code)
    )
    if procedure is None:
        return data
    from kiosk.services.banks import bank_line, demo_fee_account, payment_payload
    from kiosk.services.catalogue import load_default_catalogue

    proc = load_default_catalogue().get(procedure)
    if proc is None:
        raise ValueError(f"no procedure {procedure!r} in the catalogue")
    rule = proc.fee_rule()
    fee = rule.amount() if rule is not None else 0
    account = fee_account or demo_fee_account()
    data.procedure_code = proc.code
    data.procedure_title = dict(proc.titles)
    data.documents = [dict(d.titles) for d in proc.required_documents]
    data.fee_vnd = fee
    if fee > 0:
        data.payment_qr = payment_payload(account, fee, code)
        data.payment_bank = bank_line(account)
    return data


def _sample_birth(lang: str, code: str, confirmed: datetime, status_url: str) -> ReceiptData:
    return ReceiptData(
        commune_name="UBND xã Hòa Tiến",
        commune_address="Thôn Trung Hòa, xã Hòa Tiến, tỉnh Quảng Ngãi",
        procedure_code="1.001193",
        procedure_title={
            "vi": "Đăng ký khai sinh",
            "en": "Birth registration",
        },
        applicant_name="Nguyễn Thị Hồng Nhung",
        id_number="051190001234",
        receipt_code=code,
        confirmed_at=confirmed,
        fee_vnd=0,
        expected_date=confirmed.date(),
        documents=[
            {
                "vi": "Tờ khai đăng ký khai sinh (theo mẫu)",
                "en": "Birth registration form (official template)",
            },
            {
                "vi": "Giấy chứng sinh do cơ sở y tế cấp",
                "en": "Birth certificate issued by the hospital or clinic",
            },
            {
                "vi": "Văn bản ủy quyền (nếu nộp thay)",
                "en": "Letter of authorisation (when filing for someone else)",
            },
        ],
        dossier_code=None,
        status_url=status_url,
        lang=lang,
        demo=True,
        receipt_not_final=True,
    )


def sample_ticket(lang: str = FALLBACK, now: Callable[[], datetime] = datetime.now) -> TicketData:
    return TicketData(
        number="A012",
        service_group={"vi": "Hộ tịch – Chứng thực", "en": "Civil status – Certification"},
        issued_at=now().replace(second=0, microsecond=0),
        waiting_ahead=4,
        priority=False,
        commune_name="UBND xã Hòa Tiến",
        lang=lang,
        demo=True,
    )
