"""The dashboard: dossiers per day and per procedure, outbox health, queue waiting times,
satisfaction (QtCharts), and the daily report (PDF + CSV, printable)."""

from __future__ import annotations

import logging
import math
from datetime import date

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.services.formats import format_vnd
from kiosk.services.models import AUTH_BLOCKED, NEEDS_CLERK, QUEUED, SENDING
from kiosk.services.reports import print_daily_report, write_daily_report
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.theme import FAMILY
from kiosk.views.widgets import BigButton, Note, Text

log = logging.getLogger(__name__)

DAYS = 14
BLUE, ORANGE, GREEN = QColor("#0a3d7a"), QColor("#b35900"), QColor("#0b5a1e")


def _font(points: int, bold: bool = False) -> QFont:
    font = QFont(FAMILY, points)
    font.setBold(bold)
    return font


def _chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    chart.setTitleFont(_font(16, True))
    chart.legend().setFont(_font(12))
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setBackgroundRoundness(8)
    return chart


def _axes(
    chart: QChart,
    series,
    categories: list[str],
    maximum: float,
    horizontal: bool = False,
    value_title: str = "",
) -> None:
    cats = QBarCategoryAxis()
    cats.append(categories)
    cats.setLabelsFont(_font(11))
    values = QValueAxis()
    top = max(1, math.ceil(maximum))
    values.setRange(0, top)
    if top <= 10:  # whole numbers: one tick per unit, never "0 1 1 2"
        values.setTickCount(top + 1)
    else:
        values.applyNiceNumbers()
    values.setLabelFormat("%d")
    values.setLabelsFont(_font(11))
    if value_title:
        values.setTitleText(value_title)
        values.setTitleFont(_font(11))
    if horizontal:
        chart.addAxis(cats, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(values, Qt.AlignmentFlag.AlignBottom)
    else:
        chart.addAxis(cats, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(cats)
    series.attachAxis(values)


def _bar_set(label: str, values: list[float], color: QColor) -> QBarSet:
    bar = QBarSet(label)
    bar.append([float(v) for v in values])
    bar.setColor(color)
    bar.setBorderColor(color)
    bar.setLabelFont(_font(10))
    return bar


def _sample(vc) -> dict:
    sample_login(vc)
    return {}


@register("clerk_dashboard", audience="clerk", sample=_sample)
class ClerkDashboardScreen(ClerkScreen):
    title_key = "clerk.dash.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 0, 0)
        self.kpis = QGridLayout()
        self.kpi: dict[str, Text] = {}
        for i, key in enumerate(
            ("waiting", "attention", "failures", "oldest", "not_printed", "rating", "fees")
        ):
            label = Text("")
            label.setObjectName(f"kpi_{key}")
            if key == "fees":  # a long line: the whole width
                self.kpis.addWidget(label, i // 3, 0, 1, 3)
            else:
                self.kpis.addWidget(label, i // 3, i % 3)
            self.kpi[key] = label
        col.addLayout(self.kpis)
        charts = QGridLayout()
        self.views: dict[str, QChartView] = {}
        for i, key in enumerate(("per_day", "per_procedure", "queue", "rating")):
            view = QChartView()
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setMinimumHeight(360)
            view.setObjectName(f"chart_{key}")
            charts.addWidget(view, i // 2, i % 2)
            self.views[key] = view
        col.addLayout(charts)
        col.addStretch(1)
        self.body.addWidget(inner, 1)
        self.message = Note("", "hint")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.hide()
        self.footer.addWidget(self.message)
        row = QHBoxLayout()
        self.refresh_button = BigButton("")
        self.refresh_button.clicked.connect(self.refresh)
        self.report_button = BigButton("", "primary")
        self.report_button.setObjectName("primary")
        self.report_button.clicked.connect(self.write_report)
        self.print_button = BigButton("", pictogram="print_receipt")
        self.print_button.clicked.connect(self.print_report)
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        row.addWidget(self.report_button)
        row.addWidget(self.print_button)
        self.footer.addLayout(row)
        self.data = None
        self.report_files = None

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is not None:
            self.message.clear()
            self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.refresh_button.setText(self.tr("clerk.dash.refresh"))
        self.report_button.setText(self.tr("clerk.dash.report"))
        self.print_button.setText(self.tr("clerk.dash.print"))
        if self.data is not None:
            self._show(self.data)

    def refresh(self) -> None:
        reports = self.desk.reports
        self.vc.tasks.run(lambda: reports.dashboard(DAYS), self.safe(self._show), self._failed)

    def _failed(self, error: Exception) -> None:
        log.error("dashboard failed: %s", type(error).__name__, exc_info=error)
        self.message.setText(self.error_text(error))

    # Drawing ---------------------------------------------------------------
    def _show(self, data) -> None:
        self.data = data
        tr, lang = self.tr, self.vc.app.session.lang
        st = data.states
        rated = sum(data.faces.values())
        mean = sum(f * n for f, n in data.faces.items()) / rated if rated else None
        texts = {
            "waiting": tr("clerk.dash.kpi.waiting", n=st.get(QUEUED, 0) + st.get(SENDING, 0)),
            "attention": tr(
                "clerk.dash.kpi.attention",
                needs=st.get(NEEDS_CLERK, 0),
                blocked=st.get(AUTH_BLOCKED, 0),
            ),
            "failures": tr("clerk.dash.kpi.failures", n=data.failures, days=DAYS),
            "oldest": tr("clerk.dash.kpi.oldest", at=fmt_time(data.oldest_waiting)),
            "not_printed": tr("clerk.dash.kpi.not_printed", n=data.not_printed, days=DAYS),
            "rating": tr(
                "clerk.dash.kpi.rating", mean="—" if mean is None else f"{mean:.1f}", n=rated
            ),
        }
        fees = data.fees
        texts["fees"] = tr(
            "fees.dash.kpi",
            days=DAYS,
            due=format_vnd(fees.due_vnd),
            cash=format_vnd(fees.paid_vnd.get("cash", 0)),
            transfer=format_vnd(fees.paid_vnd.get("vietqr_transfer", 0)),
            exempt=format_vnd(fees.exempted_vnd),
        )
        for key, text in texts.items():
            self.kpi[key].setText(text)
            alert = key == "attention" and bool(st.get(NEEDS_CLERK, 0) + st.get(AUTH_BLOCKED, 0))
            self.kpi[key].setProperty("alert", alert)
            self.kpi[key].style().polish(self.kpi[key])

        # Dossiers per day.
        chart = _chart(tr("clerk.dash.per_day", days=DAYS))
        series = QBarSeries()
        series.append(_bar_set(tr("clerk.dash.dossiers"), [n for _, n in data.per_day], BLUE))
        chart.addSeries(series)
        _axes(
            chart,
            series,
            [d.strftime("%d/%m") for d, _ in data.per_day],
            max([n for _, n in data.per_day] or [0]),
        )
        chart.legend().setVisible(False)
        self._set("per_day", chart)

        # Per procedure (the eight most frequent), horizontal so titles stay readable.
        top = list(reversed(data.per_procedure[:8]))
        chart = _chart(tr("clerk.dash.per_procedure", days=DAYS))
        series = QHorizontalBarSeries()
        series.append(_bar_set(tr("clerk.dash.dossiers"), [n for _, n in top], BLUE))
        chart.addSeries(series)
        catalogue = self.vc.app.catalogue

        def short(code: str) -> str:
            proc = catalogue.get(code)
            title = proc.title(lang) if proc else code
            return title if len(title) <= 28 else title[:26] + "…"

        _axes(
            chart,
            series,
            [short(c) for c, _ in top] or ["—"],
            max([n for _, n in top] or [0]),
            horizontal=True,
        )
        chart.legend().setVisible(False)
        self._set("per_procedure", chart)

        # Queue: average and longest wait in minutes, per group, today.
        groups = self.desk.queue.groups
        chart = _chart(tr("clerk.dash.queue"))
        series = QBarSeries()
        avg = [(g.avg_wait_s or 0) / 60 for g in data.queue]
        longest = [(g.max_wait_s or 0) / 60 for g in data.queue]
        series.append(_bar_set(tr("clerk.dash.avg_wait"), avg, BLUE))
        series.append(_bar_set(tr("clerk.dash.max_wait"), longest, ORANGE))
        chart.addSeries(series)
        _axes(
            chart,
            series,
            [groups[g.group].letter if g.group in groups else g.group for g in data.queue] or ["—"],
            max(longest or [0]),
            value_title=tr("clerk.dash.minutes"),
        )
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self._set("queue", chart)

        # Satisfaction: mean face per day (1 very unhappy .. 4 very happy).
        chart = _chart(tr("clerk.dash.rating"))
        series = QBarSeries()
        series.append(
            _bar_set(tr("clerk.dash.mean_face"), [m or 0 for _, m, _ in data.rating_days], GREEN)
        )
        chart.addSeries(series)
        _axes(chart, series, [d.strftime("%d/%m") for d, _, _ in data.rating_days], 4)
        chart.axes(Qt.Orientation.Vertical)[0].setRange(0, 4)
        chart.legend().setVisible(False)
        self._set("rating", chart)

    def _set(self, key: str, chart: QChart) -> None:
        old = self.views[key].chart()
        self.views[key].setChart(chart)
        if old is not None:
            old.deleteLater()

    # Daily report ------------------------------------------------------------
    def _report(self, day: date):
        settings = self.vc.app.settings
        return self.desk.reports.daily(day, settings.commune_name, settings.kiosk_id)

    def write_report(self) -> None:
        d, app = self.desk, self.vc.app
        folder = app.settings.data_dir / "reports"
        today = d.reports.today()

        def work():
            files = write_daily_report(self._report(today), folder, app.translator)
            d.audit("report.daily", detail=today.isoformat())
            return files

        self.vc.tasks.run(work, self._written, self._failed)

    def _written(self, files) -> None:
        self.report_files = files
        self.message.setText(
            self.tr("clerk.dash.report_written", pdf=str(files.pdf), csv=files.csv.name)
        )

    def print_report(self) -> None:
        d, app = self.desk, self.vc.app
        today = d.reports.today()

        def work():
            try:
                print_daily_report(
                    self._report(today), app.receipts.printer, app.translator, app.receipts.paper
                )
            except Exception as exc:
                d.audit("report.print.failed", detail=getattr(exc, "detail", type(exc).__name__))
                raise
            d.audit("report.print", detail=today.isoformat())

        self.vc.tasks.run(
            work, lambda _: self.message.setText(self.tr("clerk.dash.printed")), self._failed
        )
