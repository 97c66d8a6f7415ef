"""What the audit (nue_ns.audit) reads and keeps in the hub: the records it checks against NetSuite,
and the transaction numbers NetSuite gave them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Engine, select

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State


def latest_transferred(engine: Engine, integration_id: int, since: dt.datetime | None) -> list[Record]:
    """The latest transferred version of each record (older transferred versions are history),
    transferred at or after `since` when given."""
    q = select(Record).where(Record.integration_id == integration_id, Record.state == State.TRANSFERRED)
    if since is not None:
        q = q.where(Record.transferred_at >= since)
    latest: dict[tuple[str, str], Record] = {}
    with session_scope(engine) as s:
        for rec in s.scalars(q.order_by(Record.id)):
            latest[(rec.record_type, rec.nue_id)] = rec
    return list(latest.values())


def keep_tran_ids(engine: Engine, numbers: Mapping[int, str]) -> None:
    """Store the number NetSuite gave each record's transaction: {record id: tranid}."""
    if not numbers:
        return
    with session_scope(engine) as s:
        for rec in s.scalars(select(Record).where(Record.id.in_(list(numbers)))):
            rec.ns_tran_id = numbers[rec.id][:64]
