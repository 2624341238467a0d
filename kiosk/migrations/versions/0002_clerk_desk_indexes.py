"""clerk desk indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:00:00

Indexes for the clerk's dossier list and dashboard on large stores (measured with
benchmarks/bench_clerk.py on 100 000 dossiers):
- name_tokens (token_index, dossier_id): a name search reads one word's dossiers from
  the index alone (the single-column index needs a table lookup per entry);
- dossiers (state, confirmed_at) and (procedure_code, confirmed_at): a filtered list
  page is read in date order from the index, and the oldest waiting dossier per state
  is one index step;
- attempts (at): failed attempts in the dashboard's window without a table scan.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_name_tokens_token_dossier", "name_tokens", ["token_index", "dossier_id"])
    op.create_index("ix_dossiers_state_confirmed", "dossiers", ["state", "confirmed_at"])
    op.create_index("ix_dossiers_procedure_confirmed", "dossiers", ["procedure_code", "confirmed_at"])
    op.create_index("ix_attempts_at", "attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_at", "attempts")
    op.drop_index("ix_dossiers_procedure_confirmed", "dossiers")
    op.drop_index("ix_dossiers_state_confirmed", "dossiers")
    op.drop_index("ix_name_tokens_token_dossier", "name_tokens")
