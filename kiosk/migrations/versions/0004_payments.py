"""payments

Revision ID: 0004
Revises: 0007
Create Date: 2026-12-06 17:00:00

Fee payment records: what the citizen chose at the kiosk (awaiting confirmation), what a
clerk recorded (cash, transfer seen, exemption with its proof seen), corrections as new
records superseding old ones, and each recorded payment's delivery to the portal.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_ref", sa.String(length=36), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("fee_vnd", sa.BigInteger(), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("copies", sa.Integer(), nullable=True),
        sa.Column("exemption_ground", sa.String(length=48), nullable=True),
        sa.Column("supersedes", sa.String(length=36), nullable=True),
        sa.Column("e_receipt_number", sa.String(length=64), nullable=True),
        sa.Column("bank_reference", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("kiosk_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("field_errors", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["clerk_id"], ["clerks.id"], name=op.f("fk_payments_clerk_id_clerks")),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_payments_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_payments_client_ref")),
    )
    op.create_index(op.f("ix_payments_dossier_id"), "payments", ["dossier_id"])
    op.create_index(op.f("ix_payments_status"), "payments", ["status"])
    op.create_index(op.f("ix_payments_recorded_at"), "payments", ["recorded_at"])
    op.create_index("ix_payments_state_next", "payments", ["state", "next_attempt_at"])
    op.create_index("ix_payments_dossier_status", "payments", ["dossier_id", "status"])
    op.create_index("ix_payments_bank_reference", "payments", ["bank_reference"])
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_attempts_payment_id_payments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
    )
    op.create_index(op.f("ix_payment_attempts_payment_id"), "payment_attempts", ["payment_id"])
    op.create_index(op.f("ix_payment_attempts_at"), "payment_attempts", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_attempts_at"), "payment_attempts")
    op.drop_index(op.f("ix_payment_attempts_payment_id"), "payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_index("ix_payments_bank_reference", "payments")
    op.drop_index("ix_payments_dossier_status", "payments")
    op.drop_index("ix_payments_state_next", "payments")
    op.drop_index(op.f("ix_payments_recorded_at"), "payments")
    op.drop_index(op.f("ix_payments_status"), "payments")
    op.drop_index(op.f("ix_payments_dossier_id"), "payments")
    op.drop_table("payments")
