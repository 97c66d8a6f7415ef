"""transaction hub

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("rest_url", sa.String(length=500), nullable=True),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("rate_limit", sa.String(length=32), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("batch_released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hub_records",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("type_rank", sa.Integer(), nullable=False),
        sa.Column("nue_id", sa.String(length=64), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=200), nullable=True),
        sa.Column("waiting_on", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("error_path", sa.String(length=200), nullable=True),
        sa.Column("ns_type", sa.String(length=40), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("ns_internal_id", sa.String(length=40), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "integration_id", "record_type", "nue_id", "version_hash", name="uq_record_version"
        ),
    )
    op.create_index(
        "ix_records_dispatch",
        "hub_records",
        ["integration_id", "type_rank", "next_attempt_at", "id"],
        unique=False,
        postgresql_where="state IN ('pending', 'parked')",
    )
    op.create_index("ix_records_due", "hub_records", ["state", "next_attempt_at"], unique=False)
    op.create_index(
        "ix_records_integration_state",
        "hub_records",
        ["integration_id", "state", "record_type"],
        unique=False,
    )
    op.create_index(
        "ix_records_nue", "hub_records", ["integration_id", "record_type", "nue_id"], unique=False
    )
    op.create_index(
        "ix_records_waiting_on", "hub_records", ["waiting_on"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "ns_links",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("nue_id", sa.String(length=64), nullable=False),
        sa.Column("ns_type", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("ns_internal_id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
        ),
        sa.PrimaryKeyConstraint("integration_id", "record_type", "nue_id"),
    )
    op.create_index(
        "ix_links_internal", "ns_links", ["integration_id", "ns_type", "ns_internal_id"], unique=False
    )
    op.create_table(
        "hub_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Double(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("request_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
        ),
        sa.ForeignKeyConstraint(["record_id"], ["hub_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attempts_account_time", "hub_attempts", ["account_id", "started_at"], unique=False)
    op.create_index("ix_attempts_record", "hub_attempts", ["record_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attempts_record", table_name="hub_attempts")
    op.drop_index("ix_attempts_account_time", table_name="hub_attempts")
    op.drop_table("hub_attempts")
    op.drop_index("ix_links_internal", table_name="ns_links")
    op.drop_table("ns_links")
    op.drop_index("ix_records_waiting_on", table_name="hub_records", postgresql_using="gin")
    op.drop_index("ix_records_nue", table_name="hub_records")
    op.drop_index("ix_records_integration_state", table_name="hub_records")
    op.drop_index("ix_records_due", table_name="hub_records")
    op.drop_index(
        "ix_records_dispatch", table_name="hub_records", postgresql_where="state IN ('pending', 'parked')"
    )
    op.drop_table("hub_records")
    op.drop_table("integrations")
