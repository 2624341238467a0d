"""Fee rules and exemption grounds as procedure data (contract 1.1 `fee`): amounts with
tiers and a cap, the legal basis of each ground, merging the portal's rules without losing
local grounds, and the province-local procedure codes."""

from __future__ import annotations

import re

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES, broken_copy

from kiosk.services.catalogue import CatalogueFileError, load_catalogue
from kiosk.services.fees import flat_rule, parse_fee, quantities

AS_OF = "2026-12-01T00:00:00Z"
CIVIL_FEE = ("1.004873",)  # marital status certification: a civil-status fee
CIVIL_FREE = ("1.001193", "1.000656", "1.000894")  # birth, death, marriage: free for all


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(PROCEDURES, PICTOGRAMS)


@pytest.mark.parametrize(
    ("pages", "copies", "vnd"),
    [(1, 1, 2000), (2, 1, 4000), (3, 1, 5000), (10, 1, 12000), (10, 3, 36000), (500, 1, 200000),
     (500, 2, 400000)],
)  # fmt: skip
def test_copy_certification_counts_pages_with_tiers_and_a_cap(catalogue, pages, copies, vnd):
    rule = catalogue.get("2.000815").fee_rule()
    assert rule.unit == "page" and rule.counts and rule.max_vnd == 200000
    assert rule.amount(pages, copies) == vnd


def test_quantities_come_from_the_procedure_answers(catalogue):
    rule = catalogue.get("2.000815").fee_rule()
    assert quantities(rule, {"page_count": 7, "copy_count": 2}) == (7, 2)
    assert quantities(rule, {"page_count": "x"}) == (1, 1)
    with pytest.raises(ValueError):
        rule.amount(0)


def test_flat_fee_without_rules():
    assert flat_rule(20000).amount(5) == 20000
    assert not flat_rule(20000).counts and flat_rule(0).is_free


def test_civil_status_grounds_follow_article_11(catalogue):
    for code in CIVIL_FEE:
        rule = catalogue.get(code).fee_rule()
        keys = {g.key for g in rule.grounds}
        assert keys == {"poor_household", "disability", "meritorious_family"}
        for ground in rule.grounds:
            assert "Law on Civil Status 2014, art. 11" in ground.legal_basis("en")
            assert "Luật Hộ tịch 2014" in ground.legal_basis("vi")
            assert ground.proof("vi") and ground.proof("en")
            assert (PICTOGRAMS / f"{ground.pictogram}.svg").exists()
    for code in CIVIL_FREE:
        rule = catalogue.get(code).fee_rule()
        assert rule.is_free and "art. 11(1)(b)" in rule.legal_basis("en")


def test_residence_grounds_are_marked_to_be_checked(catalogue):
    rule = catalogue.get("1.004222").fee_rule()
    assert rule.to_be_checked and "75/2022/TT-BTC" in rule.legal_basis("en")
    assert all(g.to_be_checked for g in rule.grounds)
    assert "border_commune_resident" in {g.key for g in rule.grounds}


def test_other_fees_cite_circular_85(catalogue):
    rule = catalogue.get("1.001612").fee_rule()
    assert rule.amount() == 100000
    assert "85/2019/TT-BTC" in rule.legal_basis("en")
    assert all("85/2019/TT-BTC" in g.legal_basis("vi") for g in rule.grounds)


def test_every_procedure_with_a_fee_states_its_legal_basis(catalogue):
    for proc in catalogue:
        rule = proc.fee_rule()
        if proc.fee is not None:
            assert rule.legal_basis("vi") and rule.legal_basis("en"), proc.code


def test_local_procedures_have_the_contracts_local_codes(catalogue):
    local = [p for p in catalogue if not re.fullmatch(r"\d\.\d{6}", p.code)]
    assert sorted(p.code for p in local) == ["QNI-L001", "QNI-L002"]
    assert catalogue.get("LOCAL-001").code == "QNI-L001"  # dossiers made before still resolve


def test_portal_rules_merge_without_losing_local_grounds(catalogue):
    remote = {
        "code": "1.004873",
        "version": 2,
        "title": {"vi": "Cấp giấy xác nhận tình trạng hôn nhân"},
        "fields": [],
        "fee_vnd": 8000,
        "fee": {
            "unit": "dossier",
            "tiers": [{"from": 1, "vnd": 8000}],
            "legal_basis": {"vi": "Nghị quyết HĐND tỉnh 2026"},
            "exemption_grounds": [
                {"key": "poor_household", "label": {"vi": "Hộ nghèo (mới)"}},
                {"key": "elderly_alone", "label": {"vi": "Người cao tuổi cô đơn"}},
            ],
        },
    }
    merged = catalogue.merge_remote([remote], AS_OF).get("1.004873").fee_rule()
    assert merged.amount() == 8000
    keys = [g.key for g in merged.grounds]
    assert keys == ["poor_household", "elderly_alone", "disability", "meritorious_family"]
    poor = merged.ground("poor_household")
    assert poor.label("vi") == "Hộ nghèo (mới)"
    assert poor.label("en") == "Member of a poor household"  # local translation kept
    assert poor.pictogram == "fee_poor_household"
    assert "Law on Civil Status" in merged.legal_basis("en")  # local English kept
    assert merged.legal_basis("vi") == "Nghị quyết HĐND tỉnh 2026"


def test_portal_without_fee_rules_keeps_the_local_ones(catalogue):
    remote = {"code": "2.000815", "version": 2, "title": {"vi": "Chứng thực bản sao"}, "fields": []}
    merged = catalogue.merge_remote([remote], AS_OF).get("2.000815").fee_rule()
    assert merged.max_vnd == 200000 and merged.amount(3) == 5000


def test_a_broken_fee_is_refused_with_the_place_named(tmp_path):
    def mutate(data):
        data["fee"]["tiers"][0]["from"] = 0

    folder = broken_copy(tmp_path, "copy_certification.json", mutate)
    with pytest.raises(CatalogueFileError, match=r"fee\.tiers\[0\]\.from"):
        load_catalogue(folder, PICTOGRAMS)


def test_a_bad_portal_fee_skips_that_entry_only(catalogue):
    remote = {"code": "2.000884", "version": 2, "title": {"vi": "x"}, "fields": [],
              "fee": {"unit": "sheet", "tiers": [{"from": 1, "vnd": 1}]}}  # fmt: skip
    merged = catalogue.merge_remote([remote], AS_OF)
    assert [s.code for s in merged.merge_report.skipped] == ["2.000884"]
    assert merged.get("2.000884").fee_rule().amount() == 10000
    assert parse_fee({"tiers": [{"from": 1, "vnd": 5}]}).amount() == 5
