"""Batch requests and asynchronous jobs, as NetSuite's REST web services run them.

Documented, and emulated as written:
- A batch write is POST/PUT/PATCH on `/record/v1/{type}` with `Prefer: respond-async` and
  `Content-Type: application/vnd.oracle.resource+json; type=collection`, body `{"items": [...]}`,
  at most 100 records; PUT upserts and "only support[s] external ID"; batches run asynchronously
  only; `X-NetSuite-Idempotency-Key` is optional [article_0127092747].
- The answer is 202 with `Location: /services/rest/async/v1/job/{id}`; the job shows `completed` and
  `progress`; its tasks are under `.../task`, each with `completed`, `progress`, and a `related`
  link to its `result` [subsect_161278579295, subsect_161252896355].
- Jobs run in the background, "asynchronously and in parallel" [article_0127092747], on the
  account's "REST Async Processors", as many as its SuiteCloud Plus licences allow
  [chapter_161251386312]; how many an account without them has is not stated (switch
  `processors`, default 1: jobs of one account one after another; accounts never wait for
  each other).
- A repeated idempotency key is answered 400 IDEMPOTENCY_ERROR with `Location` of the earlier job
  [subsect_164494900632].
Each record of a job succeeds or fails on its own, through the same upsert path as a single PUT.

Switches for what Oracle does not say (POST /_sandbox/async, per account or for all), each one a
plausible NetSuite behaviour the product must work under:
- `result_shape`: "task_per_record" (one task per record, its result that record's answer) or
  "one_task" (one task whose result lists every record's answer in request order);
- `duplicate_key`: "400" (the documented answer), "409", or "new_job" (the key forgotten: the
  repeated request runs again as a new job);
- `batches`: "supported", or "405" / "400": the account refuses batch requests;
- `lost_job_probability`: a job is lost (its job URL answers 404 from then on) though it runs;
- `processors`: jobs one account runs at once (1: the others wait their turn);
- `job_start_ms`, `item_ms`: how long a job waits for its processor and spends per record.
A lost submit answer is the ordinary `lost_after_commit` fault on type "batch".
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from nue_ns.sandbox import state as ns
from nue_ns.sandbox import suiteql
from nue_ns.sandbox.state import AccountData, NsError, SandboxState

MAX_ITEMS = 100
COLLECTION = "type=collection"
SHAPES = ("task_per_record", "one_task")
DUPLICATE_KEY = ("400", "409", "new_job")
BATCHES = ("supported", "405", "400")


@dataclass
class Switches:
    result_shape: str = "one_task"
    duplicate_key: str = "400"
    batches: str = "supported"
    lost_job_probability: float = 0.0
    processors: int = 1
    job_start_ms: float = 20.0
    item_ms: float = 1.0
    seed: int = 0

    def set(self, data: dict[str, Any]) -> None:
        choices = {"result_shape": SHAPES, "duplicate_key": DUPLICATE_KEY, "batches": BATCHES}
        for key, allowed in choices.items():
            if key in data:
                if data[key] not in allowed:
                    raise ValueError(f"{key} must be one of {', '.join(allowed)}")
                setattr(self, key, data[key])
        for key in ("lost_job_probability", "job_start_ms", "item_ms"):
            if key in data:
                value = float(data[key])
                if value < 0 or (key == "lost_job_probability" and value > 1):
                    raise ValueError(f"{key} out of range")
                setattr(self, key, value)
        if "processors" in data:
            processors = int(data["processors"])
            if not 1 <= processors <= 60:
                raise ValueError("processors must be between 1 and 60")
            self.processors = processors
        if "seed" in data:
            self.seed = int(data["seed"])


@dataclass
class Task:
    id: str
    items: list[int]  # positions in the request
    started: str | None = None
    ended: str | None = None


@dataclass
class Job:
    id: str
    ns_type: str
    method: str
    items: list[dict[str, Any]]
    replace: frozenset[str]
    strict: bool
    strict_values: bool
    shape: str
    lost: bool = False
    results: list[tuple[int, dict[str, Any]] | None] = field(default_factory=list)
    started: str | None = None
    ended: str | None = None
    tasks: list[Task] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.ended is not None


@dataclass
class _AccountJobs:
    jobs: dict[str, Job] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    running: int = 0  # jobs on the account's processors now
    turn: threading.Condition = field(default_factory=threading.Condition)


class AsyncJobs:
    """Every account's jobs; attached to the SandboxState by `of`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.default = Switches()
        self.per_account: dict[str, Switches] = {}
        self.accounts: dict[str, _AccountJobs] = {}
        self.next_id = 1
        self.rng = random.Random(0)

    def switches(self, realm: str) -> Switches:
        return self.per_account.get(realm, self.default)

    def account(self, realm: str) -> _AccountJobs:
        with self.lock:
            return self.accounts.setdefault(realm, _AccountJobs())


