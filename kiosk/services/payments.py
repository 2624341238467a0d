"""Fee payments of dossiers (no Qt): what the citizen chose at the kiosk, what a clerk
recorded, corrections, and the figures for the dashboard and the daily report.

The kiosk never claims a payment it cannot see: a transfer chosen at the kiosk stays
`due` (awaiting confirmation) and a claimed exemption stays `claimed` until a clerk has
seen the money, the transfer or the proof. A clerk's record is `recorded`, audited, and
queued for the portal (POST /payments) with its body frozen at that moment. A
correction is a new record that supersedes the active one; the old one is kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.services.dossiers import rfc3339, utcnow
from kiosk.services.models import (
    PAY_CLAIMED,
    PAY_DUE,
    PAY_RECORDED,
    PAY_SUPERSEDED,
    AuditEntry,
    Dossier,
    Payment,
)
from kiosk.services.store import Store
from kiosk.services.vietqr import MAX_AMOUNT_VND

TRANSFER, CASH, EXEMPT = "vietqr_transfer", "cash", "exempt"
METHODS = (TRANSFER, CASH, EXEMPT)
ACTIVE = (PAY_DUE, PAY_CLAIMED, PAY_RECORDED)
QUEUED, DELIVERED, NEEDS_CLERK = "queued", "delivered", "needs_clerk"
REPLACED = "replaced"  # refused by the portal, then corrected by a clerk: never sent again
TEXT_MAX = 64


class PaymentError(ValueError):
    """A payment that cannot be recorded; `key` is a translator key for the reader."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class PaymentView:
    id: int
    client_ref: str
    dossier_id: int
    receipt_code: str
    procedure_code: str
    status: str
    method: str
    fee_vnd: int
    amount_vnd: int
    quantity: int | None
    copies: int | None
    exemption_ground: str | None
    supersedes: str | None
    e_receipt_number: str | None
    bank_reference: str | None
    paid_at: datetime | None
    recorded_at: datetime
    recorded_by: str | None
    delivery: str | None
    dossier_delivered: bool

    @property
    def awaiting(self) -> bool:
        return self.status in (PAY_DUE, PAY_CLAIMED)


@dataclass(frozen=True)
class FeeTotals:
    """Fees of the dossiers confirmed in a period, by their active payment record."""

    due_vnd: int = 0  # still awaiting (due or claimed)
    due_count: int = 0
    paid_vnd: dict[str, int] = field(default_factory=dict)  # by method: cash, transfer
    paid_count: dict[str, int] = field(default_factory=dict)
    exempted_vnd: int = 0
    exempted_count: int = 0

    @property
    def paid_total(self) -> int:
        return sum(self.paid_vnd.values())


def check_amount(amount: object, allow_zero: bool = True) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PaymentError("fees.amount_not_whole", f"amount {amount!r} is not a whole number")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise PaymentError("fees.amount_not_positive", f"amount {amount} is not allowed")
    if amount > MAX_AMOUNT_VND:
        raise PaymentError("fees.amount_too_large", f"amount {amount} is over one billion VND")
    return amount


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if len(value) > TEXT_MAX or not value.isprintable():
        raise PaymentError("fees.text_invalid", f"{name} must be at most {TEXT_MAX} characters")
    return value or None


def _view(p: Payment, d: Dossier) -> PaymentView:
    return PaymentView(
        id=p.id,
        client_ref=p.client_ref,
        dossier_id=p.dossier_id,
        receipt_code=d.receipt_code,
        procedure_code=d.procedure_code,
        status=p.status,
        method=p.method,
        fee_vnd=p.fee_vnd,
        amount_vnd=p.amount_vnd,
        quantity=p.quantity,
        copies=p.copies,
        exemption_ground=p.exemption_ground,
        supersedes=p.supersedes,
        e_receipt_number=p.e_receipt_number,
        bank_reference=p.bank_reference,
        paid_at=p.paid_at,
        recorded_at=p.recorded_at,
        recorded_by=p.recorded_by,
        delivery=p.state,
        dossier_delivered=d.dossier_code is not None,
    )


