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

A malformed answer (a field of an unexpected type or value: a `status` that is not an HTTP status,
an `id` that is not an internal id, a task list that is not a list) never raises out of here: the
item it concerns gets an ItemResult whose error is a NetSuiteError coded MALFORMED_ANSWER with the
field as its path, classified as the single-call client classifies the same fault (client.py
`_location_id`, `_json_object`): an unreadable outcome is transient (the upsert is sent again,
each time counted as an attempt), an answer that says the write succeeded but names no usable
internal id needs a person (the write may well have committed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nue_ns.netsuite.errors import Kind, NetSuiteError, classify_response
from nue_ns.safe_text import clip

MAX_ITEMS = 100  # "a maximum of 100 records in one batch request" [article_0127092747]
COLLECTION_TYPE = "application/vnd.oracle.resource+json; type=collection"
# A job or task id: one path segment, and no longer than the hub's column (batches.job_id, 40).
ASYNC_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_JOB = re.compile(r"/async/v1/job/([A-Za-z0-9_-]{1,40})(?:/|$)")
# An internal id: a number of at most 20 digits (as client.py reads one from a Location).
_INTERNAL_ID = re.compile(r"[0-9]{1,20}")
MALFORMED = "MALFORMED_ANSWER"


def _url_path(url: str | None) -> str:
    """The path of a URL an answer gave ('' when it is not one: urlsplit refuses e.g. 'http://[')."""
    try:
        return urlsplit(url or "").path
    except ValueError:
        return ""


def _json_text(value: Any) -> str:
    """A parsed answer as JSON text again (a value nested past the stack: its type only)."""
    try:
        return value if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def job_id_from_location(location: str | None) -> str | None:
    """The job id in `Location: .../services/rest/async/v1/job/{id}` [subsect_161278579295]."""
    m = _JOB.search(_url_path(location))
    return m.group(1) if m else None


def duplicate_key_job(status: int, body: Any, location: str | None) -> str | None:
    """The earlier job when NetSuite refuses a repeated idempotency key [subsect_164494900632]."""
    if status not in (400, 409):  # 400 as documented; 409 UNVERIFIED
        return None
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    listed = details if isinstance(details, list) else []
    codes = {
        d.get("o:errorCode") for d in listed if isinstance(d, dict) and isinstance(d.get("o:errorCode"), str)
    }
    return job_id_from_location(location) if "IDEMPOTENCY_ERROR" in codes else None


def job_finished(job: dict[str, Any]) -> bool:
    """`completed` of an async job [subsect_161278579295]."""
    return job.get("completed") is True


@dataclass(frozen=True)
class ItemResult:
    """One record's outcome in a batch: its internal id, or the error NetSuite gave it."""

    internal_id: str | None = None
    error: NetSuiteError | None = None
    external_id: str | None = None


def malformed(field: str, value: Any, expected: str, kind: Kind = Kind.TRANSIENT) -> ItemResult:
    """The outcome of an item whose answer has `field` of an unexpected type or value."""
    shown = clip(repr(value) if isinstance(value, str) else _json_text(value), 80)
    detail = f"malformed answer: the batch result's {field} is {shown}, expected {expected}"
    return ItemResult(error=NetSuiteError(kind, detail, code=MALFORMED, path=field))


def internal_id(value: Any) -> str | None:
    """An internal id as a batch answer may give it (a JSON number or a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    return text if _INTERNAL_ID.fullmatch(text) else None


def task_ids(page: Any) -> list[str | ItemResult]:
    """Task ids of a job's task collection, in the order listed (a task's position is its item's).
    An entry without a usable id keeps its position, as the malformed outcome of its item(s)."""
    items = page.get("items") if isinstance(page, dict) else None
    if items is None:
        return []
    if not isinstance(items, list):
        return [malformed("items", items, "a list of tasks")]
    out: list[str | ItemResult] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            out.append(malformed(f"items[{i}]", item, "a task (a JSON object)"))
            continue
        task = item.get("id")
        text = str(task) if isinstance(task, int | str) and not isinstance(task, bool) else ""
        if ASYNC_ID.fullmatch(text):
            out.append(text)
        else:
            out.append(malformed(f"items[{i}].id", task, "a task id of 1 to 40 letters, digits, _ or -"))
    return out


def is_one_task(n_tasks: int, n_items: int) -> bool:
    """UNVERIFIED shape "one_task": a single task whose result lists every record. A job of one
    record has one task in either shape: `lone_task_result` tells them apart by the result."""
    return n_tasks == 1 and n_items > 1


def lone_task_result(status: Any, body: Any, location: str | None) -> ItemResult | None:
    """The one task's result of a one-record job [subsect_161252896355], in either UNVERIFIED shape:
    `{"items": [<record answer>]}` ("one_task") or the record's own answer ("task_per_record": an
    id, links or an error body, never `items`). Read as a record's own answer, the listing names no
    id, so an update in a batch of one was never confirmed and went again in every later batch."""
    code = _http_status(status)
    listing = (
        isinstance(body, dict) and "items" in body and not body.get("o:errorDetails") and "id" not in body
    )
    if code is not None and listing:
        return one_task_results(body if code < 300 else None, 1)[0]
    return record_result(status, body, location)


def one_task_results(body: Any, n_items: int) -> list[ItemResult | None]:
    """UNVERIFIED: `{"items": [ <record answer> ... ]}` in request order (None where unreadable)."""
    items = body.get("items") if isinstance(body, dict) else None
    results: list[ItemResult | None] = [None] * n_items
    if items is None:
        return results
    if not isinstance(items, list):
        return [malformed("items", items, "a list of record answers")] * n_items
    for i, entry in enumerate(items[:n_items]):
        if not isinstance(entry, dict):
            results[i] = malformed(f"items[{i}]", entry, "a record answer (a JSON object)")
            continue
        results[i] = record_result(entry.get("status", 200), entry, None, where=f"items[{i}].")
    return results


def _http_status(value: Any) -> int | None:
    """An HTTP status as NetSuite writes one: a JSON integer 100..599."""
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        return None
    return value


def record_result(status: Any, body: Any, location: str | None, where: str = "") -> ItemResult | None:
    """UNVERIFIED: one record's answer inside a job, read like a synchronous write's answer.

    Success: an `id`, a `Location`, or a `self` link to `/record/v1/{type}/{id}`. Failure: NetSuite's
    error body (`o:errorDetails` with detail and o:errorPath), classified as any other error. None:
    no answer to read. `where` prefixes the field a malformed answer names (`items[3].`)."""
    if body is None and location is None:
        return None
    code = _http_status(status)
    if code is None:
        return malformed(f"{where}status", status, "an HTTP status (an integer 100..599)")
    if body is not None and not isinstance(body, dict):
        return malformed(where.rstrip(".") or "result", body, "a record answer (a JSON object)")
    body = body or {}
    eid = body.get("externalId") if isinstance(body.get("externalId"), str) else None
    if body.get("o:errorDetails") or code >= 400:
        # The error body's own status where it is one, else the answer's (400 for an error in a 2xx).
        inner = _http_status(body.get("status"))
        error_status = inner or (code if code >= 400 else 400)
        return ItemResult(error=classify_response(error_status, _json_text(body)), external_id=eid)
    if body.get("id") is not None:
        found = internal_id(body["id"])
        if found is None:  # a success naming no usable record: a person must look
            return malformed(f"{where}id", body["id"], "an internal id (digits)", Kind.NEEDS_PERSON)
        return ItemResult(internal_id=found, external_id=eid)
    links = body.get("links") if isinstance(body.get("links"), list) else []
    hrefs = [location] + [ln.get("href") for ln in links if isinstance(ln, dict)]
    for href in hrefs:
        m = re.search(
            r"/record/v1/[A-Za-z]+/([0-9]{1,20})$", _url_path(href if isinstance(href, str) else None)
        )
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