def of(sandbox: SandboxState) -> AsyncJobs:
    with sandbox.lock:
        jobs = getattr(sandbox, "async_jobs", None)
        if jobs is None:
            jobs = AsyncJobs()
            sandbox.async_jobs = jobs  # type: ignore[attr-defined]
        return jobs


def is_batch(method: str, parts: list[str], content_type: str) -> bool:
    """A write on a record collection with the collection content type [article_0127092747]."""
    return (
        method in ("POST", "PUT", "PATCH") and len(parts) == 3 and COLLECTION in content_type.replace(" ", "")
    )


# -- submitting a batch ---------------------------------------------------------------------------


def submit(
    sandbox: SandboxState, acct: AccountData, ns_type: str, method: str, request: Request, body: Any
) -> Response:
    registry = of(sandbox)
    sw = registry.switches(acct.realm)
    if sw.batches == "405":
        raise NsError(
            405, "INVALID_REQUEST", "Batch requests on record collections are not supported for this account."
        )
    if sw.batches == "400":
        raise NsError(
            400, "INVALID_REQUEST", "Batch (collection) requests are not supported for this account."
        )
    if "respond-async" not in request.headers.get("prefer", "").lower():
        detail = "Batch requests are executed asynchronously only: send Prefer: respond-async."
        raise NsError(400, "INVALID_REQUEST", detail, header="Prefer")
    if ns_type not in ns.WRITABLE_TYPES:
        raise NsError(400, "INVALID_REQUEST", f"Record type '{ns_type}' cannot be written.")
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise NsError(400, "INVALID_REQUEST", 'Invalid request body: {"items": [ {...} ]} is expected.')
    if len(items) > MAX_ITEMS:
        raise NsError(400, "INVALID_REQUEST", f"A batch request can hold at most {MAX_ITEMS} records.")
    if method == "PUT":
        for n, item in enumerate(items):
            if not isinstance(item.get("externalId"), str):
                detail = "PUT requests only support external ID for the upsert operation."
                raise NsError(400, "INVALID_REQUEST", detail, f"items[{n}].externalId")
    jobs = registry.account(acct.realm)
    key = request.headers.get("x-netsuite-idempotency-key")
    origin = f"{request.url.scheme}://{request.headers.get('host')}"
    with registry.lock:
        earlier = jobs.keys.get(key) if key else None
        if earlier is not None and sw.duplicate_key != "new_job":
            return _duplicate(origin, earlier, int(sw.duplicate_key))
        job_id = str(registry.next_id)
        registry.next_id += 1
        rng = random.Random(f"{sw.seed}:{acct.realm}:{job_id}")
        strict, strict_values = ns.strict_names(request.headers), ns.strict_values(request.headers)
        replace = frozenset(
            s.strip() for s in request.query_params.get("replace", "").split(",") if s.strip()
        )
        items_copy = [dict(i) for i in items]
        job = Job(job_id, ns_type, method, items_copy, replace, strict, strict_values, sw.result_shape)
        job.lost = rng.random() < sw.lost_job_probability
        jobs.jobs[job_id] = job
        if key:
            jobs.keys[key] = job_id
    thread = threading.Thread(
        target=_run, args=(acct, jobs, job, sw), daemon=True, name=f"async-job-{job_id}"
    )
    thread.start()
    headers = {
        "Location": f"{origin}/services/rest/async/v1/job/{job_id}",
        "Preference-Applied": "respond-async",
    }
    return Response(status_code=202, headers=headers)


