"""Batch upserts: up to 100 records of one NetSuite type per call, in scheduled mode.

One run of `work(ctx, integration_id)` (a Celery task per integration, one at a time by a Redis
lock) advances that integration's open batches that are due, then forms new ones:

- form: ready records (released parked ones, due pending ones), prerequisites first; each is checked
  as a single transfer checks it (contract, prerequisites in NetSuite, GL accounts, mapping), its
  body made by mapping.build fitted to the account, and records of one type go in batches of at
  most NUE_NS_BATCH_SIZE. The batch, its idempotency key and its records are committed in the hub
  BEFORE anything is sent (hub/batch_store.create).
- submit: `PUT /record/v1/{type}` with `Prefer: respond-async`, the collection content type,
  `{"items": [...]}` each with its externalId (upsert), and `X-NetSuite-Idempotency-Key`
  [article_0127092747]. A submit whose answer was lost is simply sent again with the SAME key:
  NetSuite answers a repeated key with the earlier job [subsect_164494900632], or runs it if the
  first never arrived; either way one job.
- poll: `GET /async/v1/job/{id}` at the batch's due time, backing off (never a sleeping worker)
  [subsect_161278579295]. Once completed, each record's outcome: the records the batch created are
  read back by externalId with one SuiteQL query (cheapest); the rest from the job's task results
  [subsect_161252896355], whose shape is UNVERIFIED (netsuite/batch_shapes.py).
- a job NetSuite no longer finds (404) is resolved by SuiteQL before anything is sent again: what
  is there is transferred, the rest goes in a later batch (an upsert by externalId: no duplicate).

Every submit, poll and read is one gateway.call: one governor token and one attempt row. A run makes
at most NUE_NS_BATCH_CALLS_PER_RUN calls before yielding, so polling never starves other accounts.
Records that need a person get NetSuite's detail and field path; transient failures go back to
pending and into a later batch (transfers.retry_later); an account that answers it cannot take batches
is switched to single upserts (integration settings `batches_unsupported`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nue_ns import currencies, gateway, linking, mapping, profile, records, sync, validation, waiting
from nue_ns.context import Connection, Context
from nue_ns.hub import batch_store, prerequisites, transfers
from nue_ns.hub.models import Batch, BatchState, Record, utcnow
from nue_ns.mapping import accounts
from nue_ns.netsuite import batch_shapes
from nue_ns.netsuite.batch_shapes import ItemResult
from nue_ns.netsuite.errors import Kind, NetSuiteError, customer_id_taken
from nue_ns.records import TYPE_ORDER
from nue_ns.refs import Ref

log = logging.getLogger(__name__)

# Types with no prerequisite: never held back behind another type's open batch.
ROOTS = frozenset({"customer", "product"})
# SuiteQL table of each NetSuite type's externalId group [docs/NETSUITE.md "SuiteQL"].
_TABLE = {
    "customer": "customer",
    "nonInventorySaleItem": "item",
    "serviceSaleItem": "item",
    "inventoryItem": "item",
}


_NAME_TAKEN = "another NetSuite customer has this name as its Customer ID: sent alone, under a unique one"
_HELD = "waiting to go in one batch with records of its type whose prerequisites are on their way"

# A batch's `progress` once its job has finished: its results are read without polling it again (a
# run short of calls polls, and the next one reads).
FINISHED = batch_store.FINISHED


@dataclass
class Run:
    """What one run did (returned by the task, and counted in tests)."""

    calls_left: int
    submitted: int = 0
    polled: int = 0
    finished: int = 0
    formed: int = 0
    single: int = 0
    next_due: list[float] = field(default_factory=list)
    handed: list[int] = field(default_factory=list)  # records to go one by one, sent at the run's end

    def as_json(self) -> dict[str, Any]:
        keys = ("submitted", "polled", "finished", "formed", "single")
        return {k: getattr(self, k) for k in keys} | {"next_in": min(self.next_due, default=None)}


class _OutOfCalls(Exception):
    pass


def work(ctx: Context, integration_id: int, record_type: str | None = None) -> Run:
    """Advance and form this integration's batches (`record_type`: a real-time burst of one type)."""
    s = ctx.settings
    run = Run(calls_left=s.batch_calls_per_run)
    lock = ctx.redis.lock(f"nue_ns:batcher:{integration_id}", timeout=s.lease_seconds, blocking=False)
    if not lock.acquire(blocking=False):
        return run
    try:
        conn = ctx.connection(integration_id)
        try:
            _advance(ctx, conn, run)
            # Real-time integrations form a batch only for a burst of one type.
            if (record_type is not None or batching(conn)) and _form(ctx, conn, run, record_type):
                _advance(ctx, conn, run)
        except gateway.NoCallSlot as exc:
            run.next_due.append(exc.denied.retry_after)
        except _OutOfCalls:
            run.next_due.append(0.0)
        finally:
            # The records going one by one (linked documents) are handed to workers only now: the
            # account's tokens go first to the new batches' submits, 100 records a call.
            _send_single(run.handed)
    finally:
        try:
            lock.release()
        except Exception:  # expired: nothing to release
            pass
    return run


