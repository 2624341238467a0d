"""The fee step of the citizen's journey, as a Qt-free flow object (no widgets here).

For a procedure with a fee, before the review and confirm: first the exemption question
(the grounds that procedure's data lists, with their pictograms), then the quantity where
the fee counts pages or copies, then the amount with the choice between a VietQR transfer
and cash at the counter, as equal choices. With no fee account set up, cash only.

What is recorded at confirm is a *choice*, never a payment: a transfer stays "awaiting
confirmation" and a claimed ground stays "claimed" until a clerk has seen the money or the
proof (kiosk.services.payments). The VietQR code itself is shown once the dossier is
saved, because it carries the receipt code: a citizen never pays for a dossier that the
kiosk has not stored (one cancelled after paying would leave money without a dossier).

The screens call `first()`, then `next_after(step)` after each answer; "review" means the
fee step is done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.services.fees import MAX_QUANTITY, ExemptionGround, FeeRule, quantities
from kiosk.services.flow import Stage, Step
from kiosk.services.payments import CASH, EXEMPT, TRANSFER

EXEMPTION, QUANTITY, PAY = "fee_exemption", "fee_quantity", "fee_pay"
AFTER = "review"  # the journey's step after the fee


class FeeStepError(ValueError):
    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class FeeChoice:
    """What the citizen chose; recorded with the dossier (kiosk.services.payments.fee_due)."""

    method: str  # vietqr_transfer, cash, exempt
    fee_vnd: int
    quantity: int | None
    copies: int | None
    ground: str | None


def fee_applies(rule: FeeRule | None) -> bool:
    return rule is not None and not rule.is_free


class FeeStep:
    def __init__(
        self, rule: FeeRule, fee_account: Any = None, answers: Mapping[str, Any] | None = None
    ) -> None:
        self.rule = rule
        self.fee_account = fee_account  # kiosk.services.banks.FeeAccount, None: cash only
        self.quantity, self.copies = quantities(rule, answers or {})
        self.ground: ExemptionGround | None = None
        self.exemption_answered = False
        self.method: str | None = None

    # Order ------------------------------------------------------------------------------
    def steps(self) -> list[str]:
        out = []
        if self.rule.grounds:
            out.append(EXEMPTION)
        if self.rule.counts:
            out.append(QUANTITY)
        if self.ground is None:
            out.append(PAY)
        return out

    def first(self) -> str:
        steps = self.steps()
        return steps[0] if steps else AFTER

    def next_after(self, step: str) -> str:
        steps = self.steps()
        if step not in steps:
            return steps[0] if steps else AFTER
        i = steps.index(step)
        return steps[i + 1] if i + 1 < len(steps) else AFTER

    # Answers ----------------------------------------------------------------------------
    def choose_ground(self, key: str | None) -> None:
        """A ground the procedure lists, or None: "none of these"."""
        if key is None:
            self.ground = None
        else:
            ground = self.rule.ground(key)
            if ground is None:
                raise FeeStepError("fees.ground_unknown", f"{key!r} is not a ground")
            self.ground = ground
            self.method = EXEMPT
        if key is None and self.method == EXEMPT:
            self.method = None
        self.exemption_answered = True

    def set_quantity(self, quantity: int, copies: int | None = None) -> None:
        copies = self.copies if copies is None else copies
        for value in (quantity, copies):
            if isinstance(value, bool) or not isinstance(value, int):
                raise FeeStepError("fees.quantity_invalid", f"{value!r} is not a count")
            if not 1 <= value <= MAX_QUANTITY:
                raise FeeStepError("fees.quantity_invalid", f"{value} is out of range")
        self.quantity, self.copies = quantity, copies

    def step_quantity(self, which: str, delta: int) -> None:
        """The + and - buttons: stays within 1..MAX_QUANTITY."""
        value = (self.quantity if which == "quantity" else self.copies) + delta
        value = max(1, min(MAX_QUANTITY, value))
        if which == "quantity":
            self.quantity = value
        else:
            self.copies = value

    @property
    def transfer_offered(self) -> bool:
        return self.fee_account is not None

    def choose_method(self, method: str) -> None:
        if method == TRANSFER and not self.transfer_offered:
            raise FeeStepError("fees.transfer_unavailable", "no fee account: cash only")
        if method not in (TRANSFER, CASH):
            raise FeeStepError("fees.method_invalid", f"method {method!r}")
        self.method = method

    # Results ----------------------------------------------------------------------------
    @property
    def amount(self) -> int:
        return self.rule.amount(self.quantity, self.copies)

    @property
    def complete(self) -> bool:
        return self.ground is not None or self.method in (TRANSFER, CASH)

    def choice(self) -> FeeChoice:
        if not self.complete:
            raise FeeStepError("fees.choice_missing", "the fee step is not finished")
        counts = self.rule.counts
        return FeeChoice(
            method=EXEMPT if self.ground is not None else str(self.method),
            fee_vnd=self.amount,
            quantity=self.quantity if counts else None,
            copies=self.copies if counts and self.rule.copies_field else None,
            ground=self.ground.key if self.ground is not None else None,
        )


class FeeStage(Stage):
    """The fee step as a stage of the citizen's journey (kiosk.services.journey), inserted
    before the review: `journey.flow.insert(FeeStage(account), before="review")`.

    It contributes the FeeStep's screens for a procedure with a fee, none otherwise; the
    FeeStep lives in the journey's session (`fee_step`), so a wipe forgets it."""

    name = "fee"

    def __init__(self, fee_account: Callable[[], Any] = lambda: None) -> None:
        self.fee_account = fee_account  # the commune's account now (None: cash only)

    def fee_step(self, session: Any) -> FeeStep | None:
        proc = getattr(session, "procedure", None)
        rule = proc.fee_rule() if proc is not None else None
        if not fee_applies(rule):
            session.fee_step = None
            return None
        step = session.fee_step
        if step is None or step.rule != rule:
            step = session.fee_step = FeeStep(rule, self.fee_account(), session.answers)
        return step

    def steps(self, session: Any) -> Sequence[Step]:
        step = self.fee_step(session)
        return [Step(name) for name in step.steps()] if step is not None else ()

    def done(self, step: Step, session: Any) -> bool:
        fee = session.fee_step
        if fee is None:
            return True
        if step.screen == EXEMPTION:
            return fee.exemption_answered
        if step.screen == PAY:
            return fee.method in (TRANSFER, CASH)
        return True
