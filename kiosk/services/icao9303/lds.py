"""The LDS files a CCCD / Căn cước chip holds (ICAO 9303 part 10) and how to read them.

DG13 is Vietnam's own: a sequence of `SEQUENCE { INTEGER n, value... }` items, n = 1..16,
as Vietnamese readers parse it (field numbers below). Values are UTF8String or
PrintableString; dates are `dd/mm/yyyy`; item 13 holds the father's and mother's names
each in a SEQUENCE, item 14 the spouse's (empty when none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kiosk.services.icao9303 import tlv

# File identifiers (ICAO 9303-10 §4.6) and the tag each file starts with.
FID = {
    "COM": 0x011E,
    "SOD": 0x011D,
    **{f"DG{n}": 0x0100 + n for n in range(1, 17)},
}
DG_TAGS = {
    0x61: 1,
    0x75: 2,
    0x63: 3,
    0x76: 4,
    0x65: 5,
    0x66: 6,
    0x67: 7,
    0x68: 8,
    0x69: 9,
    0x6A: 10,
    0x6B: 11,
    0x6C: 12,
    0x6D: 13,
    0x6E: 14,
    0x6F: 15,
    0x70: 16,
}
TAG_OF_DG = {n: t for t, n in DG_TAGS.items()}
LDS1_AID = bytes.fromhex("A0000002471001")


class LdsError(ValueError):
    pass


# --------------------------------------------------------------------------- EF.COM
@dataclass(frozen=True)
class EfCom:
    lds_version: str
    unicode_version: str
    data_groups: tuple[int, ...]


def parse_com(data: bytes) -> EfCom:
    try:
        outer, _ = tlv.parse_one(data)
        if outer.tag != 0x60:
            raise LdsError("EF.COM does not start with tag 60")
        lds = outer.find(0x5F01)
        uni = outer.find(0x5F36)
        tags = outer.find(0x5C)
    except tlv.TlvError as exc:
        raise LdsError(f"EF.COM: {exc}") from exc
    groups = tuple(sorted(DG_TAGS[t] for t in (tags.value if tags else b"") if t in DG_TAGS))
    return EfCom(
        lds.value.decode("ascii", "replace") if lds else "",
        uni.value.decode("ascii", "replace") if uni else "",
        groups,
    )


def build_com(groups: list[int]) -> bytes:
    body = (
        tlv.encode(0x5F01, b"0107")
        + tlv.encode(0x5F36, b"040000")
        + tlv.encode(0x5C, bytes(TAG_OF_DG[n] for n in groups))
    )
    return tlv.encode(0x60, body)


# --------------------------------------------------------------------------- DG1 (MRZ)
@dataclass(frozen=True)
class Mrz:
    document_code: str
    issuing_state: str
    document_number: str
    id_number: str  # the 12-digit number from the optional data, "" if absent
    birth_yymmdd: str
    sex: str  # "M", "F" or "<"
    expiry_yymmdd: str
    nationality: str
    name: str
    raw: str

    def to_json(self) -> dict[str, str]:
        return {
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "id_number": self.id_number,
            "date_of_birth": self.birth_yymmdd,
            "sex": self.sex,
            "date_of_expiry": self.expiry_yymmdd,
            "nationality": self.nationality,
            "name": self.name,
        }


def parse_dg1(data: bytes) -> Mrz:
    try:
        outer, _ = tlv.parse_one(data)
        mrz_obj = outer.find(0x5F1F) if outer.tag == 0x61 else None
    except tlv.TlvError as exc:
        raise LdsError(f"DG1: {exc}") from exc
    if mrz_obj is None:
        raise LdsError("DG1 has no MRZ (tag 5F1F)")
    text = mrz_obj.value.decode("ascii", "replace")
    if len(text) != 90:
        raise LdsError(f"DG1 holds a {len(text)}-character MRZ, not TD1 (90)")
    l1, l2, l3 = text[:30], text[30:60], text[60:]
    number = l1[5:14]
    optional = l1[15:30]
    if l1[14] == "<" and optional.strip("<"):
        # ICAO 9303-5 §4.2.4: a number longer than 9 characters continues in the optional data.
        rest = optional.split("<", 1)[0]
        number = number + rest[:-1]
    digits = "".join(ch for ch in optional if ch.isdigit())
    id_number = digits[:12] if len(digits) >= 12 else ""
    surname, _, given = l3.partition("<<")
    name = " ".join(part for part in (surname.replace("<", " "), given.replace("<", " ")))
    return Mrz(
        document_code=l1[:2].strip("<"),
        issuing_state=l1[2:5],
        document_number=number.strip("<"),
        id_number=id_number,
        birth_yymmdd=l2[0:6],
        sex=l2[7],
        expiry_yymmdd=l2[8:14],
        nationality=l2[15:18],
        name=" ".join(name.split()),
        raw=text,
    )


def build_td1(id_number: str, birth: str, sex: str, expiry: str, surname: str, given: str) -> str:
    """The TD1 MRZ as a 2021 CCCD prints it: the last 9 digits of the 12-digit number as
    the document number (with its check digit), then the 12-digit number, '<<' and its
    check digit in the optional data, e.g. `IDVNM0930470641001093047064<<2` for
    001093047064 (a card's MRZ published in a Vietnamese eKYC SDK's demo; every check
    digit of that sample verifies)."""
    from kiosk.services.icao9303.sm import check_digit

    doc = id_number[-9:]
    opt = id_number + "<<" + check_digit(id_number)
    l1 = f"IDVNM{doc}{check_digit(doc)}{opt}"
    l2_head = f"{birth}{check_digit(birth)}{sex}{expiry}{check_digit(expiry)}VNM"
    l2_head = l2_head.ljust(29, "<")
    composite = l1[5:30] + l2_head[0:7] + l2_head[8:15] + l2_head[18:29]
    l2 = l2_head + check_digit(composite)
    name = (surname.replace(" ", "<") + "<<" + given.replace(" ", "<"))[:30].ljust(30, "<")
    return l1 + l2 + name


def build_dg1(mrz: str) -> bytes:
    return tlv.encode(0x61, tlv.encode(0x5F1F, mrz.encode("ascii")))


# --------------------------------------------------------------------------- DG2 (face)
@dataclass(frozen=True)
class Portrait:
    mime: str  # image/jpeg or image/jp2
    data: bytes


_JPEG = b"\xff\xd8\xff"
_JP2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K = b"\xff\x4f\xff\x51"


def _image_mime(data: bytes) -> str | None:
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_JP2) or data.startswith(_J2K):
        return "image/jp2"
    return None


def parse_dg2(data: bytes) -> Portrait:
    """The first face image of DG2 (ISO/IEC 19794-5 record inside the CBEFF templates)."""
    try:
        outer, _ = tlv.parse_one(data)
        group = outer.find(0x7F61) if outer.tag == 0x75 else None
        template = group.find(0x7F60) if group else None
        block = None
        if template:
            block = template.find(0x5F2E) or template.find(0x7F2E)
    except tlv.TlvError as exc:
        raise LdsError(f"DG2: {exc}") from exc
    if block is None:
        raise LdsError("DG2 has no biometric data block")
    bdb = block.value
    image = None
    if bdb[:4] == b"FAC\x00" and len(bdb) >= 46:
        # 14-byte general header, 20-byte facial information, 8 per feature point,
        # 12-byte image information, then the image.
        points = int.from_bytes(bdb[18:20], "big")
        start = 14 + 20 + 8 * points + 12
        image = bdb[start:]
    if image is None or _image_mime(image) is None:
        # Some issuers' records are not laid out by the book: find the image by its signature.
        for signature in (_JPEG, _JP2, _J2K):
            at = bdb.find(signature)
            if at >= 0:
                image = bdb[at:]
                break
    mime = _image_mime(image or b"")
    if mime is None:
        raise LdsError("DG2's biometric data block holds no JPEG or JPEG 2000 image")
    return Portrait(mime, bytes(image))


def build_dg2(image: bytes, width: int, height: int) -> bytes:
    jp2 = _image_mime(image) == "image/jp2"
    facial = (
        (1).to_bytes(2, "big")  # placeholder, replaced by the block length below
        + bytes(2)  # feature points
        + b"\x00\x00\x00"  # gender, eye, hair
        + bytes(3)  # property mask
        + bytes(2)  # expression
        + bytes(3)
        + bytes(3)  # pose angles and uncertainty
    )
    image_info = (
        b"\x01"  # full frontal
        + (b"\x01" if jp2 else b"\x00")
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + b"\x01\x02"
        + bytes(2)
        + bytes(2)
    )
    block_len = 4 + len(facial) - 2 + len(image_info) + len(image)
    facial = block_len.to_bytes(4, "big") + facial[2:]
    record = facial + image_info + image
    header = b"FAC\x00010\x00" + (14 + len(record)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    bdb = header + record
    bht = tlv.encode(0xA1, tlv.encode(0x80, b"\x01\x01") + tlv.encode(0x87, b"\x01\x01"))
    bit = tlv.encode(0x7F60, bht + tlv.encode(0x5F2E, bdb))
    group = tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + bit)
    return tlv.encode(0x75, group)


# --------------------------------------------------------------------------- DG13
DG13_FIELDS = {
    1: "id_number",
    2: "full_name",
    3: "date_of_birth",
    4: "sex",
    5: "nationality",
    6: "ethnicity",
    7: "religion",
    8: "place_of_origin",
    9: "place_of_residence",
    10: "identifying_marks",
    11: "issue_date",
    12: "expiry_date",
    13: "parents",
    14: "spouse_name",
    15: "old_id_number",
    16: "card_number",
}
SENSITIVE = frozenset({"ethnicity", "religion"})


@dataclass
class Dg13:
    id_number: str = ""
    full_name: str = ""
    date_of_birth: date | None = None
    sex: str = ""  # "male" | "female" | ""
    nationality: str = ""
    ethnicity: str = ""
    religion: str = ""
    place_of_origin: str = ""
    place_of_residence: str = ""
    identifying_marks: str = ""
    issue_date: date | None = None
    expiry_date: date | None = None  # None with no_expiry: "Không thời hạn"
    no_expiry: bool = False
    father_name: str = ""
    mother_name: str = ""
    spouse_name: str = ""
    old_id_number: str = ""
    unknown: dict[int, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        def d(v: date | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id_number": self.id_number,
            "full_name": self.full_name,
            "date_of_birth": d(self.date_of_birth),
            "sex": self.sex,
            "nationality": self.nationality,
            "ethnicity": self.ethnicity,
            "religion": self.religion,
            "place_of_origin": self.place_of_origin,
            "place_of_residence": self.place_of_residence,
            "identifying_marks": self.identifying_marks,
            "issue_date": d(self.issue_date),
            "expiry_date": d(self.expiry_date),
            "no_expiry": self.no_expiry,
            "father_name": self.father_name,
            "mother_name": self.mother_name,
            "spouse_name": self.spouse_name,
            "old_id_number": self.old_id_number,
        }


_STRING_TAGS = frozenset({0x0C, 0x13, 0x16, 0x14, 0x1E})


def _strings(items: list[tlv.Tlv]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.tag in _STRING_TAGS:
            enc = "utf-16-be" if item.tag == 0x1E else "utf-8"
            out.append(" ".join(item.value.decode(enc, "replace").split()))
        elif item.constructed:
            out.extend(_strings(item.children()))
    return out


def _vn_date(text: str) -> date | None:
    parts = text.replace("-", "/").replace(".", "/").split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        d, m, y = (int(p) for p in parts)
        if y < 100:
            return None
        try:
            return date(y, m, d)
        except ValueError:
            return None
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[4:]), int(text[2:4]), int(text[:2]))
        except ValueError:
            return None
    return None


def _numbered_items(node: tlv.Tlv) -> list[tuple[int, list[tlv.Tlv]]]:
    """Every SEQUENCE under `node` that starts with a small INTEGER, depth first."""
    found = []
    for child in node.children():
        if child.tag == 0x30:
            inner = child.children()
            if inner and inner[0].tag == 0x02 and len(inner[0].value) == 1:
                found.append((inner[0].value[0], inner[1:]))
                continue
        if child.constructed:
            found.extend(_numbered_items(child))
    return found


def parse_dg13(data: bytes) -> Dg13:
    try:
        outer, _ = tlv.parse_one(data)
        if outer.tag != 0x6D:
            raise LdsError("DG13 does not start with tag 6D")
        items = _numbered_items(outer)
    except tlv.TlvError as exc:
        raise LdsError(f"DG13: {exc}") from exc
    if not items:
        raise LdsError("DG13 holds no numbered fields")
    out = Dg13()
    for number, values in items:
        texts = _strings(values)
        first = texts[0] if texts else ""
        name = DG13_FIELDS.get(number)
        if name is None:
            out.unknown[number] = texts
        elif name == "parents":
            out.father_name = texts[0] if texts else ""
            out.mother_name = texts[1] if len(texts) > 1 else ""
        elif name in ("date_of_birth", "issue_date"):
            setattr(out, name, _vn_date(first))
        elif name == "expiry_date":
            out.expiry_date = _vn_date(first)
            out.no_expiry = bool(first) and out.expiry_date is None
        elif name == "sex":
            low = first.lower()
            out.sex = "male" if low == "nam" else "female" if low in ("nữ", "nu") else ""
        elif name == "card_number":
            continue
        else:
            setattr(out, name, first)
    return out


def build_dg13(fields: dict[str, object]) -> bytes:
    """DG13 as the cards lay it out (for the emulator's test cards)."""

    def s(value: object, printable: bool = False) -> bytes:
        if isinstance(value, date):
            value = value.strftime("%d/%m/%Y")
        raw = str(value or "").encode("utf-8")
        return tlv.encode(0x13 if printable else 0x0C, raw)

    def item(n: int, body: bytes) -> bytes:
        return tlv.encode(0x30, tlv.encode(0x02, bytes([n])) + body)

    sex = {"male": "Nam", "female": "Nữ"}.get(str(fields.get("sex")), "")
    expiry = fields.get("expiry_date") or "Không thời hạn"
    body = item(1, s(fields.get("id_number"), printable=True))
    body += item(2, s(fields.get("full_name")))
    body += item(3, s(fields.get("date_of_birth"), printable=True))
    body += item(4, s(sex))
    body += item(5, s(fields.get("nationality", "Việt Nam")))
    body += item(6, s(fields.get("ethnicity")))
    body += item(7, s(fields.get("religion")))
    body += item(8, s(fields.get("place_of_origin")))
    body += item(9, s(fields.get("place_of_residence")))
    body += item(10, s(fields.get("identifying_marks")))
    body += item(11, s(fields.get("issue_date"), printable=True))
    body += item(12, s(expiry))
    parents = tlv.encode(0x30, s(fields.get("father_name"))) + tlv.encode(
        0x30, s(fields.get("mother_name"))
    )
    body += item(13, parents)
    spouse = fields.get("spouse_name")
    body += item(14, tlv.encode(0x30, s(spouse)) if spouse else b"")
    body += item(15, s(fields.get("old_id_number"), printable=True))
    return tlv.encode(0x6D, tlv.encode(0x30, body))
