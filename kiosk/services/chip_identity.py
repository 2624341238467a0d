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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from kiosk.hardware.cardreader import CardReader, NoReaderError, PcscReader, SimulatedReader
from kiosk.services.icao9303 import pa
from kiosk.services.icao9303.reader import ChipIdentity, ChipReader, access_keys

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
        chip = ChipReader(self.reader, self.trust, wait_s=self.timeout_s, read_s=self.timeout_s)
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


def demo_reader() -> tuple[SimulatedReader, list]:
    """The simulated reader with the demo card on it (the card of the sample QR code), and
    the test CSCA that signed it."""
    from kiosk.hardware.card_emulator import TestPki, demo_person, make_card

    pki = TestPki(csca_name="CSCA Demo (not for citizens)")
    reader = SimulatedReader("Simulated reader (demo card)")
    reader.insert(make_card(demo_person(), pki=pki))
    return reader, [pki.csca_cert]


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
        reader, demo_trust = demo_reader()
        return ChipService(reader, trust + demo_trust, timeout, "sim")
    return ChipService(None, trust, timeout, "none")


def assurance_of(identity: ChipIdentity | None) -> str:
    if identity is None or identity.level == pa.INVALID:
        return QR_ONLY
    return identity.level
