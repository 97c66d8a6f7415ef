"""Tracked bulk work started from the API or the UI: retry all matching, verify against NetSuite.

A job is a row in `bulk_jobs` whose progress a thread of the API process advances; callers poll
it. Each step is an ordinary atomic hub transition, so a job cut short by a restart has done
exactly the steps it recorded, and running it again is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from nue_ns import audit, services
from nue_ns.context import get_context
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State, utcnow
from nue_ns.hub.models_api import BulkJob, JobState
from nue_ns.hub.queries import Filter, apply_filter, states_named

log = logging.getLogger(__name__)

RETRYABLE = (State.FAILED, State.WAITING, State.PENDING, State.PARKED)  # what operators.retry accepts
CHUNK = 500  # records per retry transaction: progress moves, and no lock is held for long
STALLED_AFTER = dt.timedelta(minutes=2)  # a running job silent this long lost its process


def matching_ids(engine: Engine, f: Filter) -> list[int]:
    """Ids of the records a bulk retry of filter `f` touches: those matching it that can be retried."""
    states = [s.value for s in RETRYABLE]
    if f.state:
        states = [s for s in states_named(f.state) if s in states]
    q = apply_filter(select(Record.id).where(Record.state.in_(states)).order_by(Record.id), f)
    with session_scope(engine) as s:
        return list(s.scalars(q))


def _create(
    engine: Engine, kind: str, params: dict[str, Any], total: int, created_by: str, result: dict | None = None
) -> BulkJob:
    with session_scope(engine) as s:
        job = BulkJob(kind=kind, params=params, total=total, done=0, created_by=created_by, result=result)
        s.add(job)
        s.flush()
        return job


def _advance(engine: Engine, job_id: int, **values: Any) -> None:
    with session_scope(engine) as s:
        s.execute(update(BulkJob).where(BulkJob.id == job_id).values(updated_at=func.now(), **values))


def _in_thread(job_id: int, name: str, work: Callable[[], None]) -> None:
    def run() -> None:
        engine = get_context().engine
        try:
            work()
        except Exception as exc:  # the job reports it; the API process carries on
            log.exception("bulk job %s failed", job_id)
            _advance(engine, job_id, state=JobState.FAILED.value, error=str(exc)[:2000], finished_at=utcnow())

    threading.Thread(target=run, name=f"nue-ns-{name}-{job_id}", daemon=True).start()


def start_retry(f: Filter, params: dict[str, Any], created_by: str) -> BulkJob:
    """Retry every record matching `f` that can be retried, in chunks, dispatching as it goes."""
    ctx = get_context()
    ids = matching_ids(ctx.engine, f)
    job = _create(ctx.engine, "retry", params, len(ids), created_by, _retry_result(ids, 0))

    def work() -> None:
        retried = 0
        for i in range(0, len(ids), CHUNK):
            retried += len(services.retry(ctx, ids[i : i + CHUNK]).ids)
            _advance(ctx.engine, job.id, done=min(i + CHUNK, len(ids)), result=_retry_result(ids, retried))
        _advance(ctx.engine, job.id, state=JobState.DONE.value, finished_at=utcnow())

    _in_thread(job.id, "retry", work)
    return job


def _retry_result(ids: list[int], retried: int) -> dict[str, Any]:
    return {"retried": retried, "record_ids": ids}


def start_verify(integration: str, since: dt.datetime | None, created_by: str) -> BulkJob:
    """Cross-check the integration's Transferred records against NetSuite (nue_ns.audit)."""
    ctx = get_context()
    integ = ctx.integration(integration)  # LookupError before any job exists
    params = {"integration": integ.name, "since": since.isoformat() if since else None}
    job = _create(ctx.engine, "verify", params, 0, created_by)

    def progress(done: int, total: int) -> None:
        _advance(ctx.engine, job.id, done=done, total=total)

    def work() -> None:
        report = audit.verify(ctx, integ.name, since, progress=progress)
        _advance(ctx.engine, job.id, state=JobState.DONE.value, result=report.as_json(), finished_at=utcnow())

    _in_thread(job.id, "verify", work)
    return job


def get_job(engine: Engine, job_id: int) -> BulkJob | None:
    with session_scope(engine) as s:
        return s.get(BulkJob, job_id)


def _states_of(s: Session, ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in range(0, len(ids), 10_000):
        rows = s.execute(
            select(Record.state, func.count())
            .where(Record.id.in_(ids[i : i + 10_000]))
            .group_by(Record.state)
        )
        for state, n in rows:
            counts[state] = counts.get(state, 0) + n
    return counts


def job_view(engine: Engine, job: BulkJob) -> dict[str, Any]:
    """The job as callers see it; a retry job also tells where its records stand now."""
    stalled = job.state == JobState.RUNNING and utcnow() - job.updated_at > STALLED_AFTER
    view: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "state": "stalled" if stalled else job.state,
        "total": job.total,
        "done": job.done,
        "params": job.params,
        "error": job.error,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    result = dict(job.result or {})
    if job.kind == "retry":
        ids = result.pop("record_ids", [])
        with session_scope(engine) as s:
            result["now"] = _states_of(s, ids)
        result["transferred"] = result["now"].get(State.TRANSFERRED, 0)
    view["result"] = result
    return view