def batching(conn: Connection) -> bool:
    """Does this integration send in batches (the same rule as hub/batch_store.BATCHING_SQL)?"""
    c = conn.config
    return c.scheduled_mode and c.batches and c.batches_unsupported is None


# ---------------------------------------------------------------- advancing open batches


def _advance(ctx: Context, conn: Connection, run: Run) -> None:
    """Submit and poll the due batches; the finished ones are then answered together (_finish)."""
    finished: list[Batch] = []
    try:
        for batch in batch_store.due(ctx.engine, conn.integration.id, limit=ctx.settings.batch_max_open):
            # Keep back one call per SuiteQL table the finished batches (and this one) are read from.
            tables = {_table(b.ns_type) for b in finished}
            if batch.state != BatchState.PREPARED:
                tables.add(_table(batch.ns_type))
            if run.calls_left < 1 + len(tables):
                raise _OutOfCalls
            try:
                if batch.state == BatchState.PREPARED:
                    _submit(ctx, conn, run, batch)
                elif batch.progress == FINISHED or _poll(ctx, conn, run, batch):
                    finished.append(batch)
            except gateway.NoCallSlot as exc:
                batch_store.set_state(ctx.engine, batch.id, delay=exc.denied.retry_after)
                if batch.state == BatchState.PREPARED:
                    # No poll takes the slot a submit waits for: a wave is all submitted before its
                    # first job is polled, and its jobs are read together.
                    batch_store.defer_polls(ctx.engine, conn.integration.id, exc.denied.retry_after)
                raise
            except NetSuiteError as err:  # reading a finished job's results failed: read them again later
                delay = _backoff(ctx, batch.polls + 1)
                batch_store.set_state(
                    ctx.engine, batch.id, detail=f"reading results failed: {err}", delay=delay
                )
    except gateway.NoCallSlot as exc:  # no call to read them now: read once a slot is free
        for batch in finished:
            batch_store.set_state(ctx.engine, batch.id, delay=exc.denied.retry_after)
        raise
    except _OutOfCalls:
        _finish(ctx, conn, run, _to_read(ctx, conn, finished))
        raise
    _finish(ctx, conn, run, _to_read(ctx, conn, finished))


def _to_read(ctx: Context, conn: Connection, finished: list[Batch]) -> list[Batch]:
    """The finished batches to read now. While another job of the integration read from the same
    SuiteQL table is about to be submitted or polled, or still runs, their results wait to be read
    together (one call per table for the whole wave instead of one per run); a running job holds
    them at most NUE_NS_BATCH_POLL_MAX after its submit, so a slow job holds no one long. Their
    dependents wait for the slowest batch of a wave anyway (_form holds the types above)."""
    if not finished:
        return []
    wait = ctx.settings.batch_poll_max
    now = utcnow()
    busy = {
        _table(b.ns_type)
        for b in batch_store.unfinished(ctx.engine, conn.integration.id, [b.id for b in finished])
        if b.submitted_at is None or b.polls == 0 or (now - b.submitted_at).total_seconds() < wait
    }
    delay = ctx.settings.batch_poll_first
    for batch in finished:
        if _table(batch.ns_type) in busy:
            batch_store.set_state(ctx.engine, batch.id, delay=delay)
    return [b for b in finished if _table(b.ns_type) not in busy]


