"""Tracked bulk work (bulk_jobs): a job's row, its progress, and the records a bulk retry touches.

What a job does (retry, verify) and the thread that runs it are nue_ns.api.jobs'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select, update

from nue_ns.hub import states
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.hub.models_api import BulkJob
from nue_ns.hub.queries import Filter, apply_filter, states_named

RETRYABLE = tuple(State(s) for s in states.sources("retry"))  # what operators.retry accepts (hub/states.py)


def retryable_ids(engine: Engine, f: Filter) -> list[int]:
    """Ids of the records a bulk retry of filter `f` touches: those matching it that can be retried."""
    wanted = [s.value for s in RETRYABLE]
    if f.state:
        wanted = [s for s in states_named(f.state) if s in wanted]
    q = apply_filter(select(Record.id).where(Record.state.in_(wanted)).order_by(Record.id), f)
    with session_scope(engine) as s:
        return list(s.scalars(q))


def create(
    engine: Engine, kind: str, params: dict[str, Any], total: int, created_by: str, result: dict | None = None
) -> BulkJob:
    with session_scope(engine) as s:
        job = BulkJob(kind=kind, params=params, total=total, done=0, created_by=created_by, result=result)
        s.add(job)
        s.flush()
        return job


def advance(engine: Engine, job_id: int, **values: Any) -> None:
    """Record a job's progress (or its end): the columns given, and updated_at."""
    with session_scope(engine) as s:
        s.execute(update(BulkJob).where(BulkJob.id == job_id).values(updated_at=func.now(), **values))


def get(engine: Engine, job_id: int) -> BulkJob | None:
    with session_scope(engine) as s:
        return s.get(BulkJob, job_id)


def states_of(engine: Engine, ids: Sequence[int]) -> dict[str, int]:
    """{state: count} of records `ids` now (asked 10,000 ids at a time)."""
    counts: dict[str, int] = {}
    with session_scope(engine) as s:
        for i in range(0, len(ids), 10_000):
            rows = s.execute(
                select(Record.state, func.count())
                .where(Record.id.in_(list(ids[i : i + 10_000])))
                .group_by(Record.state)
            )
            for state, n in rows:
                counts[state] = counts.get(state, 0) + n
    return counts
