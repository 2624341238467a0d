"""The dossier list (search through the blind indexes, filters, pages), one dossier's
detail with its actions, and the correction form of a needs_clerk dossier."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.services.dossier_edit import APPLICANT_FIELDS
from kiosk.services.dossier_search import KIND_ID, KIND_NAME, KIND_RECEIPT, SearchQuery
from kiosk.services.models import STATES
from kiosk.services.receipt_code import ReceiptCodeError
from kiosk.views import clerk_texts as texts
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import sample_login, sample_needs_clerk
from kiosk.views.widgets import BigButton, FitTable, Note, Text, clear_layout, scroll

log = logging.getLogger(__name__)

PAGE_SIZE = 12
DATE_PRESETS = (("all", None), ("today", 0), ("week", 6), ("month", 29))
PROBLEM = QColor("#8a0000")


_Table = FitTable  # the list of dossiers scrolls with its screen


def _field_labels(proc, lang: str) -> dict[str, str]:
    """Portal field paths and keys → the labels the clerk knows them by."""
    labels = {f"applicant.{f.key}": f.label(lang) for f in APPLICANT_FIELDS}
    labels.update({f.key: f.label(lang) for f in APPLICANT_FIELDS})
    for f in proc.fields if proc else ():
        labels[f"fields.{f.key}"] = labels[f.key] = f.label(lang)
    return labels


def _parse_day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, "%d/%m/%Y").date()


def _sample_list(vc) -> dict:
    sample_login(vc)
    return {}


@register("clerk_dossiers", audience="clerk", sample=_sample_list)
class ClerkDossiersScreen(ClerkScreen):
    title_key = "clerk.list.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        search_row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.returnPressed.connect(self.run_search)
        self.search_button = BigButton("", "primary")
        self.search_button.clicked.connect(self.run_search)
        self.filters_button = BigButton("")
        self.filters_button.setObjectName("toggle")
        self.filters_button.setCheckable(True)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.search_button)
        search_row.addWidget(self.filters_button)
        self.body.addLayout(search_row)

        # The filters fold away so the list keeps the room on a small screen.
        self.filters_panel = QWidget()
        panel = QVBoxLayout(self.filters_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        self.filters_button.toggled.connect(self.filters_panel.setVisible)
        self.filters_panel.setVisible(False)
        filters = QHBoxLayout()
        self.state_filter = QComboBox()
        self.state_filter.setObjectName("stateFilter")
        self.procedure_filter = QComboBox()
        self.procedure_filter.setObjectName("procedureFilter")
        self.state_filter.currentIndexChanged.connect(self.run_search)
        self.procedure_filter.currentIndexChanged.connect(self.run_search)
        filters.addWidget(self.state_filter, 1)
        filters.addWidget(self.procedure_filter, 2)
        panel.addLayout(filters)

        dates = QHBoxLayout()
        self.preset_buttons: dict[str, BigButton] = {}
        for key, _days in DATE_PRESETS:
            button = BigButton("")
            button.setObjectName("toggle")
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, k=key: self._preset(k))
            dates.addWidget(button)
            self.preset_buttons[key] = button
        self.date_from, self.date_to = QLineEdit(), QLineEdit()
        for edit, name in ((self.date_from, "dateFrom"), (self.date_to, "dateTo")):
            edit.setObjectName(name)
            edit.setProperty("keyboard", "date")
            edit.setFixedWidth(200)
            edit.returnPressed.connect(self.run_search)
        dates.addStretch(1)
        panel.addLayout(dates)
        more = QHBoxLayout()
        more.addWidget(self.date_from)
        more.addWidget(self.date_to)
        self.not_printed = BigButton("")
        self.not_printed.setObjectName("toggle")
        self.not_printed.setCheckable(True)
        self.not_printed.toggled.connect(self.run_search)
        more.addWidget(self.not_printed)
        more.addStretch(1)
        panel.addLayout(more)
        self.body.addWidget(self.filters_panel)

        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        self.table = _Table(0, 5)
        self.table.setObjectName("dossierTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for col, mode in enumerate(
            (
                QHeaderView.ResizeMode.ResizeToContents,
                QHeaderView.ResizeMode.Stretch,
                QHeaderView.ResizeMode.Stretch,
                QHeaderView.ResizeMode.ResizeToContents,
                QHeaderView.ResizeMode.ResizeToContents,
            )
        ):
            header.setSectionResizeMode(col, mode)
        self.table.cellClicked.connect(self._open_row)
        self.body.addWidget(self.table)
        self.body.addStretch(1)

        pager = QHBoxLayout()
        self.prev_button = BigButton("", pictogram="back")
        self.next_button = BigButton("")
        self.prev_button.clicked.connect(self.prev_page)
        self.next_button.clicked.connect(self.next_page)
        self.page_label = Text("")
        pager.addWidget(self.prev_button)
        pager.addStretch(1)
        pager.addWidget(self.page_label)
        pager.addStretch(1)
        pager.addWidget(self.next_button)
        self.footer.addLayout(pager)

        self.preset = "all"
        self.cursors: list = [None]  # the cursor each shown page started from
        self.page = None
        self.row_ids: list[int] = []
        self._filling = False

    # Filters -----------------------------------------------------------------
    def retranslate(self) -> None:
        super().retranslate()
        self._filling = True
        lang = self.vc.app.session.lang
        self.search.setPlaceholderText(self.tr("clerk.list.search"))
        self.search_button.setText(self.tr("clerk.list.search_button"))
        self.filters_button.setText(self.tr("clerk.list.filters"))
        current_state = self.state_filter.currentData()
        self.state_filter.clear()
        self.state_filter.addItem(self.tr("clerk.list.any_state"), None)
        for st in STATES:
            self.state_filter.addItem(self.tr(f"clerk.state.{st}"), st)
        self.state_filter.setCurrentIndex(max(0, self.state_filter.findData(current_state)))
        current_proc = self.procedure_filter.currentData()
        self.procedure_filter.clear()
        self.procedure_filter.addItem(self.tr("clerk.list.any_procedure"), None)
        for proc in self.vc.app.catalogue.visible():
            self.procedure_filter.addItem(proc.title(lang), proc.code)
        self.procedure_filter.setCurrentIndex(max(0, self.procedure_filter.findData(current_proc)))
        for key, button in self.preset_buttons.items():
            button.setText(self.tr(f"clerk.list.date.{key}"))
            button.setChecked(key == self.preset)
        self.date_from.setPlaceholderText(self.tr("clerk.list.from"))
        self.date_to.setPlaceholderText(self.tr("clerk.list.to"))
        self.not_printed.setText(self.tr("clerk.list.only_not_printed"))
        self.table.setHorizontalHeaderLabels(
            [self.tr(f"clerk.list.col.{c}") for c in ("code", "name", "procedure", "state", "time")]
        )
        self.prev_button.setText(self.tr("clerk.list.prev"))
        self.next_button.setText(self.tr("clerk.list.next"))
        self._filling = False
        if self.page is not None:
            self._show(self.page)

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is not None:
            self.run_search()

    def _preset(self, key: str) -> None:
        self.preset = key
        for k, button in self.preset_buttons.items():
            button.setChecked(k == key)
        days = dict(DATE_PRESETS)[key]
        today = date.today()
        self.date_from.setText(
            "" if days is None else (today - timedelta(days=days)).strftime("%d/%m/%Y")
        )
        self.date_to.setText("" if days is None else today.strftime("%d/%m/%Y"))
        self.run_search()

    def query(self) -> SearchQuery:
        return SearchQuery(
            text=self.search.text(),
            state=self.state_filter.currentData(),
            procedure_code=self.procedure_filter.currentData(),
            date_from=_parse_day(self.date_from.text()),
            date_to=_parse_day(self.date_to.text()),
            not_printed=self.not_printed.isChecked(),
            page_size=PAGE_SIZE,
        )

    # Loading -----------------------------------------------------------------
    def run_search(self) -> None:
        if self._filling or self.desk.clerk is None:
            return
        self.cursors = [None]
        self._load()

    def next_page(self) -> None:
        if self.page is not None and self.page.next_cursor is not None:
            self.cursors.append(self.page.next_cursor)
            self._load()

    def prev_page(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            self._load()

    def _load(self) -> None:
        try:
            query = self.query()
        except ValueError:
            self.hint.setText(self.tr("clerk.list.bad_date"))
            return
        cursor, search = self.cursors[-1], self.desk.search
        d = self.desk
        text_kind = query.text.strip()

        def work():
            page = search.page(query, cursor)
            if text_kind and len(self.cursors) == 1:
                # What was searched for is personal: the audit keeps only its kind.
                d.audit("dossier.search", detail=page.kind)
            return page

        self.vc.tasks.run(work, self.safe(self._show), self._failed)

    def _failed(self, error: Exception) -> None:
        if isinstance(error, ReceiptCodeError):
            self.hint.setText(self.tr("clerk.list.bad_code"))
        else:
            log.error("dossier search failed: %s", type(error).__name__, exc_info=error)
            self.hint.setText(self.tr("clerk.err.generic"))

    def _show(self, page) -> None:
        self.page = page
        lang = self.vc.app.session.lang
        catalogue = self.vc.app.catalogue
        hint = {
            KIND_RECEIPT: "clerk.list.by_code",
            KIND_ID: "clerk.list.by_id",
            KIND_NAME: "clerk.list.by_name",
        }.get(page.kind, "clerk.list.all")
        self.hint.setText(
            self.tr(hint) + " " + (self.tr("clerk.list.none") if not page.rows else "")
        )
        self.table.setRowCount(len(page.rows))
        self.row_ids = []
        for r, row in enumerate(page.rows):
            proc = catalogue.get(row.procedure_code)
            title = proc.title(lang) if proc else row.procedure_code
            if proc is None or not proc.verified:
                title += "\n" + self.tr("clerk.list.unverified")
            code = row.receipt_code
            if not row.receipt_printed:
                code += "\n" + self.tr("clerk.list.not_printed")
            cells = (
                code,
                row.full_name,
                title,
                self.tr(f"clerk.state.{row.state}"),
                fmt_time(row.confirmed_at),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if (c == 0 and not row.receipt_printed) or (c == 2 and "\n" in text):
                    item.setForeground(QBrush(PROBLEM))
                self.table.setItem(r, c, item)
            self.row_ids.append(row.id)
        self.table.fit_rows()
        self.page_label.setText(self.tr("clerk.list.page", n=len(self.cursors)))
        self.prev_button.setEnabled(len(self.cursors) > 1)
        self.next_button.setEnabled(page.next_cursor is not None)

    def _open_row(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.row_ids):
            self.vc.nav.go("clerk_dossier", dossier_id=self.row_ids[row])

    def wipe(self) -> None:
        super().wipe()
        self.search.clear()
        self.table.setRowCount(0)
        self.page, self.row_ids = None, []


# ------------------------------------------------------------------------------ detail
def _sample_detail(vc) -> dict:
    return {"dossier_id": sample_needs_clerk(vc)}


@register("clerk_dossier", audience="clerk", sample=_sample_detail)
class ClerkDossierScreen(ClerkScreen):
    scrolls = False  # the details scroll in their own area, beside the actions
    title_key = "clerk.detail.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.message = Text("", "hint")
        self.body.addWidget(self.message)
        row = QHBoxLayout()
        row.setSpacing(20)
        inner = QWidget()
        self.content = QVBoxLayout(inner)
        self.content.setSpacing(8)
        row.addWidget(scroll(inner), 1)
        actions = QGridLayout()
        self.back_button = BigButton("", pictogram="back")
        self.back_button.clicked.connect(self.vc.nav.back)
        self.retry_button = BigButton("", "primary")
        self.retry_button.setObjectName("primary")
        self.reprint_button = BigButton("", pictogram="print_receipt")
        self.edit_button = BigButton("", pictogram="form_field")
        self.handled_button = BigButton("", "danger")
        self.retry_button.clicked.connect(self.retry_now)
        self.reprint_button.clicked.connect(self.reprint)
        self.edit_button.clicked.connect(self.edit)
        self.handled_button.clicked.connect(self.mark_handled)
        for i, button in enumerate(
            (self.retry_button, self.reprint_button, self.edit_button, self.handled_button)
        ):
            actions.addWidget(button, i // 2, i % 2)
        # The actions stay in view under the details, which scroll.
        bottom = QHBoxLayout()
        bottom.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignBottom)
        bottom.addStretch(1)
        bottom.addLayout(actions)
        self.footer.addLayout(bottom)
        self.body.addLayout(row, 1)
        self.detail = None

    @property
    def dossier_id(self) -> int | None:
        return self.state.get("dossier_id")

    def enter(self, state) -> None:
        self.detail = None
        super().enter(state)
        if self.desk.clerk is None or self.dossier_id is None:
            return
        self.message.setText(self.state.get("message", ""))
        self.load(audit=True)

    def load(self, audit: bool = False) -> None:
        d, dossier_id = self.desk, self.dossier_id

        def work():
            detail = d.editor.detail(dossier_id)
            if audit:
                d.audit("dossier.view", dossier_id)
            return detail

        self.vc.tasks.run(work, self.safe(self._show), self._failed)

    def retranslate(self) -> None:
        super().retranslate()
        self.back_button.setText(self.tr("nav.back"))
        self.retry_button.setText(self.tr("clerk.detail.retry"))
        self.reprint_button.setText(self.tr("clerk.detail.reprint"))
        self.edit_button.setText(self.tr("clerk.detail.edit"))
        self.handled_button.setText(self.tr("clerk.detail.handled"))
        if self.detail is not None:
            self.safe(self._show)(self.detail)
        else:
            self._enable(None)

    def _enable(self, detail) -> None:
        self.retry_button.setEnabled(bool(detail and detail.retryable))
        self.reprint_button.setEnabled(bool(detail and detail.applicant is not None))
        self.edit_button.setEnabled(bool(detail and detail.editable))
        self.handled_button.setEnabled(bool(detail and detail.state == "needs_clerk"))

    def _section(self, key: str) -> None:
        self.content.addWidget(Text(self.tr(key), "section"))

    def _pairs(self, pairs) -> None:
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        for r, (label, value, *role) in enumerate(pairs):
            grid.addWidget(Text(f"<b>{label}</b>"), r, 0, Qt.AlignmentFlag.AlignTop)
            text = Text(value or "—", role[0] if role else "")
            text.setTextFormat(Qt.TextFormat.PlainText)
            grid.addWidget(text, r, 1)
        self.content.addLayout(grid)

    def _lines(self, lines: list[str], empty_key: str) -> None:
        if not lines:
            self.content.addWidget(Text(self.tr(empty_key), "hint"))
        for line in lines:
            text = Text(line)
            text.setTextFormat(Qt.TextFormat.PlainText)
            self.content.addWidget(text)

    def _show(self, detail) -> None:
        self.detail = detail
        self._enable(detail)
        clear_layout(self.content)
        tr, lang = self.tr, self.vc.app.session.lang
        proc = self.vc.app.catalogue.get(detail.procedure_code)
        title = proc.title(lang) if proc else detail.procedure_code
        if proc is None or not proc.verified:
            title += " — " + tr("clerk.list.unverified")
        self.title.setText(tr("clerk.detail.title_code", code=detail.receipt_code))
        self._pairs(
            [
                (tr("clerk.list.col.procedure"), f"{title} ({detail.procedure_code})"),
                (tr("clerk.list.col.state"), tr(f"clerk.state.{detail.state}")),
                (tr("clerk.detail.confirmed"), fmt_time(detail.confirmed_at)),
                (
                    tr("clerk.detail.receipt"),
                    tr("clerk.detail.printed")
                    if detail.receipt_printed
                    else tr("clerk.list.not_printed"),
                    "ok" if detail.receipt_printed else "mark",
                ),
                (
                    tr("clerk.detail.dossier_code"),
                    detail.dossier_code or tr("clerk.detail.pending"),
                ),
                (tr("clerk.detail.assisted_by"), detail.assisted_by or "—"),
                (tr("clerk.detail.next_attempt"), fmt_time(detail.next_attempt_at)),
                (tr("clerk.detail.attempts"), str(detail.attempt_count)),
                (
                    tr("clerk.detail.last_error"),
                    texts.last_problem(detail.attempts, tr) if detail.last_error else "",
                ),
            ]
        )
        labels = _field_labels(proc, lang)
        if detail.field_errors:
            self._section("clerk.detail.portal_errors")
            self._lines(texts.portal_error_lines(detail.field_errors, labels, tr), "")
        self._section("clerk.detail.applicant")
        a = detail.applicant
        if a is None:
            self.content.addWidget(Text(tr("clerk.detail.purged"), "hint"))
        else:
            self._pairs(
                [
                    (f.label(lang), v)
                    for f, v in zip(
                        APPLICANT_FIELDS,
                        (
                            a.full_name,
                            a.id_number,
                            a.date_of_birth.strftime("%d/%m/%Y"),
                            a.address or "",
                            a.phone or "",
                        ),
                        strict=True,
                    )
                ]
            )
        self._section("clerk.detail.answers")
        pairs = []
        for f in proc.fields if proc else ():
            value = detail.answers.get(f.key)
            if f.type == "choice" and f.choice(str(value)):
                value = f.choice(str(value)).label(lang)
            elif f.type == "date" and value:
                value = date.fromisoformat(value).strftime("%d/%m/%Y")
            elif f.type == "checkbox":
                value = tr("clerk.yes") if value else tr("clerk.no")
            pairs.append((f.label(lang), "" if value is None else str(value)))
        known = {f.key for f in proc.fields} if proc else set()
        pairs += [
            (k, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)
            for k, v in detail.answers.items()
            if k not in known
        ]
        if pairs:
            self._pairs(pairs)
        else:
            self._lines([], "clerk.detail.nothing")
        self._section("clerk.detail.attachments")
        documents = {d.key: d.title(lang) for d in proc.required_documents} if proc else {}
        self._lines(
            [
                texts.attachment_line(
                    documents.get(a.document_key, tr("screens.clerk.field.attachments")),
                    a.content_type,
                    max(1, a.size // 1024),
                    a.uploaded,
                    tr,
                )
                for a in detail.attachments
            ],
            "clerk.detail.nothing",
        )
        self._section("clerk.detail.history")
        self._lines(
            [texts.attempt_line(t.outcome, fmt_time(t.at), tr) for t in detail.attempts],
            "clerk.detail.no_attempts",
        )
        self._section("clerk.detail.prints")
        self._lines(
            [texts.print_line(p.ok, fmt_time(p.at), p.clerk, tr) for p in detail.prints],
            "clerk.detail.nothing",
        )
        self._section("clerk.detail.audit")
        known = self.vc.app.translator.has
        self._lines(
            [
                texts.audit_line(e.action, fmt_time(e.at), e.clerk, tr, lambda k: known(k, "vi"))
                for e in detail.audit
            ],
            "clerk.detail.nothing",
        )
        self.content.addStretch(1)

    def _failed(self, error: Exception) -> None:
        log.warning("dossier action failed: %s", getattr(error, "detail", type(error).__name__))
        self.message.setText(self.error_text(error))
        if self.dossier_id is not None and self.detail is not None:
            self.load()

    def _done(self, key: str) -> None:
        self.message.setText(self.tr(key))
        self.load()

    def retry_now(self) -> None:
        d, dossier_id = self.desk, self.dossier_id
        self.vc.tasks.run(
            lambda: d.editor.retry_now(dossier_id, d.clerk),
            lambda _: (self.vc.app.notify_outbox(), self._done("clerk.detail.retried")),
            self._failed,
        )

    def reprint(self) -> None:
        d, dossier_id, receipts = self.desk, self.dossier_id, self.vc.app.receipts
        self.message.setText(self.tr("clerk.detail.printing"))
        self.vc.tasks.run(
            lambda: d.editor.reprint(receipts, dossier_id, d.clerk),
            lambda _: self._done("clerk.detail.reprinted"),
            self._failed,
        )

    def mark_handled(self) -> None:
        d, dossier_id = self.desk, self.dossier_id
        self.vc.tasks.run(
            lambda: d.editor.mark_handled(dossier_id, d.clerk),
            lambda _: self._done("clerk.detail.marked"),
            self._failed,
        )

    def edit(self) -> None:
        if self.detail is not None and self.detail.editable:
            self.vc.nav.go("clerk_dossier_edit", dossier_id=self.dossier_id)

    def wipe(self) -> None:
        super().wipe()
        self.detail = None
        clear_layout(self.content)


# -------------------------------------------------------------------------------- edit
def _sample_edit(vc) -> dict:
    return {"dossier_id": sample_needs_clerk(vc)}


@register("clerk_dossier_edit", audience="clerk", sample=_sample_edit)
class ClerkDossierEditScreen(ClerkScreen):
    """Correct what the portal refused, then freeze the dossier again and queue it."""

    title_key = "clerk.edit.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.intro = Text("", "hint")
        self.body.addWidget(self.intro)
        inner = QWidget()
        self.form = QGridLayout(inner)
        self.form.setColumnStretch(1, 1)
        self.body.addWidget(inner, 1)
        self.error = Note("", "error")
        self.error.hide()
        self.footer.addWidget(self.error)
        row = QHBoxLayout()
        self.back_button = BigButton("", pictogram="back")
        self.back_button.clicked.connect(self.vc.nav.back)
        self.save_button = BigButton("", "primary", pictogram="submit_dossier")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.save_button)
        self.footer.addLayout(row)
        self.detail = None
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        self.errors: dict[str, Text] = {}
        self.busy = False

    def enter(self, state) -> None:
        self.detail, self.busy = None, False  # a save for an earlier entry is not awaited
        super().enter(state)
        if self.desk.clerk is None or state.get("dossier_id") is None:
            return
        d, dossier_id = self.desk, state["dossier_id"]
        self.vc.tasks.run(lambda: d.editor.detail(dossier_id), self.safe(self._build), self._failed)

    def retranslate(self) -> None:
        super().retranslate()
        self.intro.setText(self.tr("clerk.edit.intro"))
        self.back_button.setText(self.tr("nav.back"))
        self.save_button.setText(self.tr("clerk.edit.save"))

    def _build(self, detail) -> None:
        self.detail, self.busy = detail, False
        self.save_button.setEnabled(detail.editable)
        clear_layout(self.form)
        self.inputs, self.errors = {}, {}
        lang = self.vc.app.session.lang
        raw = self.desk.editor.raw_values(detail)
        portal = {e["field"]: e["message"] for e in detail.field_errors}
        proc = self.desk.editor.procedure(detail)
        fields = [(f"applicant.{f.key}", f) for f in APPLICANT_FIELDS]
        fields += [(f"fields.{f.key}", f) for f in (proc.fields if proc else ())]
        for r, (path, f) in enumerate(fields):
            label = Text(
                f.label(lang) + ("" if f.required else " " + self.tr("clerk.edit.optional"))
            )
            if f.type in ("choice", "checkbox"):
                edit = QComboBox()
                options = (
                    [(c.key, c.label(lang)) for c in f.choices]
                    if f.type == "choice"
                    else [("1", self.tr("clerk.yes")), ("0", self.tr("clerk.no"))]
                )
                if not f.required:
                    edit.addItem("—", "")
                for key, text in options:
                    edit.addItem(text, key)
                edit.setCurrentIndex(max(0, edit.findData(raw.get(path, ""))))
            else:
                edit = QLineEdit(raw.get(path, ""))
                if f.type in ("date", "phone", "id_number", "number"):
                    edit.setProperty("keyboard", f.type)  # "/" only for a date
                if path in portal:
                    edit.setProperty("invalid", True)
            edit.setObjectName(f"edit_{path}")
            error = Text(portal.get(path, ""), "error")
            error.setTextFormat(Qt.TextFormat.PlainText)
            error.setVisible(path in portal)
            self.form.addWidget(label, 2 * r, 0)
            self.form.addWidget(edit, 2 * r, 1)
            self.form.addWidget(error, 2 * r + 1, 1)
            self.inputs[path], self.errors[path] = edit, error
        other = [f"{field}: {msg}" for field, msg in portal.items() if field not in self.inputs]
        self.error.setText("\n".join(other))

    def values(self) -> dict[str, str]:
        out = {}
        for path, edit in self.inputs.items():
            out[path] = edit.currentData() if isinstance(edit, QComboBox) else edit.text()
        return out

    def save(self) -> None:
        if self.busy or self.detail is None:
            return
        self.busy = True
        self.save_button.setEnabled(False)
        d, dossier_id, raw = self.desk, self.detail.id, self.values()
        lang = self.vc.app.session.lang
        self.vc.tasks.run(
            lambda: d.editor.resubmit(dossier_id, raw, d.clerk, lang), self._saved, self._failed
        )

    def _saved(self, checked) -> None:
        self.vc.app.notify_outbox()
        self.busy = False
        self.save_button.setEnabled(True)
        for path, error in self.errors.items():
            key = checked.errors.get(path)
            error.setText(self.tr(key) if key else "")
            error.setVisible(bool(key))
            edit = self.inputs[path]
            edit.setProperty("invalid", bool(key))
            edit.style().polish(edit)
        if not checked.ok:
            self.error.setText(self.tr("clerk.edit.fix_errors"))
            return
        # Back to the dossier's detail, in place of the form and the detail shown before it.
        nav = self.vc.nav
        if len(nav.history) > 1:
            nav.history.pop()
        nav.replace("clerk_dossier", dossier_id=self.detail.id, message=self.tr("clerk.edit.saved"))

    def _failed(self, error: Exception) -> None:
        self.busy = False
        self.save_button.setEnabled(True)
        log.warning("correction failed: %s", getattr(error, "detail", type(error).__name__))
        self.error.setText(self.error_text(error))

    def wipe(self) -> None:
        super().wipe()
        clear_layout(self.form)
        self.inputs, self.errors, self.detail = {}, {}, None
