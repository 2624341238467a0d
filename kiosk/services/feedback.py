"""Citizens' feedback (phản ánh, kiến nghị): a topic, a voice message or a text, and how the
citizen wants to be known (their card, only a phone number, or not at all).

`confirm(draft)` checks everything first and stores the feedback in one transaction: the
recording processed (16 kHz mono WAV, trimmed, loudness-normalised; 2 s to 2 min) and
encrypted to a file, the text, identity and phone encrypted, and the request body frozen
(encrypted) so every attempt sends the same bytes. A refused draft stores nothing. The slip
code is random (60 bits), made offline and printed on the citizen's slip.

Delivery is the one delivery state machine's (kiosk.services.feedback_delivery): exactly
once, the recording first (`PUT /attachments/{sha256}`), then the frozen body
(`POST /feedback`, Idempotency-Key = client_ref), the portal's `feedback_code` linked.
Anonymous feedback has no applicant and no phone in the database or the body. Nothing
personal is logged.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kiosk.services.crypto import DataCipher
from kiosk.services.dossiers import FILE_CTX, Applicant, rfc3339, utcnow
from kiosk.services.models import DELIVERED, QUEUED, Feedback
from kiosk.services.portal_notices import FeedbackStatus, feedback_status
from kiosk.services.recording import TakeRefused, process_take
from kiosk.services.store import Store

log = logging.getLogger(__name__)

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
IDENTITIES = ("card", "phone", "anonymous")
MAX_TEXT = 4000
MIN_SECONDS = 2.0
MAX_SECONDS = 120.0
TEXT_CTX = "feedback.text"
APPLICANT_CTX = "feedback.applicant"
PHONE_CTX = "feedback.phone"
BODY_CTX = "feedback.body"
ANSWER_CTX = "feedback.answer"
SLIP_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud safely
SLIP_PREFIX = "GY"


class FeedbackRefused(ValueError):
    """`key` is a catalogue key saying why, shown and spoken to the citizen."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


@dataclass
class FeedbackDraft:
    topic: str
    language: str
    identity: str = "anonymous"  # card, phone, anonymous
    text: str | None = None
    recording: bytes | None = None  # the take as recorded (WAV); processed on confirm
    applicant: Applicant | None = None
    phone: str | None = None


@dataclass(frozen=True)
class FeedbackView:
    id: int
    client_ref: str
    slip_code: str
    topic: str
    language: str
    identity: str
    anonymous: bool
    created_at: datetime
    state: str
    feedback_code: str | None
    portal_status: str | None
    recording_seconds: float | None
    has_text: bool
    attempt_count: int = 0
    last_error: str | None = None
    answer: dict[str, Any] | None = field(default=None)


def make_slip_code() -> str:
    chars = "".join(secrets.choice(SLIP_ALPHABET) for _ in range(12))
    return f"{SLIP_PREFIX}-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normalise_code(text: str) -> str:
    """A typed or scanned code as stored: upper case, spaces removed."""
    return "".join(text.split()).upper()


