"""The citizen's journey, without a window: consent → identify → questions → documents →
review → confirm.

`Journey` owns what the citizen has told the kiosk for one dossier (a typed
`JourneySession`) and decides the next step; screens call its methods and show the step
it returns:

    journey.choose("1.004873");  step = journey.next()          # consent
    journey.consent(now);        step = journey.next()          # identify
    journey.identified(applicant, warnings); step = journey.next()  # 'is this you?'
    error = journey.answer("phone", "0912 345 678")             # None, or a tr key
    step = journey.next()  /  step = journey.back()
    confirmed = journey.confirm()                               # saved for good

The order is made of stages (kiosk.services.flow): insert one to add a step, e.g.
`journey.flow.insert(ChipStage(), after="identify")` or `before="review"` for a fee.
`wipe()` forgets everything when the visit ends. Nothing here imports Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kiosk.services import catalogue as cat
from kiosk.services.consent import CONSENT_VERSION
from kiosk.services.dossiers import (
    Applicant,
    AttachmentDraft,
    Confirmed,
    DossierDraft,
    DossierService,
)
from kiosk.services.flow import Flow, FlowError, Stage, Step
from kiosk.services.text import nfc

# The screens of the journey's steps.
CONSENT = "consent"
IDENTIFY = "identify"
CONFIRM_IDENTITY = "identify_confirm"
TYPE_IDENTITY = "manual_entry"
QUESTION = "form"
DOCUMENT = "document"
REVIEW = "review"


class Assurance(StrEnum):
    """How sure the kiosk is of who the applicant is."""

    NONE = "none"
    TYPED = "typed"  # typed from the card by the citizen
    CARD_QR = "card_qr"  # the card's QR code, read back and confirmed
    CHIP = "chip"  # the card's chip, signature checked


_ASSURANCE_OF_SOURCE = {
    "manual": Assurance.TYPED,
    "qr_scan": Assurance.CARD_QR,
    "chip": Assurance.CHIP,
}


@dataclass(frozen=True)
class Consent:
    version: str
    given_at: datetime  # UTC, naive, whole seconds


@dataclass
class Fee:
    amount_vnd: int
    paid_ref: str | None = None  # set by a payment step


@dataclass
class JourneySession:
    """Everything one citizen has told the kiosk for one dossier; in memory only."""

    visit: int = 0
    procedure: cat.Procedure | None = None
    consent: Consent | None = None
    applicant: Applicant | None = None
    warnings: tuple[str, ...] = ()  # what the card scan was unsure of
    assurance: Assurance = Assurance.NONE
    typing: bool = False  # the citizen chose to type the card's data
    answers: dict[str, Any] = field(default_factory=dict)  # contract values
    raw: dict[str, str] = field(default_factory=dict)  # what was typed or tapped
    attachments: dict[str, AttachmentDraft] = field(default_factory=dict)  # by document key
    fee: Fee | None = None
    fee_step: Any = None  # kiosk.services.fee_step.FeeStep, made by the fee stage
    confirmed: Confirmed | None = None
    # The card's chip (kiosk.services.chip_identity.ChipStage), in memory for this dossier:
    chip_reader: bool = False  # a reader reads the chip after the scan and confirms identity
    chip: Any = None  # the chip's ChipIdentity (portrait, DG13) once read and accepted
    chip_note: str | None = None  # why the chip was not used (a tr key), if so
    other: Applicant | None = None  # another person's card (the partner's), read for answers


class JourneyError(RuntimeError):
    """A call out of order (confirm before consent, an unknown procedure…)."""


def card_values(applicant: Applicant | None) -> dict[str, Any]:
    """The card's values by the names procedures use in `prefill`."""
    if applicant is None:
        return {}
    return {
        "full_name": applicant.full_name,
        "id_number": applicant.id_number,
        "date_of_birth": applicant.date_of_birth,
        "sex": applicant.sex,
        "address": applicant.address,
        "old_id_number": applicant.old_id_number,
    }


# ------------------------------------------------------------------------------ stages
class ConsentStage(Stage[JourneySession]):
    name = "consent"

    def steps(self, session: JourneySession) -> Sequence[Step]:
        return (Step(CONSENT),)

    def done(self, step: Step, session: JourneySession) -> bool:
        return session.consent is not None


class IdentifyStage(Stage[JourneySession]):
    """The card scan, then 'is this you?'; or typing the card's data instead."""

    name = "identify"

    def steps(self, session: JourneySession) -> Sequence[Step]:
        if session.typing:
            return (Step(IDENTIFY), Step(TYPE_IDENTITY))
        if session.chip_reader:
            return (Step(IDENTIFY),)  # the chip stage reads the card, then asks 'is this you?'
        return (Step(IDENTIFY), Step(CONFIRM_IDENTITY))

    def done(self, step: Step, session: JourneySession) -> bool:
        if step.screen == IDENTIFY:
            return session.applicant is not None or session.typing
        return session.applicant is not None

    def undo(self, step: Step, session: JourneySession) -> None:
        if step.screen == CONFIRM_IDENTITY:  # "this is not me": scan again
            session.applicant, session.warnings = None, ()
            session.assurance = Assurance.NONE
        elif step.screen == TYPE_IDENTITY:
            session.typing = False
            session.applicant, session.assurance = None, Assurance.NONE


