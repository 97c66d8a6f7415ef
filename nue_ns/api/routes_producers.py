"""POST /v1/records/{type}: upstream services hand records to the hub (one, or a batch)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nue_ns.api.auth import producer
from nue_ns.api.common import Problem
from nue_ns.api.guard import cpu_limiter
from nue_ns.api.keys import Principal
from nue_ns.context import get_context
from nue_ns.producer import MAX_BATCH, InvalidBatch, enqueue_many
from nue_ns.records import RecordType
from nue_ns.strict_json import BadJson, loads

router = APIRouter(prefix="/v1", tags=["producers"])

_EXAMPLES = {
    "one": {
        "summary": "one customer",
        "value": {"id": "C-1001", "name": "Acme Ltd", "email": "billing@acme.example", "currency": "USD"},
    },
    "batch": {
        "summary": "a batch of products (all or nothing)",
        "value": [
            {"id": "P-1", "sku": "PLAT-M", "name": "Platform monthly", "product_type": "subscription"},
            {"id": "P-2", "sku": "ONB", "name": "Onboarding", "product_type": "entitlement"},
        ],
    },
}


class AcceptedRecord(BaseModel):
    id: int  # the hub id
    nue_id: str
    created: bool  # false: this exact version was already in the hub
    state: str


class Accepted(BaseModel):
    accepted: int
    new: int
    records: list[AcceptedRecord]


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "one record (object) or a batch (array) of at most 10,000; a key given twice "
        "in one object is refused",
        "content": {"application/json": {"schema": {}, "examples": _EXAMPLES}},
    }
}


@router.post(
    "/records/{record_type}",
    status_code=202,
    response_model=Accepted,
    responses={
        413: {"description": "more than 10,000 records in one batch"},
        422: {"description": "invalid JSON or invalid records (each bad field named); nothing was stored"},
    },
    openapi_extra=_BODY_DOC,
)
async def enqueue(
    record_type: RecordType,
    request: Request,
    integration: str = Query("default", max_length=64),
    principal: Principal = Depends(producer),
) -> Accepted:
    """Validate and store records durably in the hub, then hand them to the workers.

    A batch is all-or-nothing: one invalid record and none is stored. The same version sent twice
    is stored once (`created: false` the second time)."""
    if not principal.serves(integration):
        served = ", ".join(principal.integrations or ())
        reason = f"the key '{principal.name}' serves only: {served}"
        raise Problem(
            403,
            f"this key may not write into integration '{integration}'",
            [{"field": "integration", "reason": reason}],
        )
    parsed = getattr(request.state, "strict_json", None)  # api/guard.py parsed it already
    raw = b"" if parsed is not None else await request.body()
    return await anyio.to_thread.run_sync(
        _enqueue, record_type, raw, parsed, integration, limiter=cpu_limiter()
    )


def _enqueue(record_type: str, raw: bytes, parsed: Any, integration: str) -> JSONResponse:
    try:
        body = parsed if parsed is not None else loads(raw)
    except BadJson as exc:
        raise Problem(422, "invalid request", [{"field": exc.field, "reason": exc.reason}]) from None
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_BATCH:
        reason = f"holds {len(items)} records; a batch holds at most {MAX_BATCH}: split it"
        raise Problem(
            413,
            f"a batch holds at most {MAX_BATCH} records; split it",
            [{"field": "(batch)", "reason": reason}],
        )
    try:
        accepted = enqueue_many(record_type, items, integration=integration, ctx=get_context())
    except InvalidBatch as exc:
        raise Problem(422, f"{len(exc.problems)} invalid record(s), nothing stored", exc.as_json()) from None
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    records = [{"id": a.id, "nue_id": a.nue_id, "created": a.created, "state": a.state} for a in accepted]
    # Serialised here, in the threadpool (an async route's response model is built on the loop).
    body = {"accepted": len(records), "new": sum(a.created for a in accepted), "records": records}
    return JSONResponse(body, status_code=202)