def _write_file(folder: Path, blob: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.bin"
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return name


class FeedbackService:
    def __init__(
        self,
        store: Store,
        cipher: DataCipher,
        kiosk_id: str,
        attachments_dir: Path,
        clock: Any = utcnow,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.kiosk_id = kiosk_id
        self.attachments_dir = attachments_dir
        self.clock = clock

    # --- checking and saving ------------------------------------------------------------
    @staticmethod
    def check_recording(wav: bytes) -> Any:
        """The processed take, or FeedbackRefused with the reason (recording.err.*)."""
        try:
            return process_take(wav, min_seconds=MIN_SECONDS, max_seconds=MAX_SECONDS)
        except TakeRefused as exc:
            raise FeedbackRefused(exc.key, exc.detail) from exc

    @staticmethod
    def check_text(text: str | None) -> str | None:
        text = (text or "").strip() or None
        if text is not None and len(text) > MAX_TEXT:
            raise FeedbackRefused("feedback.citizen.err.text_too_long", f"{len(text)} characters")
        return text

    def confirm(self, draft: FeedbackDraft) -> FeedbackView:
        """Check, then store for delivery; when this returns the feedback is on disk."""
        if draft.topic not in TOPICS:
            raise FeedbackRefused("feedback.citizen.err.topic", draft.topic)
        if draft.identity not in IDENTITIES:
            raise FeedbackRefused("feedback.citizen.err.identity", draft.identity)
        text = self.check_text(draft.text)
        take = self.check_recording(draft.recording) if draft.recording else None
        if text is None and take is None:
            raise FeedbackRefused("feedback.citizen.err.empty")
        anonymous = draft.identity == "anonymous"
        applicant = draft.applicant if draft.identity == "card" else None
        phone = (draft.phone or "").strip() if draft.identity == "phone" else None
        if draft.identity == "card" and applicant is None:
            raise FeedbackRefused("feedback.citizen.err.no_card")
        if draft.identity == "phone" and not _valid_phone(phone or ""):
            raise FeedbackRefused("feedback.citizen.err.phone")
        client_ref = str(uuid.uuid4())
        now = self.clock()
        recording = None
        file_name = None
        if take is not None:
            import hashlib

            sha = hashlib.sha256(take.wav).hexdigest()
            recording = {
                "sha256": sha,
                "content_type": "audio/wav",
                "seconds": round(take.seconds, 1),
            }
            file_name = _write_file(self.attachments_dir, self.cipher.encrypt(take.wav, FILE_CTX))
        c = self.cipher

        def write(s: Session) -> int:
            slip = make_slip_code()
            while s.scalar(select(Feedback.id).where(Feedback.slip_code == slip)) is not None:
                slip = make_slip_code()
            body: dict[str, Any] = {
                "client_ref": client_ref,
                "kiosk_id": self.kiosk_id,
                "submitted_at": rfc3339(now),
                "topic": draft.topic,
                "slip_code": slip,
                "language": draft.language,
                "text": text,
                "recording": recording,
                "anonymous": anonymous,
            }
            if applicant is not None:
                body["applicant"] = applicant.to_contract()
            if phone:
                body["phone"] = phone
            raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            row = Feedback(
                client_ref=client_ref,
                slip_code=slip,
                kiosk_id=self.kiosk_id,
                topic=draft.topic,
                language=draft.language,
                anonymous=anonymous,
                identity=draft.identity,
                created_at=now,
                text_enc=c.encrypt_text(text, TEXT_CTX) if text else None,
                applicant_enc=(
                    c.encrypt_json(applicant.to_contract(), APPLICANT_CTX) if applicant else None
                ),
                phone_enc=c.encrypt_text(phone, PHONE_CTX) if phone else None,
                id_index=c.id_index(applicant.id_number) if applicant else None,
                body_enc=c.encrypt(raw, BODY_CTX),
                recording_file=file_name,
                recording_sha256=recording["sha256"] if recording else None,
                recording_seconds=recording["seconds"] if recording else None,
                recording_uploaded=False,
                state=QUEUED,
                attempt_count=0,
            )
            s.add(row)
            s.flush()
            return row.id

        try:
            new_id = self.store.write_sync(write)
        except BaseException:
            if file_name:  # nothing half-stored: the file goes with the failed transaction
                (self.attachments_dir / file_name).unlink(missing_ok=True)
            raise
        return self.get(new_id)  # type: ignore[return-value]

    # --- reading ---------------------------------------------------------------------------
    def _view(self, f: Feedback) -> FeedbackView:
        answer = None
        if f.answer_enc:
            answer = self.cipher.decrypt_json(f.answer_enc, ANSWER_CTX)  # type: ignore[assignment]
        return FeedbackView(
            f.id,
            f.client_ref,
            f.slip_code,
            f.topic,
            f.language,
            f.identity,
            f.anonymous,
            f.created_at,
            f.state,
            f.feedback_code,
            f.portal_status,
            f.recording_seconds,
            f.text_enc is not None,
            f.attempt_count,
            f.last_error,
            answer,
        )

    def get(self, feedback_id: int) -> FeedbackView | None:
        row = self.store.read(lambda s: s.get(Feedback, feedback_id))
        return self._view(row) if row else None

    def find(self, code: str) -> FeedbackView | None:
        """By the slip code or the portal's feedback code."""
        code = normalise_code(code)
        row = self.store.read(
            lambda s: s.scalar(
                select(Feedback).where(
                    or_(Feedback.slip_code == code, Feedback.feedback_code == code)
                )
            )
        )
        return self._view(row) if row else None

    def list(self, limit: int = 200) -> list[FeedbackView]:
        rows = self.store.read(
            lambda s: list(
                s.scalars(select(Feedback).order_by(Feedback.created_at.desc()).limit(limit))
            )
        )
        return [self._view(r) for r in rows]

    def text(self, feedback_id: int) -> str | None:
        row = self.store.read(lambda s: s.get(Feedback, feedback_id))
        return self.cipher.decrypt_text(row.text_enc, TEXT_CTX) if row and row.text_enc else None

    def recording(self, feedback_id: int) -> bytes | None:
        """The voice message (decrypted in memory; play it only to its author)."""
        row = self.store.read(lambda s: s.get(Feedback, feedback_id))
        if row is None or not row.recording_file:
            return None
        path = self.attachments_dir / row.recording_file
        if not path.exists():
            return None
        return self.cipher.decrypt(path.read_bytes(), FILE_CTX)

    def body(self, feedback_id: int) -> bytes:
        row = self.store.read(lambda s: s.get(Feedback, feedback_id))
        return self.cipher.decrypt(row.body_enc, BODY_CTX)

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        rows = self.store.read(
            lambda s: s.execute(select(Feedback.state, func.count()).group_by(Feedback.state)).all()
        )
        return dict(rows)

    # --- the answer ------------------------------------------------------------------------
    def refresh_status(self, client: Any, feedback_id: int) -> FeedbackView | None:
        """Ask the portal for the status and answer of a delivered feedback."""
        view = self.get(feedback_id)
        if view is None or not view.feedback_code:
            return view
        status: FeedbackStatus = feedback_status(client, view.feedback_code)
        self.save_status(feedback_id, status)
        return self.get(feedback_id)

    def save_status(self, feedback_id: int, status: FeedbackStatus) -> None:
        def write(s: Session) -> None:
            row = s.get(Feedback, feedback_id)
            if row is None:
                return
            row.portal_status = status.status
            row.portal_status_at = self.clock()
            if status.answer:
                row.answer_enc = self.cipher.encrypt_json(status.answer, ANSWER_CTX)

        self.store.write_sync(write)

    # --- privacy -----------------------------------------------------------------------------
    def of_citizen(self, id_number: str) -> list[FeedbackView]:
        index = self.cipher.id_index(id_number)
        rows = self.store.read(
            lambda s: list(s.scalars(select(Feedback).where(Feedback.id_index == index)))
        )
        return [self._view(r) for r in rows]

    def export_citizen(self, id_number: str, with_files: bool = True) -> list[dict[str, Any]]:
        import base64

        out = []
        for v in self.of_citizen(id_number):
            out.append(
                {
                    "slip_code": v.slip_code,
                    "feedback_code": v.feedback_code,
                    "topic": v.topic,
                    "created_at": rfc3339(v.created_at),
                    "text": self.text(v.id),
                    "recording_seconds": v.recording_seconds,
                    "state": v.state,
                    "answer": v.answer,
                }
            )
            voice = self.recording(v.id) if with_files else None
            if voice is not None:
                out[-1]["recording_wav_base64"] = base64.b64encode(voice).decode("ascii")
        return out

    def erase_citizen(self, id_number: str) -> int:
        index = self.cipher.id_index(id_number)
        return self._erase(lambda s: s.scalars(select(Feedback).where(Feedback.id_index == index)))

    def purge_older_than(self, cutoff: datetime) -> int:
        """Retention: personal data (voice, text, identity, phone, body) of feedback created
        before `cutoff` and delivered (or closed by a clerk) is removed; the row stays."""
        return self._erase(
            lambda s: s.scalars(
                select(Feedback).where(
                    Feedback.created_at < cutoff,
                    Feedback.state.in_((DELIVERED, "handled")),
                    Feedback.purged_at.is_(None),
                )
            )
        )

    def _erase(self, query: Any) -> int:
        def write(s: Session) -> tuple[int, list[str]]:
            files, count = [], 0
            for row in query(s):
                count += 1
                if row.recording_file:
                    files.append(row.recording_file)
                row.recording_file = None
                row.text_enc = row.applicant_enc = row.phone_enc = None
                row.body_enc = row.answer_enc = None
                row.id_index = None
                row.purged_at = self.clock()
                if row.state not in (DELIVERED,):
                    row.state = "handled"  # nothing left to send
            return count, files

        count, files = self.store.write_sync(write)
        for name in files:
            (self.attachments_dir / name).unlink(missing_ok=True)
        return count


def _valid_phone(phone: str) -> bool:
    digits = phone.replace(" ", "").replace(".", "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    return digits.isdigit() and len(digits) == 10 and digits.startswith("0")


# --- privacy: retention, orphan files, key rotation -------------------------------------------

ENCRYPTED_COLUMNS = (
    ("text_enc", TEXT_CTX),
    ("applicant_enc", APPLICANT_CTX),
    ("phone_enc", PHONE_CTX),
    ("body_enc", BODY_CTX),
    ("answer_enc", ANSWER_CTX),
)


def _key_id(blob: bytes) -> int | None:
    from kiosk.services.crypto import MAGIC

    return int.from_bytes(blob[2:4], "big") if blob[:2] == MAGIC and len(blob) > 4 else None


def recording_files(store: Store) -> list[str]:
    """The voice files feedback rows name (the orphan sweep must keep them)."""
    return store.read(
        lambda s: list(
            s.scalars(select(Feedback.recording_file).where(Feedback.recording_file.is_not(None)))
        )
    )


def purge_feedback(store: Store, attachments_dir: Path, cutoff: datetime) -> int:
    """Retention: the personal data of feedback created before `cutoff` and delivered (or
    closed) is removed; the row (codes, topic, state) stays for the status look-up."""
    service = FeedbackService(store, None, "", attachments_dir)  # type: ignore[arg-type]
    return service.purge_older_than(cutoff)


def reencrypt_feedback(store: Store, cipher: DataCipher, attachments_dir: Path) -> tuple[int, int]:
    """Values and voice files not under the current key, re-encrypted: (values, files)."""
    from kiosk.files import write_atomic

    current = cipher.ring.current

    def write(s: Session) -> int:
        changed = 0
        for row in s.scalars(select(Feedback)):
            for column, context in ENCRYPTED_COLUMNS:
                blob = getattr(row, column)
                if blob is not None and _key_id(blob) != current:
                    setattr(row, column, cipher.reencrypt(blob, context, cipher))
                    changed += 1
        return changed

    values = store.write_sync(write)
    files = 0
    for name in recording_files(store):
        path = attachments_dir / name
        if path.exists():
            blob = path.read_bytes()
            if _key_id(blob) != current:
                write_atomic(path, cipher.reencrypt(blob, FILE_CTX, cipher))
                files += 1
    return values, files


def feedback_keys_in_use(store: Store, attachments_dir: Path) -> set[int]:
    used: set[int] = set()
    for column, _ctx in ENCRYPTED_COLUMNS:
        col = getattr(Feedback, column)
        blobs = store.read(lambda s, c=col: list(s.scalars(select(c).where(c.is_not(None)))))
        used |= {k for b in blobs if (k := _key_id(b)) is not None}
    for name in recording_files(store):
        path = attachments_dir / name
        if path.exists():
            with open(path, "rb") as fh:
                k = _key_id(fh.read(4))
            if k is not None:
                used.add(k)
    return used
