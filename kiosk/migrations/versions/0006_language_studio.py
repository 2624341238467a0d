"""language studio

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-06 18:00:00

The language studio's translations (with their recordings and review state), and the
roles an admin grants on top of a clerk's role (translator, reviewer).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clerks") as batch:
        batch.add_column(sa.Column("extra_roles", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("source_hash", sa.String(16), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("translator", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recording", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translations")),
    )
    op.create_index("ix_translations_lang_item", "translations", ["lang", "item"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_translations_lang_item", "translations")
    op.drop_table("translations")
    with op.batch_alter_table("clerks") as batch:
        batch.drop_column("extra_roles")
