"""integrations.not_before: no dispatch until the account has a token again

Revision ID: 0004_dispatch_gate
Revises: 0002_api, 0003_inbound
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_dispatch_gate"
down_revision = ("0002_api", "0003_inbound")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrations", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("integrations", "not_before")
