"""The clerk's dossier list: search through the blind indexes, filter, page.

Search never decrypts the table. What the clerk typed is read as:
- a receipt code (typed, or the receipt QR link): `receipt_code ==` the parsed code;
- an ID number (9 or 12 digits): `id_index ==` its keyed HMAC;
- otherwise a name: every folded word's HMAC must be among the dossier's NameToken rows
  (one indexed join per word), so "nguyen nhung" finds "Nguyễn Thị Hồng Nhung".
Pages are keyset-paged on (confirmed_at, id), newest first, using the confirmed_at
index; only the rows of the page shown are decrypted (names for display).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from kiosk.services.crypto import DataCipher, DataKeyError
from kiosk.services.dossiers import APPLICANT_CTX, row_ctx
from kiosk.services.models import STATES, Dossier, NameToken
from kiosk.services.receipt_code import ReceiptCodeError, code_from_uri, parse_code
from kiosk.services.store import Store
from kiosk.services.text import nfc

log = logging.getLogger(__name__)

_ID_NUMBER = re.compile(r"^(\d{9}|\d{12})$")
MAX_NAME_WORDS = 6
# A word with at least this many dossiers is "common". When every word of a name search
# is common, dossiers are walked newest first (a page is found quickly); otherwise the
# search starts from the rarest word's index entries (at most this many probes).
COUNT_CAP = 5000

# How the search text was read (shown to the clerk as a hint).
KIND_NONE, KIND_RECEIPT, KIND_ID, KIND_NAME = "none", "receipt", "id", "name"


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    state: str | None = None
    procedure_code: str | None = None
    date_from: date | None = None  # local days, both inclusive
    date_to: date | None = None
    not_printed: bool = False  # only dossiers whose receipt did not print
    page_size: int = 20


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this (confirmed_at, id), going back in time."""

    confirmed_at: datetime
    id: int


@dataclass(frozen=True)
class DossierRow:
    id: int
    receipt_code: str
    procedure_code: str
    state: str
    confirmed_at: datetime
    receipt_printed: bool
    attempt_count: int
    assisted_by: str | None
    dossier_code: str | None
    full_name: str  # decrypted for this page only; "" once purged


@dataclass
class Page:
    rows: list[DossierRow]
    kind: str  # how the text was read: none, receipt, id, name
    next_cursor: Cursor | None = None
    words: list[str] = field(default_factory=list)


def classify(text: str) -> tuple[str, str]:
    """(kind, normalised value) for what the clerk typed or scanned."""
    text = nfc(text).strip()
    if not text:
        return KIND_NONE, ""
    from_uri = code_from_uri(text)
    if from_uri is not None:
        return KIND_RECEIPT, from_uri.text
    compact = re.sub(r"[\s.\-]", "", text)
    if _ID_NUMBER.match(compact):
        return KIND_ID, compact
    if any(ch.isdigit() for ch in text):
        try:
            return KIND_RECEIPT, parse_code(text).text
        except ReceiptCodeError:
            pass
    return KIND_NAME, text


def local_day_bounds(
    day_from: date | None, day_to: date | None, tz: tzinfo | None = None
) -> tuple[datetime | None, datetime | None]:
    """Naive-UTC [start, end) for local days (the store keeps UTC)."""

    def utc(d: date) -> datetime:
        local = (
            datetime.combine(d, time()).replace(tzinfo=tz)
            if tz
            else datetime.combine(d, time()).astimezone()
        )
        return local.astimezone(UTC).replace(tzinfo=None)

    start = utc(day_from) if day_from else None
    end = utc(day_to + timedelta(days=1)) if day_to else None
    return start, end


