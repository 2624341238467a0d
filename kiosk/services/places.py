"""Places for a form: the provinces since the 2025 merger, and addresses written before it.

The 34 provinces (data: resources/places/provinces_2025.json) each list the provinces of
before 1 July 2025 they took in. An address on a card issued before the merger ("xã Đồng
Văn, huyện Đồng Văn, tỉnh Hà Giang") is read into a place of today ("Xã Đồng Văn,
Tuyên Quang"), so a citizen picks their own commune in one tap instead of typing it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kiosk.paths import resource
from kiosk.services.provinces import PROVINCE_CODES
from kiosk.services.text import fold, nfc

_UNITS = ("xã", "phường", "thị trấn", "đặc khu")
_PROVINCE_PREFIX = re.compile(r"^(tỉnh|thành phố|tp\.?)\s+", re.IGNORECASE)
_COMMUNE = re.compile(r"^(xã|phường|thị trấn|đặc khu)\s+(.+)$", re.IGNORECASE)


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

    def text(self) -> str:
        return f"{self.commune}, {self.province}" if self.commune else self.province


def load_provinces(path: Path | None = None) -> list[Province]:
    data = json.loads((path or resource("places", "provinces_2025.json")).read_text("utf-8"))
    provinces = [
        Province(str(p["code"]), nfc(p["name"]), tuple(p["merged_from"])) for p in data["provinces"]
    ]
    old = [c for p in provinces for c in p.merged_from]
    if sorted(old) != sorted(PROVINCE_CODES) or len(set(old)) != len(old):
        raise ValueError("provinces_2025.json: every old province must be in exactly one new one")
    return provinces


class Places:
    """Look-ups over the provinces of today, by their names old and new."""

    def __init__(self, provinces: list[Province] | None = None) -> None:
        self.provinces = provinces if provinces is not None else load_provinces()
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

    def from_address(self, address: str) -> Place | None:
        """The commune and province of today in an address, however old; None when no
        province is named. The commune keeps its name (the merger kept most of them)."""
        parts = [p.strip() for p in nfc(address or "").split(",") if p.strip()]
        province = None
        for part in reversed(parts):
            province = self.province(part)
            if province is not None:
                break
        if province is None:
            return None
        commune = ""
        for part in parts:
            m = _COMMUNE.match(part)
            if m:
                commune = f"{m.group(1).capitalize()} {m.group(2).strip()}"
                break
        return Place(commune, province.short)

    def home(self, commune_name: str, province_name: str) -> Place | None:
        """The kiosk's own commune: from its settings ('UBND xã Minh Khai', 'Tuyên Quang')."""
        province = self.province(province_name) if province_name else None
        m = re.search(r"\b(xã|phường|thị trấn|đặc khu)\s+([^()]+)", nfc(commune_name), re.I)
        if province is None or m is None:
            return None
        return Place(f"{m.group(1).capitalize()} {m.group(2).strip()}", province.short)
