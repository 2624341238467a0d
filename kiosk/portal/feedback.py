"""The reference portal's notices, citizens' feedback (with the authority's answers) and
media (contract 1.1: GET /notices, POST /feedback, GET /feedback/{code}, GET /media/{sha256}).

Kept in the portal's own SQLite file, beside its dossiers, through the same lock and
transaction (PortalStore). Notices and media are published by tests and the demo through the
Python API or the admin API (`PUT /_admin/notices`, `PUT /_admin/media`,
`PUT /_admin/feedback/{code}/answer`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kiosk.portal.validation import SHA256_RE, UUID_RE, _Collector, parse_datetime

if TYPE_CHECKING:
    from kiosk.portal.store import PortalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL,
    changed_at TEXT NOT NULL, changed_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, client_ref TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, canonical TEXT NOT NULL, body BLOB NOT NULL,
    received_at TEXT NOT NULL, status TEXT NOT NULL, updated_at TEXT NOT NULL,
    answer TEXT);
"""

TOPICS = (
    "roads",
    "electricity",
    "water",
    "land",
    "health",
    "education",
    "social_support",
    "public_service",
    "security",
    "other",
)
FEEDBACK_STATUSES = ("received", "forwarded", "answered", "closed")
MEDIA_TYPES = ("audio/wav", "audio/ogg", "application/zip")
MAX_TEXT = 4000


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class PortalFeedback:
    """Notices, feedback and media of one reference portal."""

    def __init__(self, store: PortalStore, now: Any, iso: Any, prefix: str) -> None:
        self.store = store
        self.now = now  # () -> aware datetime (the portal's clock)
        self.iso = iso  # datetime -> RFC 3339 text
        self.prefix = prefix
        self._last_as_of = 0
        with store.lock:
            store._db.executescript(SCHEMA)

    # --- media ---------------------------------------------------------------------------
    def put_media(self, data: bytes, content_type: str = "audio/wav") -> str:
        if content_type not in MEDIA_TYPES:
            raise ValueError(f"content_type must be one of {', '.join(MEDIA_TYPES)}")
        sha = hashlib.sha256(data).hexdigest()
        self.store.put_media(sha, content_type, data, self.iso(self.now()))
        return sha

    def media(self, sha256: str) -> tuple[str, bytes] | None:
        """A published medium (the portal's media table), else None."""
        return self.store.media(sha256)

    def corrupt_media(self, sha256: str, data: bytes) -> None:
        """Serve other bytes under a hash (tests: a kiosk must check what it fetched)."""
        with self.store.lock:
            self.store._write("UPDATE media SET data = ? WHERE sha256 = ?", (data, sha256))
            self.store._commit()

    # --- notices ---------------------------------------------------------------------------
    def publish_notice(self, notice: dict[str, Any]) -> dict[str, Any]:
        """Add or change a notice (a higher version of the same id replaces it)."""
        details = validate_notice(notice)
        if details:
            raise ValueError("; ".join(f"{d['field']}: {d['message']}" for d in details))
        with self.store.lock:
            row = self.store._db.execute(
                "SELECT version, doc FROM notices WHERE id = ?", (notice["id"],)
            ).fetchone()
            version = notice.get("version")
            if version is None:
                version = (row[0] + 1) if row else 1
            doc = {**notice, "version": version}
            moment = max(_us(self.now()), self._last_as_of + 1)
            self.store._write(
                "INSERT OR REPLACE INTO notices VALUES (?, ?, ?, ?, ?)",
                (
                    doc["id"],
                    version,
                    json.dumps(doc, ensure_ascii=False),
                    self.iso(datetime.fromtimestamp(moment / 1e6, UTC)),
                    moment,
                ),
            )
            self.store._commit()
        return doc

    def withdraw_notice(self, notice_id: str) -> dict[str, Any]:
        with self.store.lock:
            row = self.store._db.execute(
                "SELECT doc FROM notices WHERE id = ?", (notice_id,)
            ).fetchone()
        if row is None:
            raise KeyError(notice_id)
        doc = json.loads(row[0])
        doc["withdrawn"] = True
        doc["version"] = int(doc["version"]) + 1
        return self.publish_notice(doc)

    def notices_answer(self, query: str) -> tuple[int, dict[str, Any]]:
        from urllib.parse import parse_qs

        since_values = parse_qs(query).get("since")
        since_us = None
        if since_values:
            since = parse_datetime(since_values[0].replace(" ", "+"))
            if since is None:
                return 400, {
                    "error": "invalid_since",
                    "details": [{"field": "since", "message": "must be an RFC 3339 date-time"}],
                }
            since_us = _us(since)
        with self.store.lock:
            now = self.now()
            self._last_as_of = max(self._last_as_of, _us(now))
            rows = self.store._db.execute(
                "SELECT doc, changed_us FROM notices ORDER BY id"
            ).fetchall()
        items = [json.loads(doc) for doc, moment in rows if since_us is None or moment > since_us]
        return 200, {"as_of": self.iso(now), "notices": items}

    # --- feedback --------------------------------------------------------------------------
    def post_feedback(
        self, body: bytes, key: str | None, kiosk_id: str, canonical: Any
    ) -> tuple[int, dict[str, Any]]:
        if not key:
            return 400, {"error": "idempotency_key_missing"}
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, {"error": "invalid_json"}
        ref = doc.get("client_ref") if isinstance(doc, dict) else None
        if isinstance(ref, str) and ref != key:
            return 400, {"error": "idempotency_key_mismatch"}
        details = validate_feedback(doc, kiosk_id, self.store.attachment_size)
        if details:
            return 422, {"error": "validation_failed", "details": details}
        text = canonical(doc)
        with self.store.lock:
            row = self.store._db.execute(
                "SELECT code, received_at, canonical FROM feedback WHERE client_ref = ?", (key,)
            ).fetchone()
            if row is not None:
                if row[2] == text:
                    return 200, {"feedback_code": row[0], "received_at": row[1]}
                return 409, {"error": "idempotency_conflict"}
            seq = self.store._db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM feedback"
            ).fetchone()[0]
            now = self.now()
            code = f"PA-{self.prefix}-{now.year}-{seq:06d}"
            received = self.iso(now)
            # Left uncommitted: the request log line commits it with the request.
            self.store._write(
                "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, 'received', ?, NULL)",
                (seq, code, key, kiosk_id, text, body, received, received),
            )
        return 201, {"feedback_code": code, "received_at": received}

    def feedback_status(self, kiosk_id: str, code: str) -> tuple[int, dict[str, Any]]:
        row = self._row(code)
        if row is None or row["kiosk_id"] != kiosk_id:
            return 404, {"error": "not_found"}
        doc = {
            "feedback_code": row["code"],
            "status": row["status"],
            "updated_at": row["updated_at"],
            "answer": row["answer"],
        }
        return 200, doc

    def _row(self, code: str) -> dict[str, Any] | None:
        with self.store.lock:
            row = self.store._db.execute(
                "SELECT code, client_ref, kiosk_id, body, received_at, status, updated_at, "
                "answer FROM feedback WHERE code = ?",
                (code,),
            ).fetchone()
        if row is None:
            return None
        keys = ("code", "client_ref", "kiosk_id", "body", "received_at", "status", "updated_at")
        out = dict(zip(keys, row[:7], strict=True))
        out["body"] = bytes(out["body"])
        out["answer"] = json.loads(row[7]) if row[7] else None
        return out

    def feedbacks(self) -> list[dict[str, Any]]:
        """Every feedback received (body as bytes), oldest first."""
        with self.store.lock:
            codes = [r[0] for r in self.store._db.execute("SELECT code FROM feedback ORDER BY seq")]
        return [r for r in (self._row(c) for c in codes) if r is not None]

    def feedback(self, code: str) -> dict[str, Any] | None:
        return self._row(code)

    def answer_feedback(
        self,
        code: str,
        *,
        status: str = "answered",
        text: dict[str, str] | None = None,
        audio: dict[str, str] | None = None,
        answered_by: str | None = None,
    ) -> dict[str, Any]:
        """What the authority does at the portal: move a feedback on, with an answer."""
        if status not in FEEDBACK_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FEEDBACK_STATUSES)}")
        for sha in (audio or {}).values():
            if self.media(sha) is None:
                raise ValueError(f"unknown media {sha}")
        answer = None
        if text or audio:
            answer = {"text": text or {}, "audio": audio or {}}
            if answered_by:
                answer["answered_by"] = answered_by
        with self.store.lock:
            cur = self.store._write(
                "UPDATE feedback SET status = ?, answer = ?, updated_at = ? WHERE code = ?",
                (
                    status,
                    json.dumps(answer, ensure_ascii=False) if answer else None,
                    self.iso(self.now()),
                    code,
                ),
            )
            self.store._commit()
        if cur.rowcount != 1:
            raise KeyError(code)
        return self.feedback_status(self._row(code)["kiosk_id"], code)[1]  # type: ignore[index]

    # --- admin -----------------------------------------------------------------------------
    def admin(self, method: str, parts: list[str], data: Any, raw: bytes, ctype: str) -> Any:
        """(status, payload) for an admin path of this area, or None."""
        match method, parts:
            case "PUT", ["notices"]:
                return 200, self.publish_notice(data)
            case "POST", ["notices", notice_id, "withdraw"]:
                return 200, self.withdraw_notice(notice_id)
            case "PUT", ["media"]:
                return 200, {"sha256": self.put_media(raw, ctype or "audio/wav")}
            case "GET", ["feedback"]:
                return 200, {
                    "feedback": [
                        {
                            **{k: v for k, v in f.items() if k != "body"},
                            "body": json.loads(f["body"]),
                        }
                        for f in self.feedbacks()
                    ]
                }
            case "PUT", ["feedback", code, "answer"]:
                return 200, self.answer_feedback(
                    code,
                    status=data.get("status", "answered"),
                    text=data.get("text"),
                    audio=data.get("audio"),
                    answered_by=data.get("answered_by"),
                )
        return None


