"""(7) Worker CPU per record with NetSuite's latency excluded (sandbox answering at 0 ms).

In process: `time.process_time()` around `sync.transfer` of each record, one by one, in prerequisite
order (this process's CPU only: PostgreSQL's, Redis's and the sandbox's CPU are other processes).
Cross-check: a real `nue-ns worker` (threads pool) drains customers, and its whole process CPU
(Celery included) is divided by the records it transferred.
"""

from __future__ import annotations

import statistics
import time

import psutil
from sqlalchemy import func, select, text

from bench import data
from bench.env import wait_until, world
from bench.report import Table, verdict
from nue_ns import dispatch, mapping, records, sample, sync
from nue_ns.governor import Grant
from nue_ns.hub import db
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.producer import enqueue_many

TARGET_MS = 2.5  # in process (2x the floor the issue measured)
WORKER_TARGET_MS = 4.0  # a real worker, Celery included
ISSUE_FLOOR_MS = 1.25  # the floor issue 15 measured on its day's machine


def _queue(ctx, record_id: int) -> None:
    with session_scope(ctx.engine) as s:
        s.execute(text("UPDATE hub_records SET state = 'queued' WHERE id = :i"), {"i": record_id})


def _in_process(w, scale: int) -> tuple[dict[str, list[tuple[float, float]]], list[float]]:
    """Each record's CPU and wall ms by type, and the floor's CPU ms, one floor record measured
    after each of ours: the two see the same machine (its load, its frequency) at the same time."""
    ctx = w.ctx
    w.accounts(1, "100000/1s", concurrency=20)
    batch = data.month(scale)
    ids = data.enqueue_all(ctx, "bench00000", batch)
    floor = _Floor(ctx, "bench00000", sum(map(len, ids.values())))
    samples: dict[str, list[tuple[float, float]]] = {}
    floors: list[float] = []
    for record_type, type_ids in ids.items():
        for record_id in type_ids:
            _queue(ctx, record_id)
            cpu, wall = time.process_time(), time.perf_counter()
            outcome, _ = sync.transfer(ctx, record_id)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if outcome is sync.Outcome.TRANSFERRED:
                samples.setdefault(record_type, []).append((cpu * 1000, wall * 1000))
            floors.append(floor.one())
    return samples, floors


class _Floor:
    """The irreducible work of one customer's transfer (see the module's docstring), record by
    record: one claim UPDATE ... RETURNING, one governor Lua call, one signed PUT, the outcome
    update and attempt insert in one transaction, on plain psycopg with the same client and
    governor. Its request is built before the clock starts."""

    def __init__(self, ctx, integration: str, n: int) -> None:
        self.ctx = ctx
        self.integ = ctx.integration(integration)
        customers = sample.customers(n, prefix="FLR")
        accepted = enqueue_many("customer", customers, integration=integration, ctx=ctx, dispatch_now=False)
        self.todo = list(zip(accepted, customers, strict=True))

    def one(self) -> float:
        """CPU ms of one floor record."""
        ctx, integ = self.ctx, self.integ
        a, customer = self.todo.pop()
        conn = ctx.connection(integ.id)  # the account profile the product's first transfer read
        req = mapping.build("customer", records.validate("customer", customer), conn.config, {}, conn.profile)
        _queue(ctx, a.id)
        with db.checkout(ctx.engine) as pg:
            cpu = time.process_time()
            with pg.cursor() as cur:
                cur.execute(
                    "UPDATE hub_records SET state = 'in_flight', leased_by = %s, "
                    "lease_expires_at = now() + interval '60 seconds' WHERE id = %s AND state = 'queued' "
                    "RETURNING *",
                    ("floor", a.id),
                ).fetchone()
                pg.commit()
                grant = conn.governor.try_acquire()
                result = conn.client.upsert(req.ns_type, req.external_id, req.body)
                cur.execute(
                    "UPDATE hub_records SET state = 'transferred', ns_internal_id = %s, "
                    "attempts = attempts + 1, transferred_at = now(), updated_at = now() WHERE id = %s",
                    (result.internal_id, a.id),
                )
                cur.execute(
                    "INSERT INTO hub_attempts (record_id, integration_id, account_id, started_at, "
                    "elapsed_ms, method, url, status, outcome) "
                    "VALUES (%s, %s, %s, now(), %s, 'PUT', %s, %s, 'transferred')",
                    (a.id, integ.id, integ.account_id, result.exchange.elapsed_ms, result.exchange.url,
                     result.exchange.status),
                )  # fmt: skip
                pg.commit()
            cpu = (time.process_time() - cpu) * 1000
        if isinstance(grant, Grant):
            conn.governor.release(grant.lease_id)
        return cpu


