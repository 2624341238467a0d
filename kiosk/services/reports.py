"""Numbers for the clerk's dashboard and the daily report (counts only, nothing personal).

Everything is a SQL aggregate over indexed columns (confirmed_at, state, ratings.day,
queue_tickets.day, attempts.at), so the dashboard stays fast on 100 000 dossiers. Days
are local days: the store keeps UTC, so a day's bounds are shifted by the local offset.

The daily report is written as PDF (reportlab with the shipped Noto Sans; Helvetica has
no Vietnamese letters) and CSV into a folder (settings.data_dir / "reports"), and the
PDF can go to the receipt printer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from kiosk.files import write_atomic
from kiosk.services.dossier_search import local_day_bounds
from kiosk.services.dossiers import utcnow
from kiosk.services.i18n import FALLBACK, Translator
from kiosk.services.models import (
    AUTH_BLOCKED,
    NEEDS_CLERK,
    QUEUED,
    SENDING,
    STATES,
    Attempt,
    Dossier,
    Rating,
)
from kiosk.services.payments import FeeTotals, fee_totals
from kiosk.services.queue import GroupStats, QueueService
from kiosk.services.store import Store

WAITING_STATES = (QUEUED, SENDING, AUTH_BLOCKED)
FACES = (1, 2, 3, 4)
CSV_COLUMNS = ("day", "section", "key", "label", "value")


@dataclass
class Dashboard:
    today: date
    per_day: list[tuple[date, int]]  # every day of the window, oldest first, zeros included
    per_procedure: list[tuple[str, int]]  # in the window, most first
    states: dict[str, int]  # whole outbox, every state present
    oldest_waiting: datetime | None  # naive UTC; the oldest not yet delivered
    failures: int  # failed delivery attempts in the window
    not_printed: int  # receipts that did not print, in the window
    queue: list[GroupStats]  # today
    rating_days: list[tuple[date, float | None, int]]  # (day, mean face, count)
    rating_procedures: list[tuple[str, float, int]]
    faces: dict[int, int]
    fees: FeeTotals = field(default_factory=FeeTotals)  # dossiers of the window

    @property
    def needs_attention(self) -> int:
        return self.states.get(NEEDS_CLERK, 0) + self.states.get(AUTH_BLOCKED, 0)


@dataclass
class DailyReport:
    day: date
    commune_name: str
    kiosk_id: str
    generated_at: datetime  # local, aware
    dossiers: int
    assisted: int
    not_printed: int
    per_procedure: list[tuple[str, str, int]]  # (code, title, count)
    per_state: dict[str, int]  # that day's dossiers by their state now
    outbox_now: dict[str, int]
    oldest_waiting: datetime | None
    failures: int
    queue: list[tuple[str, GroupStats]]  # (group title, stats)
    faces: dict[int, int]
    rating_mean: float | None
    fees: FeeTotals = field(default_factory=FeeTotals)  # that day's dossiers


@dataclass(frozen=True)
class ReportFiles:
    pdf: Path
    csv: Path


class Reports:
    def __init__(
        self,
        store: Store,
        queue: QueueService | None = None,
        titles: Callable[[str], str] | None = None,
        tz: tzinfo | None = None,
        clock=utcnow,
    ) -> None:
        self.store = store
        self.queue = queue
        self.titles = titles or (lambda code: code)  # procedure code -> Vietnamese title
        self.tz = tz
        self.clock = clock

    def today(self) -> date:
        return self.clock().replace(tzinfo=UTC).astimezone(self.tz).date()

    def _local_day(self, session: Session, column):
        """SQL for the local day of a naive-UTC column."""
        now = self.clock().replace(tzinfo=UTC).astimezone(self.tz)
        minutes = int(now.utcoffset().total_seconds() // 60)
        if session.get_bind().dialect.name == "sqlite":
            return func.date(column, f"{minutes:+d} minutes")
        return cast(column + timedelta(minutes=minutes), Date)

    # Dashboard --------------------------------------------------------------
    def dashboard(self, days: int = 14) -> Dashboard:
        today = self.today()
        first = today - timedelta(days=days - 1)
        start, end = local_day_bounds(first, today, self.tz)

        def read(s: Session) -> Dashboard:
            in_window = (Dossier.confirmed_at >= start, Dossier.confirmed_at < end)
            day = self._local_day(s, Dossier.confirmed_at)
            per_day = {
                _as_date(d): int(n)
                for d, n in s.execute(select(day, func.count()).where(*in_window).group_by(day))
            }
            per_proc = s.execute(
                select(Dossier.procedure_code, func.count())
                .where(*in_window)
                .group_by(Dossier.procedure_code)
                .order_by(func.count().desc())
            ).all()
            states = self._states(s)
            oldest = self._oldest_waiting(s)
            failures = self._failures(s, start, end)
            not_printed = (
                s.scalar(
                    select(func.count())
                    .select_from(Dossier)
                    .where(*in_window, Dossier.receipt_printed.is_(False))
                )
                or 0
            )
            rating_days = {
                r.day: (round(float(r.mean), 2), int(r.n))
                for r in s.execute(
                    select(Rating.day, func.avg(Rating.face).label("mean"), func.count().label("n"))
                    .where(Rating.day >= first, Rating.day <= today)
                    .group_by(Rating.day)
                )
            }
            rating_procs = [
                (code or "", round(float(mean), 2), int(n))
                for code, mean, n in s.execute(
                    select(Rating.procedure_code, func.avg(Rating.face), func.count())
                    .where(Rating.day >= first, Rating.day <= today)
                    .group_by(Rating.procedure_code)
                    .order_by(func.count().desc())
                )
            ]
            faces = self._faces(s, first, today)
            return Dashboard(
                today=today,
                per_day=[(d, per_day.get(d, 0)) for d in _days(first, today)],
                per_procedure=[(c, int(n)) for c, n in per_proc],
                states=states,
                oldest_waiting=oldest,
                failures=failures,
                not_printed=int(not_printed),
                queue=self.queue.stats(today) if self.queue else [],
                rating_days=[(d, *rating_days.get(d, (None, 0))) for d in _days(first, today)],
                rating_procedures=rating_procs,
                faces=faces,
                fees=fee_totals(s, start, end),
            )

        return self.store.read(read)

    def outbox_states(self) -> dict[str, int]:
        """How many dossiers are in each outbox state, now."""
        return self.store.read(self._states)

    def _states(self, s: Session) -> dict[str, int]:
        found = dict(s.execute(select(Dossier.state, func.count()).group_by(Dossier.state)).all())
        return {state: int(found.get(state, 0)) for state in STATES}

    def _oldest_waiting(self, s: Session) -> datetime | None:
        # min(confirmed_at) over the waiting states: each state is an index range.
        return s.scalar(
            select(func.min(Dossier.confirmed_at)).where(Dossier.state.in_(WAITING_STATES))
        )

    def _failures(self, s: Session, start: datetime, end: datetime) -> int:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Attempt)
                .where(Attempt.at >= start, Attempt.at < end, Attempt.error.is_not(None))
            )
            or 0
        )

    def _faces(self, s: Session, first: date, last: date) -> dict[int, int]:
        found = dict(
            s.execute(
                select(Rating.face, func.count())
                .where(Rating.day >= first, Rating.day <= last)
                .group_by(Rating.face)
            ).all()
        )
        return {f: int(found.get(f, 0)) for f in FACES}

    # Daily report -----------------------------------------------------------
    def daily(self, day: date, commune_name: str = "", kiosk_id: str = "") -> DailyReport:
        start, end = local_day_bounds(day, day, self.tz)

        def read(s: Session) -> DailyReport:
            of_day = (Dossier.confirmed_at >= start, Dossier.confirmed_at < end)
            total, assisted, not_printed = s.execute(
                select(
                    func.count(),
                    func.count(Dossier.assisted_by),
                    func.coalesce(
                        func.sum(case((Dossier.receipt_printed.is_(False), 1), else_=0)), 0
                    ),
                ).where(*of_day)
            ).one()
            per_proc = s.execute(
                select(Dossier.procedure_code, func.count())
                .where(*of_day)
                .group_by(Dossier.procedure_code)
                .order_by(func.count().desc(), Dossier.procedure_code)
            ).all()
            per_state = dict(
                s.execute(
                    select(Dossier.state, func.count()).where(*of_day).group_by(Dossier.state)
                ).all()
            )
            faces = self._faces(s, day, day)
            rated = sum(faces.values())
            mean = round(sum(f * n for f, n in faces.items()) / rated, 2) if rated else None
            queue = []
            if self.queue is not None:
                for st in self.queue.stats(day):
                    group = self.queue.groups.get(st.group)
                    queue.append((group.title(FALLBACK) if group else st.group, st))
            return DailyReport(
                day=day,
                commune_name=commune_name,
                kiosk_id=kiosk_id,
                generated_at=self.clock().replace(tzinfo=UTC).astimezone(self.tz),
                dossiers=int(total),
                assisted=int(assisted),
                not_printed=int(not_printed),
                per_procedure=[(c, self.titles(c), int(n)) for c, n in per_proc],
                per_state={st: int(per_state.get(st, 0)) for st in STATES},
                outbox_now=self._states(s),
                oldest_waiting=self._oldest_waiting(s),
                failures=self._failures(s, start, end),
                queue=queue,
                faces=faces,
                rating_mean=mean,
                fees=fee_totals(s, start, end),
            )

        return self.store.read(read)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- output ------------------------------------------------------------------------


def _fmt_wait(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _fmt_local(moment: datetime | None, tz: tzinfo | None = None) -> str:
    if moment is None:
        return "—"
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%d/%m/%Y %H:%M")


def report_rows(
    report: DailyReport, translator: Translator, lang: str = FALLBACK
) -> list[tuple[str, str, str, str]]:
    """(section, key, label, value) for every figure of the report: the CSV's lines."""
    tr = translator.tr
    rows: list[tuple[str, str, str, str]] = [
        ("dossiers", "total", tr("clerk.report.dossiers", lang), str(report.dossiers)),
        ("dossiers", "assisted", tr("clerk.report.assisted", lang), str(report.assisted)),
        (
            "dossiers",
            "receipt_not_printed",
            tr("clerk.report.not_printed", lang),
            str(report.not_printed),
        ),
    ]
    rows += [("procedure", code, title, str(n)) for code, title, n in report.per_procedure]
    rows += [
        ("state", st, tr(f"clerk.state.{st}", lang), str(n)) for st, n in report.per_state.items()
    ]
    rows += [
        ("outbox_now", st, tr(f"clerk.state.{st}", lang), str(n))
        for st, n in report.outbox_now.items()
    ]
    rows.append(
        (
            "outbox_now",
            "oldest_waiting",
            tr("clerk.report.oldest_waiting", lang),
            _fmt_local(report.oldest_waiting),
        )
    )
    rows.append(
        ("outbox_now", "failed_attempts", tr("clerk.report.failures", lang), str(report.failures))
    )
    for title, st in report.queue:
        rows += [
            (
                "queue",
                f"{st.group}.issued",
                f"{title}: {tr('clerk.report.q_issued', lang)}",
                str(st.issued),
            ),
            (
                "queue",
                f"{st.group}.served",
                f"{title}: {tr('clerk.report.q_served', lang)}",
                str(st.served),
            ),
            (
                "queue",
                f"{st.group}.skipped",
                f"{title}: {tr('clerk.report.q_skipped', lang)}",
                str(st.skipped),
            ),
            (
                "queue",
                f"{st.group}.avg_wait_s",
                f"{title}: {tr('clerk.report.q_avg_wait', lang)}",
                "" if st.avg_wait_s is None else f"{st.avg_wait_s:.0f}",
            ),
            (
                "queue",
                f"{st.group}.max_wait_s",
                f"{title}: {tr('clerk.report.q_max_wait', lang)}",
                "" if st.max_wait_s is None else f"{st.max_wait_s:.0f}",
            ),
        ]
    rows += fee_rows(report.fees, translator, lang)
    rows += [
        ("rating", f"face_{f}", tr(f"clerk.face.{f}", lang), str(n))
        for f, n in report.faces.items()
    ]
    rows.append(
        (
            "rating",
            "mean",
            tr("clerk.report.rating_mean", lang),
            "" if report.rating_mean is None else f"{report.rating_mean:.2f}",
        )
    )
    return rows