def _duplicate(origin: str, job_id: str, status: int) -> Response:
    detail = (
        'A request with the same idempotency key is already submitted. See the "Location" header for a link'
        " to the previously submitted job"
    )
    body = {
        "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.10",
        "title": "Conflict",
        "status": status,
        "o:errorDetails": [{"detail": detail, "o:errorCode": "IDEMPOTENCY_ERROR"}],
    }
    headers = {
        "Location": f"{origin}/services/rest/async/v1/job/{job_id}",
        "Preference-Applied": "respond-async",
    }
    # application/json, not the error type other errors have: Oracle's example of this very answer
    # shows `Content-Type: application/json` (subsect_164494900632).
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


def _run(acct: AccountData, jobs: _AccountJobs, job: Job, sw: Switches) -> None:
    time.sleep(sw.job_start_ms / 1000)
    with jobs.turn:  # a free processor of the account's
        jobs.turn.wait_for(lambda: jobs.running < sw.processors)
        jobs.running += 1
    try:
        _execute(acct, job, sw)
    finally:
        with jobs.turn:
            jobs.running -= 1
            jobs.turn.notify_all()


def _execute(acct: AccountData, job: Job, sw: Switches) -> None:
    """Each record on its own, through the same write path as a single request (_one)."""
    job.started = ns.now_iso()
    results: list[tuple[int, dict[str, Any]] | None] = []
    for n, item in enumerate(job.items):
        task_start = ns.now_iso()
        results.append(_one(acct, job, item))
        if job.shape == "task_per_record":
            job.tasks.append(Task(str(n + 1), [n], task_start, ns.now_iso()))
        if sw.item_ms:
            time.sleep(sw.item_ms / 1000)
    job.results = results
    if job.shape == "one_task":
        job.tasks = [Task("1", list(range(len(job.items))), job.started, ns.now_iso())]
    job.ended = ns.now_iso()