def ground_keys_from(catalogue) -> Callable[[str], set[str] | None]:
    """The exemption grounds a procedure of `catalogue` allows (None: unknown procedure)."""

    def keys(code: str) -> set[str] | None:
        proc = catalogue.get(code)
        rule = proc.fee_rule() if proc is not None else None
        return {g.key for g in rule.grounds} if rule is not None else None

    return keys


def fee_totals(s: Session, start: datetime, end: datetime) -> FeeTotals:
    """Fees of the dossiers confirmed in [start, end), by their active payment record:
    still due (or claimed), paid by method, exempted."""
    rows = s.execute(
        select(
            Payment.status,
            Payment.method,
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount_vnd), 0),
        )
        .join(Dossier, Dossier.id == Payment.dossier_id)
        .where(
            Payment.status.in_(ACTIVE),
            Dossier.confirmed_at >= start,
            Dossier.confirmed_at < end,
        )
        .group_by(Payment.status, Payment.method)
    ).all()
    due = due_n = ex = ex_n = 0
    paid: dict[str, int] = {}
    paid_n: dict[str, int] = {}
    for status, method, count, total in rows:
        if status in (PAY_DUE, PAY_CLAIMED):
            due, due_n = due + int(total), due_n + count
        elif method == EXEMPT:
            ex, ex_n = ex + int(total), ex_n + count
        else:
            paid[method] = paid.get(method, 0) + int(total)
            paid_n[method] = paid_n.get(method, 0) + count
    return FeeTotals(due, due_n, paid, paid_n, ex, ex_n)


