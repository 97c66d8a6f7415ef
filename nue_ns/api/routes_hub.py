"""The Transaction Hub over HTTP: counts, filtered listings, one record, retries, bulk jobs, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nue_ns import inbound, services
from nue_ns.api import jobs
from nue_ns.api.auth import operator
from nue_ns.api.common import Problem, filter_params, make_filter
from nue_ns.api.guard import BIGINT_MAX, HubId
from nue_ns.api.keys import Principal
from nue_ns.context import get_context
from nue_ns.hub import bulk_jobs
from nue_ns.hub import events as hub_events
from nue_ns.hub.queries import attempt_view, get_record, list_records, record_batch, record_view, status

router = APIRouter(prefix="/v1", tags=["hub"])


class RetryFilter(BaseModel):
    """Which records to retry: every one matching that is not Transferred, in flight or superseded."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = None
    state: str | None = Field(None, description="e.g. failed, waiting, 'Not Transferred'")
    integration: str | None = None
    nue_id: str | None = None
    error_code: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration: str = "default"
    since: dt.datetime | None = None


def _job_accepted(job_id: int) -> JSONResponse:
    ctx = get_context()
    job = bulk_jobs.get(ctx.engine, job_id)
    return JSONResponse(
        jobs.job_view(ctx.engine, job), status_code=202, headers={"Location": f"/v1/jobs/{job_id}"}
    )


@router.get("/status")
def hub_status(integration: str | None = None, _: Principal = Depends(operator)) -> dict[str, dict[str, int]]:
    """Counts per record type per state (superseded versions left out)."""
    return status(get_context().engine, integration)


@router.get("/records")
def records(
    record_type: str | None = Query(
        None, alias="type", description="customer, product, order, invoice, payment, refund, credit_memo"
    ),
    state: str | None = Query(
        None, description="failed, waiting, pending, transferred, ... or 'Not Transferred'"
    ),
    integration: str | None = None,
    nue_id: str | None = None,
    error_code: str | None = Query(None, description="NetSuite's o:errorCode, e.g. INVALID_CONTENT"),
    since: dt.datetime | None = Query(None, description="changed at or after (ISO 8601)"),
    until: dt.datetime | None = Query(None, description="changed before (ISO 8601)"),
    cursor: int | None = Query(None, ge=0, le=BIGINT_MAX, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(operator),
) -> dict[str, Any]:
    """Hub records, oldest first, a page at a time: pass `next_cursor` back as `cursor`."""
    f = make_filter(
        record_type=record_type,
        state=state,
        integration=integration,
        nue_id=nue_id,
        error_code=error_code,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    rows = list_records(get_context().engine, f)
    return {
        "records": [record_view(r) for r in rows],
        "next_cursor": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/batches")
def batches(limit: int = 50, _: Principal = Depends(operator)) -> dict[str, Any]:
    """NetSuite batches, newest first: job, progress and each one's per-record outcomes."""
    from nue_ns.hub import batch_store
    from nue_ns.hub.queries import batch_view

    rows = batch_store.listing(get_context().engine, None, max(1, min(limit, 1000)))
    return {"batches": [batch_view(b) for b in rows]}


@router.get("/records/{record_id}")
def record(record_id: HubId, _: Principal = Depends(operator)) -> dict[str, Any]:
    """One record: where it stands, its payload, and every attempt with NetSuite's answer."""
    found = get_record(get_context().engine, record_id)
    if found is None:
        raise Problem(404, f"no record {record_id}")
    rec, attempts = found
    batch = record_batch(get_context().engine, rec)
    return record_view(rec) | {
        "payload": rec.payload,
        "batch": batch,
        "attempts_log": [attempt_view(a) for a in attempts],
    }


@router.post("/records/retry", status_code=202)
def retry_matching(body: RetryFilter, principal: Principal = Depends(operator)) -> JSONResponse:
    """Retry every record matching the filter, as a tracked job: poll GET /v1/jobs/{id}."""
    f = make_filter(
        record_type=body.type,
        state=body.state,
        integration=body.integration,
        nue_id=body.nue_id,
        error_code=body.error_code,
        since=body.since,
        until=body.until,
    )
    job = jobs.start_retry(f, filter_params(f), principal.name)
    return _job_accepted(job.id)


@router.post("/records/{record_id}/retry", status_code=202)
def retry_one(record_id: HubId, _: Principal = Depends(operator)) -> dict[str, Any]:
    """Send one record again now (it must be Not Transferred)."""
    ctx = get_context()
    found = get_record(ctx.engine, record_id)
    if found is None:
        raise Problem(404, f"no record {record_id}")
    rec = found[0]
    if not services.retry(ctx, [record_id]).ids:
        raise Problem(409, f"record {record_id} is {rec.display_state} ({rec.state}): nothing to retry")
    return record_view(get_record(ctx.engine, record_id)[0])


@router.get("/jobs/{job_id}")
def job(job_id: HubId, _: Principal = Depends(operator)) -> dict[str, Any]:
    """A bulk job's progress (and, for a retry, where its records stand now)."""
    engine = get_context().engine
    found = bulk_jobs.get(engine, job_id)
    if found is None:
        raise Problem(404, f"no job {job_id}")
    return jobs.job_view(engine, found)


@router.post("/verify", status_code=202, tags=["audit"])
def verify(body: VerifyRequest, principal: Principal = Depends(operator)) -> JSONResponse:
    """Cross-check Transferred records against NetSuite (governed SuiteQL), as a tracked job."""
    try:
        job = jobs.start_verify(body.integration, body.since, principal.name)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    return _job_accepted(job.id)


class InboundRetry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = None
    all_failed: bool = False


@router.get("/inbound", tags=["inbound"])
def inbound_events(
    state: str | None = None,
    kind: str | None = Query(None, description="payment_received | payment_voided | credit_memo_voided"),
    integration: str | None = None,
    ns_internal_id: str | None = None,
    cursor: int | None = Query(None, ge=0, le=BIGINT_MAX, description="the next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(operator),
) -> dict[str, Any]:
    """NetSuite → Nue events (payments collected in NetSuite, voided credit memos) and their delivery."""
    try:
        found = hub_events.list_events(
            get_context().engine,
            state=state,
            kind=kind,
            integration=integration,
            ns_internal_id=ns_internal_id,
            after_id=cursor,
            limit=limit,
        )
    except ValueError as exc:
        field_name = "kind" if kind and "EventKind" in str(exc) else "state"
        raise Problem(422, "invalid filter", [{"field": field_name, "reason": str(exc)}]) from None
    items = [inbound.inbound_view(e) for e in found]
    return {"items": items, "next_cursor": items[-1]["id"] if len(items) == limit else None}


@router.post("/inbound/retry", tags=["inbound"])
def retry_inbound(body: InboundRetry, _: Principal = Depends(operator)) -> dict[str, Any]:
    """Deliver chosen events (or every one the receiver refused) again now."""
    if body.ids is None and not body.all_failed:
        raise Problem(
            422, "nothing to retry", [{"field": "ids", "reason": "give event ids or all_failed: true"}]
        )
    ids = hub_events.retry_events(get_context().engine, body.ids, all_failed=body.all_failed)
    return {"retried": ids}
