"""Places for a form: the provinces and communes since the 2025 merger, and addresses
written before it.

The 34 provinces (data: resources/places/provinces_2025.json) each list the provinces of
before 1 July 2025 they took in; their 3,321 communes are in communes_2025.json, and every
commune of before (province, district, commune) names the commune of today it went into in
communes_before_2025.json (see resources/places/README.md for the source). An address on a
card issued before the merger ("thị trấn Bắc Hà, huyện Bắc Hà, tỉnh Lào Cai") is read into
a place of today ("Xã Bắc Hà, Lào Cai"), so a citizen picks their own commune in one tap
instead of typing it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kiosk.paths import resource
from kiosk.services.provinces import PROVINCE_CODES
from kiosk.services.text import fold, nfc

_PROVINCE_PREFIX = re.compile(r"^(tỉnh|thành phố|tp\.?)\s*", re.IGNORECASE)
_COMMUNE = re.compile(r"^(xã|phường|thị trấn|đặc khu|x\.|p\.|tt\.?)\s*(.+)$", re.IGNORECASE)
_DISTRICT = re.compile(r"^(huyện|quận|thị xã|thành phố|tp\.?|h\.|q\.|tx\.?)\s*(.+)$", re.I)
_UNIT_WORD = {"x.": "Xã", "p.": "Phường", "tt.": "Thị trấn", "tt": "Thị trấn"}


@dataclass(frozen=True)
class Province:
    code: str
    name: str  # as written officially: "Tuyên Quang", "Thành phố Hà Nội"
    merged_from: tuple[str, ...]  # codes of the provinces before 2025

    @property
    def short(self) -> str:
        return _PROVINCE_PREFIX.sub("", self.name)


@dataclass(frozen=True)
class Place:
    commune: str  # "Xã Minh Khai" ("" when only the province is known)
    province: str  # a province of today, short form: "Tuyên Quang"
    code: str = field(default="", compare=False)  # the commune's code, when it is in the lists

    def text(self) -> str:
        return f"{self.commune}, {self.province}" if self.commune else self.province


@dataclass(frozen=True)
class Commune:
    code: str  # "00721"
    name: str  # as written officially: "Xã Đồng Văn", "Phường Hà Giang 1", "Đặc khu Cô Tô"
    province: str  # the province of today, short form

    @property
    def short(self) -> str:
        """The name without its unit: "Đồng Văn"."""
        m = _COMMUNE.match(self.name)
        return m.group(2) if m else self.name

    def place(self) -> Place:
        return Place(self.name, self.province, self.code)


def _key(text: str) -> str:
    """A name as matched: no tones, no case, no spaces or punctuation ("dongvan")."""
    return re.sub(r"[^0-9a-z]", "", fold(text))


def _short(text: str) -> str:
    """A commune's or district's name without its unit word."""
    text = nfc(text).strip()
    for pattern in (_COMMUNE, _DISTRICT):
        m = pattern.match(text)
        if m:
            return m.group(2).strip()
    return text


def load_provinces(path: Path | None = None) -> list[Province]:
    data = json.loads((path or resource("places", "provinces_2025.json")).read_text("utf-8"))
    provinces = [
        Province(str(p["code"]), nfc(p["name"]), tuple(p["merged_from"])) for p in data["provinces"]
    ]
    old = [c for p in provinces for c in p.merged_from]
    if sorted(old) != sorted(PROVINCE_CODES) or len(set(old)) != len(old):
        raise ValueError("provinces_2025.json: every old province must be in exactly one new one")
    return provinces


def load_communes(provinces: list[Province], path: Path | None = None) -> dict[str, list[Commune]]:
    """The communes of each province of today (by its short name), in alphabetical order."""
    data = json.loads((path or resource("places", "communes_2025.json")).read_text("utf-8"))
    by_code = {p.code: p for p in provinces}
    if sorted(data["communes"]) != sorted(by_code):
        raise ValueError("communes_2025.json: not the provinces of provinces_2025.json")
    out: dict[str, list[Commune]] = {}
    for code, rows in data["communes"].items():
        short = by_code[code].short
        communes = [Commune(str(c), nfc(n), short) for c, n in rows]
        out[short] = sorted(communes, key=lambda c: (fold(c.short), c.name))
    return out


def load_before(path: Path | None = None) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Communes of before the merger: {old province code: {district: {commune: [codes]}}}."""
    data = json.loads((path or resource("places", "communes_before_2025.json")).read_text("utf-8"))
    unknown = set(data["before"]) - set(PROVINCE_CODES)
    if unknown:
        raise ValueError(f"communes_before_2025.json: unknown province codes {sorted(unknown)}")
    return data["before"]


@lru_cache(maxsize=1)
def default_places() -> Places:
    """The shipped lists, read once (they do not change while the kiosk runs)."""
    return Places(with_communes=True)


