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

from sqlalchemy import Engine

from nue_ns import audit, services
from nue_ns.context import get_context
from nue_ns.hub import bulk_jobs
from nue_ns.hub.models import State, utcnow
from nue_ns.hub.models_api import BulkJob, JobState
from nue_ns.hub.queries import Filter

log = logging.getLogger(__name__)

CHUNK = 500  # records per retry transaction: progress moves, and no lock is held for long
STALLED_AFTER = dt.timedelta(minutes=2)  # a running job silent this long lost its process


def _in_thread(job_id: int, name: str, work: Callable[[], None]) -> None:
    def run() -> None:
        engine = get_context().engine
        try:
            work()
        except Exception as exc:  # the job reports it; the API process carries on
            log.exception("bulk job %s failed", job_id)
            bulk_jobs.advance(
                engine, job_id, state=JobState.FAILED.value, error=str(exc)[:2000], finished_at=utcnow()
            )

    threading.Thread(target=run, name=f"nue-ns-{name}-{job_id}", daemon=True).start()


def start_retry(f: Filter, params: dict[str, Any], created_by: str) -> BulkJob:
    """Retry every record matching `f` that can be retried, in chunks, dispatching as it goes."""
    ctx = get_context()
    ids = bulk_jobs.retryable_ids(ctx.engine, f)
    job = bulk_jobs.create(ctx.engine, "retry", params, len(ids), created_by, _retry_result(ids, 0))

    def work() -> None:
        retried = 0
        for i in range(0, len(ids), CHUNK):
            retried += len(services.retry(ctx, ids[i : i + CHUNK]).ids)
            bulk_jobs.advance(
                ctx.engine, job.id, done=min(i + CHUNK, len(ids)), result=_retry_result(ids, retried)
            )
        bulk_jobs.advance(ctx.engine, job.id, state=JobState.DONE.value, finished_at=utcnow())

    _in_thread(job.id, "retry", work)
    return job


def _retry_result(ids: list[int], retried: int) -> dict[str, Any]:
    return {"retried": retried, "record_ids": ids}


def start_verify(integration: str, since: dt.datetime | None, created_by: str) -> BulkJob:
    """Cross-check the integration's Transferred records against NetSuite (nue_ns.audit)."""
    ctx = get_context()
    integ = ctx.integration(integration)  # LookupError before any job exists
    params = {"integration": integ.name, "since": since.isoformat() if since else None}
    job = bulk_jobs.create(ctx.engine, "verify", params, 0, created_by)

    def progress(done: int, total: int) -> None:
        bulk_jobs.advance(ctx.engine, job.id, done=done, total=total)

    def work() -> None:
        report = audit.verify(ctx, integ.name, since, progress=progress)
        bulk_jobs.advance(
            ctx.engine, job.id, state=JobState.DONE.value, result=report.as_json(), finished_at=utcnow()
        )

    _in_thread(job.id, "verify", work)
    return job


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
        result["now"] = bulk_jobs.states_of(engine, ids)
        result["transferred"] = result["now"].get(State.TRANSFERRED, 0)
    view["result"] = result
    return view
