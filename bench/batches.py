"""(8) Batch upserts in scheduled mode: calls per record and time, against single upserts on the same
month; and exactly-once with lost submit answers and lost jobs.

A month of 2,000 records (200 customers, 50 products, 400 orders, 800 invoices, 500 payments,
20 refunds, 30 credit memos) is enqueued parked into a scheduled-mode integration, then released
at once (the batch sweep). Calls are what the sandbox NetSuite logged for that account: every
batch submit, job poll, task read and SuiteQL read is one call. Time runs from the release until
the last record is transferred, under a 5-calls-per-period limit scaled to a 0.25 s period (so a
real 5/60s account takes 240 times as long); the first job poll comes 0.1 s after a submit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from sqlalchemy import func, select

from bench import data
from bench.env import CONFIG, wait_until, world
from bench.report import Table, verdict
from nue_ns import dispatch, sample
from nue_ns.hub import batch_store, dispatching
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State

PERIOD = 0.25
RATE = f"5/{PERIOD}s"
ENV = {
    "NUE_NS_RETRY_SWEEP_SECONDS": "0.25",
    "NUE_NS_BATCH_SWEEP_SECONDS": "3600",  # the bench releases the month itself
    "NUE_NS_BATCH_POLL_FIRST": "0.1",
    "NUE_NS_BATCH_POLL_MAX": "2",
    "NUE_NS_GOVERNOR_MAX_WAIT": "0.5",
    "NETSUITE_TIMEOUT": "3",
}


def month() -> dict[str, list[dict]]:
    return sample.month(n_customers=200, n_products=50, n_orders=400, n_invoices=800, n_payments=500,
                        n_refunds=20, n_credit_memos=30, seed=3)  # fmt: skip


def _states(ctx, ids: list[int]) -> dict[str, int]:
    with session_scope(ctx.engine) as s:
        q = select(Record.state, func.count()).where(Record.id.in_(ids)).group_by(Record.state)
        return dict(s.execute(q).all())


def _transfer(w, account: str, batches: bool, timeout: float) -> dict:
    """Enqueue the month parked, release it, wait; what NetSuite saw and how long it took."""
    config = CONFIG.model_copy(update={"scheduled_mode": True, "batches": batches})
    w.accounts(1, RATE, concurrency=5, prefix=account, config=config)
    integration = f"{account}00000".lower()
    ids_by_type = data.enqueue_all(w.ctx, integration, month())
    ids = [i for t in ids_by_type.values() for i in t]
    started = time.monotonic()
    dispatching.release_batch(w.ctx.engine)
    dispatch.dispatch(w.ctx)
    dispatch.dispatch_batches(w.ctx)
    done = wait_until(lambda: _states(w.ctx, ids).get(State.TRANSFERRED, 0) == len(ids), timeout, poll=0.25)
    elapsed = time.monotonic() - started
    calls = w.calls(f"{account}00000")
    stats = w.sandbox_get("stats", account=f"{account}00000", period=PERIOD, limit=5)
    kinds: dict[str, int] = {}
    for c in calls:
        kind = c["type"] if c["type"] in ("batch", "async", "suiteql") else "single"
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "records": len(ids),
        "states": _states(w.ctx, ids),
        "done": done,
        "seconds": elapsed,
        "calls": len(calls),
        "kinds": kinds,
        "duplicates": stats["duplicates"],
        "over": stats["windows_over_limit"],
        "ns_records": len(w.sandbox_get("records", account=f"{account}00000")),
    }


def _side_by_side() -> Table:
    with world("batches", **ENV) as w:
        w.sandbox()
        w.workers(1, concurrency=8)
        w.beat()
        w.wait_workers(1)
        batched = _transfer(w, "BATCH", True, 600)
        single = _transfer(w, "SINGLE", False, 1800)
    table = Table(
        "Scheduled mode: a month of 2,000 records, batches against single upserts (limit 5 calls / 0.25 s)",
        [
            "mode",
            "records transferred",
            "NetSuite calls",
            "calls/record",
            "of which",
            "seconds",
            "windows over limit",
        ],
    )
    for name, r in (("batches", batched), ("single upserts", single)):
        n = r["states"].get(State.TRANSFERRED, 0)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
        per = f"{r['calls'] / n:.4f}" if n else "-"
        row = [name, f"{n}/{r['records']}", r["calls"], per, kinds, f"{r['seconds']:.1f}", r["over"]]
        table.rows.append(row)
    ratio = batched["calls"] / max(1, batched["states"].get(State.TRANSFERRED, 0))
    speed = batched["seconds"] / single["seconds"] if single["seconds"] else float("nan")
    table.notes += [
        f"target at most 0.05 calls/record: {verdict(ratio <= 0.05 and batched['done'])} ({ratio:.4f})",
        f"target time at most 1/15 of single upserts: {verdict(speed <= 1 / 15)} (1/{1 / speed:.1f})",
        f"duplicates: batches {batched['duplicates'] or 'none'}, single {single['duplicates'] or 'none'}",
        "every call counted: batch submits, job/task/result reads (async), SuiteQL (GL check, ids)",
    ]
    return table


def _chaos() -> Table:
    env = ENV | {"NUE_NS_BATCH_SIZE": "100"}
    with world("batch_chaos", **env) as w:
        w.sandbox()
        w.sandbox_post("async", {"lost_job_probability": 0.05, "seed": 11})
        # A submit committed but answered after the client gave up (NETSUITE_TIMEOUT 3 s).
        lost = {"kind": "lost_after_commit", "type": "batch", "probability": 0.10, "delay_s": 4, "seed": 5}
        w.sandbox_post("faults", lost)
        w.workers(1, concurrency=8)
        w.beat()
        w.wait_workers(1)
        r = _transfer(w, "CHAOS", True, 900)
        lost_jobs = [b for b in batch_store.listing(w.ctx.engine, limit=1000) if b.progress == "lost"]
        resent = [b for b in batch_store.listing(w.ctx.engine, limit=1000) if b.submits > 1]
        faults = [c for c in w.calls("CHAOS00000") if c.get("fault")]
    n = r["states"].get(State.TRANSFERRED, 0)
    missing = r["records"] - n
    table = Table(
        "Batches with 10% of submit answers lost and 5% of jobs lost",
        ["records", "transferred", "missing", "duplicates in NetSuite", "NetSuite records", "lost answers",
         "resubmitted with the same key", "jobs lost (resolved by SuiteQL)", "calls", "seconds"],
    )  # fmt: skip
    dup = len(r["duplicates"])
    row = [
        r["records"],
        n,
        missing,
        dup,
        r["ns_records"],
        len(faults),
        len(resent),
        len(lost_jobs),
        r["calls"],
    ]
    table.rows.append([*row, f"{r['seconds']:.1f}"])
    table.notes.append(f"target 0 duplicates, 0 missing: {verdict(missing == 0 and not r['duplicates'])}")
    return table


def _transform_note() -> Table:
    table = Table(
        "Invoices made from orders by transform (issue 12)", ["link mode", "what a batch can carry"]
    )
    table.rows.append(["upsert (standalone invoice)", "batched like every record: counted above"])
    table.rows.append(["transform (salesOrder !transform invoice)", "one POST per invoice, never batched"])
    table.notes.append(
        "not measured here: the transform link mode is not on main. By issue 12's figures (2.1 calls"
        " per invoice of an order), the 400 invoices of orders in this month would add about 840"
        " calls: about 0.46 calls per record in all, instead of under 0.05. Open until it lands."
    )
    return table


def run() -> Iterator[Table]:
    yield _side_by_side()  # each table printed as soon as it is measured
    yield _chaos()
    yield _transform_note()
