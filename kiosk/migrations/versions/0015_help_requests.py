"""help requests from the kiosk to the clerks

Revision ID: 0015
Revises: 0004
Create Date: 2026-12-06 20:40:00

A citizen's "ask a clerk" at a kiosk, with when it was handled and by whom.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["handled_by"], ["clerks.id"], name=op.f("fk_help_requests_handled_by_clerks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_requests")),
    )
    op.create_index(op.f("ix_help_requests_asked_at"), "help_requests", ["asked_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_help_requests_asked_at"), table_name="help_requests")
    op.drop_table("help_requests")
