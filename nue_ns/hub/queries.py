"""Read-side of the hub for operators: counts by state and type, filtered listings, what the
metrics and the throttling advice are computed from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, Select, func, select, text

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import DISPLAY, Attempt, Integration, Record, State


def status(
    engine: Engine, integration: str | None = None, ids: Collection[int] | None = None
) -> dict[str, dict[str, int]]:
    """{record_type: {state: count}} (superseded versions left out), of the hub or of records `ids`."""
    q = (
        select(Record.record_type, Record.state, func.count())
        .where(Record.state != State.SUPERSEDED)
        .group_by(Record.record_type, Record.state)
    )
    if ids is not None:
        q = q.where(Record.id.in_(list(ids)))
    if integration:
        q = q.join(Integration, Integration.id == Record.integration_id).where(
            Integration.name == integration
        )
    out: dict[str, dict[str, int]] = {}
    with session_scope(engine) as s:
        for rtype, state, n in s.execute(q):
            out.setdefault(rtype, {})[state] = n
    return out


@dataclass
class Filter:
    state: str | None = None  # an internal state, or a display state ("Not Transferred")
    record_type: str | None = None
    integration: str | None = None
    nue_id: str | None = None
    error_code: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    after_id: int | None = None  # cursor
    limit: int = 100


def states_named(name: str) -> list[str]:
    wanted = name.strip().lower().replace(" ", "_").replace("-", "_")
    exact = [s.value for s in State if s.value == wanted]
    if exact:
        return exact
    by_display = [s.value for s, d in DISPLAY.items() if d.lower().replace(" ", "_") == wanted]
    if not by_display:
        choices = sorted({s.value for s in State} | {d for d in DISPLAY.values()})
        raise ValueError(f"state {name!r}: expected one of {', '.join(choices)}")
    return by_display


def apply_filter(q: Select, f: Filter) -> Select:
    """Narrow a query on Record by everything in `f` but the state and the paging."""
    if f.record_type:
        q = q.where(Record.record_type == f.record_type)
    if f.integration:
        q = q.join(Integration, Integration.id == Record.integration_id).where(
            Integration.name == f.integration
        )
    if f.nue_id:
        q = q.where(Record.nue_id == f.nue_id)
    if f.error_code:
        q = q.where(Record.error_code == f.error_code)
    if f.since:
        q = q.where(Record.updated_at >= f.since)
    if f.until:
        q = q.where(Record.updated_at < f.until)
    return q


def list_records(engine: Engine, f: Filter) -> list[Record]:
    q = apply_filter(select(Record).order_by(Record.id).limit(max(1, min(f.limit, 1000))), f)
    if f.state:
        q = q.where(Record.state.in_(states_named(f.state)))
    if f.after_id:
        q = q.where(Record.id > f.after_id)
    with session_scope(engine) as s:
        return list(s.scalars(q))


def get_record(engine: Engine, record_id: int) -> tuple[Record, list[Attempt]] | None:
    with session_scope(engine) as s:
        rec = s.get(Record, record_id)
        if rec is None:
            return None
        attempts = list(s.scalars(select(Attempt).where(Attempt.record_id == record_id).order_by(Attempt.id)))
        return rec, attempts


_NUMBER_FIELDS = {"order": "order_number", "invoice": "invoice_number", "credit_memo": "credit_memo_number"}


def _nue_number(rec: Record) -> str | None:
    """The document's Nue number (NetSuite numbers the transaction itself: `netsuite.tran_id`)."""
    field = _NUMBER_FIELDS.get(rec.record_type)
    return rec.payload.get(field) if field and isinstance(rec.payload, dict) else None


def record_view(rec: Record) -> dict[str, Any]:
    return {
        "id": rec.id,
        "type": rec.record_type,
        "nue_id": rec.nue_id,
        "status": rec.display_state,
        "state": rec.state,
        "reason": rec.reason,
        "attempts": rec.attempts,
        "next_attempt_at": rec.next_attempt_at.isoformat() if rec.next_attempt_at else None,
        "waiting_on": rec.waiting_on,
        "error": None
        if not rec.error_kind
        else {
            "kind": rec.error_kind,
            "status": rec.error_status,
            "code": rec.error_code,
            "detail": rec.error_detail,
            "path": rec.error_path,
        },
        "netsuite": None
        if not rec.ns_internal_id
        else {
            "type": rec.ns_type,
            "internal_id": rec.ns_internal_id,
            "external_id": rec.external_id,
            "tran_id": rec.ns_tran_id,  # NetSuite's number, once the audit has read it
        },
        "number": _nue_number(rec),
        "transferred_at": rec.transferred_at.isoformat() if rec.transferred_at else None,
        "created_at": rec.created_at.isoformat() if rec.created_at else None,
        "updated_at": rec.updated_at.isoformat() if rec.updated_at else None,
    }


