"""Fee rules and exemption grounds of a procedure (contract 1.1 `fee`), no Qt.

A rule counts `unit`s (dossier, page or copy) with price tiers from a count on, e.g.
copy certification: 2,000 VND a page for pages 1-2, 1,000 VND a page from page 3, at
most 200,000 VND a copy. Exemption grounds are data per procedure, each with its legal
basis and the proof a clerk must see. Kiosk-only additions to the contract's object:
`to_be_checked` (a basis not yet confirmed by the province), `quantity_field` and
`copies_field` (the procedure's answers that give the count and the number of copies),
and a ground's `pictogram`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.services.text import nfc

UNITS = ("dossier", "page", "copy")
GROUND_PICTOGRAM = "fee_no_exemption"
MAX_QUANTITY = 10_000
_FEE_KEYS = frozenset(
    {"unit", "tiers", "max_vnd", "legal_basis", "exemption_grounds"}
    | {"to_be_checked", "quantity_field", "copies_field"}
)
_GROUND_KEYS = frozenset({"key", "label", "legal_basis", "proof", "pictogram", "to_be_checked"})


class FeeRuleError(ValueError):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def _pick(texts: Mapping[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get("vi") or next(iter(texts.values()), "")


@dataclass(frozen=True)
class Tier:
    start: int  # the contract's `from`
    vnd: int


@dataclass(frozen=True)
class ExemptionGround:
    key: str
    labels: dict[str, str]
    legal_bases: dict[str, str] = field(default_factory=dict)
    proofs: dict[str, str] = field(default_factory=dict)
    pictogram: str = GROUND_PICTOGRAM
    to_be_checked: bool = False

    def label(self, lang: str) -> str:
        return _pick(self.labels, lang)

    def legal_basis(self, lang: str) -> str:
        return _pick(self.legal_bases, lang)

    def proof(self, lang: str) -> str:
        return _pick(self.proofs, lang)


@dataclass(frozen=True)
class FeeRule:
    unit: str = "dossier"
    tiers: tuple[Tier, ...] = ()
    max_vnd: int | None = None  # a cap per copy (per dossier when the unit is the dossier)
    legal_bases: dict[str, str] = field(default_factory=dict)
    grounds: tuple[ExemptionGround, ...] = ()
    to_be_checked: bool = False
    quantity_field: str | None = None
    copies_field: str | None = None

    @property
    def counts(self) -> bool:
        """The fee counts pages or copies: the kiosk asks how many."""
        return self.unit != "dossier"

    @property
    def is_free(self) -> bool:
        return all(t.vnd == 0 for t in self.tiers)

    def legal_basis(self, lang: str) -> str:
        return _pick(self.legal_bases, lang)

    def ground(self, key: str) -> ExemptionGround | None:
        return next((g for g in self.grounds if g.key == key), None)

    def amount(self, quantity: int = 1, copies: int = 1) -> int:
        """The fee in VND for `quantity` units (each charged at the tier it falls in),
        capped at max_vnd, times `copies` (for page-counted fees, per copy)."""
        if self.unit == "dossier":
            quantity = 1
        if quantity < 1 or copies < 1 or quantity > MAX_QUANTITY or copies > MAX_QUANTITY:
            raise ValueError(f"quantity {quantity} and copies {copies} must be 1-{MAX_QUANTITY}")
        total = 0
        tiers = sorted(self.tiers, key=lambda t: t.start)
        for n in range(1, quantity + 1):
            price = 0
            for tier in tiers:
                if n >= tier.start:
                    price = tier.vnd
            total += price
        if self.max_vnd is not None:
            total = min(total, self.max_vnd)
        return total * copies

    def to_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "unit": self.unit,
            "tiers": [{"from": t.start, "vnd": t.vnd} for t in self.tiers],
            "max_vnd": self.max_vnd,
            "legal_basis": dict(self.legal_bases),
            "exemption_grounds": [
                {
                    "key": g.key,
                    "label": dict(g.labels),
                    "legal_basis": dict(g.legal_bases),
                    "proof": dict(g.proofs),
                }
                for g in self.grounds
            ],
        }
        return out


def flat_rule(fee_vnd: int) -> FeeRule:
    """A flat fee per dossier (the contract's fee_vnd), no grounds."""
    return FeeRule(tiers=(Tier(1, fee_vnd),))


def _texts(obj: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise FeeRuleError(f"{where}.{key}", "must be an object of language -> text")
    return {k: nfc(v).strip() for k, v in value.items() if v.strip()}


def _int(value: object, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FeeRuleError(where, f"{value!r} is not a whole number from {minimum}")
    return value


def parse_fee(raw: object, where: str = "fee", strict: bool = False) -> FeeRule:
    """Validate the contract's `fee` object; FeeRuleError names the place at fault."""
    if not isinstance(raw, dict):
        raise FeeRuleError(where, "must be an object")
    if strict:
        unknown = sorted(set(raw) - _FEE_KEYS)
        if unknown:
            raise FeeRuleError(where, f"unknown keys {', '.join(unknown)}")
    unit = raw.get("unit", "dossier")
    if unit not in UNITS:
        raise FeeRuleError(f"{where}.unit", f"{unit!r} is not one of {', '.join(UNITS)}")
    tiers_raw = raw.get("tiers", [])
    if not isinstance(tiers_raw, list) or not tiers_raw:
        raise FeeRuleError(f"{where}.tiers", "must be a non-empty array")
    tiers: list[Tier] = []
    for i, t in enumerate(tiers_raw):
        if not isinstance(t, dict):
            raise FeeRuleError(f"{where}.tiers[{i}]", "must be an object")
        tiers.append(
            Tier(
                _int(t.get("from"), f"{where}.tiers[{i}].from", 1),
                _int(t.get("vnd"), f"{where}.tiers[{i}].vnd"),
            )
        )
    if len({t.start for t in tiers}) != len(tiers):
        raise FeeRuleError(f"{where}.tiers", "two tiers start at the same count")
    if min(t.start for t in tiers) != 1:
        raise FeeRuleError(f"{where}.tiers", "the first tier must start at 1")
    max_vnd = raw.get("max_vnd")
    if max_vnd is not None:
        max_vnd = _int(max_vnd, f"{where}.max_vnd")
    grounds: list[ExemptionGround] = []
    for i, g in enumerate(raw.get("exemption_grounds") or []):
        gw = f"{where}.exemption_grounds[{i}]"
        if not isinstance(g, dict):
            raise FeeRuleError(gw, "must be an object")
        if strict:
            unknown = sorted(set(g) - _GROUND_KEYS)
            if unknown:
                raise FeeRuleError(gw, f"unknown keys {', '.join(unknown)}")
        key = g.get("key")
        if not isinstance(key, str) or not key.strip():
            raise FeeRuleError(f"{gw}.key", "required")
        labels = _texts(g, "label", gw)
        if not labels:
            raise FeeRuleError(f"{gw}.label", "required")
        if any(x.key == key for x in grounds):
            raise FeeRuleError(f"{gw}.key", f"duplicate ground {key!r}")
        pictogram = g.get("pictogram")
        grounds.append(
            ExemptionGround(
                key=key,
                labels=labels,
                legal_bases=_texts(g, "legal_basis", gw),
                proofs=_texts(g, "proof", gw),
                pictogram=pictogram
                if isinstance(pictogram, str) and pictogram
                else GROUND_PICTOGRAM,
                to_be_checked=bool(g.get("to_be_checked", False)),
            )
        )
    for name in ("quantity_field", "copies_field"):
        if raw.get(name) is not None and not isinstance(raw.get(name), str):
            raise FeeRuleError(f"{where}.{name}", "must be a field key")
    return FeeRule(
        unit=unit,
        tiers=tuple(sorted(tiers, key=lambda t: t.start)),
        max_vnd=max_vnd,
        legal_bases=_texts(raw, "legal_basis", where),
        grounds=tuple(grounds),
        to_be_checked=bool(raw.get("to_be_checked", False)),
        quantity_field=raw.get("quantity_field"),
        copies_field=raw.get("copies_field"),
    )


def merge_fee(remote: FeeRule | None, local: FeeRule | None) -> FeeRule | None:
    """The portal's rule wins for prices; grounds are merged by key, the portal's version
    of a ground wins (keeping the local translations and pictogram), and a local ground the
    portal does not list is kept (a province's own grounds are not lost)."""
    if remote is None:
        return local
    if local is None:
        return remote
    grounds: list[ExemptionGround] = []
    for g in remote.grounds:
        mine = local.ground(g.key)
        if mine is None:
            grounds.append(g)
            continue
        grounds.append(
            replace(
                g,
                labels={**mine.labels, **g.labels},
                legal_bases={**mine.legal_bases, **g.legal_bases},
                proofs={**mine.proofs, **g.proofs},
                pictogram=mine.pictogram if g.pictogram == GROUND_PICTOGRAM else g.pictogram,
                to_be_checked=mine.to_be_checked and not g.legal_bases,
            )
        )
    grounds += [g for g in local.grounds if remote.ground(g.key) is None]
    return replace(
        remote,
        legal_bases={**local.legal_bases, **remote.legal_bases},
        grounds=tuple(grounds),
        to_be_checked=local.to_be_checked and not remote.legal_bases,
        quantity_field=remote.quantity_field or local.quantity_field,
        copies_field=remote.copies_field or local.copies_field,
    )


def quantities(rule: FeeRule, answers: Mapping[str, Any]) -> tuple[int, int]:
    """(quantity, copies) as the procedure's answers give them; 1 where not known."""

    def count(name: str | None) -> int:
        value = answers.get(name) if name else None
        try:
            n = int(value)
        except (TypeError, ValueError):
            return 1
        return n if 1 <= n <= MAX_QUANTITY else 1

    return count(rule.quantity_field), count(rule.copies_field)
