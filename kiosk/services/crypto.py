"""Encryption of personal data at rest and keyed blind indexes for search.

The key file (outside the database, owner-only permissions) holds:
- data keys, each with an id: AES-256-GCM keys for field values and attachment files.
  The newest is used to encrypt; older ones stay to decrypt until data is re-encrypted
  (key rotation, see `DataCipher.rotate`);
- one index key for the HMAC-SHA256 blind indexes (exact ID number, folded name tokens),
  which stays the same across rotations so search keeps working.

Ciphertext layout: b"K1" + key id (2 bytes, big-endian) + nonce (12 bytes) + AES-GCM
output. The context string (table, column and the row's stable identity: a dossier's
client_ref, an attachment's sha256) is bound as associated data, so a value copied into
another column or another row does not decrypt.

The key file is only ever created for a brand-new data folder (see kiosk.services.datakey);
everywhere else it is opened read-only and checked against the key check value stored
in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.files import write_atomic
from kiosk.services.text import nfc, tokens

MAGIC = b"K1"


class DataKeyError(Exception):
    """The key file is missing, unreadable, or does not open this data."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class KeyRing:
    keys: dict[int, bytes]
    current: int
    index_key: bytes

    @classmethod
    def generate(cls) -> KeyRing:
        return cls({1: AESGCM.generate_key(bit_length=256)}, 1, secrets.token_bytes(32))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "current": self.current,
                "keys": {str(k): _b64(v) for k, v in self.keys.items()},
                "index_key": _b64(self.index_key),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            data = json.loads(text)
            keys = {int(k): base64.b64decode(v) for k, v in data["keys"].items()}
            ring = cls(keys, int(data["current"]), base64.b64decode(data["index_key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataKeyError(f"key file is damaged ({type(exc).__name__})") from None
        if ring.current not in ring.keys or any(len(k) != 32 for k in ring.keys.values()):
            raise DataKeyError("key file is damaged (bad key length or current id)")
        return ring


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, in an owner-only folder, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    write_atomic(path, data)


def read_keyring(path: Path) -> KeyRing:
    """The key file, read-only; DataKeyError with a plain reason for anything wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataKeyError(f"no data key at {path}") from None
    except OSError as exc:
        raise DataKeyError(f"cannot read the data key {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DataKeyError(f"the data key {path} is not a key file (binary content)") from None
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)  # tighten a copy that lost its permissions
    except OSError:
        pass
    return KeyRing.from_json(text)


def load_or_create_keyring(path: Path, create: bool = False) -> KeyRing:
    """Read the key file; with create=True (a brand-new data folder only) make one."""
    if path.exists() or not create:
        return read_keyring(path)
    ring = KeyRing.generate()
    write_private(path, ring.to_json().encode("ascii"))
    return ring


class DataCipher:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {kid: AESGCM(key) for kid, key in ring.keys.items()}

    # Values -----------------------------------------------------------------
    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        head = MAGIC + self.ring.current.to_bytes(2, "big")
        return (
            head + nonce + self._aead[self.ring.current].encrypt(nonce, plaintext, context.encode())
        )

    def decrypt(self, blob: bytes, context: str) -> bytes:
        if blob[:2] != MAGIC or len(blob) < 16 + 16:
            raise DataKeyError("not an encrypted value")
        kid = int.from_bytes(blob[2:4], "big")
        aead = self._aead.get(kid)
        if aead is None:
            raise DataKeyError(f"data was encrypted with key {kid}, which this key file lacks")
        try:
            return aead.decrypt(blob[4:16], blob[16:], context.encode())
        except InvalidTag:
            raise DataKeyError(
                "data does not open with this key (wrong key file or damaged data)"
            ) from None

    def encrypt_text(self, text: str | None, context: str) -> bytes | None:
        return None if text is None else self.encrypt(nfc(text).encode("utf-8"), context)

    def decrypt_text(self, blob: bytes | None, context: str) -> str | None:
        return None if blob is None else self.decrypt(blob, context).decode("utf-8")

    def encrypt_json(self, value: object, context: str) -> bytes:
        return self.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8"), context)

    def decrypt_json(self, blob: bytes, context: str) -> object:
        return json.loads(self.decrypt(blob, context))

    def derive(self, label: str) -> bytes:
        """A secret for another purpose (e.g. keying PIN hashes), from the index key, which
        stays the same across rotations and on every machine of a centre."""
        return hmac.new(self.ring.index_key, f"derive:{label}".encode(), hashlib.sha256).digest()

    def check_value(self) -> dict[str, object]:
        """Values that show whether a key file is the one this data was written with,
        without revealing anything about the keys (HMAC of a fixed label)."""
        label = b"commune-kiosk key check v1"
        return {
            "format": 1,
            "index": hmac.new(self.ring.index_key, label, hashlib.sha256).hexdigest()[:32],
            "keys": {
                str(k): hmac.new(v, label, hashlib.sha256).hexdigest()[:32]
                for k, v in self.ring.keys.items()
            },
        }

    def key_id_of(self, blob: bytes) -> int:
        return int.from_bytes(blob[2:4], "big")

    # Blind indexes ----------------------------------------------------------
    def blind(self, kind: str, value: str) -> str:
        mac = hmac.new(self.ring.index_key, f"{kind}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def id_index(self, id_number: str) -> str:
        return self.blind("id", id_number.strip())

    def name_indexes(self, name: str) -> list[str]:
        return sorted({self.blind("name", t) for t in tokens(name)})

    # Rotation ---------------------------------------------------------------
    def rotate(self) -> KeyRing:
        """A new ring with a fresh current key; old keys kept until data is re-encrypted."""
        new_id = max(self.ring.keys) + 1
        keys = dict(self.ring.keys)
        keys[new_id] = AESGCM.generate_key(bit_length=256)
        return KeyRing(keys, new_id, self.ring.index_key)

    def reencrypt(self, blob: bytes, context: str, target: DataCipher) -> bytes:
        return target.encrypt(self.decrypt(blob, context), context)