def attempt_view(a: Attempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "started_at": a.started_at.isoformat(),
        "elapsed_ms": a.elapsed_ms,
        "method": a.method,
        "url": a.url,
        "request_body": a.request_body,
        "status": a.status,
        "response_body": a.response_body,
        "outcome": a.outcome,
        "error_code": a.error_code,
        "detail": a.detail,
    }


def batch_view(b: Any) -> dict[str, Any]:
    """A NetSuite batch (hub_batches) as operators see it: its job and progress."""
    n = len(b.items or [])
    return {
        "id": b.id,
        "integration_id": b.integration_id,
        "record_type": b.record_type,
        "ns_type": b.ns_type,
        "state": b.state,
        "job_id": b.job_id,
        "records": n,
        "succeeded": b.succeeded,
        "failed": b.failed,
        "retried": b.retried,
        "submits": b.submits,
        "polls": b.polls,
        "progress": b.progress,
        "detail": b.detail,
        "next_at": b.next_at.isoformat() if b.next_at else None,
        "created_at": b.created_at.isoformat() if b.created_at else None,
        "finished_at": b.finished_at.isoformat() if b.finished_at else None,
    }


def record_batch(engine: Any, rec: Record) -> dict[str, Any] | None:
    """The batch (and NetSuite job) a record last went in, if any."""
    from nue_ns.hub import batch_store

    batch = batch_store.get(engine, rec.batch_id) if rec.batch_id else None
    return batch_view(batch) if batch is not None else None


# ---------------------------------------------------------------- metrics (read at scrape time)

_RECORDS = """
    SELECT i.name, r.record_type, r.state, count(*) FROM hub_records r
    JOIN integrations i ON i.id = r.integration_id
    WHERE r.state <> 'superseded' GROUP BY 1, 2, 3
"""
_ATTEMPTS = """
    SELECT i.name, a.outcome, COALESCE(a.error_code, ''), COALESCE(a.status, 0), count(*)
    FROM hub_attempts a JOIN integrations i ON i.id = a.integration_id GROUP BY 1, 2, 3, 4
"""
_OLDEST = """
    SELECT i.name, EXTRACT(EPOCH FROM now() - min(r.created_at)) FROM hub_records r
    JOIN integrations i ON i.id = r.integration_id
    WHERE r.state = ANY(:states) GROUP BY 1
"""
_GOVERNOR_WAITS = """
    SELECT i.name, count(*) FROM hub_records r JOIN integrations i ON i.id = r.integration_id
    WHERE r.state = 'pending' AND r.reason LIKE 'waiting for a NetSuite call slot%' GROUP BY 1
"""


@dataclass
class MetricRows:
    """The hub's counts behind the Prometheus metrics, by integration name."""

    records: list[Row]  # (integration, record type, state, count), superseded versions left out
    attempts: list[Row]  # (integration, outcome, error code or '', HTTP status or 0, count)
    oldest: list[Row]  # (integration, age in seconds of its oldest record in `not_transferred` states)
    governor_waits: list[Row]  # (integration, records pending until a NetSuite call slot frees)


def metric_rows(engine: Engine, not_transferred: Sequence[str]) -> MetricRows:
    with session_scope(engine) as s:
        return MetricRows(
            list(s.execute(text(_RECORDS))),
            list(s.execute(text(_ATTEMPTS))),
            list(s.execute(text(_OLDEST), {"states": list(not_transferred)})),
            list(s.execute(text(_GOVERNOR_WAITS))),
        )


def recent_status_counts(engine: Engine, status: int, window: dt.timedelta) -> list[Row]:
    """(integration name, its settings, count) of the calls NetSuite answered `status` in the last
    `window`, per integration that had any."""
    q = (
        select(Integration.name, Integration.settings, func.count())
        .join(Attempt, Attempt.integration_id == Integration.id)
        .where(Attempt.status == status, Attempt.started_at > func.now() - window)
        .group_by(Integration.id, Integration.name, Integration.settings)
    )
    with session_scope(engine) as s:
        return list(s.execute(q))
