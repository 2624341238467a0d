"""Printing a dossier's receipt, and remembering whether it came out.

A print failure never touches the dossier: it stays confirmed in the outbox, the failure
is recorded (receipt_printed stays False, a ReceiptPrint row says why) and the clerk's
screens show "receipt not printed" with a one-tap reprint.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from kiosk.hardware.printers import Printer, PrinterError
from kiosk.services.catalogue import Catalogue
from kiosk.services.dossiers import DossierService, utcnow
from kiosk.services.i18n import Translator
from kiosk.services.models import Dossier, ReceiptPrint
from kiosk.services.receipt_code import receipt_uri

if TYPE_CHECKING:  # the PDF code (reportlab) loads with the first receipt printed
    from kiosk.services.receipts import ReceiptData

log = logging.getLogger(__name__)


def add_working_days(start: date, days: int) -> date:
    """`days` working days after `start`, skipping Saturdays and Sundays.

    Public holidays are not in this count; the portal's expected_result_date, once
    known, replaces this estimate on reprints.
    """
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


class ReceiptService:
    def __init__(
        self,
        dossiers: DossierService,
        catalogue: Catalogue,
        translator: Translator,
        printer: Printer,
        commune_name: str,
        status_url: str,
        paper: str,
        demo: bool = False,
    ) -> None:
        self.dossiers = dossiers
        self.catalogue = catalogue
        self.translator = translator
        self.printer = printer
        self.commune_name = commune_name
        self.status_url = status_url
        self.paper = paper
        self.demo = demo
        # Fees (set by the context): the payment records and the commune's fee account.
        self.payments = None
        self.fee_account = None

    def receipt_data(
        self, dossier: Dossier, lang: str | None = None, reprinted_at: datetime | None = None
    ) -> ReceiptData:
        applicant = self.dossiers.applicant(dossier)
        procedure = self.catalogue.get(dossier.procedure_code)
        confirmed_local = dossier.confirmed_at.replace(tzinfo=UTC).astimezone()
        expected = dossier.expected_result_date
        if expected is None and procedure and procedure.processing_days is not None:
            expected = add_working_days(confirmed_local.date(), procedure.processing_days)
        # Only the documents the citizen actually handed in (photographed), never the list
        # of what the procedure asks for.
        attached = {a.document_key for a in dossier.attachments}
        documents = (
            [dict(d.titles) for d in procedure.required_documents if d.key in attached]
            if procedure
            else []
        )
        from kiosk.services.receipts import ReceiptData

        data = ReceiptData(
            commune_name=self.commune_name,
            procedure_code=dossier.procedure_code,
            procedure_title=dict(procedure.titles) if procedure else {"vi": dossier.procedure_code},
            applicant_name=applicant.full_name if applicant else "",
            id_number=applicant.id_number if applicant else "",
            receipt_code=dossier.receipt_code,
            confirmed_at=confirmed_local,
            fee_vnd=(procedure.fee_vnd or 0) if procedure else 0,
            expected_date=expected,
            documents=documents,
            dossier_code=dossier.dossier_code,
            status_url=receipt_uri(self.status_url, dossier.receipt_code),
            lang=lang or dossier.language,
            demo=self.demo,
            receipt_not_final=dossier.dossier_code is None,
            reprinted_at=reprinted_at,
        )
        self._add_fee(data, dossier, procedure)
        return data

    def _add_fee(self, data: ReceiptData, dossier: Dossier, procedure) -> None:
        """The fee as recorded for this dossier: amount, quantity, exemption ground, and
        the VietQR code while the fee awaits payment and a fee account is set up."""
        from kiosk.services.banks import bank_line, payment_payload
        from kiosk.services.payments import EXEMPT

        payment = self.payments.active(dossier.id) if self.payments is not None else None
        if payment is None:
            return
        data.fee_vnd = payment.fee_vnd
        rule = procedure.fee_rule() if procedure is not None else None
        if payment.quantity and rule is not None and rule.counts:
            data.fee_quantity = self.translator.tr(
                f"fees.quantity.{rule.unit}",
                data.lang,
                n=payment.quantity,
                copies=payment.copies or 1,
            )
        if payment.method == EXEMPT:
            ground = rule.ground(payment.exemption_ground or "") if rule is not None else None
            data.exemption_ground = (
                dict(ground.labels) if ground else {"vi": payment.exemption_ground or ""}
            )
            data.exemption_confirmed = not payment.awaiting
            return
        data.payment_recorded = not payment.awaiting
        if payment.awaiting and self.fee_account is not None and payment.fee_vnd > 0:
            data.payment_qr = payment_payload(
                self.fee_account, payment.fee_vnd, dossier.receipt_code
            )
            data.payment_bank = bank_line(self.fee_account)

    def payment_note_pdf(self, payment_id: int, clerk_name: str, lang: str = "vi") -> bytes:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise LookupError(f"no payment {payment_id}")
        procedure = self.catalogue.get(payment.procedure_code)
        rule = procedure.fee_rule() if procedure is not None else None
        ground = rule.ground(payment.exemption_ground or "") if rule is not None else None
        from kiosk.services.receipts import PaymentNoteData, build_payment_note_pdf

        data = PaymentNoteData(
            commune_name=self.commune_name,
            receipt_code=payment.receipt_code,
            procedure_code=payment.procedure_code,
            procedure_title=dict(procedure.titles) if procedure else {"vi": payment.procedure_code},
            method=payment.method,
            amount_vnd=payment.amount_vnd,
            recorded_at=payment.recorded_at.replace(tzinfo=UTC).astimezone(),
            clerk_name=clerk_name,
            exemption_ground=dict(ground.labels) if ground else None,
            e_receipt_number=payment.e_receipt_number,
            bank_reference=payment.bank_reference,
            lang=lang,
            demo=self.demo,
        )
        return build_payment_note_pdf(data, self.paper, self.translator)

    def print_payment_note(self, payment_id: int, clerk_name: str) -> None:
        """Print the note of a recorded payment; PrinterError goes to the caller."""
        pdf = self.payment_note_pdf(payment_id, clerk_name)
        self.printer.print_pdf(pdf, f"payment-{payment_id}")

    def pdf(
        self, dossier: Dossier, lang: str | None = None, reprinted_at: datetime | None = None
    ) -> bytes:
        from kiosk.services.receipts import build_receipt_pdf

        data = self.receipt_data(dossier, lang, reprinted_at)
        return build_receipt_pdf(data, self.paper, self.translator)

    def print_receipt(self, dossier_id: int, clerk_id: int | None = None) -> None:
        """Print; raise PrinterError after recording the failure (the dossier is untouched)."""
        dossier = self.dossiers.get(dossier_id)
        if dossier is None:
            raise LookupError(f"no dossier {dossier_id}")
        error: PrinterError | None = None
        # Printed once already: this copy says it is a reprint, and when it was made.
        reprint = datetime.now().astimezone() if dossier.receipt_printed else None
        try:
            self.printer.print_pdf(self.pdf(dossier, reprinted_at=reprint), dossier.receipt_code)
        except PrinterError as exc:
            error = exc
            log.warning("receipt %s not printed: %s", dossier.receipt_code, exc.detail)

        def record(session) -> None:
            session.add(
                ReceiptPrint(
                    dossier_id=dossier_id,
                    at=utcnow(),
                    printer=self.printer.name,
                    ok=error is None,
                    error=error.detail if error else None,
                    clerk_id=clerk_id,
                )
            )
            row = session.get(Dossier, dossier_id)
            if error is None:
                row.receipt_printed = True

        self.dossiers.store.write_sync(record)
        if error is not None:
            raise error
