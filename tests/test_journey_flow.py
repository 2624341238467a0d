"""The citizen's journey without a window: every procedure from choice to a confirmed
dossier in a real SQLite file, with Back at every step, optional questions left empty and
answers prefilled from the card."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.paths import resource
from kiosk.services import catalogue as cat
from kiosk.services.dossiers import Applicant
from kiosk.services.flow import Flow, FlowError, Stage, Step
from kiosk.services.journey import (
    CONFIRM_IDENTITY,
    CONSENT,
    DOCUMENT,
    IDENTIFY,
    QUESTION,
    REVIEW,
    TYPE_IDENTITY,
    Assurance,
    Journey,
    JourneyError,
    JourneySession,
)

PROCEDURE_FILES = sorted(Path(resource("procedures")).glob("*.json"))
CODES = [json.loads(p.read_text(encoding="utf-8"))["code"] for p in PROCEDURE_FILES]
CARD = Applicant(
    "001190012345",
    "Nguyễn Thị Hồng Nhung",
    date(1990, 5, 6),
    "female",
    "Thôn Nà Pò, xã Đồng Văn, Quảng Ninh",
    id_source="qr_scan",
)
NOW = datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 200


@pytest.fixture
def journey(app_ctx):
    lang = {"value": "vi"}
    j = Journey(app_ctx.catalogue, app_ctx.dossiers, language=lambda: lang["value"])
    j.lang_box = lang
    return j


def a_valid_answer(field: cat.Field) -> str:
    """The first of some plausible answers that the catalogue accepts for this field."""
    today = date.today()
    candidates = {
        "choice": [c.key for c in field.choices],
        "checkbox": ["1"],
        "date": [
            (today - timedelta(days=3)).strftime("%d/%m/%Y"),
            "06/05/1990",
            (today + timedelta(days=3)).strftime("%d/%m/%Y"),
        ],
        "phone": ["0912345678"],
        "id_number": ["001190012346"],
        "number": ["1", "2", "2000", "0"],
        "text": ["Lò Văn Quý"],
    }[field.type]
    for raw in candidates:
        _value, error = cat.validate_value(field, raw, "vi")
        if error is None:
            return raw
    raise AssertionError(f"no plausible answer for {field.key} ({field.type})")


def test_every_procedure_file_is_walked():
    assert len(CODES) >= 10 and len(set(CODES)) == len(CODES)


@pytest.mark.parametrize("code", CODES)
def test_every_procedure_from_choice_to_confirmed_dossier(journey, app_ctx, code):
    proc = app_ctx.catalogue.get(code)
    journey.choose(code)
    assert journey.session.fee is None or journey.session.fee.amount_vnd == proc.fee_vnd
    seen: list[Step] = []

    def forward() -> Step:
        step = journey.next()
        seen.append(step)
        return step

    # Consent: Next does not pass it until the citizen agrees; Back leaves the journey.
    step = forward()
    assert step.screen == CONSENT
    assert journey.next() == step  # not agreed yet
    assert journey.back() is None and journey.current is None
    assert journey.next().screen == CONSENT
    journey.consent(NOW)
    assert journey.session.consent.given_at == datetime(2026, 12, 6, 9, 30, 15)

    # Identify: the scan, 'is this you?', 'no' scans again, 'yes' goes on.
    assert forward().screen == IDENTIFY
    assert journey.next().screen == IDENTIFY  # nothing scanned yet
    journey.identified(CARD, ["address_guessed"])
    assert forward().screen == CONFIRM_IDENTITY
    assert journey.session.assurance is Assurance.CARD_QR
    assert journey.back().screen == IDENTIFY and journey.session.applicant is None
    journey.identified(CARD, [])
    assert journey.next().screen == CONFIRM_IDENTITY

    # Questions: one step each, in the procedure's order; prefilled from the card.
    expected: dict[str, object] = {}
    card = {"full_name": CARD.full_name, "date_of_birth": "06/05/1990", "address": CARD.address}
    for i, field in enumerate(proc.fields):
        step = forward()
        assert (step.screen, step.key, step.index, step.total) == (
            QUESTION,
            field.key,
            i,
            len(proc.fields),
        )
        if field.prefill in card:
            assert journey.raw(field.key) == card[field.prefill]  # shown, not assumed
        assert journey.next() == step  # an unanswered question holds
        if i == 1:  # Back once, then forward again to the same question
            previous = journey.back()
            assert (previous.screen, previous.key) == (QUESTION, proc.fields[0].key)
            assert journey.raw(previous.key) == journey.session.raw[previous.key]
            assert journey.next() == step
        if not field.required:
            assert journey.answer(field.key, "") is None  # skipped
            continue
        if field.type != "choice":
            assert journey.answer(field.key, "   ") is not None  # blank is no answer
            assert field.key not in journey.session.raw
        raw = journey.raw(field.key) if field.prefill in card else a_valid_answer(field)
        assert journey.answer(field.key, raw) is None
        expected[field.key] = cat.validate_value(field, raw, "vi")[0]

    # Documents: a photo of the first, the others skipped (brought to the clerk).
    for i, doc in enumerate(proc.required_documents):
        step = forward()
        assert (step.screen, step.key, step.index) == (DOCUMENT, doc.key, i)
        if i == 0:
            journey.attach(doc.key, "image/jpeg", JPEG)

    step = forward()
    assert step.screen == REVIEW
    assert journey.next() == step  # the review ends by confirm(), not by Next

    # Change one answer from the review: Next comes back to the review.
    if proc.fields:
        first = proc.fields[0]
        assert journey.change(QUESTION, first.key).key == first.key
        raw = a_valid_answer(first)
        assert journey.answer(first.key, raw) is None
        expected[first.key] = cat.validate_value(first, raw, "vi")[0]
        assert journey.next().screen == REVIEW

    # Back from the review retraces every step, then forward again to the review.
    backs = []
    while (s := journey.back()) is not None:
        backs.append(s.ident)
    forward_path = [s.ident for s in journey.flow.path()][:-1]
    assert backs == list(reversed(forward_path)), backs
    journey.identified(CARD, [])  # 'no' on 'is this you?' cleared it on the way
    while journey.next().screen != REVIEW:
        pass

    draft = journey.draft()
    assert draft.fields == {k: v for k, v in expected.items() if v is not None}
    assert draft.procedure_code == code and draft.procedure_version == proc.version
    assert draft.applicant is CARD and draft.language == "vi"

    confirmed = journey.confirm()
    with pytest.raises(JourneyError):
        journey.confirm()  # a second tap makes no second dossier
    row = app_ctx.dossiers.get(confirmed.id)
    assert row.receipt_code == confirmed.receipt_code and row.state == "queued"
    assert app_ctx.dossiers.answers(row) == draft.fields
    assert app_ctx.dossiers.applicant(row).full_name == CARD.full_name
    docs = [d.key for d in proc.required_documents[:1]]
    assert [a.document_key for a in row.attachments] == docs
    assert row.consent_given_at == datetime(2026, 12, 6, 9, 30, 15)
    journey.wipe(visit=7)
    assert journey.session == JourneySession(visit=7) and journey.current is None


def test_typing_the_card_instead_of_scanning(journey, app_ctx):
    journey.choose("1.004873")
    journey.next()
    journey.consent(NOW)
    assert journey.next().screen == IDENTIFY
    assert journey.type_instead().screen == TYPE_IDENTITY
    assert journey.next().screen == TYPE_IDENTITY  # nothing typed yet
    typed = Applicant("001190012345", "Lò Thị Mai", date(1988, 1, 2), id_source="manual")
    journey.identified(typed)
    assert journey.session.assurance is Assurance.TYPED
    step = journey.next()
    assert (step.screen, step.key) == (QUESTION, "purpose")
    assert journey.back().screen == TYPE_IDENTITY
    assert journey.back().screen == IDENTIFY
    assert not journey.session.typing and journey.session.applicant is None
    journey.identified(CARD)
    assert journey.next().screen == CONFIRM_IDENTITY  # scanned after all


def test_no_draft_before_everything_is_given(journey):
    journey.choose("1.004873")
    with pytest.raises(JourneyError, match="consent"):
        journey.draft()
    with pytest.raises(JourneyError):
        journey.confirm()
    with pytest.raises(JourneyError):
        journey.choose("no-such-code")
    with pytest.raises(JourneyError):
        journey.answer("not_a_question", "x")


def test_answers_are_checked_in_the_visit_language(journey):
    journey.choose("1.004873")
    assert journey.answer("phone", "12345") == cat.ERR_PHONE_INVALID
    journey.lang_box["value"] = "en"
    assert journey.answer("phone", "0912 345 678") is None
    assert journey.session.answers["phone"] == "0912345678"


def test_choosing_again_starts_a_fresh_dossier(journey):
    journey.choose("1.004873")
    journey.next()
    journey.consent(NOW)
    journey.identified(CARD)
    journey.answer("phone", "0912345678")
    journey.choose("1.001193")
    s = journey.session
    assert s.applicant is None and s.answers == {} and s.consent is None
    assert journey.next().screen == CONSENT


class _ChipStage(Stage[JourneySession]):
    """A later capability: read the card's chip after a QR scan."""

    name = "chip"

    def steps(self, session):
        return (Step("chip_read"),) if session.assurance is Assurance.CARD_QR else ()

    def done(self, step, session):
        return session.assurance is Assurance.CHIP


