"""The reference portal's own SQLite file: kiosks, tokens, attachments, dossiers, procedures
and a log of every request it received.

One connection shared by the server threads behind one lock: the portal is a test and
demo server, and serialised writes keep it simple and fast enough (WAL, synchronous=NORMAL:
a commit survives the portal process being killed).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY, secret TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS attachments (
    sha256 TEXT PRIMARY KEY, content_type TEXT NOT NULL, size INTEGER NOT NULL,
    data BLOB NOT NULL, kiosk_id TEXT, stored_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dossiers (
    seq INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, client_ref TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, canonical TEXT NOT NULL, body BLOB NOT NULL,
    received_at TEXT NOT NULL, expected_result_date TEXT, status TEXT NOT NULL,
    updated_at TEXT NOT NULL, message TEXT);
CREATE TABLE IF NOT EXISTS procedures (
    code TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, query TEXT NOT NULL, kiosk_id TEXT, idempotency_key TEXT,
    headers TEXT NOT NULL, body BLOB NOT NULL, body_size INTEGER NOT NULL, status INTEGER,
    outcome TEXT NOT NULL, fault TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS requests_by_key ON requests (idempotency_key);
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY, content_type TEXT NOT NULL, data BLOB NOT NULL,
    stored_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS language_packs (
    language TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, published_at TEXT NOT NULL, base_catalogue_version TEXT NOT NULL,
    publisher TEXT NOT NULL, withdrawn INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (language, version));
CREATE TABLE IF NOT EXISTS pack_contributions (
    sha256 TEXT PRIMARY KEY, data BLOB NOT NULL, kiosk_id TEXT NOT NULL,
    received_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the portal received it.

    status: the answer the portal decided on (None when a fault cut in before it decided).
    outcome: whether that answer went out: answered | dropped | hang (connection closed
    unanswered, nothing done) | dropped_after_store (handled, then closed unanswered) |
    late (handled, answered after hang_seconds). fault: the injected fault kind or None.
    error: the `error` field of the answer. body: the raw bytes received (empty when
    larger than the limit or when bodies are not recorded).
    """

    id: int
    at: float
    method: str
    path: str
    query: str
    kiosk_id: str | None
    idempotency_key: str | None
    headers: dict[str, str]
    body: bytes
    body_size: int
    status: int | None
    outcome: str
    fault: str | None
    error: str | None


@dataclass(frozen=True)
class StoredDossier:
    code: str
    client_ref: str
    kiosk_id: str
    body: bytes  # the bytes of the first accepted submission
    received_at: str
    expected_result_date: str | None
    status: str
    updated_at: str
    message: dict[str, str] | None

    def receipt(self) -> dict[str, Any]:
        return {
            "dossier_code": self.code,
            "status": "received",
            "received_at": self.received_at,
            "expected_result_date": self.expected_result_date,
        }

    def status_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "dossier_code": self.code,
            "status": self.status,
            "updated_at": self.updated_at,
        }
        if self.message:
            doc["message"] = self.message
        return doc


_DOSSIER_COLS = (
    "code, client_ref, kiosk_id, body, received_at, expected_result_date, status, "
    "updated_at, message"
)
_REQUEST_COLS = (
    "id, at, method, path, query, kiosk_id, idempotency_key, headers, body, "
    "body_size, status, outcome, fault, error"
)


def _dossier(row: tuple) -> StoredDossier:
    return StoredDossier(
        row[0],
        row[1],
        row[2],
        bytes(row[3]),
        row[4],
        row[5],
        row[6],
        row[7],
        json.loads(row[8]) if row[8] else None,
    )


def _request(row: tuple) -> RecordedRequest:
    return RecordedRequest(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        json.loads(row[7]),
        bytes(row[8]),
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
    )


class PortalStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._in_tx = False

    def close(self) -> None:
        with self.lock:
            self._commit()
            self._db.close()

    # One explicit transaction at a time; commit() ends it. Writes made by a handler and
    # its request-log line land in one commit, which keeps the portal fast.
    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True
        return self._db.execute(sql, params)

    def _commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def commit(self) -> None:
        with self.lock:
            self._commit()

    # kiosks and tokens
    def load_credentials(self) -> tuple[dict[str, tuple[str, bool, bool]], set[str]]:
        with self.lock:
            kiosks = {
                r[0]: (r[1], bool(r[2]), bool(r[3]))
                for r in self._db.execute("SELECT kiosk_id, secret, revoked, disabled FROM kiosks")
            }
            tokens = {r[0] for r in self._db.execute("SELECT token FROM tokens")}
            return kiosks, tokens

    def save_kiosk(self, kiosk_id: str, secret: str, revoked: bool, disabled: bool) -> None:
        with self.lock:
            self._write(
                "INSERT OR REPLACE INTO kiosks VALUES (?, ?, ?, ?)",
                (kiosk_id, secret, int(revoked), int(disabled)),
            )
            self._commit()

    def save_token(self, token: str, present: bool) -> None:
        with self.lock:
            if present:
                self._write("INSERT OR IGNORE INTO tokens VALUES (?)", (token,))
            else:
                self._write("DELETE FROM tokens WHERE token = ?", (token,))
            self._commit()

    # attachments
    def attachment_size(self, sha256: str) -> int | None:
        with self.lock:
            row = self._db.execute(
                "SELECT size FROM attachments WHERE sha256 = ?", (sha256,)
            ).fetchone()
            return row[0] if row else None

    def attachment(self, sha256: str) -> tuple[str, bytes] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT content_type, data FROM attachments WHERE sha256 = ?", (sha256,)
            ).fetchone()
            return (row[0], bytes(row[1])) if row else None

    def put_attachment(
        self, sha256: str, content_type: str, data: bytes, kiosk_id: str, now: str
    ) -> bool:
        """True when newly stored (left uncommitted: the request log commits it)."""
        with self.lock:
            cur = self._write(
                "INSERT OR IGNORE INTO attachments VALUES (?, ?, ?, ?, ?, ?)",
                (sha256, content_type, len(data), data, kiosk_id, now),
            )
            return cur.rowcount == 1

    # media, language packs and contributions (contract 1.1)
    def put_media(self, sha256: str, content_type: str, data: bytes, now: str) -> None:
        with self.lock:
            self._write(
                "INSERT OR IGNORE INTO media VALUES (?, ?, ?, ?)", (sha256, content_type, data, now)
            )
            self._commit()

    def media(self, sha256: str) -> tuple[str, bytes] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT content_type, data FROM media WHERE sha256 = ?", (sha256,)
            ).fetchone()
            return (row[0], bytes(row[1])) if row else None

    def publish_pack(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._write(
                "INSERT OR REPLACE INTO language_packs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry["language"],
                    entry["version"],
                    entry["sha256"],
                    entry["size"],
                    entry["published_at"],
                    entry["base_catalogue_version"],
                    entry.get("publisher", ""),
                    int(bool(entry.get("withdrawn"))),
                ),
            )
            self._commit()

    def withdraw_pack(self, language: str, version: int) -> bool:
        with self.lock:
            cur = self._write(
                "UPDATE language_packs SET withdrawn = 1 WHERE language = ? AND version = ?",
                (language, version),
            )
            self._commit()
            return cur.rowcount == 1

    def newest_packs(self) -> list[dict[str, Any]]:
        """The newest version of each language (withdrawn ones too: kiosks remove them)."""
        with self.lock:
            rows = self._db.execute(
                "SELECT language, version, sha256, size, published_at, base_catalogue_version,"
                " publisher, withdrawn FROM language_packs p WHERE version ="
                " (SELECT MAX(version) FROM language_packs q WHERE q.language = p.language)"
                " ORDER BY language"
            ).fetchall()
        keys = ("language", "version", "sha256", "size", "published_at",
                "base_catalogue_version", "publisher", "withdrawn")  # fmt: skip
        return [{**dict(zip(keys, r, strict=True)), "withdrawn": bool(r[7])} for r in rows]

    def put_contribution(self, sha256: str, data: bytes, kiosk_id: str, now: str) -> bool:
        """True when newly stored (left uncommitted: the request log commits it)."""
        with self.lock:
            cur = self._write(
                "INSERT OR IGNORE INTO pack_contributions VALUES (?, ?, ?, ?)",
                (sha256, data, kiosk_id, now),
            )
            return cur.rowcount == 1

    def contributions(self) -> list[tuple[str, str, bytes]]:
        """(sha256, kiosk_id, data) of every offered pack."""
        with self.lock:
            rows = self._db.execute(
                "SELECT sha256, kiosk_id, data FROM pack_contributions ORDER BY received_at"
            ).fetchall()
        return [(r[0], r[1], bytes(r[2])) for r in rows]

    # dossiers
    def dossier_by_ref(self, client_ref: str) -> tuple[StoredDossier, str] | None:
        with self.lock:
            row = self._db.execute(
                f"SELECT {_DOSSIER_COLS}, canonical FROM dossiers WHERE client_ref = ?",
                (client_ref,),
            ).fetchone()
            return (_dossier(row), row[9]) if row else None

    def dossier(self, code: str) -> StoredDossier | None:
        with self.lock:
            row = self._db.execute(
                f"SELECT {_DOSSIER_COLS} FROM dossiers WHERE code = ?", (code,)
            ).fetchone()
            return _dossier(row) if row else None

    def dossiers(self) -> list[StoredDossier]:
        with self.lock:
            rows = self._db.execute(f"SELECT {_DOSSIER_COLS} FROM dossiers ORDER BY seq")
            return [_dossier(r) for r in rows]

    def insert_dossier(
        self,
        *,
        prefix: str,
        client_ref: str,
        kiosk_id: str,
        canonical: str,
        body: bytes,
        received_at: str,
        year: int,
        expected_result_date: str | None,
    ) -> StoredDossier:
        """Store a new dossier (uncommitted until the request log line commits it)."""
        with self.lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dossiers").fetchone()[0]
            code = f"{prefix}-{year}-{seq:06d}"
            self._write(
                f"INSERT INTO dossiers (seq, canonical, {_DOSSIER_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, NULL)",
                (
                    seq,
                    canonical,
                    code,
                    client_ref,
                    kiosk_id,
                    body,
                    received_at,
                    expected_result_date,
                    received_at,
                ),
            )
            return StoredDossier(
                code,
                client_ref,
                kiosk_id,
                body,
                received_at,
                expected_result_date,
                "received",
                received_at,
                None,
            )

    def set_status(self, code: str, status: str, message: dict[str, str] | None, now: str) -> bool:
        with self.lock:
            cur = self._write(
                "UPDATE dossiers SET status = ?, message = ?, updated_at = ? WHERE code = ?",
                (status, json.dumps(message, ensure_ascii=False) if message else None, now, code),
            )
            self._commit()
            return cur.rowcount == 1

    # procedures
    def procedures(self) -> dict[str, tuple[str, str]]:
        """code -> (canonical JSON without updated_at, updated_at)."""
        with self.lock:
            return {
                r[0]: (r[1], r[2])
                for r in self._db.execute("SELECT code, doc, updated_at FROM procedures")
            }

    def save_procedure(self, code: str, doc: str, updated_at: str) -> None:
        with self.lock:
            self._write(
                "INSERT OR REPLACE INTO procedures VALUES (?, ?, ?)", (code, doc, updated_at)
            )
            self._commit()

    # request log
    def log_request(
        self,
        *,
        at: float,
        method: str,
        path: str,
        query: str,
        kiosk_id: str | None,
        idempotency_key: str | None,
        headers: dict[str, str],
        body: bytes,
        body_size: int,
        status: int | None,
        outcome: str,
        fault: str | None,
        error: str | None,
    ) -> int:
        """Append one line and commit it with whatever the handler stored before it."""
        with self.lock:
            cur = self._write(
                "INSERT INTO requests (at, method, path, query, kiosk_id, idempotency_key, "
                "headers, body, body_size, status, outcome, fault, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at,
                    method,
                    path,
                    query,
                    kiosk_id,
                    idempotency_key,
                    json.dumps(headers, ensure_ascii=False),
                    body,
                    body_size,
                    status,
                    outcome,
                    fault,
                    error,
                ),
            )
            self._commit()
            return int(cur.lastrowid or 0)

    def update_request(self, request_id: int, *, status: int | None, outcome: str) -> None:
        with self.lock:
            self._write(
                "UPDATE requests SET status = ?, outcome = ? WHERE id = ?",
                (status, outcome, request_id),
            )
            self._commit()

    def requests(
        self,
        *,
        key: str | None = None,
        path: str | None = None,
        method: str | None = None,
        after: int = 0,
    ) -> list[RecordedRequest]:
        sql = f"SELECT {_REQUEST_COLS} FROM requests WHERE id > ?"
        params: list[Any] = [after]
        for column, value in (("idempotency_key", key), ("path", path), ("method", method)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        with self.lock:
            return [_request(r) for r in self._db.execute(sql + " ORDER BY id", params)]

    def clear_requests(self) -> None:
        with self.lock:
            self._write("DELETE FROM requests")
            self._commit()