def payment_body(p: Payment, dossier_client_ref: str, kiosk_id: str) -> bytes:
    """PaymentIn (contract 1.1) of a recorded payment, serialised once."""
    body = {
        "client_ref": p.client_ref,
        "kiosk_id": kiosk_id,
        "dossier_client_ref": dossier_client_ref,
        "method": p.method,
        "amount_vnd": p.amount_vnd,
        "quantity": p.quantity,
        "supersedes": p.supersedes,
        "e_receipt_number": p.e_receipt_number,
        "bank_reference": p.bank_reference,
        "paid_at": rfc3339(p.paid_at) if p.paid_at else None,
        "recorded_at": rfc3339(p.recorded_at),
        "recorded_by": p.recorded_by,
    }
    if p.method == EXEMPT:
        body["exemption_ground"] = p.exemption_ground
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class PaymentService:
    def __init__(
        self,
        store: Store,
        kiosk_id: str,
        ground_keys: Callable[[str], set[str] | None] = lambda _code: None,
        machine: str = "",
    ) -> None:
        """`ground_keys(procedure_code)` gives the exemption grounds a procedure allows
        (None: not known, any key is accepted)."""
        self.store = store
        self.kiosk_id = kiosk_id
        self.ground_keys = ground_keys
        self.machine = machine or kiosk_id
        self.on_recorded: Callable[[], None] = lambda: None  # wakes the delivery

    # Reading ---------------------------------------------------------------------
    def active(self, dossier_id: int) -> PaymentView | None:
        def read(s: Session) -> PaymentView | None:
            row = s.execute(
                select(Payment, Dossier)
                .join(Dossier, Dossier.id == Payment.dossier_id)
                .where(Payment.dossier_id == dossier_id, Payment.status.in_(ACTIVE))
                .order_by(Payment.id.desc())
            ).first()
            return _view(*row) if row else None

        return self.store.read(read)

    def history(self, dossier_id: int) -> list[PaymentView]:
        return self.store.read(
            lambda s: [
                _view(p, d)
                for p, d in s.execute(
                    select(Payment, Dossier)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(Payment.dossier_id == dossier_id)
                    .order_by(Payment.id)
                )
            ]
        )

    def get(self, payment_id: int) -> PaymentView | None:
        def read(s: Session) -> PaymentView | None:
            row = s.execute(
                select(Payment, Dossier)
                .join(Dossier, Dossier.id == Payment.dossier_id)
                .where(Payment.id == payment_id)
            ).first()
            return _view(*row) if row else None

        return self.store.read(read)

    def awaiting(self, limit: int = 500) -> list[PaymentView]:
        """Dossiers whose fee awaits a clerk (transfer or cash due, exemption claimed),
        oldest first."""
        return self.store.read(
            lambda s: [
                _view(p, d)
                for p, d in s.execute(
                    select(Payment, Dossier)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(Payment.status.in_((PAY_DUE, PAY_CLAIMED)))
                    .order_by(Payment.recorded_at, Payment.id)
                    .limit(limit)
                )
            ]
        )

    def delivery_problems(self, limit: int = 20) -> list[tuple[str, str]]:
        """(receipt code, the reason) of recorded payments the portal refused, and of those
        kept because the portal takes no payments yet (its api_version is below 1.1)."""

        def reason(error: str | None, fields: str | None) -> str:
            try:
                details = json.loads(fields) if fields else []
            except ValueError:
                details = []
            named = "; ".join(
                f"{d.get('field')}: {d.get('message')}" for d in details if isinstance(d, dict)
            )
            return (error or "") + (f" ({named})" if named else "")

        return self.store.read(
            lambda s: [
                (code, reason(error, fields))
                for code, error, fields in s.execute(
                    select(Dossier.receipt_code, Payment.last_error, Payment.field_errors)
                    .join(Dossier, Dossier.id == Payment.dossier_id)
                    .where(
                        (Payment.state == NEEDS_CLERK)
                        | (
                            (Payment.state == QUEUED)
                            & Payment.last_error.contains("api_version", autoescape=True)
                        )
                    )
                    .order_by(Payment.id)
                    .limit(limit)
                )
            ]
        )

    def totals(self, start: datetime, end: datetime) -> FeeTotals:
        """Fees of the dossiers confirmed in [start, end), by active record."""
        return self.store.read(lambda s: fee_totals(s, start, end))

    # At the kiosk ------------------------------------------------------------------
    def fee_due(
        self,
        dossier_id: int,
        method: str,
        fee_vnd: int,
        quantity: int | None = None,
        copies: int | None = None,
        ground: str | None = None,
    ) -> PaymentView:
        """What the citizen chose at the kiosk: a transfer or cash (`due`, awaiting a
        clerk), or an exemption ground (`claimed`, until a clerk sees the proof)."""
        if method not in METHODS:
            raise PaymentError("fees.method_invalid", f"method {method!r}")
        fee_vnd = check_amount(fee_vnd)

        def write(s: Session) -> PaymentView:
            dossier = self._dossier(s, dossier_id)
            if method == EXEMPT:
                self._check_ground(dossier, ground)
            p = Payment(
                client_ref=str(uuid.uuid4()),
                dossier_id=dossier_id,
                status=PAY_CLAIMED if method == EXEMPT else PAY_DUE,
                method=method,
                fee_vnd=fee_vnd,
                amount_vnd=fee_vnd,
                quantity=quantity,
                copies=copies,
                exemption_ground=ground if method == EXEMPT else None,
                recorded_at=utcnow().replace(microsecond=0),
                attempt_count=0,
            )
            self._supersede_active(s, dossier_id, keep_recorded=True)
            s.add(p)
            s.flush()
            return _view(p, dossier)

        return self.store.write_sync(write)

    # The clerk ----------------------------------------------------------------------
    def record(
        self,
        dossier_id: int,
        method: str,
        clerk,
        amount_vnd: int | None = None,
        ground: str | None = None,
        e_receipt_number: str | None = None,
        bank_reference: str | None = None,
        paid_at: datetime | None = None,
        action: str | None = None,
    ) -> PaymentView:
        """A clerk saw the cash, the transfer or the exemption's proof: a `recorded`
        payment, audited and queued for the portal. Any active record of the dossier is
        superseded (a recorded one is named in `supersedes`: a correction)."""
        if method not in METHODS:
            raise PaymentError("fees.method_invalid", f"method {method!r}")
        e_receipt_number = _text(e_receipt_number, "e_receipt_number")
        bank_reference = _text(bank_reference, "bank_reference")
        if amount_vnd is not None:
            amount_vnd = check_amount(amount_vnd)

        def write(s: Session) -> PaymentView:
            dossier = self._dossier(s, dossier_id)
            current = self._active_row(s, dossier_id)
            fee = current.fee_vnd if current is not None else (amount_vnd or 0)
            amount = amount_vnd if amount_vnd is not None else fee
            if method == EXEMPT:
                self._check_ground(dossier, ground)
            elif amount == 0:
                raise PaymentError("fees.amount_not_positive", "a payment of 0 VND")
            if bank_reference and self._reference_used(s, bank_reference):
                raise PaymentError("fees.reference_used", f"bank reference {bank_reference}")
            now = utcnow().replace(microsecond=0)
            corrected = current if current is not None and current.status == PAY_RECORDED else None
            supersedes = corrected.client_ref if corrected is not None else None
            if corrected is not None and corrected.state == NEEDS_CLERK:
                # The portal refused it, so it knows nothing of it: the correction replaces
                # what that one would have replaced, and the refused one is not sent again.
                supersedes = corrected.supersedes
                corrected.state = REPLACED
            p = Payment(
                client_ref=str(uuid.uuid4()),
                dossier_id=dossier_id,
                status=PAY_RECORDED,
                method=method,
                fee_vnd=fee,
                amount_vnd=amount,
                quantity=current.quantity if current is not None else None,
                copies=current.copies if current is not None else None,
                exemption_ground=ground if method == EXEMPT else None,
                supersedes=supersedes,
                e_receipt_number=e_receipt_number,
                bank_reference=bank_reference,
                paid_at=paid_at if method != EXEMPT else None,
                recorded_at=now,
                clerk_id=getattr(clerk, "id", None),
                recorded_by=getattr(clerk, "username", None),
                kiosk_id=self.kiosk_id,
                state=QUEUED,
                next_attempt_at=None,
                attempt_count=0,
            )
            if current is not None:
                # A recorded one stays queued if not sent yet: the portal gets both, in
                # order, and the correction names it in `supersedes`.
                current.status = PAY_SUPERSEDED
            p.body = payment_body(p, dossier.client_ref, self.kiosk_id)
            s.add(p)
            s.flush()
            verb = action or ("payment.correct" if corrected is not None else f"payment.{method}")
            detail = f"{dossier.receipt_code} {method} {amount} VND"
            if ground:
                detail += f" ground={ground}"
            if e_receipt_number:
                detail += f" e-receipt={e_receipt_number}"
            s.add(
                AuditEntry(
                    at=now,
                    clerk_id=getattr(clerk, "id", None),
                    action=verb,
                    dossier_id=dossier_id,
                    detail=detail[:200],
                    machine=self.machine,
                )
            )
            return _view(p, dossier)

        view = self.store.write_sync(write)
        self.on_recorded()
        return view

    # Helpers --------------------------------------------------------------------------
    def _dossier(self, s: Session, dossier_id: int) -> Dossier:
        dossier = s.get(Dossier, dossier_id)
        if dossier is None:
            raise PaymentError("fees.dossier_unknown", f"no dossier {dossier_id}")
        return dossier

    def _check_ground(self, dossier: Dossier, ground: str | None) -> None:
        if not ground:
            raise PaymentError("fees.ground_required", "an exemption needs its ground")
        allowed = self.ground_keys(dossier.procedure_code)
        if allowed is not None and ground not in allowed:
            raise PaymentError(
                "fees.ground_unknown", f"{ground!r} is not a ground of {dossier.procedure_code}"
            )

    @staticmethod
    def _active_row(s: Session, dossier_id: int) -> Payment | None:
        return s.scalars(
            select(Payment)
            .where(Payment.dossier_id == dossier_id, Payment.status.in_(ACTIVE))
            .order_by(Payment.id.desc())
            .with_for_update()
        ).first()

    def _supersede_active(self, s: Session, dossier_id: int, keep_recorded: bool) -> None:
        current = self._active_row(s, dossier_id)
        if current is None:
            return
        if current.status == PAY_RECORDED and keep_recorded:
            raise PaymentError("fees.already_recorded", "this dossier's fee is recorded already")
        current.status = PAY_SUPERSEDED

    @staticmethod
    def _reference_used(s: Session, reference: str) -> bool:
        return (
            s.scalar(
                select(func.count(Payment.id)).where(
                    Payment.bank_reference == reference, Payment.status == PAY_RECORDED
                )
            )
            > 0
        )
