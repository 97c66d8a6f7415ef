"""Hardening: UI sessions ended server-side; API keys scoped to integrations

Revision ID: 0007_hardening
Revises: 0005_account_profile
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_hardening"
down_revision = "0005_account_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions_ended",
        sa.Column("sid_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("api_keys", sa.Column("integrations", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "integrations")
    op.drop_table("ui_sessions_ended")
