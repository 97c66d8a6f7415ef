"""(6) Sweep scale: the scheduled-mode batch sweep with 10k, 100k and 1M parked records.

Parked rows are made with INSERT ... SELECT generate_series (10 scheduled integrations, rows spread
evenly), then ANALYZEd as autovacuum would. Each size is swept by a fresh process (so its peak RSS
is the sweep's own): `release_batch`, then `dispatch_candidates` again and again, the records it
returns marked transferred in between (as workers would), and one whole `batch_sweep` task (which
also hands the batch to Redis).
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import redis
from sqlalchemy import text

from bench.env import CONFIG, world
from bench.report import Table
from nue_ns.hub.db import session_scope

SIZES = (10_000, 100_000, 1_000_000)
INTEGRATIONS = 10
ROUNDS = 20

_INSERT = text(
    """
    INSERT INTO hub_records (integration_id, record_type, type_rank, nue_id, version_hash, payload,
                             state, reason, attempts, next_attempt_at)
    SELECT i.id, 'customer', 0, 'SW-' || g, md5(g::text) || md5(i.id::text),
           jsonb_build_object('id', 'SW-' || g, 'name', 'Customer ' || g, 'currency', 'USD'),
           'parked', 'waiting for the scheduled batch', 0, now()
    FROM generate_series(:lo, :hi - 1) g
    JOIN integrations i ON i.id = (SELECT min(id) FROM integrations) + g % :k
    """
)


def _sweep(rounds: int) -> dict[str, float]:
    """In a fresh process: time the sweep's steps; return them with this process's peak RSS."""
    from nue_ns import tasks
    from nue_ns.context import get_context
    from nue_ns.hub import dispatching

    ctx = get_context()
    started = time.perf_counter()
    dispatching.release_batch(ctx.engine)
    release = time.perf_counter() - started
    times, sizes = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        ids = dispatching.dispatch_candidates(ctx.engine)
        times.append(time.perf_counter() - started)
        sizes.append(len(ids))
        with session_scope(ctx.engine) as s:  # the workers' part, untimed
            s.execute(text("UPDATE hub_records SET state = 'transferred' WHERE id = ANY(:ids)"), {"ids": ids})
    started = time.perf_counter()
    answer = tasks.batch_sweep.run()
    task = time.perf_counter() - started
    return {
        "release_ms": release * 1000,
        "dispatch_ms": statistics.median(times) * 1000,
        "dispatch_max_ms": max(times) * 1000,
        "batch": statistics.median(sizes),
        "task_ms": task * 1000,
        "task_dispatched": answer.get("dispatched", 0),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(sizes: tuple[int, ...] = SIZES, rounds: int = ROUNDS) -> list[Table]:
    table = Table(
        "Batch sweep with parked records",
        [
            "parked rows",
            "insert s",
            "release_batch ms",
            "dispatch_candidates ms (median)",
            "(max)",
            "records per dispatch",
            "batch_sweep task ms",
            "peak RSS MB",
        ],
    )
    with world("sweep") as w:
        w.accounts(INTEGRATIONS, "5/60s", config=CONFIG.model_copy(update={"scheduled_mode": True}))
        made = 0
        spawn = multiprocessing.get_context("spawn")
        for size in sizes:
            started = time.perf_counter()
            with session_scope(w.ctx.engine) as s:
                s.execute(_INSERT, {"lo": made, "hi": size, "k": INTEGRATIONS})
            inserted = time.perf_counter() - started
            with w.ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE hub_records"))
            made = size
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                r = pool.submit(_sweep, rounds).result()
            with session_scope(w.ctx.engine) as s:  # the task's batch is done too: windows free again
                s.execute(text("UPDATE hub_records SET state = 'transferred' WHERE state = 'queued'"))
            redis.Redis.from_url(w.redis_url).flushdb()
            table.rows.append(
                [
                    size,
                    inserted,
                    r["release_ms"],
                    r["dispatch_ms"],
                    r["dispatch_max_ms"],
                    int(r["batch"]),
                    r["task_ms"],
                    r["rss_mb"],
                ]
            )
    table.notes += [
        f"{INTEGRATIONS} scheduled integrations, concurrency 5 each, so a dispatch queues at most "
        f"{INTEGRATIONS * 10} records (each integration's window of 2 x concurrency); "
        f"{rounds} dispatches per size",
        "the batch_sweep task row includes handing its records to Redis; peak RSS is the sweeping "
        "process's (PostgreSQL's memory is not in it)",
        "rows are cumulative: each size adds to the previous one's rows",
    ]
    return [table]
