"""The store's tables (SQLAlchemy 2 typed models).

Columns ending in `_enc` hold AES-GCM ciphertext (kiosk.services.crypto); columns ending
in `_index` hold keyed HMAC blind indexes. No column holds an ID number, a name, an
address, a phone number or an answer in plain text. Times are UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Outbox states of a dossier.
QUEUED = "queued"
SENDING = "sending"
DELIVERED = "delivered"
NEEDS_CLERK = "needs_clerk"
AUTH_BLOCKED = "auth_blocked"
HANDLED = "handled"  # a needs_clerk dossier a clerk closed by hand
STATES = (QUEUED, SENDING, DELIVERED, NEEDS_CLERK, AUTH_BLOCKED, HANDLED)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Dossier(Base):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(36), unique=True)
    receipt_code: Mapped[str] = mapped_column(String(24), unique=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    procedure_code: Mapped[str] = mapped_column(String(32), index=True)
    procedure_version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    assisted_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    consent_version: Mapped[str] = mapped_column(String(32))
    consent_given_at: Mapped[datetime] = mapped_column(DateTime)
    id_source: Mapped[str] = mapped_column(String(16))

    # Personal data, encrypted.
    applicant_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    answers_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The request body frozen at confirmation: every attempt sends exactly these bytes.
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))

    # Blind indexes for search without decrypting.
    id_index: Mapped[str | None] = mapped_column(String(32), index=True)

    # Outbox.
    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    field_errors: Mapped[str | None] = mapped_column(Text)  # JSON from the portal
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)

    # Portal's answer.
    dossier_code: Mapped[str | None] = mapped_column(String(64), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    expected_result_date: Mapped[date | None] = mapped_column(Date)
    portal_status: Mapped[str | None] = mapped_column(String(16))
    portal_status_at: Mapped[datetime | None] = mapped_column(DateTime)
    portal_message: Mapped[str | None] = mapped_column(Text)  # JSON lang -> text

    receipt_printed: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="Attempt.id"
    )

    __table_args__ = (
        Index("ix_dossiers_state_next", "state", "next_attempt_at"),
        Index("ix_dossiers_state_confirmed", "state", "confirmed_at"),
        Index("ix_dossiers_procedure_confirmed", "procedure_code", "confirmed_at"),
    )


class NameToken(Base):
    """One folded name token's blind index per row, so a name search is an indexed join."""

    __tablename__ = "name_tokens"

    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True
    )
    token_index: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)

    __table_args__ = (Index("ix_name_tokens_token_dossier", "token_index", "dossier_id"),)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    document_key: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(128))  # encrypted file in the attachments folder
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False)

    dossier: Mapped[Dossier] = relationship(back_populates="attachments")


class Attempt(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(24))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # never personal data
    worker: Mapped[str | None] = mapped_column(String(64))

    dossier: Mapped[Dossier] = relationship(back_populates="attempts")


class ReceiptPrint(Base):
    __tablename__ = "receipt_prints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime)
    printer: Mapped[str] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))


class QueueTicket(Base):
    __tablename__ = "queue_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    service_group: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str | None] = mapped_column(String(16))  # elderly, disability, pregnant
    language: Mapped[str] = mapped_column(String(8), default="vi")
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(12), default="waiting", index=True)
    called_at: Mapped[datetime | None] = mapped_column(DateTime)
    counter: Mapped[str | None] = mapped_column(String(16))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    procedure_code: Mapped[str | None] = mapped_column(String(32))
    face: Mapped[int] = mapped_column(Integer)  # 1 very unhappy .. 4 very happy
    reason: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="vi")


class Clerk(Base):
    __tablename__ = "clerks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # clerk, admin
    # Roles granted on top of `role` by an admin, comma-separated: translator, reviewer.
    extra_roles: Mapped[str] = mapped_column(String(64), default="", server_default="")
    pin_hash: Mapped[str] = mapped_column(String(256))
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))
    action: Mapped[str] = mapped_column(String(48))
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str | None] = mapped_column(Text)  # never personal data
    machine: Mapped[str | None] = mapped_column(String(64))


class Counter(Base):
    """Sequences shared by every machine of a centre (receipt numbers, ticket numbers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Meta(Base):
    """Small facts about this installation (setup done, catalogue as_of, ...)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Translation(Base):
    """One text (and its spoken recording) of the language studio in one language.

    `item` names what it translates: `i18n:<key>` or `proc:<code>:<path>`; `source_hash`
    remembers the Vietnamese text it was made from (kiosk.services.langpacks.source_hash):
    when that text changes the item is shown in Vietnamese until translated again. Only
    `approved` items, reviewed by someone other than the translator, reach citizens.
    """

    __tablename__ = "translations"
    __table_args__ = (Index("ix_translations_lang_item", "lang", "item", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lang: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12))  # draft, approved, returned
    translator: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    recording: Mapped[str | None] = mapped_column(String(64))  # sha256 of the WAV
    updated_at: Mapped[datetime] = mapped_column(DateTime)