class QuestionsStage(Stage[JourneySession]):
    """One step per question of the procedure; an optional one may be left empty."""

    name = "questions"

    def steps(self, session: JourneySession) -> Sequence[Step]:
        fields = session.procedure.fields if session.procedure else ()
        return tuple(Step(QUESTION, f.key, i, len(fields)) for i, f in enumerate(fields))

    def done(self, step: Step, session: JourneySession) -> bool:
        return step.key in session.raw


class DocumentsStage(Stage[JourneySession]):
    """A photo of each document to bring; one not photographed goes to the clerk."""

    name = "documents"

    def steps(self, session: JourneySession) -> Sequence[Step]:
        docs = session.procedure.required_documents if session.procedure else ()
        return tuple(Step(DOCUMENT, d.key, i, len(docs)) for i, d in enumerate(docs))


class ReviewStage(Stage[JourneySession]):
    name = "review"

    def steps(self, session: JourneySession) -> Sequence[Step]:
        return (Step(REVIEW),)

    def done(self, step: Step, session: JourneySession) -> bool:
        return False  # left by confirm(), not by Next


def journey_stages() -> list[Stage[JourneySession]]:
    return [ConsentStage(), IdentifyStage(), QuestionsStage(), DocumentsStage(), ReviewStage()]


# ----------------------------------------------------------------------------- journey
class Journey:
    """The citizen's journey for one dossier. Not thread-safe except `confirm()`, which
    may run on a worker thread while the UI thread waits."""

    def __init__(
        self,
        catalogue: cat.Catalogue,
        dossiers: DossierService,
        language: Callable[[], str] | None = None,
        assisted_by: Callable[[], str | None] | None = None,
    ) -> None:
        """`language()` and `assisted_by()` give the visit's language and helping clerk."""
        self.catalogue = catalogue
        self.dossiers = dossiers
        self._language = language or (lambda: cat.FALLBACK_LANG)
        self._assisted_by = assisted_by or (lambda: None)
        self.session = JourneySession()
        self.flow: Flow[JourneySession] = Flow(self.session, journey_stages())
        self._lock = threading.Lock()
        self._confirming = False
        self.chip_reader = False  # set by chip_identity.use_chip_reader

    # Reading ---------------------------------------------------------------------------
    @property
    def procedure(self) -> cat.Procedure | None:
        return self.session.procedure

    @property
    def current(self) -> Step | None:
        return self.flow.current

    def lang(self) -> str:
        return self._language()

    def field(self, key: str) -> cat.Field | None:
        return self.procedure.field(key) if self.procedure else None

    def document(self, key: str) -> cat.Document | None:
        docs = self.procedure.required_documents if self.procedure else ()
        return next((d for d in docs if d.key == key), None)

    def raw(self, key: str) -> str:
        """What to show in a question: what was given, else the card's value, else ""."""
        if key in self.session.raw:
            return self.session.raw[key]
        f = self.field(key)
        if f is None:
            return ""
        from kiosk.services.chip_identity import chip_values

        values = {**card_values(self.session.applicant), **chip_values(self.session.chip)}
        text = cat.prefill_text(f, values)
        if not text and f.prefill_other and self.session.other is not None:
            other = replace(f, prefill=f.prefill_other)
            text = cat.prefill_text(other, card_values(self.session.other))
        return text

    # Telling ---------------------------------------------------------------------------
    def choose(self, code: str) -> None:
        """Start a dossier for this procedure; whatever an earlier one held is dropped."""
        proc = self.catalogue.get(code)
        if proc is None or proc.withdrawn:
            raise JourneyError(f"procedure {code!r} cannot be started")
        visit = self.session.visit
        self._reset(JourneySession(visit=visit, procedure=proc))
        if proc.fee_vnd:
            self.session.fee = Fee(proc.fee_vnd)

    def consent(self, now: datetime) -> None:
        moment = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
        self.session.consent = Consent(CONSENT_VERSION, moment.replace(microsecond=0))

    def type_instead(self) -> Step:
        """The citizen will type the card's data (no camera, or the card will not scan)."""
        self.session.typing = True
        self.session.applicant, self.session.assurance = None, Assurance.NONE
        if self.flow.current is None or self.flow.current.screen != IDENTIFY:
            self.flow.jump(Step(IDENTIFY))
        return self.flow.next()

    def other_identified(self, other: Applicant) -> str | None:
        """Another person's card (the partner's) was read for the questions that take its
        values; None, or the tr key of why it was not taken (the citizen's own card)."""
        own = self.session.applicant
        if own is not None and own.id_number == other.id_number:
            return "other_card.own_card"
        self.session.other = other
        return None

    def identified(self, applicant: Applicant, warnings: Sequence[str] = ()) -> None:
        self.session.applicant = applicant
        self.session.warnings = tuple(warnings)
        self.session.assurance = _ASSURANCE_OF_SOURCE.get(applicant.id_source, Assurance.NONE)

    def answer(self, key: str, raw: str) -> str | None:
        """Check and keep an answer; returns None, or the tr key of what is wrong (and
        then keeps nothing)."""
        f = self.field(key)
        if f is None:
            raise JourneyError(f"no question {key!r} in this procedure")
        value, error = cat.validate_value(f, raw, self.lang())
        if error:
            return error
        self.session.raw[key] = nfc(raw or "")
        if value is None:
            self.session.answers.pop(key, None)
        else:
            self.session.answers[key] = value
        return None

    def attach(self, document_key: str, content_type: str, data: bytes) -> None:
        """Keep the approved photo of a document (replacing an earlier one)."""
        if self.document(document_key) is None:
            raise JourneyError(f"no document {document_key!r} in this procedure")
        self.session.attachments[document_key] = AttachmentDraft(document_key, content_type, data)

    # Moving ----------------------------------------------------------------------------
    def next(self) -> Step:
        return self.flow.next()

    def optional_documents_left(self) -> int:
        """How many documents come after the current one, when they may all be left out
        (0 when one of them is required, or none is left)."""
        cur = self.flow.current
        docs = self.procedure.required_documents if self.procedure else ()
        if cur is None or cur.screen != DOCUMENT:
            return 0
        keys = [d.key for d in docs]
        later = docs[keys.index(cur.key) + 1 :] if cur.key in keys else ()
        return 0 if any(d.required for d in later) else len(later)

    def skip_optional_documents(self) -> Step:
        """Past this document and the optional ones after it (none of them brought)."""
        step = self.flow.next()
        while step.screen == DOCUMENT and not self.document(step.key).required:
            following = self.flow.next()
            if following == step:
                break
            step = following
        return step

    def back(self) -> Step | None:
        """The previous step, or None: Back leaves the journey (to the procedure)."""
        return self.flow.back()

    def change(self, screen: str, key: str = "") -> Step:
        """From the review, open one step again; its Next comes back to the review."""
        return self.flow.detour(screen, key)

    # Finishing -------------------------------------------------------------------------
    def missing(self) -> list[str]:
        """What stops the draft: 'procedure', 'consent', 'applicant', or question keys."""
        s = self.session
        out = [name for name in ("procedure", "consent", "applicant") if getattr(s, name) is None]
        for f in s.procedure.fields if s.procedure else ():
            if f.key not in s.raw:
                out.append(f.key)
                continue
            _value, error = cat.validate_value(f, s.raw[f.key], self.lang())
            if error:
                out.append(f.key)
        return out

    def draft(self) -> DossierDraft:
        missing = self.missing()
        if missing:
            raise JourneyError(f"the dossier is not complete: {', '.join(missing)}")
        s = self.session
        assert s.procedure and s.consent and s.applicant  # checked by missing()
        docs = [d.key for d in s.procedure.required_documents]
        return DossierDraft(
            procedure_code=s.procedure.code,
            procedure_version=s.procedure.version,
            language=self.lang(),
            applicant=s.applicant,
            fields={f.key: s.answers[f.key] for f in s.procedure.fields if f.key in s.answers},
            consent_version=s.consent.version,
            consent_given_at=s.consent.given_at,
            attachments=[s.attachments[k] for k in docs if k in s.attachments],
            assisted_by=self._assisted_by(),
        )

    def confirm(self) -> Confirmed:
        """Save the dossier for good, once: a second call raises JourneyError."""
        with self._lock:
            if self._confirming or self.session.confirmed is not None:
                raise JourneyError("this dossier is already confirmed")
            draft = self.draft()
            session = self.session
            self._confirming = True
        try:
            confirmed = self.dossiers.confirm(draft)
        finally:
            with self._lock:
                self._confirming = False
        with self._lock:
            session.confirmed = confirmed  # the session it was made from, even if wiped since
        return confirmed

    def wipe(self, visit: int | None = None) -> None:
        """Forget everything (Cancel, idle timeout, Done); `visit` is the new visit's id."""
        with self._lock:
            self._reset(JourneySession(visit=self.session.visit if visit is None else visit))

    def _reset(self, session: JourneySession) -> None:
        if self.session.chip is not None:
            self.session.chip.wipe()  # the chip's portrait and fields go with the dossier
        session.chip_reader = self.chip_reader
        self.session = session
        self.flow.session = session
        self.flow.reset()


__all__ = [
    "CONFIRM_IDENTITY",
    "CONSENT",
    "DOCUMENT",
    "IDENTIFY",
    "QUESTION",
    "REVIEW",
    "TYPE_IDENTITY",
    "Assurance",
    "Consent",
    "Fee",
    "FlowError",
    "Journey",
    "JourneyError",
    "JourneySession",
    "Step",
]
