"""notices and citizens' feedback

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:00:00

Notices from the portal and this centre's own, and citizens' feedback with its delivery
state (the recording first, then the feedback).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pictogram", sa.String(64), nullable=True),
        sa.Column("audio", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("posted_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_source_ref", "notices", ["source", "ref"], unique=True)
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_ref", sa.String(36), nullable=False),
        sa.Column("slip_code", sa.String(24), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(24), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("identity", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=True),
        sa.Column("applicant_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("body_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_index", sa.String(32), nullable=True),
        sa.Column("recording_file", sa.String(128), nullable=True),
        sa.Column("recording_sha256", sa.String(64), nullable=True),
        sa.Column("recording_seconds", sa.Float(), nullable=True),
        sa.Column("recording_uploaded", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("field_errors", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("feedback_code", sa.String(64), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("portal_status", sa.String(16), nullable=True),
        sa.Column("portal_status_at", sa.DateTime(), nullable=True),
        sa.Column("answer_enc", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_feedback_client_ref")),
        sa.UniqueConstraint("slip_code", name=op.f("uq_feedback_slip_code")),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index("ix_feedback_id_index", "feedback", ["id_index"])
    op.create_index("ix_feedback_state", "feedback", ["state"])
    op.create_index("ix_feedback_feedback_code", "feedback", ["feedback_code"])
    op.create_index("ix_feedback_state_next", "feedback", ["state", "next_attempt_at"])
    op.create_table(
        "feedback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name=op.f("fk_feedback_attempts_feedback_id_feedback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_attempts")),
    )
    op.create_index("ix_feedback_attempts_at", "feedback_attempts", ["at"])
    op.create_index("ix_feedback_attempts_feedback_id", "feedback_attempts", ["feedback_id"])


def downgrade() -> None:
    op.drop_table("feedback_attempts")
    op.drop_table("feedback")
    op.drop_index("ix_notices_source_ref", "notices")
    op.drop_table("notices")