class DossierSearch:
    def __init__(self, store: Store, cipher: DataCipher, tz: tzinfo | None = None) -> None:
        self.store = store
        self.cipher = cipher
        self.tz = tz

    def _conditions(self, query: SearchQuery) -> tuple[str, list, list[str]]:
        kind, value = classify(query.text)
        where: list = []
        words: list[str] = []
        if kind == KIND_RECEIPT:
            where.append(Dossier.receipt_code == value)
        elif kind == KIND_ID:
            where.append(Dossier.id_index == self.cipher.id_index(value))
        elif kind == KIND_NAME:
            words = self.cipher.name_indexes(value)[:MAX_NAME_WORDS]
            if not words:
                where.append(Dossier.id.is_(None))  # only punctuation: matches nothing
        if query.state:
            if query.state not in STATES:
                raise ValueError(f"unknown state {query.state!r}")
            where.append(Dossier.state == query.state)
        if query.procedure_code:
            where.append(Dossier.procedure_code == query.procedure_code)
        start, end = local_day_bounds(query.date_from, query.date_to, self.tz)
        if start is not None:
            where.append(Dossier.confirmed_at >= start)
        if end is not None:
            where.append(Dossier.confirmed_at < end)
        if query.not_printed:
            where.append(Dossier.receipt_printed.is_(False))
        return kind, where, words

    def _name_filter(self, session: Session, stmt, words: list[str]):
        """Every word's blind index must be among the dossier's NameToken rows.

        The plan depends on how common the words are (a word's index entries are counted
        up to COUNT_CAP, a cheap covering-index range): when every word is common
        ("nguyen thi"), newest dossiers are walked in date order and each is probed by
        primary key, so a page is found after a few hundred rows; otherwise ("lo van
        quy") the rarest word's index range drives and only its dossiers are probed and
        sorted.
        """
        counts = {}
        for word in words:
            # Counted up to a cap: past it a word is simply "common", and counting the
            # 40 000 entries of "nguyen" would cost more than the search itself.
            capped = (
                select(NameToken.dossier_id)
                .where(NameToken.token_index == word)
                .limit(COUNT_CAP)
                .subquery()
            )
            counts[word] = int(session.scalar(select(func.count()).select_from(capped)) or 0)
            if counts[word] == 0:
                return stmt.where(Dossier.id.is_(None))  # a word no dossier has
        ordered = sorted(words, key=lambda w: counts[w])

        def has(word, owner):
            token = aliased(NameToken)
            return exists().where(token.dossier_id == owner, token.token_index == word)

        if counts[ordered[0]] >= COUNT_CAP:  # every word is common: many dossiers match
            return stmt.where(*(has(w, Dossier.id) for w in ordered))
        first = aliased(NameToken)
        driver = select(first.dossier_id).where(
            first.token_index == ordered[0], *(has(w, first.dossier_id) for w in ordered[1:])
        )
        return stmt.where(Dossier.id.in_(driver))

    def page(self, query: SearchQuery, after: Cursor | None = None) -> Page:
        kind, where, words = self._conditions(query)
        size = max(1, min(query.page_size, 200))

        def read(s: Session) -> Page:
            stmt = select(
                Dossier.id,
                Dossier.receipt_code,
                Dossier.procedure_code,
                Dossier.state,
                Dossier.confirmed_at,
                Dossier.receipt_printed,
                Dossier.attempt_count,
                Dossier.assisted_by,
                Dossier.dossier_code,
                Dossier.applicant_enc,
                Dossier.client_ref,
            )
            if words:
                stmt = self._name_filter(s, stmt, words)
            stmt = stmt.where(*where)
            if after is not None:
                stmt = stmt.where(
                    or_(
                        Dossier.confirmed_at < after.confirmed_at,
                        and_(Dossier.confirmed_at == after.confirmed_at, Dossier.id < after.id),
                    )
                )
            stmt = stmt.order_by(Dossier.confirmed_at.desc(), Dossier.id.desc()).limit(size + 1)
            found = s.execute(stmt).all()
            more = len(found) > size
            rows = [self._row(r) for r in found[:size]]
            cursor = Cursor(rows[-1].confirmed_at, rows[-1].id) if more else None
            return Page(rows, kind, cursor, words)

        return self.store.read(read)

    def count(self, query: SearchQuery) -> int:
        kind, where, words = self._conditions(query)

        def read(s: Session) -> int:
            stmt = select(func.count(Dossier.id))
            if words:
                stmt = self._name_filter(s, stmt.select_from(Dossier), words)
            return int(s.scalar(stmt.where(*where)) or 0)

        return self.store.read(read)

    def _row(self, r) -> DossierRow:
        name = ""
        if r.applicant_enc is not None:
            try:
                applicant = self.cipher.decrypt_json(
                    r.applicant_enc, row_ctx(APPLICANT_CTX, r.client_ref)
                )
                name = applicant.get("full_name", "")
            except DataKeyError:  # a ciphertext not of this row: reported, never shown
                log.error("dossier %s: applicant data does not open (not this row's)", r.id)
        return DossierRow(
            r.id,
            r.receipt_code,
            r.procedure_code,
            r.state,
            r.confirmed_at,
            bool(r.receipt_printed),
            int(r.attempt_count or 0),
            r.assisted_by,
            r.dossier_code,
            name,
        )
