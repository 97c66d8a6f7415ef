"""Tables of the operator surface: API keys (stored hashed) and tracked bulk jobs.

No foreign keys to the hub tables: a job or a key outlives the records and integrations it
touched, and truncating the hub (tests, a fresh start) never has to cascade into them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from nue_ns.hub.models import Base


class Role(StrEnum):
    PRODUCER = "producer"  # may enqueue records, nothing else
    OPERATOR = "operator"  # everything: hub, retries, integrations, governor, UI


class ApiKey(Base):
    """An API key: only its SHA-256 is kept (the key is 32 random bytes, so no slow hash is needed)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the key's first characters, to tell keys apart
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Producer keys: the integrations the key may write into (None: every integration).
    integrations: Mapped[list[Any] | None]


class EndedSession(Base):
    """A UI session logged out before its cookie expires: the cookie is refused from then on."""

    __tablename__ = "ui_sessions_ended"

    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session id
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BulkJob(Base):
    """Long operator work (retry all matching, verify against NetSuite) with its progress."""

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # retry | verify
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.RUNNING.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
