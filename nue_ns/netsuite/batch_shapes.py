"""NetSuite batch (async) answers: every shape Oracle does not document is read HERE, and only here.

Documented (cited beside each use):
- A batch write is `PUT /record/v1/{type}` with `Prefer: respond-async` and `Content-Type:
  application/vnd.oracle.resource+json; type=collection`, body `{"items": [...]}`, at most 100 items,
  an optional `X-NetSuite-Idempotency-Key` [article_0127092747].
- The answer is 202 with `Location: /services/rest/async/v1/job/{id}` [subsect_161278579295].
- The job has `completed` and `progress`; its tasks are under `.../job/{id}/task`, each task has
  `completed`, `progress` ("succeeded" in Oracle's example) and a `related` link to `.../result`
  [subsect_161252896355, subsect_161278579295].
- A repeated request with an idempotency key already used is answered "HTTP 400 Conflict",
  `o:errorCode` IDEMPOTENCY_ERROR, with `Location` of the previously submitted job
  [subsect_164494900632].

UNVERIFIED (no Oracle page settles it; the sandbox has a switch for each plausible shape, see
nue_ns/sandbox/async_jobs.py, and the product works under each):
- the per-record result of a batch job: one task per record whose result is that record's own
  answer ("task_per_record"), or one task whose result lists every record ("one_task");
- which task is which record: the task's position in the task list is the item's position in the
  request (a result that names its externalId overrides the position);
- what an account answers when batch writes are not available to it (405, 415, or a 400 that says
  so): `batches_unsupported`;
- whether the duplicate-key answer is 400 (documented example) or 409 (what "Conflict" means in
  HTTP): both are read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nue_ns.netsuite.errors import NetSuiteError, classify_response

MAX_ITEMS = 100  # "a maximum of 100 records in one batch request" [article_0127092747]
COLLECTION_TYPE = "application/vnd.oracle.resource+json; type=collection"
_JOB = re.compile(r"/async/v1/job/([A-Za-z0-9_-]+)")


def job_id_from_location(location: str | None) -> str | None:
    """The job id in `Location: .../services/rest/async/v1/job/{id}` [subsect_161278579295]."""
    m = _JOB.search(urlsplit(location or "").path)
    return m.group(1) if m else None


def duplicate_key_job(status: int, body: Any, location: str | None) -> str | None:
    """The earlier job when NetSuite refuses a repeated idempotency key [subsect_164494900632]."""
    if status not in (400, 409):  # 400 as documented; 409 UNVERIFIED
        return None
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    codes = {d.get("o:errorCode") for d in details or [] if isinstance(d, dict)}
    return job_id_from_location(location) if "IDEMPOTENCY_ERROR" in codes else None


def job_finished(job: dict[str, Any]) -> bool:
    """`completed` of an async job [subsect_161278579295]."""
    return job.get("completed") is True


def task_ids(page: dict[str, Any]) -> list[str]:
    """Task ids of a job's task collection, in the order listed."""
    out = []
    for item in page.get("items") or []:
        if isinstance(item, dict) and item.get("id") is not None:
            out.append(str(item["id"]))
    return out


@dataclass(frozen=True)
class ItemResult:
    """One record's outcome in a batch: its internal id, or the error NetSuite gave it."""

    internal_id: str | None = None
    error: NetSuiteError | None = None
    external_id: str | None = None


def is_one_task(n_tasks: int, n_items: int) -> bool:
    """UNVERIFIED shape "one_task": a single task whose result lists every record."""
    return n_tasks == 1 and n_items > 1


def one_task_results(body: Any, n_items: int) -> list[ItemResult | None]:
    """UNVERIFIED: `{"items": [ <record answer> ... ]}` in request order (None where unreadable)."""
    items = body.get("items") if isinstance(body, dict) else None
    results: list[ItemResult | None] = [None] * n_items
    for i, entry in enumerate((items or [])[:n_items]):
        results[i] = record_result(entry.get("status", 200) if isinstance(entry, dict) else 0, entry, None)
    return results


def record_result(status: int, body: Any, location: str | None) -> ItemResult | None:
    """UNVERIFIED: one record's answer inside a job, read like a synchronous write's answer.

    Success: an `id`, a `Location`, or a `self` link to `/record/v1/{type}/{id}`. Failure: NetSuite's
    error body (`o:errorDetails` with detail and o:errorPath), classified as any other error."""
    if not isinstance(body, dict) and location is None:
        return None
    body = body if isinstance(body, dict) else {}
    eid = body.get("externalId")
    if body.get("o:errorDetails") or (status and status >= 400):
        code_status = int(body.get("status") or status or 400)
        return ItemResult(error=classify_response(code_status, json.dumps(body)), external_id=eid)
    if body.get("id") is not None:
        return ItemResult(internal_id=str(body["id"]), external_id=eid)
    hrefs = [location] + [ln.get("href") for ln in body.get("links") or [] if isinstance(ln, dict)]
    for href in hrefs:
        m = re.search(r"/record/v1/[A-Za-z]+/([0-9]+)$", urlsplit(href or "").path)
        if m:
            return ItemResult(internal_id=m.group(1), external_id=eid)
    return None


def batches_unsupported(err: NetSuiteError) -> bool:
    """UNVERIFIED: the account answers that batch writes are not available to it.

    405 or 415 (the collection method or media type refused), or a 400 INVALID_REQUEST whose detail
    speaks of batch, collection or asynchronous requests. Anything else is a normal failure."""
    if err.status in (405, 415):
        return True
    words = re.compile(r"batch|collection|async|respond-async", re.IGNORECASE)
    return (
        err.status == 400
        and err.code in ("INVALID_REQUEST", "UNSUPPORTED_MEDIA_TYPE")
        and bool(words.search(err.detail or ""))
    )