def validate_notice(doc: Any) -> list[dict[str, str]]:
    c = _Collector()
    if not isinstance(doc, dict):
        return [{"field": "", "message": "must be an object"}]
    c.string(doc, "id", "", required=True)
    for key in ("title", "body"):
        value = doc.get(key)
        if not isinstance(value, dict) or not isinstance(value.get("vi"), str):
            c.add(key, "must be an object with a Vietnamese text (vi)")
    c.datetime(doc, "valid_from", "", required=True)
    if doc.get("valid_to") is not None:
        c.datetime(doc, "valid_to", "", required=False)
    if "priority" in doc:
        c.string(doc, "priority", "", required=False, enum=("normal", "urgent"))
    audio = doc.get("audio") or {}
    if not isinstance(audio, dict) or not all(
        isinstance(v, str) and SHA256_RE.match(v) for v in audio.values()
    ):
        c.add("audio", "must map language tags to sha256")
    return c.details


def validate_feedback(doc: Any, kiosk_id: str, attachment_size: Any) -> list[dict[str, str]]:
    c = _Collector()
    if not isinstance(doc, dict):
        return [{"field": "", "message": "must be an object"}]
    c.string(doc, "client_ref", "", required=True, pattern=UUID_RE)
    c.string(doc, "kiosk_id", "", required=True)
    if isinstance(doc.get("kiosk_id"), str) and doc["kiosk_id"] != kiosk_id:
        c.add("kiosk_id", "must equal X-Kiosk-Id")
    c.datetime(doc, "submitted_at", "", required=True)
    c.string(doc, "topic", "", required=True, enum=TOPICS)
    c.string(doc, "language", "", required=True)
    text = doc.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        c.add("text", f"must be a string of at most {MAX_TEXT} characters")
    if not isinstance(doc.get("anonymous"), bool):
        c.add("anonymous", "must be a boolean")
    elif doc["anonymous"]:
        if doc.get("applicant") is not None:
            c.add("applicant", "must be absent when anonymous")
        if doc.get("phone") is not None:
            c.add("phone", "must be absent when anonymous")
    recording = doc.get("recording")
    if recording is not None:
        if not isinstance(recording, dict) or not isinstance(recording.get("sha256"), str):
            c.add("recording.sha256", "required")
        elif attachment_size(recording["sha256"]) is None:
            c.add("recording.sha256", "unknown attachment: upload it first")
    if not text and recording is None:
        c.add("text", "a text or a recording is required")
    return c.details
