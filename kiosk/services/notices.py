"""Notices: announcements from the portal (policies, meetings, deadlines) and this centre's
own, kept for offline use and shown on the home screen, urgent first, newest first.

- `sync(client)`: GET /notices?since=<last as_of>; the highest `version` of an id wins, an
  older version arriving later is ignored, a withdrawn notice is removed from view. Each
  recording is fetched with GET /media/{sha256} and checked against its hash before the
  notice is stored: a notice whose media do not match is not stored at all (its older
  version, if any, stays) and is fetched again next round.
- Local notices (`post_local`) are written by a clerk for this centre; they live only in
  the kiosk's database and are never sent.
- A notice is visible while `valid_from <= now < valid_to` and not withdrawn.

Media files are public and content-addressed: `<media_dir>/<sha256>` (written to a
temporary name, fsynced and renamed, so a file under a sha256 name is always whole).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.services.dossiers import rfc3339, utcnow
from kiosk.services.models import Meta, Notice
from kiosk.services.portal_notices import MediaMismatch, fetch_media, fetch_notices
from kiosk.services.store import Store

log = logging.getLogger(__name__)

AS_OF_KEY = "notices.as_of"
PRIORITIES = ("urgent", "normal")
MAX_TITLE = 200
MAX_BODY = 4000


class NoticeError(ValueError):
    """A notice a clerk typed cannot be posted: `key` is the catalogue key saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class NoticeView:
    id: int
    source: str
    ref: str
    version: int
    title: dict[str, str]
    body: dict[str, str]
    pictogram: str | None
    audio: dict[str, str]
    priority: str
    valid_from: datetime
    valid_to: datetime | None
    withdrawn: bool
    seen: bool

    def text(self, field: str, lang: str) -> str:
        texts = self.title if field == "title" else self.body
        return texts.get(lang) or texts.get("vi") or ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.ref,
            "source": self.source,
            "version": self.version,
            "title": self.title,
            "body": self.body,
            "pictogram": self.pictogram,
            "audio": self.audio,
            "priority": self.priority,
            "valid_from": rfc3339(self.valid_from),
            "valid_to": rfc3339(self.valid_to) if self.valid_to else None,
            "seen": self.seen,
        }


@dataclass(frozen=True)
class SyncResult:
    stored: int
    ignored: int  # older versions
    refused: list[str]  # ids whose media did not match their hash
    as_of: str


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def _view(n: Notice) -> NoticeView:
    return NoticeView(
        n.id,
        n.source,
        n.ref,
        n.version,
        json.loads(n.title),
        json.loads(n.body),
        n.pictogram,
        json.loads(n.audio or "{}"),
        n.priority,
        n.valid_from,
        n.valid_to,
        n.withdrawn,
        n.seen,
    )