def _spend(run: Run) -> None:
    run.calls_left -= 1


def _submit(ctx: Context, conn: Connection, run: Run, batch: Batch) -> None:
    url = f"{conn.client.base_url}/record/v1/{batch.ns_type}"
    items = batch.body["items"]

    def send() -> tuple[str, Any]:
        return conn.client.batch_upsert(batch.ns_type, items, batch.idempotency_key)

    _spend(run)
    try:
        job_id = gateway.call(ctx, conn, "PUT", url, batch.body, send, outcome="submitted", keep_rows=False)
    except NetSuiteError as err:
        batch_store.bump(ctx.engine, batch.id, "submits")
        _submit_failed(ctx, conn, batch, err)
        return
    delay = ctx.settings.batch_poll_first
    batch_store.set_state(
        ctx.engine, batch.id, state=BatchState.SUBMITTED, job_id=job_id, submits=batch.submits + 1,
        submitted_at=utcnow(), progress="submitted", detail=None, delay=delay,
    )  # fmt: skip
    run.submitted += 1
    run.next_due.append(delay)


def _submit_failed(ctx: Context, conn: Connection, batch: Batch, err: NetSuiteError) -> None:
    if err.kind is not Kind.NEEDS_PERSON:  # lost answer, 5xx, 429, login: the same key again later
        delay = _backoff(ctx, batch.submits + 1)
        batch_store.set_state(
            ctx.engine, batch.id, detail=f"submit failed, sent again with the same key: {err}", delay=delay
        )
        return
    ids = [m.id for m in batch_store.members(ctx.engine, batch)]
    if batch_shapes.batches_unsupported(err):
        log.warning(
            "integration %s: NetSuite refused batches (%s); single upserts from now on",
            conn.integration.name,
            err,
        )
        batch_store.mark_unsupported(ctx.engine, conn.integration.id, str(err))
        reason = "the account does not take batch requests: sent one by one"
    else:  # the whole request refused: each record alone gets its own answer and error
        reason = f"the batch was refused ({err}): sent one by one"
    sent = batch_store.to_single(ctx.engine, ids, reason)
    _send_single(sent)
    batch_store.set_state(ctx.engine, batch.id, state=BatchState.ABANDONED, detail=reason, retried=len(sent))


def _poll(ctx: Context, conn: Connection, run: Run, batch: Batch) -> bool:
    """One job poll; True when the job has finished (its records are answered by _finish)."""
    url = f"{conn.client.base_url}/async/v1/job/{batch.job_id}"
    _spend(run)
    try:
        job = gateway.call(
            ctx, conn, "GET", url, None, lambda: conn.client.job(batch.job_id), outcome="polled"
        )
    except NetSuiteError as err:
        batch_store.bump(ctx.engine, batch.id, "polls")
        if err.kind is Kind.NEEDS_PERSON:  # 404: NetSuite no longer finds the job
            _resolve_lost(ctx, conn, run, batch, f"job {batch.job_id} not found ({err})")
        else:
            batch_store.set_state(
                ctx.engine, batch.id, detail=f"poll failed: {err}", delay=_backoff(ctx, batch.polls + 1)
            )
        return False
    polls = batch.polls + 1
    run.polled += 1
    progress = str(job.get("progress") or "")[:40] or None
    if not batch_shapes.job_finished(job):
        delay = _backoff(ctx, polls)
        batch_store.set_state(ctx.engine, batch.id, polls=polls, progress=progress, delay=delay)
        run.next_due.append(delay)
        return False
    batch_store.set_state(ctx.engine, batch.id, polls=polls, progress=FINISHED)
    batch.polls = polls
    return True


