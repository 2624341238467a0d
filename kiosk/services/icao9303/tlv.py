"""BER-TLV (ISO/IEC 8825-1) as ICAO 9303 part 10 uses it: multi-byte tags, definite lengths."""

from __future__ import annotations

from dataclasses import dataclass


class TlvError(ValueError):
    pass


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    constructed: bool

    def children(self) -> list[Tlv]:
        return parse_all(self.value) if self.constructed else []

    def find(self, tag: int) -> Tlv | None:
        return next((c for c in self.children() if c.tag == tag), None)


def read_tag(data: bytes, pos: int) -> tuple[int, bool, int]:
    if pos >= len(data):
        raise TlvError("tag runs past the end")
    first = data[pos]
    constructed = bool(first & 0x20)
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TlvError("tag runs past the end")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if tag > 0xFFFFFF:
                raise TlvError("tag longer than 3 bytes")
    return tag, constructed, pos


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("length runs past the end")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 4:
        raise TlvError(f"unsupported length form 0x{first:02X}")
    if pos + count > len(data):
        raise TlvError("length runs past the end")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def header_length(data: bytes) -> tuple[int, int]:
    """(header size, value length) of the TLV at the start of `data` (may be truncated)."""
    _tag, _c, pos = read_tag(data, 0)
    length, pos = read_length(data, pos)
    return pos, length


def parse_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    tag, constructed, pos = read_tag(data, pos)
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise TlvError(f"value of tag 0x{tag:X} runs past the end")
    return Tlv(tag, bytes(data[pos:end]), constructed), end


def parse_all(data: bytes) -> list[Tlv]:
    out = []
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF) and all(b in (0x00, 0xFF) for b in data[pos:]):
            break  # padding after the last object
        item, pos = parse_one(data, pos)
        out.append(item)
    return out


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + encode_length(len(value)) + value
