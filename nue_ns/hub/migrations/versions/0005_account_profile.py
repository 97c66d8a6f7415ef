"""integrations.profile: the NetSuite account's schema and facts as last read

Revision ID: 0005_account_profile
Revises: 0004_dispatch_gate
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_account_profile"
down_revision = "0004_dispatch_gate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrations", sa.Column("profile", JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("integrations", "profile")