def _backoff(ctx: Context, n: int) -> float:
    s = ctx.settings
    return min(s.batch_poll_max, s.batch_poll_first * 2 ** max(0, n - 1))


# ---------------------------------------------------------------- results back to hub rows


def _finish(ctx: Context, conn: Connection, run: Run, batches: Sequence[Batch]) -> None:
    """Map every record's outcome back to its hub row, then close the batches. The records they
    created are read back by externalId with one SuiteQL call per table for all of them; their
    answers land in the hub in one transaction (transfers.complete_many)."""
    if not batches:
        return
    members = batch_store.members_all(ctx.engine, batches)
    items = {b.id: {item["record_id"]: (n, item) for n, item in enumerate(b.items)} for b in batches}
    wanted: dict[str, list[str]] = {}
    for batch in batches:
        for rec in members[batch.id]:
            _, item = items[batch.id][rec.id]
            if item["created"]:
                wanted.setdefault(_table(batch.ns_type), []).append(item["external_id"])
    found: dict[str, dict[str, str]] = {}
    no_slot: gateway.NoCallSlot | None = None
    for table, eids in wanted.items():
        of_table = [b for b in batches if _table(b.ns_type) == table]
        try:
            found[table] = _read_ids(ctx, conn, run, table, eids)
        except gateway.NoCallSlot as exc:  # read once a slot is free; those read already land now
            no_slot = exc
            for batch in of_table:
                batch_store.set_state(ctx.engine, batch.id, delay=exc.denied.retry_after)
            break
        except NetSuiteError as err:  # these batches are read again later
            _read_later(ctx, of_table, err)
    done: list[tuple[Record, str, str, str]] = []
    tallies: dict[int, dict[str, int]] = {}
    for batch in batches:
        table = _table(batch.ns_type)
        if (table in wanted and table not in found) or (no_slot is not None and table not in found):
            continue
        ours: list[tuple[Record, str, str, str]] = []
        rest: list[tuple[int, Record, str]] = []
        for rec in members[batch.id]:
            pos, item = items[batch.id][rec.id]
            eid = item["external_id"]
            internal_id = found.get(table, {}).get(eid) if item["created"] else None
            if internal_id is not None:
                ours.append((rec, batch.ns_type, eid, internal_id))
            else:
                rest.append((pos, rec, eid))
        tally = {"ok": len(ours), "failed": 0, "retried": 0}
        if rest:  # updates and failures: their answers are in the job's task results
            if no_slot is not None:
                batch_store.set_state(ctx.engine, batch.id, delay=no_slot.denied.retry_after)
                continue
            try:
                results = _job_results(ctx, conn, run, batch, [pos for pos, _, _ in rest])
            except gateway.NoCallSlot as exc:
                no_slot = exc
                batch_store.set_state(ctx.engine, batch.id, delay=exc.denied.retry_after)
                continue
            except NetSuiteError as err:
                _read_later(ctx, [batch], err)
                continue
            again: list[int] = []
            alone: list[int] = []
            for pos, rec, eid in rest:
                tally[_apply(ctx, batch, rec, eid, results.get(pos), ours, again, alone)] += 1
            batch_store.requeue(ctx.engine, again, f"batch {batch.id}: no result for this record; sent again")
            run.handed += batch_store.to_single(ctx.engine, alone, _NAME_TAKEN)
        done += ours
        tallies[batch.id] = tally
    _complete(ctx, done)
    for batch_id, tally in tallies.items():
        batch_store.set_state(
            ctx.engine, batch_id, state=BatchState.DONE, succeeded=tally["ok"], failed=tally["failed"],
            retried=tally["retried"], progress=FINISHED,
        )  # fmt: skip
        run.finished += 1
    if no_slot is not None:
        raise no_slot


def _read_later(ctx: Context, batches: Sequence[Batch], err: NetSuiteError) -> None:
    for batch in batches:
        delay = _backoff(ctx, batch.polls + 1)
        batch_store.set_state(ctx.engine, batch.id, detail=f"reading results failed: {err}", delay=delay)


