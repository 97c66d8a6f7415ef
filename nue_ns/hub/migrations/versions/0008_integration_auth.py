"""integrations.auth_method, auth_info, enabled: OAuth 2.0 or TBA per integration; disabling one

Revision ID: 0008_integration_auth
Revises: 0007_hardening
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_integration_auth"
down_revision = "0007_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows that exist already were made with TBA (the only method before this revision).
    op.add_column(
        "integrations", sa.Column("auth_method", sa.String(16), nullable=False, server_default="tba")
    )
    op.alter_column("integrations", "auth_method", server_default="oauth2")
    op.add_column(
        "integrations",
        sa.Column("auth_info", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column("integrations", sa.Column("enabled", sa.Boolean(), nullable=False, server_default="true"))


def downgrade() -> None:
    op.drop_column("integrations", "enabled")
    op.drop_column("integrations", "auth_info")
    op.drop_column("integrations", "auth_method")