class Places:
    """Look-ups over the provinces and communes of today, by their names old and new."""

    def __init__(self, provinces: list[Province] | None = None, with_communes: bool = True) -> None:
        self.provinces = provinces if provinces is not None else load_provinces()
        self._communes: dict[str, list[Commune]] = {}
        self._by_code: dict[str, Commune] = {}
        # old province code -> district key -> commune key -> [codes]; and without district
        self._before: dict[str, dict[str, dict[str, list[str]]]] = {}
        self._before_any: dict[str, dict[str, list[list[str]]]] = {}
        if with_communes:
            self._communes = load_communes(self.provinces)
            self._by_code = {c.code: c for cs in self._communes.values() for c in cs}
            for old, districts in load_before().items():
                index = self._before.setdefault(old, {})
                anywhere = self._before_any.setdefault(old, {})
                for district, communes in districts.items():
                    d = index.setdefault(_key(_short(district)), {})
                    for name, codes in communes.items():
                        for k in {_key(name), _key(_short(name))} if name else {""}:
                            d.setdefault(k, codes)
                            anywhere.setdefault(k, []).append(codes)
        self._old_code = {_key(name): code for code, name in PROVINCE_CODES.items()}
        self._old_code.update({_key("Hồ Chí Minh"): "079", _key("Huế"): "046"})
        self._by_name: dict[str, Province] = {}
        for p in self.provinces:
            self._by_name[fold(p.short)] = p
            for code in p.merged_from:
                self._by_name.setdefault(fold(PROVINCE_CODES[code]), p)
        self._by_name.setdefault("ho chi minh", self.by_code("79"))
        self._by_name.setdefault("thua thien hue", self.by_code("46"))

    def by_code(self, code: str) -> Province:
        return next(p for p in self.provinces if p.code == code)

    def province(self, name: str) -> Province | None:
        """The province of today for a name of today or of before the merger."""
        key = fold(_PROVINCE_PREFIX.sub("", nfc(name).strip()))
        return self._by_name.get(key)

    # Communes ------------------------------------------------------------------------
    def communes(self, province: str) -> list[Commune]:
        """The communes of a province of today (short name), in alphabetical order."""
        return list(self._communes.get(province, ()))

    def commune(self, code: str) -> Commune | None:
        return self._by_code.get(code)

    def search(self, province: str, typed: str) -> list[Commune]:
        """The communes of `province` whose name holds what was typed, tones and case
        ignored ("dong van", "Đồng V", "dongvan"); names that start with it first."""
        q = _key(_short(typed)) if typed.strip() else ""
        communes = self.communes(province)
        if not q:
            return communes
        start = [c for c in communes if _key(c.short).startswith(q)]
        inside = [c for c in communes if c not in start and q in _key(c.name)]
        return start + inside

    def find_commune(self, province: str, name: str) -> Commune | None:
        """A commune of today in `province` by its name, with or without its unit word."""
        k, full = _key(_short(name)), _key(name)
        found = [c for c in self.communes(province) if _key(c.short) == k]
        if len(found) > 1:  # "Xã Đồng Văn" and "Phường Đồng Văn": the unit decides
            found = [c for c in found if _key(c.name) == full] or found[:0]
        return found[0] if len(found) == 1 else None

    def _before_merger(
        self, province: Province, named: str, district: str, commune: str
    ) -> Commune | None:
        """The commune of today that a commune of before the merger went into."""
        old = self._old_code.get(_key(named))
        codes_old = [old] if old in province.merged_from else []
        codes_old += [c for c in province.merged_from if c not in codes_old]
        keys = [_key(commune), _key(_short(commune))]
        d = _key(_short(district)) if district else ""
        for code in codes_old:
            if d and d in self._before.get(code, {}):
                index = self._before[code][d]
                for k in keys:
                    if k in index:
                        return self.commune(index[k][0])
        for code in codes_old:
            for k in keys:
                found = self._before_any.get(code, {}).get(k, [])
                if len({tuple(f) for f in found}) == 1:  # one commune of that name: no doubt
                    return self.commune(found[0][0])
        return None

    def from_address(self, address: str) -> Place | None:
        """The commune and province of today in an address, however old; None when no
        province is named. A commune that cannot be matched to the lists is left out
        (the province alone), so that nothing that does not exist is offered."""
        parts = [p.strip() for p in nfc(address or "").split(",") if p.strip()]
        province, at = None, -1
        for i in range(len(parts) - 1, -1, -1):
            province = self.province(parts[i])
            if province is not None:
                at = i
                break
        if province is None:
            return None
        before = parts[:at]
        commune = district = ""
        for i, part in enumerate(before):
            if _COMMUNE.match(part):
                commune = part
                rest = before[i + 1 :]
                district = next((p for p in rest if _DISTRICT.match(p)), rest[0] if rest else "")
                break
        else:  # no unit words ("Nà Pò, Đồng Văn, Đồng Văn, Hà Giang"): by position
            district_first = any(_DISTRICT.match(p) for p in before[-1:])
            if len(before) >= 2 and (district_first or len(before) >= 3):
                commune, district = before[-2], before[-1]
            elif before:
                commune = before[-1]
        if not commune or not self._communes:
            return Place(_written(commune) if not self._communes else "", province.short)
        found = None
        if not district:  # an address of today names no district
            found = self.find_commune(province.short, commune)
        found = found or self._before_merger(province, parts[at], district, commune)
        if found is None and district:
            found = self.find_commune(province.short, commune)
        return found.place() if found is not None else Place("", province.short)

    def home(self, commune_name: str, province_name: str) -> Place | None:
        """The kiosk's own commune: from its settings ('UBND xã Minh Khai', 'Tuyên Quang').
        Its official name of today when the lists have it, else the name as configured."""
        province = self.province(province_name) if province_name else None
        m = re.search(r"\b(xã|phường|thị trấn|đặc khu)\s+([^()]+)", nfc(commune_name), re.I)
        if province is None or m is None:
            return None
        name = f"{m.group(1).capitalize()} {m.group(2).strip()}"
        found = self.find_commune(province.short, name)
        return found.place() if found is not None else Place(name, province.short)


def _written(commune: str) -> str:
    m = _COMMUNE.match(commune)
    if not m:
        return commune
    unit = _UNIT_WORD.get(m.group(1).lower(), m.group(1).capitalize())
    return f"{unit} {m.group(2).strip()}"
