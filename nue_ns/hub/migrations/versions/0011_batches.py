"""hub_batches: NetSuite batch upserts (async jobs) and each record's batch

Revision ID: 0011_batches
Revises: 0010_tax_numbering
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011_batches"
down_revision = "0010_tax_numbering"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_batches",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("integration_id", sa.Integer, sa.ForeignKey("integrations.id"), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("ns_type", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("replace", sa.String(100)),
        sa.Column("job_id", sa.String(40)),
        sa.Column("submits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("polls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("succeeded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retried", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress", sa.String(40)),
        sa.Column("detail", sa.Text),
        sa.Column("next_at", sa.DateTime(timezone=True)),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_batches_open", "hub_batches", ["integration_id", "state", "next_at"])
    op.add_column("hub_records", sa.Column("batch_id", sa.BigInteger, nullable=True))
    op.create_index("ix_records_batch", "hub_records", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_records_batch", "hub_records")
    op.drop_column("hub_records", "batch_id")
    op.drop_index("ix_batches_open", "hub_batches")
    op.drop_table("hub_batches")
