"""Fees at the counter: dossiers awaiting payment, with "paid in cash", "transfer seen" and
"exempt" (each audited, a payment note printed), and the import of a bank statement that
matches transfers by receipt code and amount."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
)

from kiosk.services.formats import format_vnd
from kiosk.services.payments import CASH, EXEMPT, TRANSFER, PaymentError
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import ensure_sample_data, sample_login
from kiosk.views.screens.fees import flow_buttons, room_for_buttons
from kiosk.views.widgets import BigButton, Text

log = logging.getLogger(__name__)


class _Table(QTableWidget):
    """Rows fit their (two-line) text at the table's current width."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resizeRowsToContents()


def _sample(vc) -> dict:
    sample_login(vc)
    ensure_sample_fees(vc.app)
    return {}


def ensure_sample_fees(app) -> None:
    """Fictitious fees for the sample dossiers (screenshots): one transfer awaiting, one
    exemption claimed, once per context."""
    ensure_sample_data(app)
    payments = app.payments
    if payments is None or payments.awaiting():
        return
    from sqlalchemy import select

    from kiosk.services.models import Dossier

    ids = app.store.read(
        lambda s: list(
            s.scalars(
                select(Dossier.id).where(Dossier.procedure_code == "1.001612").order_by(Dossier.id)
            )
        )
    )
    for i, dossier_id in enumerate(ids[:2]):
        if i == 0:
            payments.fee_due(dossier_id, TRANSFER, 100000)
        else:
            payments.fee_due(dossier_id, EXEMPT, 100000, ground="poor_household")