def _one(acct: AccountData, job: Job, item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One record through the same write path as a single request: (status, answer)."""
    try:
        if job.method == "PUT":
            body = {k: v for k, v in item.items() if k != "externalId"}
            outcome = ns.upsert(
                acct,
                job.ns_type,
                item["externalId"],
                body,
                replace=job.replace,
                strict=job.strict,
                strict_values=job.strict_values,
            )
        elif job.method == "POST":
            outcome = ns.create(acct, job.ns_type, item, strict=job.strict, strict_values=job.strict_values)
        else:
            ref = str(item.get("id") or "")
            body = {k: v for k, v in item.items() if k != "id"}
            outcome = ns.update(
                acct,
                job.ns_type,
                ref,
                body,
                replace=job.replace,
                strict=job.strict,
                strict_values=job.strict_values,
            )
    except NsError as err:
        return err.status, err.body()
    except Exception:  # a record the emulator cannot take still answers like NetSuite
        return 500, NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred.").body()
    rec = outcome.record
    return 204, {"id": rec.id, "externalId": rec.external_id, "type": job.ns_type}


# -- reading jobs, tasks and results ----------------------------------------------------------------


def answer(
    sandbox: SandboxState, acct: AccountData, method: str, parts: list[str], request: Request
) -> Response:
    """GET /async/v1/job/{id}[/task[/{tid}[/result]]]."""
    if method != "GET" or len(parts) < 4 or parts[2] != "job":
        raise NsError(404, "INVALID_REQUEST", f"No resource at {method} {request.url.path}.")
    jobs = of(sandbox).account(acct.realm)
    job = jobs.jobs.get(parts[3])
    if job is None or job.lost:
        raise NsError(404, "NONEXISTENT_ID", f"The async job {parts[3]} was not found.")
    origin = f"{request.url.scheme}://{request.headers.get('host')}"
    base = f"{origin}/services/rest/async/v1/job/{job.id}"
    rest = parts[4:]
    if not rest:
        view = {"links": [{"rel": "self", "href": base}], "id": job.id, "completed": job.completed}
        view["progress"] = _progress(job)
        view |= {k: v for k, v in (("startTime", job.started), ("endTime", job.ended)) if v}
        return JSONResponse(view)
    if rest[0] != "task":
        raise NsError(404, "INVALID_REQUEST", f"No resource at {method} {request.url.path}.")
    tasks = list(job.tasks)
    if len(rest) == 1:
        limit, offset = suiteql.paging(request.query_params.get("limit"), request.query_params.get("offset"))
        page = tasks[offset : offset + limit]
        items = [{"links": [{"rel": "self", "href": f"{base}/task/{t.id}"}], "id": t.id} for t in page]
        links = suiteql.page_links(f"{base}/task", limit, offset, len(tasks))  # a collection [J]
        return JSONResponse(
            {"links": links, "count": len(items), "hasMore": offset + len(items) < len(tasks), "items": items}
            | {"offset": offset, "totalResults": len(tasks)}
        )
    task = next((t for t in tasks if t.id == rest[1]), None)
    if task is None:
        raise NsError(404, "NONEXISTENT_ID", f"The task {rest[1]} of async job {job.id} was not found.")
    results = [job.results[i] if i < len(job.results) else None for i in task.items] if job.completed else []
    if len(rest) == 2:
        failed = any(r is not None and r[0] >= 300 for r in results)
        view = {
            "links": [
                {"rel": "related", "href": f"{base}/task/{task.id}/result"},
                {"rel": "self", "href": f"{base}/task/{task.id}"},
            ],
            "completed": task.ended is not None and job.completed,
            "id": task.id,
            "progress": "failed" if failed else ("succeeded" if job.completed else "inProgress"),
        }
        view |= {k: v for k, v in (("startTime", task.started), ("endTime", task.ended)) if v}
        return JSONResponse(view)
    if rest[2:] != ["result"]:
        raise NsError(404, "INVALID_REQUEST", f"No resource at {method} {request.url.path}.")
    if not job.completed:
        raise NsError(400, "INVALID_REQUEST", "The task has not finished yet.")
    answers = [_result_body(origin, job, r) for r in results]
    if job.shape == "one_task":
        return JSONResponse({"items": answers})
    return JSONResponse(answers[0])


def _result_body(origin: str, job: Job, result: tuple[int, dict[str, Any]] | None) -> dict[str, Any]:
    if result is None:
        return NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred.").body()
    status, body = result
    if status >= 300:
        return body
    href = f"{origin}/services/rest/record/v1/{job.ns_type}/{body['id']}"
    return {"links": [{"rel": "self", "href": href}], "externalId": body.get("externalId")}


def _progress(job: Job) -> str:
    if job.started is None:
        return "pending"
    if not job.completed:
        return "inProgress"
    return "failed" if any(r is not None and r[0] >= 300 for r in job.results) else "succeeded"


# -- control ------------------------------------------------------------------------------------------


async def control(request: Request) -> Response:
    """GET: the switches; POST {account?, result_shape?, duplicate_key?, batches?, lost_job_probability?,
    processors?, job_start_ms?, item_ms?, seed?}: set them for one account (by realm) or for all."""
    registry = of(request.app.state.sandbox)
    if request.method == "GET":
        out = {"default": registry.default.__dict__} | {
            r: s.__dict__ for r, s in registry.per_account.items()
        }
        return JSONResponse(out)
    try:
        raw = await request.body()
        data = json.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        if data.get("account"):
            realm = ns.realm_of(str(data["account"]))
            sw = registry.per_account.setdefault(realm, Switches(**registry.default.__dict__))
        else:
            sw = registry.default
        sw.set(data)
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(sw.__dict__)