def _complete(ctx: Context, done: Sequence[tuple[Record, str, str, str]]) -> None:
    """Transferred, in one transaction: the records, their links and a customer's currencies."""
    also = [(rec, ref) for rec, *_ in done for ref in currencies.listed(rec)]
    transfers.complete_many(ctx.engine, done, also)


def _apply(
    ctx: Context,
    batch: Batch,
    rec: Record,
    eid: str,
    result: ItemResult | None,
    done: list[tuple[Record, str, str, str]],
    again: list[int],
    alone: list[int],
) -> str:
    """One record's task result: 'ok' (added to `done`), 'failed' or 'retried' (`again`: in a
    later batch; `alone`: one by one, where sync.py sends a customer whose name is taken again
    under a unique Customer ID)."""
    s = ctx.settings
    if result is None:  # no readable answer for it: a later batch sends it again (an upsert)
        again.append(rec.id)
        return "retried"
    if result.internal_id is not None:
        done.append((rec, batch.ns_type, eid, result.internal_id))
        return "ok"
    if result.error is not None and rec.record_type == "customer" and customer_id_taken(result.error):
        alone.append(rec.id)
        return "retried"
    if result.error is not None and result.error.kind is Kind.NEEDS_PERSON:
        sync.refused(ctx, rec, result.error)  # one rule: as a record sent alone
        return "failed"
    # transient, throttled or a login hiccup inside the job: a later batch
    err = result.error
    assert err is not None
    transfers.retry_later(
        ctx.engine, rec, err, max_attempts=s.max_attempts, base=s.backoff_base, cap=s.backoff_max
    )
    return "retried"


def _job_results(
    ctx: Context, conn: Connection, run: Run, batch: Batch, positions: Sequence[int]
) -> dict[int, ItemResult | None]:
    """Results of the items at `positions` (request order), read from the job's tasks."""
    job = batch.job_id
    assert job is not None
    url = f"{conn.client.base_url}/async/v1/job/{job}/task"
    _spend(run)
    page = gateway.call(ctx, conn, "GET", url, None, lambda: conn.client.job_tasks(job), outcome="polled")
    tasks = batch_shapes.task_ids(page)  # a malformed entry is already its item's outcome
    n = len(batch.items)

    def result(task: str) -> tuple[int, Any, str | None]:
        _spend(run)
        return gateway.call(
            ctx,
            conn,
            "GET",
            f"{url}/{task}/result",
            None,
            lambda: conn.client.task_result(job, task),
            outcome="polled",
        )

    if n == 1 and len(tasks) == 1 and isinstance(tasks[0], str):  # either shape: told by its result
        return {p: batch_shapes.lone_task_result(*result(tasks[0])) for p in positions}
    if batch_shapes.is_one_task(len(tasks), n):
        if isinstance(tasks[0], ItemResult):  # the one task holds every record: all unreadable
            return {p: tasks[0] for p in positions}
        status, body, _ = result(tasks[0])
        listed = batch_shapes.one_task_results(body if status < 300 else None, n)
        return {p: listed[p] for p in positions}
    out: dict[int, ItemResult | None] = {}
    for p in positions:
        task = tasks[p] if p < len(tasks) else None
        out[p] = task if not isinstance(task, str) else batch_shapes.record_result(*result(task))
    return out


def _table(ns_type: str) -> str:
    return _TABLE.get(ns_type, "transaction")