def fee_rows(
    fees: FeeTotals, translator: Translator, lang: str = FALLBACK
) -> list[tuple[str, str, str, str]]:
    """(section, key, label, value): fees due, paid by method and exempted, in VND, with
    their counts."""
    tr = translator.tr
    rows = [("fees", "due_vnd", tr("fees.report.due", lang, n=fees.due_count), str(fees.due_vnd))]
    for method in ("cash", "vietqr_transfer"):
        rows.append(
            (
                "fees",
                f"paid_{method}_vnd",
                tr(f"fees.report.paid_{method}", lang, n=fees.paid_count.get(method, 0)),
                str(fees.paid_vnd.get(method, 0)),
            )
        )
    rows.append(
        (
            "fees",
            "exempted_vnd",
            tr("fees.report.exempted", lang, n=fees.exempted_count),
            str(fees.exempted_vnd),
        )
    )
    return rows


def report_csv(report: DailyReport, translator: Translator, lang: str = FALLBACK) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs show Vietnamese correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for section, key, label, value in report_rows(report, translator, lang):
        writer.writerow((report.day.isoformat(), section, key, label, value))
    return out.getvalue().encode("utf-8-sig")


REPORT_SIZES = ("a4", "a5", "80mm")


def report_pdf(
    report: DailyReport, translator: Translator, lang: str = FALLBACK, size: str = "a4"
) -> bytes:
    """The report as PDF in Noto Sans (never Helvetica: it has no Vietnamese letters):
    A4 or A5 pages, or one 80 mm roll page as tall as its content for the receipt printer."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Frame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from kiosk.services.receipts import FONT, FONT_BOLD, register_fonts

    if size not in REPORT_SIZES:
        raise ValueError(f"unknown report size {size!r}; allowed: {', '.join(REPORT_SIZES)}")
    register_fonts()
    tr = translator.tr
    roll = size == "80mm"
    page_w = 80 * mm if roll else (A4 if size == "a4" else A5)[0]
    margin = 4 * mm if roll else (20 * mm if size == "a4" else 12 * mm)
    width = page_w - 2 * margin
    k = 0.8 if roll else (1.0 if size == "a4" else 0.9)  # font scale
    grid = colors.black if roll else colors.Color(0.75, 0.75, 0.75)
    shade = colors.white if roll else colors.Color(0.9, 0.93, 0.97)

    def style(name: str, pt: float, font: str = FONT, **kw) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=pt * k, leading=pt * k * 1.3, bulletFontName=font, **kw
        )

    h1, h2 = style("h1", 18, FONT_BOLD), style("h2", 12.5, FONT_BOLD, spaceBefore=8, spaceAfter=3)
    body, bold = style("body", 10), style("bold", 10, FONT_BOLD)
    small = style("small", 8.5, textColor=colors.black if roll else colors.Color(0.3, 0.3, 0.3))

    def p(text: str, st=body) -> Paragraph:
        return Paragraph(escape(text), st)

    def table(rows: list[tuple[str, str]], head: tuple[str, str] | None = None) -> Table:
        data = [[p(head[0], bold), p(head[1], bold)]] if head else []
        data += [[p(a), p(b)] for a, b in rows]
        t = Table(data, colWidths=[width * 0.72, width * 0.28], hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), FONT),  # the default is Helvetica
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, grid),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2 if roll else 6),
                    ("BACKGROUND", (0, 0), (-1, 0), shade if head else colors.white),
                ]
            )
        )
        return t

    story = [
        p(report.commune_name or "", style("commune", 11, FONT_BOLD)),
        p(tr("clerk.report.title", lang, day=report.day.strftime("%d/%m/%Y")), h1),
        p(
            tr(
                "clerk.report.generated",
                lang,
                at=report.generated_at.strftime("%d/%m/%Y %H:%M"),
                kiosk=report.kiosk_id,
            ),
            small,
        ),
        p(tr("clerk.report.no_personal", lang), small),
        p(tr("clerk.report.section.dossiers", lang), h2),
        table(
            [
                (tr("clerk.report.dossiers", lang), str(report.dossiers)),
                (tr("clerk.report.assisted", lang), str(report.assisted)),
                (tr("clerk.report.not_printed", lang), str(report.not_printed)),
            ]
        ),
        p(tr("clerk.report.section.procedures", lang), h2),
        table(
            [(f"{title} ({code})", str(n)) for code, title, n in report.per_procedure]
            or [(tr("clerk.report.none", lang), "0")]
        ),
        p(tr("clerk.report.section.states", lang), h2),
        table(
            [
                (tr(f"clerk.state.{st}", lang), f"{n} / {report.outbox_now.get(st, 0)}")
                for st, n in report.per_state.items()
            ],
            (tr("clerk.report.state_head", lang), tr("clerk.report.state_counts", lang)),
        ),
        Spacer(1, 3),
        table(
            [
                (tr("clerk.report.oldest_waiting", lang), _fmt_local(report.oldest_waiting)),
                (tr("clerk.report.failures", lang), str(report.failures)),
            ]
        ),
    ]
    if report.queue:
        story.append(p(tr("clerk.report.section.queue", lang), h2))
        heads = [
            tr(key, lang)
            for key in (
                "clerk.report.q_issued",
                "clerk.report.q_served",
                "clerk.report.q_skipped",
                "clerk.report.q_avg_wait",
                "clerk.report.q_max_wait",
            )
        ]
        if roll:  # too narrow for six columns: one block per group
            for title, st in report.queue:
                values = (
                    str(st.issued),
                    str(st.served),
                    str(st.skipped),
                    _fmt_wait(st.avg_wait_s),
                    _fmt_wait(st.max_wait_s),
                )
                story.append(p(title, bold))
                story.append(table(list(zip(heads, values, strict=True))))
        else:
            rows = [[p(tr("clerk.report.q_group", lang), bold)] + [p(h, bold) for h in heads]]
            for title, st in report.queue:
                rows.append(
                    [p(title)]
                    + [
                        p(v)
                        for v in (
                            str(st.issued),
                            str(st.served),
                            str(st.skipped),
                            _fmt_wait(st.avg_wait_s),
                            _fmt_wait(st.max_wait_s),
                        )
                    ]
                )
            qt = Table(rows, colWidths=[width * 0.34] + [width * 0.132] * 5, hAlign="LEFT")
            qt.setStyle(
                TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, -1), FONT),
                        ("LINEBELOW", (0, 0), (-1, -1), 0.3, grid),
                        ("BACKGROUND", (0, 0), (-1, 0), shade),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(qt)
    story.append(p(tr("fees.report.section", lang), h2))
    story.append(
        table(
            [
                (label, f"{int(value):,}".replace(",", ".") + " ₫")
                for _s, _k, label, value in fee_rows(report.fees, translator, lang)
            ]
        )
    )
    story.append(p(tr("clerk.report.section.rating", lang), h2))
    mean = "—" if report.rating_mean is None else f"{report.rating_mean:.2f} / 4"
    story.append(
        table(
            [(tr(f"clerk.face.{f}", lang), str(n)) for f, n in report.faces.items()]
            + [(tr("clerk.report.rating_mean", lang), mean)]
        )
    )

    title = tr("clerk.report.title", lang, day=report.day.isoformat())
    out = io.BytesIO()
    if roll:
        canvas = Canvas(
            out, pagesize=(page_w, 100), initialFontName=FONT, initialFontSize=8, pageCompression=1
        )
        height = (
            sum(
                f.wrapOn(canvas, width, 100_000)[1] + f.getSpaceAfter() + f.getSpaceBefore()
                for f in story
            )
            + 2 * margin
            + 4
        )
        canvas.setPageSize((page_w, height))
        canvas.setTitle(title)
        canvas.setCreator("commune-kiosk")
        frame = Frame(
            margin,
            margin,
            width,
            height - 2 * margin,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        frame.addFromList(story, canvas)
        canvas.showPage()
        canvas.save()
        return out.getvalue()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4 if size == "a4" else A5,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin * 0.8,
        bottomMargin=margin * 0.8,
        title=title,
        author="",
        subject="",
        creator="commune-kiosk",
        initialFontName=FONT,
        initialFontSize=10,
    )
    doc.build(story)
    return out.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o644)  # counts only, no personal data


def write_daily_report(
    report: DailyReport, folder: Path, translator: Translator, lang: str = FALLBACK
) -> ReportFiles:
    """report-YYYY-MM-DD.pdf and .csv in `folder` (created), replacing an earlier run."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"report-{report.day.isoformat()}"
    files = ReportFiles(folder / f"{stem}.pdf", folder / f"{stem}.csv")
    _write_atomic(files.pdf, report_pdf(report, translator, lang))
    _write_atomic(files.csv, report_csv(report, translator, lang))
    return files


def print_daily_report(
    report: DailyReport, printer, translator: Translator, paper: str = "a4", lang: str = FALLBACK
) -> None:
    """Send the report to a printer (kiosk.hardware.printers.Printer) in the printer's
    paper size; raises PrinterError."""
    size = paper if paper in REPORT_SIZES else "a4"
    printer.print_pdf(
        report_pdf(report, translator, lang, size), f"report-{report.day.isoformat()}"
    )
