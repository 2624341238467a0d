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
    Float,
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


class DeliveryColumns:
    """The columns of an item the delivery state machine (kiosk.services.delivery) sends:
    its state, its attempts, its lease and when it was delivered. A table that differs
    (an index, a nullable state) declares that column again."""

    kiosk_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    field_errors: Mapped[str | None] = mapped_column(Text)  # JSON from the portal
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class AttemptColumns:
    """One delivery attempt of an item (no personal data); the table adds its owner."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(24))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # never personal data
    worker: Mapped[str | None] = mapped_column(String(64))


class Dossier(DeliveryColumns, Base):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(36), unique=True)
    receipt_code: Mapped[str] = mapped_column(String(24), unique=True)
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

    # Outbox (`DeliveryColumns`; retries are looked up by time here).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime)

    # Portal's answer.
    dossier_code: Mapped[str | None] = mapped_column(String(64), index=True)
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


class Attempt(AttemptColumns, Base):
    __tablename__ = "attempts"

    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )

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


# Payment records (fees). A record is `due` (the citizen chose transfer or cash at the
# kiosk: awaiting a clerk's confirmation), `claimed` (an exemption the citizen claimed,
# proof not yet seen), `recorded` (a clerk saw the cash, the transfer or the proof: this
# is what goes to the portal) or `superseded` (replaced by a newer record of its dossier).
PAY_DUE = "due"
PAY_CLAIMED = "claimed"
PAY_RECORDED = "recorded"
PAY_SUPERSEDED = "superseded"


class Payment(DeliveryColumns, Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(36), unique=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), index=True)
    method: Mapped[str] = mapped_column(String(16))  # vietqr_transfer, cash, exempt
    fee_vnd: Mapped[int] = mapped_column(BigInteger)  # the fee due
    amount_vnd: Mapped[int] = mapped_column(BigInteger)  # paid; for exempt, the fee waived
    quantity: Mapped[int | None] = mapped_column(Integer)
    copies: Mapped[int | None] = mapped_column(Integer)
    exemption_ground: Mapped[str | None] = mapped_column(String(48))
    supersedes: Mapped[str | None] = mapped_column(String(36))
    e_receipt_number: Mapped[str | None] = mapped_column(String(64))
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))
    recorded_by: Mapped[str | None] = mapped_column(String(64))

    # Delivery to the portal (kiosk.services.payment_kind; `DeliveryColumns`): recorded
    # payments only, their body frozen when recorded. `state` is None for what is not sent
    # (due, claimed), and so may be `kiosk_id`.
    kiosk_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(16))  # queued ... delivered, replaced
    body: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_payments_state_next", "state", "next_attempt_at"),
        Index("ix_payments_dossier_status", "dossier_id", "status"),
        Index("ix_payments_bank_reference", "bank_reference"),
    )


class PaymentAttempt(AttemptColumns, Base):
    """One delivery attempt of a payment (as `attempts` is for dossiers)."""

    __tablename__ = "payment_attempts"

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )


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


class Notice(Base):
    """A notice shown on the home screen: from the portal (`source` portal, the highest
    version of an id wins) or posted by a clerk for this centre only (`source` local; never
    sent anywhere). Texts and recordings are public: not encrypted. `audio` maps a language
    to the sha256 of a recording kept in the notice media folder."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_source_ref", "source", "ref", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(8))  # portal, local
    ref: Mapped[str] = mapped_column(String(128))  # the portal's id, or a local uuid
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)  # JSON lang -> text
    body: Mapped[str] = mapped_column(Text)  # JSON lang -> text
    pictogram: Mapped[str | None] = mapped_column(String(64))
    audio: Mapped[str] = mapped_column(Text, default="{}")  # JSON lang -> sha256
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    seen: Mapped[bool] = mapped_column(Boolean, default=False)
    posted_by: Mapped[str | None] = mapped_column(String(64))  # clerk username (local)


class Feedback(DeliveryColumns, Base):
    """A citizen's report or petition, delivered through its own outbox state machine:
    the recording first (PUT /attachments), then the frozen body (POST /feedback).

    Anonymous feedback keeps no identity and no phone (`applicant_enc`, `phone_enc` stay
    empty). The voice message is an encrypted file in the attachments folder."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(36), unique=True)
    slip_code: Mapped[str] = mapped_column(String(24), unique=True)
    topic: Mapped[str] = mapped_column(String(24))
    language: Mapped[str] = mapped_column(String(16))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    identity: Mapped[str] = mapped_column(String(12))  # card, phone, anonymous
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    applicant_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_index: Mapped[str | None] = mapped_column(String(32), index=True)
    recording_file: Mapped[str | None] = mapped_column(String(128))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    recording_seconds: Mapped[float | None] = mapped_column(Float)
    recording_uploaded: Mapped[bool] = mapped_column(Boolean, default=False)

    feedback_code: Mapped[str | None] = mapped_column(String(64), index=True)
    portal_status: Mapped[str | None] = mapped_column(String(16))
    portal_status_at: Mapped[datetime | None] = mapped_column(DateTime)
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_feedback_state_next", "state", "next_attempt_at"),)


class FeedbackAttempt(AttemptColumns, Base):
    """One delivery attempt of a feedback (as `attempts` is for dossiers)."""

    __tablename__ = "feedback_attempts"

    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback.id", ondelete="CASCADE"), index=True
    )


class HelpRequest(Base):
    """A citizen at a kiosk asked for a clerk (the card would not scan, ...). No personal
    data: which kiosk and which visit, why, when, and which clerk came."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    asked_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))
