"""hub_records.ns_tran_id: the number NetSuite gave a transaction, read back by the audit

Revision ID: 0010_tax_numbering
Revises: 0008_integration_auth
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_tax_numbering"
down_revision = "0008_integration_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hub_records", sa.Column("ns_tran_id", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("hub_records", "ns_tran_id")