@register("clerk_fees", audience="clerk", sample=_sample)
class ClerkFeesScreen(ClerkScreen):
    title_key = "fees.clerk.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        self.delivery = Text("")
        self.delivery.setObjectName("feeDelivery")
        self.delivery.setProperty("alert", True)
        self.delivery.setTextFormat(Qt.TextFormat.PlainText)
        self.body.addWidget(self.delivery)
        self.table = _Table(0, 5)
        self.table.setObjectName("feeTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for col in range(5):
            header.setSectionResizeMode(
                col,
                QHeaderView.ResizeMode.Stretch
                if col in (1, 3)
                else QHeaderView.ResizeMode.ResizeToContents,
            )
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.setMinimumHeight(260)  # a few dossiers in view, even on 1280x800
        self.body.addWidget(self.table, 1)

        form = QGridLayout()
        self.labels: dict[str, Text] = {}
        self.amount = QLineEdit()
        self.amount.setObjectName("feeAmount")
        self.amount.setProperty("keyboard", "number")  # digits only: no "/" in an amount
        self.e_receipt = QLineEdit()
        self.e_receipt.setObjectName("eReceipt")
        self.reference = QLineEdit()
        self.reference.setObjectName("bankReference")
        self.ground = QComboBox()
        self.ground.setObjectName("exemptionGround")
        self.ground.currentIndexChanged.connect(self._show_proof)
        for row, (key, widget) in enumerate(
            (
                ("amount", self.amount),
                ("e_receipt", self.e_receipt),
                ("reference", self.reference),
                ("ground", self.ground),
            )
        ):
            label = Text("")
            self.labels[key] = label
            form.addWidget(label, row // 2, (row % 2) * 2)
            form.addWidget(widget, row // 2, (row % 2) * 2 + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        self.body.addLayout(form)
        self.proof = Text("", "hint")
        self.proof.setObjectName("proof")
        self.body.addWidget(self.proof)

        # Three to a row where their labels fit, fewer (one above the other) where not.
        self.actions = QGridLayout()
        self.actions.setHorizontalSpacing(12)
        self.actions.setVerticalSpacing(12)
        self.cash_button = BigButton("", "primary", pictogram="fee_pay_cash")
        self.cash_button.setObjectName("paidCash")
        self.cash_button.clicked.connect(lambda: self.record(CASH))
        self.transfer_button = BigButton("", "primary", pictogram="fee_pay_qr")
        self.transfer_button.setObjectName("transferSeen")
        self.transfer_button.clicked.connect(lambda: self.record(TRANSFER))
        self.exempt_button = BigButton("", pictogram="fee_poor_household")
        self.exempt_button.setObjectName("exempt")
        self.exempt_button.clicked.connect(lambda: self.record(EXEMPT))
        self._flow()
        self.body.addLayout(self.actions)

        statement = QHBoxLayout()
        self.statement_path = QLineEdit()
        self.statement_path.setObjectName("statementPath")
        self.import_button = BigButton("")
        self.import_button.setObjectName("importStatement")
        self.import_button.clicked.connect(self.import_statement)
        self.record_matches_button = BigButton("", "primary")
        self.record_matches_button.setObjectName("recordMatches")
        self.record_matches_button.clicked.connect(self.record_matches)
        statement.addWidget(self.statement_path, 1)
        statement.addWidget(self.import_button)
        statement.addWidget(self.record_matches_button)
        self.body.addLayout(statement)
        self.message = Text("")
        self.message.setObjectName("feeMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.body.addWidget(self.message)

        self.rows: list = []
        self.statement = None

    # Showing ------------------------------------------------------------------
    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None:
            return
        self.message.clear()
        self.statement = None
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(
            self.tr("fees.clerk.hint")
            if self.vc.app.settings.fee_account is not None
            else self.tr("fees.clerk.cash_only")
        )
        self.table.setHorizontalHeaderLabels(
            [self.tr(f"fees.clerk.col.{c}") for c in ("code", "procedure", "fee", "status", "time")]
        )
        for key, label in self.labels.items():
            label.setText(self.tr(f"fees.clerk.{key}"))
        self.cash_button.setText(self.tr("fees.clerk.paid_cash"))
        self.transfer_button.setText(self.tr("fees.clerk.transfer_seen"))
        self.exempt_button.setText(self.tr("fees.clerk.exempt"))
        self._flow()
        self.statement_path.setPlaceholderText(self.tr("fees.clerk.statement_path"))
        self.import_button.setText(self.tr("fees.clerk.import"))
        self.record_matches_button.setText(
            self.tr(
                "fees.clerk.record_matches",
                n=len(self.statement.matches) if self.statement is not None else 0,
            )
        )
        self.record_matches_button.setEnabled(bool(self.statement and self.statement.matches))
        if self.rows:
            self._fill(self.rows)

    def _flow(self) -> None:
        buttons = [self.cash_button, self.transfer_button, self.exempt_button]
        flow_buttons(self.actions, buttons, room_for_buttons(self))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._flow()

    def refresh(self) -> None:
        payments = self.vc.app.payments
        self.vc.tasks.run(lambda: payments.awaiting(), self._fill, self._failed)
        self.vc.tasks.run(lambda: payments.delivery_problems(), self._problems, self._failed)

    def _problems(self, problems: list[tuple[str, str]]) -> None:
        """Payments the portal refused, and a portal that takes no payments yet."""
        old = any("api_version" in reason for _code, reason in problems)
        lines = [self.tr("fees.clerk.portal_too_old")] if old else []
        lines += [
            self.tr("fees.clerk.refused", code=code, reason=reason)
            for code, reason in problems
            if "api_version" not in reason
        ]
        self.delivery.setText("\n".join(lines))
        self.delivery.setVisible(bool(lines))

    def _status(self, p) -> str:
        if p.method == EXEMPT:
            ground = self._ground(p.procedure_code, p.exemption_ground)
            return self.tr("fees.clerk.status.claimed", ground=ground)
        return self.tr(f"fees.clerk.status.{p.method}")

    def _ground(self, code: str, key: str | None) -> str:
        proc = self.vc.app.catalogue.get(code)
        rule = proc.fee_rule() if proc else None
        ground = rule.ground(key or "") if rule else None
        return ground.label(self.vc.app.session.lang) if ground else (key or "")

    def _fill(self, rows) -> None:
        self.rows = rows
        lang = self.vc.app.session.lang
        keep = self.current()
        self.table.setRowCount(len(rows))
        for r, p in enumerate(rows):
            proc = self.vc.app.catalogue.get(p.procedure_code)
            cells = (
                p.receipt_code,
                proc.title(lang) if proc else p.procedure_code,
                format_vnd(p.fee_vnd),
                self._status(p),
                fmt_time(p.recorded_at),
            )
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        if keep is not None:
            for r, p in enumerate(rows):
                if p.dossier_id == keep.dossier_id:
                    self.table.selectRow(r)
        self._selected()

    def current(self):
        row = self.table.currentRow() if self.table.selectedItems() else -1
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def _selected(self) -> None:
        p = self.current()
        for button in (self.cash_button, self.transfer_button, self.exempt_button):
            button.setEnabled(p is not None)
        self.ground.blockSignals(True)
        self.ground.clear()
        if p is not None:
            self.amount.setText(str(p.fee_vnd))
            proc = self.vc.app.catalogue.get(p.procedure_code)
            rule = proc.fee_rule() if proc else None
            lang = self.vc.app.session.lang
            for g in rule.grounds if rule else ():
                self.ground.addItem(g.label(lang), g.key)
            if p.exemption_ground:
                self.ground.setCurrentIndex(max(0, self.ground.findData(p.exemption_ground)))
        self.exempt_button.setEnabled(p is not None and self.ground.count() > 0)
        self.ground.blockSignals(False)
        self._show_proof()

    def _show_proof(self) -> None:
        p = self.current()
        key = self.ground.currentData()
        proc = self.vc.app.catalogue.get(p.procedure_code) if p else None
        rule = proc.fee_rule() if proc else None
        ground = rule.ground(key) if rule and key else None
        if ground is None:
            self.proof.clear()
            return
        lang = self.vc.app.session.lang
        text = self.tr("fees.clerk.proof", proof=ground.proof(lang), basis=ground.legal_basis(lang))
        if ground.to_be_checked:
            text += " " + self.tr("fees.clerk.to_be_checked")
        self.proof.setText(text)

    # Acting -------------------------------------------------------------------
    def record(self, method: str) -> None:
        p = self.current()
        if p is None:
            return
        text = self.amount.text().strip().replace(".", "").replace(",", "")
        if not text.isdigit():
            self.message.setText(self.tr("fees.amount_not_whole"))
            return
        amount = int(text)
        app, clerk = self.vc.app, self.desk.clerk
        ground = self.ground.currentData() if method == EXEMPT else None
        e_receipt = self.e_receipt.text().strip() or None
        reference = self.reference.text().strip() or None if method == TRANSFER else None

        def work():
            view = app.payments.record(
                p.dossier_id,
                method,
                clerk,
                amount_vnd=amount,
                ground=ground,
                e_receipt_number=e_receipt,
                bank_reference=reference,
            )
            printed = True
            try:
                app.receipts.print_payment_note(view.id, clerk.display_name)
            except Exception as exc:  # the payment stays recorded; the note can be reprinted
                log.warning("payment note not printed: %s", type(exc).__name__)
                printed = False
            return view, printed

        self.vc.tasks.run(work, self._recorded, self._failed)

    def _recorded(self, result) -> None:
        view, printed = result
        self.e_receipt.clear()
        self.reference.clear()
        key = "fees.clerk.recorded" if printed else "fees.clerk.recorded_not_printed"
        self.message.setText(
            self.tr(key, code=view.receipt_code, amount=format_vnd(view.amount_vnd))
        )
        self.refresh()

    def _failed(self, error: Exception) -> None:
        if isinstance(error, PaymentError) or getattr(error, "key", None):
            self.message.setText(self.tr(error.key))
        else:
            log.error("fees: %s", type(error).__name__, exc_info=error)
            self.message.setText(self.error_text(error))

    def import_statement(self) -> None:
        from kiosk.services.statements import import_statement, parse_mapping

        path = Path(self.statement_path.text().strip())
        app = self.vc.app

        def work():
            mapping = parse_mapping(app.settings.statement_columns)
            return import_statement(path, app.payments, mapping)

        self.vc.tasks.run(work, self._imported, self._failed)

    def _imported(self, result) -> None:
        self.statement = result
        self.desk.audit("payment.statement.read", detail=f"{len(result.matches)} matched")
        self.message.setText(self._statement_text(result))
        self.retranslate()

    def _statement_text(self, result) -> str:
        lines = [
            self.tr(
                "fees.clerk.statement_summary",
                matched=len(result.matches),
                unmatched=len(result.unmatched),
                broken=len(result.problems),
            )
        ]
        for m in result.matches:
            lines.append(
                self.tr(
                    "fees.clerk.statement_match",
                    row=m.row.number,
                    code=m.payment.receipt_code,
                    amount=format_vnd(m.row.amount),
                )
            )
        for u in result.unmatched:
            lines.append(
                self.tr("fees.clerk.statement_row", row=u.row.number, reason=self.tr(u.key))
                + f" ({format_vnd(u.row.amount)}; {u.row.description[:60]})"
            )
        for problem in result.problems:
            lines.append(
                self.tr("fees.clerk.statement_row", row=problem.number, reason=self.tr(problem.key))
                + (f" ({problem.detail})" if problem.detail else "")
            )
        return "\n".join(lines)

    def record_matches(self) -> None:
        from kiosk.services.statements import record_matches

        result, app, clerk = self.statement, self.vc.app, self.desk.clerk
        if result is None or not result.matches:
            return
        self.vc.tasks.run(
            lambda: record_matches(result, app.payments, clerk),
            self._matches_recorded,
            self._failed,
        )

    def _matches_recorded(self, result) -> None:
        self.statement = None
        text = self.tr("fees.clerk.statement_recorded", n=len(result.recorded))
        self.message.setText(text + "\n" + self._statement_text(result))
        self.retranslate()
        self.refresh()

    def wipe(self) -> None:
        super().wipe()
        self.statement = None
        self.e_receipt.clear()
        self.reference.clear()
        self.statement_path.clear()
