"""Transaction Hub tables: integrations, one row per record version, the attempt log, and the
NetSuite ids of what has been transferred."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


class State(StrEnum):
    PARKED = "parked"  # scheduled mode: waits for the batch sweep
    PENDING = "pending"  # due at next_attempt_at (new, deferred or retrying)
    WAITING = "waiting"  # a prerequisite is not in NetSuite yet
    QUEUED = "queued"  # handed to Redis; re-dispatched if Redis loses it
    IN_FLIGHT = "in_flight"  # a worker holds the lease
    TRANSFERRED = "transferred"
    FAILED = "failed"  # needs a person
    SUPERSEDED = "superseded"  # a newer version of the record replaced this one


# What finance sees.
DISPLAY = {
    State.PARKED: "Not Transferred",
    State.PENDING: "Not Transferred",
    State.WAITING: "Not Transferred",
    State.FAILED: "Not Transferred",
    State.QUEUED: "In Flight",
    State.IN_FLIGHT: "In Flight",
    State.TRANSFERRED: "Transferred",
    State.SUPERSEDED: "Superseded",
}

OPEN_STATES = (State.PARKED, State.PENDING, State.WAITING, State.QUEUED, State.IN_FLIGHT, State.FAILED)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Integration(Base):
    """One NetSuite account connection. Its secrets are stored encrypted, never in plain text."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    rest_url: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet token; None: from the environment
    auth_method: Mapped[str] = mapped_column(String(16), default="oauth2")  # oauth2 | tba
    # What operators may see of the credentials (certificate ids, which is active, key source): no secret.
    auth_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # disabled: records stay, none dispatched
    rate_limit: Mapped[str] = mapped_column(String(32), default="5/60s")
    concurrency: Mapped[int] = mapped_column(Integer, default=5)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Scheduled mode: parked records created before this moment may go (set by the batch sweep).
    batch_released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Nothing is dispatched for this integration before then: its account has no rate token (or
    # is paused) until that moment, so queueing records earlier would only bounce them back.
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The account's schema and facts as last read from NetSuite (nue_ns/account_profile.py); None
    # until the account is first read.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Record(Base):
    """One version of one Nue record and where it stands."""

    __tablename__ = "hub_records"
    __table_args__ = (
        UniqueConstraint("integration_id", "record_type", "nue_id", "version_hash", name="uq_record_version"),
        Index("ix_records_due", "state", "next_attempt_at"),
        Index("ix_records_integration_state", "integration_id", "state", "record_type"),
        Index(
            "ix_records_dispatch",
            "integration_id",
            "type_rank",
            "next_attempt_at",
            "id",
            postgresql_where="state IN ('pending', 'parked')",
        ),
        # An integration's dispatch window (hub/dispatching.DISPATCH): its queued + in-flight rows.
        Index("ix_records_busy", "integration_id", postgresql_where="state IN ('queued', 'in_flight')"),
        Index("ix_records_nue", "integration_id", "record_type", "nue_id"),
        Index("ix_records_waiting_on", "waiting_on", postgresql_using="gin"),
        Index("ix_records_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    record_type: Mapped[str] = mapped_column(String(32))
    type_rank: Mapped[int] = mapped_column(Integer)  # prerequisite order: customers and items first
    nue_id: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)  # why it is Not Transferred, in plain words
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    leased_by: Mapped[str | None] = mapped_column(String(200))
    waiting_on: Mapped[list[Any] | None]  # [{"type": "customer", "id": "C-1"}]
    error_kind: Mapped[str | None] = mapped_column(String(16))
    error_status: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    error_path: Mapped[str | None] = mapped_column(String(200))
    ns_type: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(255))
    ns_internal_id: Mapped[str | None] = mapped_column(String(40))
    # The transaction number NetSuite gave (tranId), read back by the audit's SuiteQL: the upsert
    # answers 204 without a body, and asking on the write path would cost a call per record.
    ns_tran_id: Mapped[str | None] = mapped_column(String(64))
    transferred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The NetSuite batch (hub_batches) this version last went in, if it went in one.
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def display_state(self) -> str:
        return DISPLAY[State(self.state)]


class Attempt(Base):
    """One HTTP exchange with NetSuite for a record: the audit log. Never holds headers or secrets."""

    __tablename__ = "hub_attempts"
    __table_args__ = (
        Index("ix_attempts_record", "record_id"),
        Index("ix_attempts_account_time", "account_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("hub_records.id", ondelete="CASCADE"))
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    account_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    elapsed_ms: Mapped[float | None]
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(1000))
    request_body: Mapped[dict[str, Any] | None]
    status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None]
    outcome: Mapped[str] = mapped_column(
        String(16)
    )  # transferred | transient | throttled | auth | needs_person
    error_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))


class BatchState(StrEnum):
    PREPARED = "prepared"  # key and items stored; (re)submitted with the same key until NetSuite answers
    SUBMITTED = "submitted"  # NetSuite gave a job: polled at next_at
    DONE = "done"  # every record's result mapped back to its hub row
    ABANDONED = "abandoned"  # not sent as a batch after all (its records went one by one)


class Batch(Base):
    """Up to 100 records of one NetSuite type upserted in one asynchronous request.

    The idempotency key is stored before the first submit, so a submit whose answer was lost is
    sent again with the same key and NetSuite answers with the same job (nue_ns/batches.py)."""

    __tablename__ = "hub_batches"
    __table_args__ = (Index("ix_batches_open", "integration_id", "state", "next_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    record_type: Mapped[str] = mapped_column(String(32))
    ns_type: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[Any]]  # [{"record_id", "external_id", "created"}] in request order
    body: Mapped[dict[str, Any]]  # {"items": [...]}: resent unchanged with the same key
    replace: Mapped[str | None] = mapped_column(String(100))
    job_id: Mapped[str | None] = mapped_column(String(40))
    submits: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    retried: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    next_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class NetSuiteLink(Base):
    """The NetSuite record a Nue record became: resolves prerequisites and spots echoes."""

    __tablename__ = "ns_links"
    __table_args__ = (Index("ix_links_internal", "integration_id", "ns_type", "ns_internal_id"),)

    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    nue_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ns_type: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(255))
    ns_internal_id: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(BigInteger)
    transferred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# The operator surface's tables share this metadata (migrations and create_all see them all).
from nue_ns.hub import models_api, models_inbound  # noqa: E402, F401
