"""Inbound tables (NetSuite -> Nue): one row per change to deliver, and each integration's watermark."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from nue_ns.hub.models import Base


class EventKind(StrEnum):
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_VOIDED = "payment_voided"  # a payment received earlier, voided in NetSuite since
    CREDIT_MEMO_VOIDED = "credit_memo_voided"


class EventState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (new, or retrying after a failed delivery)
    DELIVERED = "delivered"  # the webhook answered 2xx
    FAILED = "failed"  # the receiver refused it (4xx): needs a person, retried only by hand


# What finance sees, in the words of the outbound hub.
EVENT_DISPLAY = {
    EventState.PENDING: "Not Delivered",
    EventState.DELIVERED: "Delivered",
    EventState.FAILED: "Not Delivered",
}


class InboundEvent(Base):
    """One change seen in NetSuite, to be delivered to Nue exactly in order per NetSuite record."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        Index("ix_inbound_due", "state", "next_attempt_at"),
        # One NetSuite record's events in order; the deliverer and the poller look them up by it.
        UniqueConstraint(
            "integration_id", "ns_type", "ns_internal_id", "sequence", name="uq_inbound_sequence"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    ns_type: Mapped[str] = mapped_column(String(40))
    ns_internal_id: Mapped[str] = mapped_column(String(40))
    # NetSuite's lastmodifieddate as NetSuite reports it (its clock and time zone, hence naive).
    lastmodified: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per NetSuite record
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))  # a change that reports nothing new is skipped
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default=EventState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last attempt
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def display_state(self) -> str:
        return EVENT_DISPLAY[EventState(self.state)]


class InboundWatermark(Base):
    """The last (lastmodifieddate, internal id) an integration's poller has read: survives restarts."""

    __tablename__ = "inbound_watermarks"

    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"), primary_key=True)
    wm_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))  # NetSuite's clock, like above
    wm_id: Mapped[int] = mapped_column(BigInteger)
    last_poll_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
