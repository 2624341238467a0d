"""Identity from the card's chip, for the journey and the `chip` command (no Qt here).

`build_chip_service(settings)` picks the reader the settings name and loads the CSCA
trust store; `ChipService.read_for(citizen)` reads the chip of the card whose QR code was
just scanned (its number, date of birth and issue date open BAC) and returns a
`ChipIdentity`. The portrait and the chip's fields stay in memory: `wipe()` on the
identity forgets them, nothing is logged.

`identity_assurance.level` (portal contract 1.1): `chip_verified`, `chip_unverified`,
or `qr` when the identity comes from the QR code alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from kiosk.hardware.cardreader import CardReader, NoReaderError, PcscReader, SimulatedReader
from kiosk.services.flow import Stage, Step
from kiosk.services.icao9303 import pa
from kiosk.services.icao9303.reader import ChipIdentity, ChipReader, access_keys
from kiosk.services.journey import CONFIRM_IDENTITY, Assurance

log = logging.getLogger(__name__)

QR_ONLY = "qr"


@dataclass
class ChipService:
    reader: CardReader | None
    trust: list = field(default_factory=list)
    timeout_s: float = 15.0
    kind: str = "none"  # pcsc | sim | none

    @property
    def available(self) -> bool:
        return self.reader is not None

    def read(
        self,
        id_number: str,
        birth: date,
        issued: date | None = None,
        expiry: date | None = None,
        progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ChipIdentity:
        if self.reader is None:
            raise NoReaderError("no card reader is configured")
        keys = access_keys(id_number, birth, issued, expiry)
        trust = list(self.trust)
        if isinstance(self.reader, DemoReader):
            self.reader.prepare()
            trust += self.reader.trust_anchors
        chip = ChipReader(self.reader, trust, wait_s=self.timeout_s, read_s=self.timeout_s)
        return chip.read(keys, progress=progress, cancel=cancel)

    def read_for(self, citizen, expiry: date | None = None, progress=None, cancel=None):
        """Read the chip of the card whose QR gave `citizen` (a cccd.CitizenRecord)."""
        return self.read(
            citizen.id_number, citizen.date_of_birth, citizen.issue_date, expiry, progress, cancel
        )


def matches_qr(identity: ChipIdentity, citizen) -> bool:
    """The chip belongs to the card whose QR was scanned (same 12-digit number)."""
    numbers = {identity.mrz.id_number if identity.mrz else ""}
    if identity.dg13 is not None:
        numbers.add(identity.dg13.id_number)
    return citizen.id_number in numbers


class DemoReader(SimulatedReader):
    """The simulated reader with the demo card on it (the card of the sample QR code). The
    card and the test CSCA that signed it are made on the first read, not at start-up."""

    def __init__(self) -> None:
        super().__init__("Simulated reader (demo card)")
        self.trust_anchors: list = []

    def prepare(self) -> None:
        if self.trust_anchors:
            return
        from kiosk.hardware.card_emulator import TestPki, demo_person, make_card

        pki = TestPki(csca_name="CSCA Demo (not for citizens)")
        self.insert(make_card(demo_person(), pki=pki))
        self.trust_anchors = [pki.csca_cert]


def build_chip_service(settings, kind: str | None = None, name: str | None = None) -> ChipService:
    kind = kind or settings.card_reader
    name = settings.card_reader_name if name is None else name
    trust = pa.load_trust_store(settings.chip_csca) if settings.chip_csca else []
    timeout = settings.chip_timeout_s
    if kind in ("auto", "pcsc"):
        reader = PcscReader(name)
        try:
            found = reader.readers()
        except NoReaderError:
            found = []
        if found or kind == "pcsc":
            return ChipService(reader, trust, timeout, "pcsc")
        if not settings.demo:
            return ChipService(None, trust, timeout, "none")
        kind = "sim"
    if kind == "sim":
        return ChipService(DemoReader(), trust, timeout, "sim")
    return ChipService(None, trust, timeout, "none")


def assurance_of(identity: ChipIdentity | None) -> str:
    if identity is None or identity.level == pa.INVALID:
        return QR_ONLY
    return identity.level


def apply_chip(applicant, identity: ChipIdentity):
    """The applicant with the chip's identity: id_source `chip`, the assurance of contract
    1.1, and the name, date of birth, sex and residence from DG13 (signed data) where the
    chip has them. A chip_invalid identity changes nothing."""
    from dataclasses import replace

    if identity.level == pa.INVALID:
        return applicant
    dg13 = identity.dg13
    changes: dict = {
        "id_source": "chip",
        "identity_assurance": {
            "level": identity.level,
            "unverified_reason": identity.unverified_reason or None,
            "chip_sod_sha256": identity.sod_sha256 or None,
            "checked_by": None,
        },
    }
    if dg13 is not None:
        if dg13.full_name:
            changes["full_name"] = dg13.full_name
        if dg13.date_of_birth:
            changes["date_of_birth"] = dg13.date_of_birth
        if dg13.sex:
            changes["sex"] = dg13.sex
        if dg13.place_of_residence:
            changes["address"] = dg13.place_of_residence
        if dg13.old_id_number:
            changes["old_id_number"] = dg13.old_id_number
    return replace(applicant, **changes)


def record_clerk_check(applicant, clerk_username: str):
    """A clerk compared the person with the chip's portrait (PIN checked by the caller).
    The chip's level is kept as it was."""
    from dataclasses import replace

    assurance = dict(applicant.identity_assurance or {"level": QR_ONLY})
    assurance["checked_by"] = clerk_username
    return replace(applicant, identity_assurance=assurance)