def write_media(folder: Path, sha256: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / sha256
    if path.exists():
        return path
    tmp = folder / f".{sha256}.{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


class NoticeService:
    def __init__(self, store: Store, media_dir: Path, clock: Any = utcnow) -> None:
        self.store = store
        self.media_dir = media_dir
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------
    def visible(self, now: datetime | None = None) -> list[NoticeView]:
        """What citizens see now: in its validity window, not withdrawn; urgent first,
        then newest first."""
        now = now or self.clock()

        def read(s: Session) -> list[Notice]:
            q = select(Notice).where(
                Notice.withdrawn.is_(False),
                Notice.valid_from <= now,
                (Notice.valid_to.is_(None)) | (Notice.valid_to > now),
            )
            return list(s.scalars(q))

        rows = [_view(n) for n in self.store.read(read)]
        rows.sort(key=lambda n: n.valid_from, reverse=True)
        rows.sort(key=lambda n: PRIORITIES.index(n.priority) if n.priority in PRIORITIES else 1)
        return rows

    def all(self) -> list[NoticeView]:
        """Every notice the kiosk holds (the clerk's list), newest first."""
        rows = self.store.read(lambda s: list(s.scalars(select(Notice))))
        return sorted((_view(n) for n in rows), key=lambda n: n.valid_from, reverse=True)

    def get(self, notice_id: int) -> NoticeView | None:
        row = self.store.read(lambda s: s.get(Notice, notice_id))
        return _view(row) if row else None

    def new_count(self, now: datetime | None = None) -> int:
        return sum(1 for n in self.visible(now) if not n.seen)

    def mark_seen(self, notice_id: int) -> None:
        def write(s: Session) -> None:
            row = s.get(Notice, notice_id)
            if row is not None:
                row.seen = True

        self.store.write_sync(write)

    def media_path(self, sha256: str) -> Path | None:
        path = self.media_dir / sha256
        return path if path.is_file() else None

    def recording_for(self, notice: NoticeView, lang: str) -> tuple[Path, str] | None:
        """(file, language) of the recording to play for `lang`: the citizen's language,
        else none (the caller speaks the text with espeak-ng where it can)."""
        sha = notice.audio.get(lang)
        path = self.media_path(sha) if sha else None
        return (path, lang) if path else None

    # --- the portal ------------------------------------------------------------------------
    def sync(self, client: Any) -> SyncResult:
        since = self.store.read(lambda s: s.get(Meta, AS_OF_KEY))
        feed = fetch_notices(client, since.value if since else None)
        stored = ignored = 0
        refused: list[str] = []
        for doc in feed.notices:
            outcome = self._take(client, doc)
            if outcome == "stored":
                stored += 1
            elif outcome == "ignored":
                ignored += 1
            else:
                refused.append(str(doc.get("id")))

        def save(s: Session) -> None:
            if refused:
                return  # fetch everything again next round, so the refused come back
            row = s.get(Meta, AS_OF_KEY)
            if row is None:
                s.add(Meta(key=AS_OF_KEY, value=feed.as_of))
            else:
                row.value = feed.as_of

        self.store.write_sync(save)
        if stored or refused:
            log.info("notices: %d stored, %d refused (media hash)", stored, len(refused))
        return SyncResult(stored, ignored, refused, feed.as_of)

    def _take(self, client: Any, doc: dict[str, Any]) -> str:
        ref, version = doc.get("id"), doc.get("version")
        valid_from = _parse(doc.get("valid_from"))
        if not isinstance(ref, str) or not isinstance(version, int) or valid_from is None:
            log.warning("notices: a malformed notice was skipped")
            return "ignored"
        known = self.store.read(
            lambda s: s.scalar(
                select(Notice.version).where(Notice.source == "portal", Notice.ref == ref)
            )
        )
        if known is not None and known >= version:
            return "ignored"
        audio = {str(k): v for k, v in (doc.get("audio") or {}).items() if isinstance(v, str)}
        if not doc.get("withdrawn"):
            try:
                for sha in audio.values():
                    if self.media_path(sha) is None:
                        _ctype, data = fetch_media(client, sha)
                        write_media(self.media_dir, sha, data)
            except MediaMismatch:
                return "refused"

        def write(s: Session) -> None:
            row = s.scalar(select(Notice).where(Notice.source == "portal", Notice.ref == ref))
            if row is None:
                row = Notice(source="portal", ref=ref, seen=False)
                s.add(row)
            elif row.version >= version:
                return
            row.version = version
            row.title = json.dumps(_texts(doc.get("title")), ensure_ascii=False)
            row.body = json.dumps(_texts(doc.get("body")), ensure_ascii=False)
            row.pictogram = doc.get("pictogram") if isinstance(doc.get("pictogram"), str) else None
            row.audio = json.dumps(audio)
            row.priority = doc.get("priority") if doc.get("priority") in PRIORITIES else "normal"
            row.valid_from = valid_from
            row.valid_to = _parse(doc.get("valid_to"))
            row.withdrawn = bool(doc.get("withdrawn", False))
            row.received_at = self.clock()

        self.store.write_sync(write)
        return "stored"

    # --- this centre's own -------------------------------------------------------------------
    def post_local(
        self,
        *,
        title: str,
        body: str,
        pictogram: str | None = None,
        recording: bytes | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        priority: str = "normal",
        posted_by: str | None = None,
    ) -> NoticeView:
        """A clerk's notice for this centre (Vietnamese; the recording in Vietnamese)."""
        title, body = title.strip(), body.strip()
        if not title:
            raise NoticeError("notices.clerk.err.title")
        if len(title) > MAX_TITLE or len(body) > MAX_BODY:
            raise NoticeError("notices.clerk.err.too_long")
        start = valid_from or self.clock()
        if valid_to is not None and valid_to <= start:
            raise NoticeError("notices.clerk.err.dates")
        audio = {}
        if recording:
            import hashlib

            sha = hashlib.sha256(recording).hexdigest()
            write_media(self.media_dir, sha, recording)
            audio["vi"] = sha

        def write(s: Session) -> int:
            row = Notice(
                source="local",
                ref=str(uuid.uuid4()),
                version=1,
                title=json.dumps({"vi": title}, ensure_ascii=False),
                body=json.dumps({"vi": body}, ensure_ascii=False),
                pictogram=pictogram,
                audio=json.dumps(audio),
                priority=priority if priority in PRIORITIES else "normal",
                valid_from=start,
                valid_to=valid_to,
                withdrawn=False,
                received_at=self.clock(),
                seen=False,
                posted_by=posted_by,
            )
            s.add(row)
            s.flush()
            return row.id

        new_id = self.store.write_sync(write)
        return self.get(new_id)  # type: ignore[return-value]

    def withdraw_local(self, notice_id: int) -> bool:
        """Withdraw one of this centre's notices (a portal notice is withdrawn at the portal)."""

        def write(s: Session) -> bool:
            row = s.get(Notice, notice_id)
            if row is None or row.source != "local" or row.withdrawn:
                return False
            row.withdrawn = True
            row.version += 1
            return True

        return self.store.write_sync(write)


def _texts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}