def _worker_process(w, n: int) -> tuple[int, float, float]:
    """(records transferred, worker CPU ms per record, wall seconds) for one real worker."""
    ctx = w.ctx
    w.accounts(1, "100000/1s", concurrency=20, prefix="WORKER")
    customers = sample.customers(n, prefix="OVH")
    enqueue_many("customer", customers, integration="worker00000", ctx=ctx, dispatch_now=False)
    w.workers(1, concurrency=8)
    w.beat()
    worker = psutil.Process(w.children[-2].proc.pid)
    w.wait_workers(1)
    cpu0 = _tree_cpu(worker)
    started = time.monotonic()
    dispatch.dispatch(ctx)

    def done() -> int:
        with session_scope(ctx.engine) as s:
            done = select(func.count()).where(Record.state == State.TRANSFERRED, Record.nue_id.like("OVH-%"))
            return s.scalar(done)

    wait_until(lambda: done() >= n, 300, poll=0.1)
    wall = time.monotonic() - started
    cpu = _tree_cpu(worker) - cpu0
    return done(), cpu * 1000 / max(1, done()), wall


def _tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run(scale: int = 3, worker_records: int = 1000) -> list[Table]:
    with world("overhead") as w:
        w.sandbox()
        samples, floor = _in_process(w, scale)
        n, per_record, wall = _worker_process(w, worker_records)
    table = Table(
        "Worker overhead per record (sandbox at 0 ms latency)",
        ["record type", "records", "CPU median ms", "CPU p95 ms", "wall median ms"],
    )
    every = []
    for record_type, rows in samples.items():
        cpu = sorted(c for c, _ in rows)
        every += cpu
        wall_ms = statistics.median(wl for _, wl in rows)
        table.rows.append([record_type, len(rows), statistics.median(cpu), _p95(cpu), wall_ms])
    median = statistics.median(every)
    table.rows.append(["all (in process)", len(every), median, _p95(sorted(every)), "-"])
    floor_median = statistics.median(floor)
    table.rows.append(["floor (customer, in process, one after each record)", len(floor), floor_median,
                       _p95(sorted(floor)), "-"])  # fmt: skip
    table.rows.append([f"customer, real worker ({n} records, threads pool)", n, per_record, "-", "-"])
    customer = statistics.median(c for c, _ in samples["customer"])
    table.notes += [
        f"target: median CPU <= {TARGET_MS} ms per record: {verdict(median <= TARGET_MS)} "
        f"(in process, sync.transfer: claim, prerequisites, mapping, governor, signed HTTP call, outcome)",
        f"the same target as the issue states it, 2x the floor measured beside it "
        f"({2 * floor_median:.2f} ms here): {verdict(median <= 2 * floor_median)}, "
        f"{median / floor_median:.2f}x; customers alone {customer / floor_median:.2f}x",
        "floor: one claim UPDATE ... RETURNING, one governor Lua call, one signed PUT, the outcome update "
        "and attempt insert in one transaction (plain psycopg, same client and governor), one floor "
        "record measured after each of ours",
        f"target: a real worker <= {WORKER_TARGET_MS} ms per record: "
        f"{verdict(per_record <= WORKER_TARGET_MS)}; {per_record / floor_median:.2f}x the floor "
        f"(the issue's {WORKER_TARGET_MS} ms is {WORKER_TARGET_MS / ISSUE_FLOOR_MS:.1f}x the floor it "
        f"measured, {ISSUE_FLOOR_MS} ms; scaled to this run's floor: "
        f"{verdict(per_record <= WORKER_TARGET_MS / ISSUE_FLOOR_MS * floor_median)})",
        "real worker row: the worker's whole process CPU (Celery, logging, dispatch after each task) "
        f"divided by records; {n} records in {wall:.1f} s wall",
    ]
    return [table]


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.95))]