class _FeeStage(Stage[JourneySession]):
    name = "fee"

    def steps(self, session):
        return (Step("fee"),) if session.fee else ()

    def done(self, step, session):
        return session.fee.paid_ref is not None


def test_steps_are_inserted_by_capability_without_touching_the_others(journey):
    journey.flow.insert(_ChipStage(), after="identify")
    journey.flow.insert(_FeeStage(), before="review")
    assert journey.flow.names() == [
        "consent",
        "identify",
        "chip",
        "questions",
        "documents",
        "fee",
        "review",
    ]
    journey.choose("1.004873")  # 5 000 ₫, three questions, no documents
    journey.next()
    journey.consent(NOW)
    journey.next()
    journey.identified(CARD)
    assert journey.next().screen == CONFIRM_IDENTITY
    assert journey.next().screen == "chip_read"
    assert journey.next().screen == "chip_read"  # not read yet
    journey.session.assurance = Assurance.CHIP
    assert journey.next().screen == QUESTION
    for key, raw in (("purpose", "marriage"), ("current_status", "never_married")):
        journey.answer(key, raw)
        journey.next()
    journey.answer("phone", "0912345678")
    assert journey.next().screen == "fee"
    journey.session.fee.paid_ref = "PAY-1"
    assert journey.next().screen == REVIEW
    with pytest.raises(FlowError):
        journey.flow.insert(_FeeStage(), before="review")  # names are unique
    with pytest.raises(FlowError):
        journey.flow.insert(_ChipStage.__new__(_ChipStage), after="nowhere")


def test_the_same_machinery_carries_another_flow():
    """A feedback flow: a rating, then a reason only for a low one."""

    class Rate(Stage[dict]):
        name = "rate"

        def steps(self, session):
            return (Step("rate"),)

        def done(self, step, session):
            return "stars" in session

    class Reason(Stage[dict]):
        name = "reason"

        def steps(self, session):
            return (Step("reason"),) if session.get("stars", 5) < 3 else ()

    class Thanks(Stage[dict]):
        name = "thanks"

        def steps(self, session):
            return (Step("thanks"),)

    session: dict = {}
    flow = Flow(session, [Rate(), Reason(), Thanks()])
    assert flow.next().screen == "rate"
    session["stars"] = 5
    assert flow.next().screen == "thanks"
    assert flow.back().screen == "rate"
    session["stars"] = 1
    assert flow.next().screen == "reason"


def test_the_journey_imports_no_qt():
    import subprocess

    code = (
        "import sys; sys.modules['PySide6'] = None; "
        "import kiosk.services.journey, kiosk.services.flow; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "ok", out.stderr
