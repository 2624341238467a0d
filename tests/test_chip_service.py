"""The chip service the journey uses: reader choice from the settings, the applicant's
identity assurance, what a procedure may prefill, and the portal's check of contract 1.1."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from kiosk.hardware.card_emulator import demo_person
from kiosk.portal.validation import validate_dossier
from kiosk.services import chip_identity
from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.dossiers import Applicant
from kiosk.services.journey import Journey
from tests.chip_helpers import pki
from tests.portal_helpers import make_dossier


def test_reader_choice_from_settings(settings, tmp_path):
    (tmp_path / "csca.pem").write_bytes(pki().csca_pem())
    none = chip_identity.build_chip_service(replace(settings, card_reader="none"))
    assert not none.available
    sim = chip_identity.build_chip_service(
        replace(settings, card_reader="sim", chip_csca=str(tmp_path))
    )
    assert sim.available and sim.kind == "sim" and len(sim.trust) == 1
    # auto: no pcscd here -> no reader in production, the demo card in demo mode
    if not chip_identity.PcscReader().readers(quiet=True):
        assert chip_identity.build_chip_service(settings).kind == "none"
        assert chip_identity.build_chip_service(replace(settings, demo=True)).kind == "sim"


def test_demo_card_reads_verified_and_fills_the_applicant(settings):
    service = chip_identity.build_chip_service(replace(settings, card_reader="sim"))
    person = demo_person()
    identity = service.read(person.id_number, person.date_of_birth, person.issue_date)
    assert identity.verified
    qr = Applicant(person.id_number, "NGUYEN THI HONG NHUNG", person.date_of_birth, "female")
    assert chip_identity.matches_qr(identity, qr)
    applicant = chip_identity.apply_chip(qr, identity)
    assert applicant.id_source == "chip" and applicant.full_name == "Nguyễn Thị Hồng Nhung"
    assert applicant.address == person.place_of_residence
    assert applicant.identity_assurance["level"] == "chip_verified"
    checked = chip_identity.record_clerk_check(applicant, "lan")
    assert checked.identity_assurance == {**applicant.identity_assurance, "checked_by": "lan"}
    values = chip_identity.chip_values(identity)
    assert values["ethnicity"] == "Kinh" and values["mother_name"] == "Trần Thị Lan"
    contract = checked.to_contract()
    assert Applicant.from_contract(contract) == checked
    other = Applicant("001190099999", "X", date(1990, 2, 1))
    assert not chip_identity.matches_qr(identity, other)
    # The journey's session holds it; a new dossier or the end of the visit wipes it.
    journey = Journey(load_default_catalogue(), dossiers=None)
    journey.session.chip = identity
    journey.wipe()
    assert journey.session.chip is None and identity.portrait is None and identity.dg13 is None


def test_portal_accepts_chip_identity_and_checks_its_level():
    def details(applicant):
        doc = make_dossier(applicant={**make_dossier()["applicant"], **applicant})
        return [
            d["field"]
            for d in validate_dossier(
                doc, kiosk_id=doc["kiosk_id"], attachment_size=lambda _s: None
            )
        ]

    good = {
        "id_source": "chip",
        "identity_assurance": {
            "level": "chip_verified",
            "unverified_reason": None,
            "chip_sod_sha256": "ab" * 32,
            "checked_by": "lan",
        },
    }
    assert details(good) == []
    bad = {"id_source": "chip", "identity_assurance": {"level": "chip_invalid"}}
    assert details(bad) == ["applicant.identity_assurance.level"]
    assert details({"id_source": "nfc"}) == ["applicant.id_source"]


def test_chip_stage_order_without_a_window(settings):
    """Scan → chip read → 'is this you?' with the portrait (or with the QR's data and a
    note) → questions; Back from either confirmation scans again."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from kiosk.services.journey import Assurance

    person = demo_person()
    service = chip_identity.build_chip_service(replace(settings, card_reader="sim"))
    journey = Journey(load_default_catalogue(), dossiers=None)
    ctx = SimpleNamespace(journey=journey, chip=None)
    chip_identity.use_chip_reader(ctx, service)
    assert ctx.chip is service and "chip" in journey.flow.names()
    journey.choose("1.004873")
    journey.consent(datetime.now(UTC))
    assert journey.next().screen == "consent"
    assert journey.next().screen == "identify"
    qr = Applicant(person.id_number, person.full_name, person.date_of_birth, "female")
    journey.identified(qr)
    assert journey.next().screen == "chip_read"
    assert journey.next().screen == "chip_read"  # not done until read or given up
    identity = service.read(person.id_number, person.date_of_birth, person.issue_date)
    assert chip_identity.accept(journey, identity)
    assert journey.session.assurance == Assurance.CHIP
    assert journey.next().screen == "chip_confirm"
    assert journey.raw("current_status") == ""  # no chip value for an unrelated question
    # "Not me": back to the read, which has forgotten the chip and the applicant.
    assert journey.back().screen == "chip_read"
    assert journey.session.chip is None and identity.portrait is None
    assert journey.session.applicant is None
    assert journey.back().screen == "identify"
    journey.identified(qr)
    assert journey.next().screen == "chip_read"
    chip_identity.without_chip(journey, chip_identity.TIMEOUT)
    assert journey.next().screen == "identify_confirm"
    assert journey.session.assurance == Assurance.CARD_QR
    assert journey.next().screen == "form"
    # Without a reader the journey is the QR's as before.
    chip_identity.use_chip_reader(ctx, chip_identity.ChipService(None))
    journey.choose("1.004873")
    journey.consent(datetime.now(UTC))
    journey.next()
    journey.next()
    journey.identified(qr)
    assert journey.next().screen == "identify_confirm"