def _read_ids(ctx: Context, conn: Connection, run: Run, table: str, eids: Sequence[str]) -> dict[str, str]:
    """NetSuite internal ids by externalId in one SuiteQL `table`, one call per 1000 ids. The
    externalIds of different types never collide (mapping.base: a prefix per type)."""
    found: dict[str, str] = {}
    for start in range(0, len(eids), 1000):
        chunk = eids[start : start + 1000]
        # externalIds are [A-Za-z0-9_-] only (records.NueId, client checks): safe inside quotes.
        listed = ", ".join(f"'{e}'" for e in chunk)
        _spend(run)
        page = gateway.suiteql(
            ctx, conn, f"SELECT id, externalid FROM {table} WHERE externalid IN ({listed})"
        )
        rows = page.get("items")
        for row in rows if isinstance(rows, list) else []:
            # A row without a usable id is not found: its record's task result decides.
            ns_id = batch_shapes.internal_id(row.get("id")) if isinstance(row, dict) else None
            if ns_id is not None and isinstance(row.get("externalid"), str):
                found[row["externalid"]] = ns_id
    return found


def _resolve_lost(ctx: Context, conn: Connection, run: Run, batch: Batch, why: str) -> None:
    """A job NetSuite cannot find: read what is there by externalId before anything is sent again."""
    members = batch_store.members(ctx.engine, batch)
    items = {item["record_id"]: item for item in batch.items}
    found = _read_ids(ctx, conn, run, _table(batch.ns_type), [items[m.id]["external_id"] for m in members])
    done, again = [], []
    for rec in members:
        item = items[rec.id]
        if item["created"] and item["external_id"] in found:
            done.append((rec, batch.ns_type, item["external_id"], found[item["external_id"]]))
        else:  # not there, or an update we cannot confirm: a later batch upserts it again
            again.append(rec.id)
    _complete(ctx, done)
    ok = len(done)
    batch_store.requeue(ctx.engine, again, f"batch {batch.id}: {why}; sent again in a later batch")
    batch_store.set_state(
        ctx.engine, batch.id, state=BatchState.DONE, succeeded=ok, retried=len(again), progress="lost",
        detail=f"{why}; resolved by SuiteQL: {ok} found, {len(again)} sent again",
    )  # fmt: skip
    run.finished += 1


# ---------------------------------------------------------------- forming batches