# DG13 values a procedure's question may ask for (catalogue `prefill` names). Religion and
# ethnicity are sensitive: they reach a screen or a dossier only through such a question.
CHIP_PREFILL = (
    "ethnicity",
    "religion",
    "place_of_origin",
    "father_name",
    "mother_name",
    "spouse_name",
)


def chip_values(identity: ChipIdentity | None) -> dict[str, object]:
    if identity is None or identity.dg13 is None or identity.level == pa.INVALID:
        return {}
    return {name: getattr(identity.dg13, name) for name in CHIP_PREFILL}


# ----------------------------------------------------------------------------- journey
CHIP_READ = "chip_read"  # "place your card on the reader", progress
CHIP_CONFIRM = "chip_confirm"  # "is this you?" with the chip's portrait
NO_READER = "chip.note.no_reader"
TIMEOUT = "chip.note.timeout"
FAILED = "chip.note.failed"
SKIPPED = "chip.note.skipped"
OTHER_CARD = "chip.note.other_card"


class ChipStage(Stage):
    """The card's chip after its QR code (inserted after the journey's `identify` stage,
    which then leaves 'is this you?' to this stage): the read, then 'is this you?' with
    the chip's portrait, or with the QR code's data and a note saying why not."""

    name = "chip"

    def steps(self, session) -> Sequence[Step]:
        if not session.chip_reader or session.typing:
            return ()
        confirm = CHIP_CONFIRM if session.chip is not None else CONFIRM_IDENTITY
        return (Step(CHIP_READ), Step(confirm))

    def done(self, step: Step, session) -> bool:
        if step.screen == CHIP_READ:
            return session.chip is not None or session.chip_note is not None
        return session.applicant is not None

    def undo(self, step: Step, session) -> None:
        # Back from the read, or "this is not me": scan the card again.
        if session.chip is not None:
            session.chip.wipe()
        session.chip = None
        session.chip_note = None
        session.applicant, session.warnings = None, ()
        session.assurance = Assurance.NONE


def use_chip_reader(app_ctx, service: ChipService) -> None:
    """Give the kiosk this chip reader and its step in the journey."""
    app_ctx.chip = service
    journey = app_ctx.journey
    if ChipStage.name not in journey.flow.names():
        journey.flow.insert(ChipStage(), after="identify")
    journey.chip_reader = service.available
    journey.session.chip_reader = service.available


def accept(journey, identity: ChipIdentity) -> bool:
    """Keep a chip read for the journey's applicant: True when accepted (the same card as
    the QR code, not chip_invalid); otherwise the identity is wiped and a note says why."""
    session = journey.session
    if identity.level == pa.INVALID or session.applicant is None:
        identity.wipe()
        return False
    if not matches_qr(identity, session.applicant):
        identity.wipe()
        session.chip_note = OTHER_CARD
        return False
    session.chip = identity
    session.chip_note = None
    journey.identified(apply_chip(session.applicant, identity), session.warnings)
    return True


def without_chip(journey, note: str) -> None:
    """Go on with the QR code's data; `note` (a tr key) says why."""
    session = journey.session
    if session.chip is not None:
        session.chip.wipe()
    session.chip = None
    session.chip_note = note