def _form(ctx: Context, conn: Connection, run: Run, record_type: str | None) -> bool:
    """Form new batches from ready records; True when any was formed."""
    s, integ = ctx.settings, conn.integration
    room = s.batch_max_open - batch_store.open_count(ctx.engine, integ.id)
    if room <= 0:
        return False
    open_types = batch_store.open_ranks(ctx.engine, integ.id)
    hold_above = min((TYPE_ORDER[t] for t in open_types), default=math.inf)
    worker = f"{ctx.worker_name}:batcher"
    # Types above an open batch's type wait for it: its answer releases their prerequisites together
    # (one full batch later instead of many partial ones). Customers and products never wait. A
    # type some of whose records wait for prerequisites on their way waits for them too (_held).
    # A prerequisite that has not moved for a lease is not waited for (batch_store._ON_ITS_WAY).
    held = set() if record_type is not None else batch_store.held_types(ctx.engine, integ.id, s.lease_seconds)
    recs = batch_store.take(
        ctx.engine, integ.id, worker, s.lease_seconds, record_type=record_type, limit=room * s.batch_size,
        max_rank=None if hold_above == math.inf else int(hold_above), roots=sorted(ROOTS), held=sorted(held),
    )  # fmt: skip
    if not recs:
        return False
    contracts: dict[int, Any] = {}
    for rec in recs:
        try:
            contracts[rec.id] = records.validate(rec.record_type, rec.payload)
        except records.InvalidRecord as exc:  # only if the rules tightened since it was accepted
            transfers.fail(ctx.engine, rec, str(exc))
    recs = [r for r in recs if r.id in contracts]
    # Every prerequisite, and whether each record is in NetSuite already, in one read of the links.
    needed = {r.id: mapping.requirements(r.record_type, contracts[r.id]) for r in recs}
    selves = [Ref(r.record_type, r.nue_id) for r in recs]
    linked, _ = prerequisites.resolve(
        ctx.engine, integ.id, list({*selves, *(x for v in needed.values() for x in v)})
    )
    groups: dict[tuple[str, str], list[tuple[int, str, dict[str, Any], bool]]] = {}
    single: list[int] = []
    waits: list[tuple[Record, list[Ref]]] = []
    later: list[int] = []
    for rec in recs:
        missing = [ref for ref in needed[rec.id] if ref not in linked]
        if missing:
            waits.append((rec, missing))
            continue
        if later:  # the account profile could not be read: the rest wait for it too
            later.append(rec.id)
            continue
        request = _prepare(ctx, conn, rec, contracts[rec.id], needed[rec.id], linked)
        checked = rec.record_type in validation.GATED and accounts.current_verdict(conn.config) is None
        if conn.profile is None or checked:
            # Just read or checked by that record's gates: the next records see it, not read again.
            conn = ctx.connection(integ.id)
            if conn.profile is None:  # not readable now (paused, no slot, another worker reads it)
                later.append(rec.id)
        if request is None:
            continue
        created = Ref(rec.record_type, rec.nue_id) not in linked
        if (request.replace and not created) or not linking.plain_upsert(
            conn.config, contracts[rec.id], sent=not created
        ):
            # A linked document (a transform, a header-only update) goes alone, where linking.plan
            # decides. UNVERIFIED whether `?replace=` applies to a batch: an update that replaces
            # sublists goes alone too, so it never doubles its lines.
            single.append(rec.id)
            continue
        item = dict(request.body) | {"externalId": request.external_id}
        groups.setdefault((rec.record_type, request.ns_type), []).append(
            (rec.id, request.external_id, item, created)
        )
    waiting.park(ctx, integ.id, waits)
    if waits and record_type is None:  # the records just parked may hold their type's part batch
        held = batch_store.held_types(ctx.engine, integ.id, s.lease_seconds)
    # Not one profile read (and governor wait) per record while the account cannot be read.
    batch_store.requeue(ctx.engine, later[1:], "waiting for the NetSuite account profile", delay=1.0)
    if single:
        handed = batch_store.to_single(ctx.engine, single)
        run.handed += handed
        run.single += len(handed)
    formed = 0
    for (rtype, ns_type), members in groups.items():
        for start in range(0, len(members), s.batch_size):
            chunk = members[start : start + s.batch_size]
            if rtype in held and len(chunk) < s.batch_size:
                # A part batch now and another when the rest lands would cost a submit, a poll and
                # a read more: it waits for them (the next form takes them together).
                batch_store.requeue(ctx.engine, [m[0] for m in chunk], _HELD)
                continue
            if formed >= room:
                batch_store.requeue(ctx.engine, [m[0] for m in chunk], "waiting for a batch slot")
                continue
            if batch_store.create(ctx.engine, integ.id, rtype, ns_type, worker, chunk) is not None:
                formed += 1
    run.formed += formed
    return formed > 0


def _prepare(
    ctx: Context, conn: Connection, rec: Record, contract: Any, needed: list[Ref], linked: dict[Ref, str]
) -> mapping.NsRequest | None:
    """The record's request (its prerequisites all in NetSuite), checked as a single transfer
    checks it; None when it was parked."""
    from nue_ns.sync import _failed  # one rule: a record fails as in sync

    resolved = {ref: linked[ref] for ref in needed}
    try:  # the account's schema and facts (currencies, ...), read once, as a single transfer does
        if profile.gate(ctx, conn, rec) is not None:
            return None
    except NetSuiteError as err:
        _failed(ctx, rec, err)
        return None
    if conn.profile is None:  # just read: take the integration as it is now
        conn = ctx.connection(rec.integration_id)
    if validation.gate(ctx, conn, rec) is not None:  # GL accounts checked against NetSuite, and valid
        return None
    try:
        return mapping.build(rec.record_type, contract, conn.config, resolved, conn.profile)
    except mapping.MappingIncomplete as exc:
        reason = f"waiting for the integration mapping: {exc}"
        transfers.wait_for(ctx.engine, rec, [Ref("mapping", str(rec.integration_id))], reason)
        return None


def _send_single(ids: Sequence[int]) -> list[int]:
    from nue_ns import dispatch

    if ids:
        dispatch.send(ids)
    return list(ids)
