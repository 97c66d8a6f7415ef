"""(5) Ingestion: records made durable in the hub per second, by the bulk Python API and the HTTP
API (`nue-ns api`, a real process), beside a bare Celery `apply_async` loop on the same Redis.

Every nue-ns figure counts records committed in PostgreSQL (checked by counting rows afterwards);
the integration is in real-time mode, so each call also dispatches the integration's window.
"""

from __future__ import annotations

import time

import requests
from celery import Celery
from sqlalchemy import func, select, text

from bench.env import world
from bench.report import Table, verdict
from nue_ns import sample
from nue_ns.hub.api_keys import create_key
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record
from nue_ns.producer import enqueue, enqueue_many

TARGET = 5000.0  # records/s, bulk


def _rows(ctx, prefix: str) -> int:
    with session_scope(ctx.engine) as s:
        return s.scalar(select(func.count()).where(Record.nue_id.like(f"{prefix}%")))


def _bulk(ctx, n: int, batch: int, prefix: str) -> float:
    items = sample.customers(n, prefix=prefix)
    started = time.perf_counter()
    for i in range(0, n, batch):
        enqueue_many("customer", items[i : i + batch], integration="bench00000", ctx=ctx)
    return time.perf_counter() - started


def _single(ctx, n: int) -> float:
    items = sample.customers(n, prefix="ONE")
    started = time.perf_counter()
    for item in items:
        enqueue("customer", item, integration="bench00000", ctx=ctx)
    return time.perf_counter() - started


def _http(w, n: int, batch: int) -> float:
    key, _ = create_key(w.ctx.engine, "bench", "producer")
    base = w.api()
    items = sample.customers(n, prefix="HTTP")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    for i in range(0, n, batch):
        r = http.post(
            f"{base}/v1/records/customer",
            params={"integration": "bench00000"},
            json=items[i : i + batch],
            timeout=120,
        )
        r.raise_for_status()
    return time.perf_counter() - started


def _celery(redis_url: str, n: int) -> float:
    """A bare Celery producer: n apply_async calls of a no-op task onto its own queue (then purged)."""
    app = Celery("bench_ingest", broker=redis_url)
    app.conf.task_default_queue = "bench.ingest"

    @app.task(name="bench.noop")
    def noop(record_id: int) -> None:  # never run: only the sending is measured
        return None

    with app.producer_or_acquire() as producer:  # connection set up outside the timing
        noop.apply_async((0,), producer=producer)
        started = time.perf_counter()
        for i in range(n):
            noop.apply_async((i,), producer=producer)
        elapsed = time.perf_counter() - started
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("bench.ingest")
    return elapsed


def run(n: int = 20_000, batch: int = 1000, singles: int = 1000) -> list[Table]:
    headers = ["path", "records", "batch", "seconds", "records/s"]
    table = Table("Ingestion: records accepted per second", headers)
    with world("ingestion") as w:
        w.sandbox()
        w.accounts(1, "5/60s")
        ctx = w.ctx
        fresh_s = _bulk(ctx, n // 2, batch, "FRESH")  # a new table: the planner has no statistics yet
        with session_scope(ctx.engine) as s:
            s.execute(text("ANALYZE hub_records"))  # what autovacuum does on a live hub
        bulk_s = _bulk(ctx, n, batch, "BULK")
        assert _rows(ctx, "FRESH") == n // 2 and _rows(ctx, "BULK") == n, "records missing from the hub"
        one_s = _single(ctx, singles)
        assert _rows(ctx, "ONE") == singles
        http_s = _http(w, n, batch)
        assert _rows(ctx, "HTTP") == n, "HTTP records missing from the hub"
        celery_s = _celery(w.redis_url, n)
    bulk_rate = n / bulk_s
    table.rows += [
        [
            "Python API enqueue_many, new hub table (no planner statistics yet)",
            n // 2,
            batch,
            fresh_s,
            n / 2 / fresh_s,
        ],
        ["Python API enqueue_many, analyzed table (durable in PostgreSQL)", n, batch, bulk_s, bulk_rate],
        ["Python API enqueue, one record per call", singles, 1, one_s, singles / one_s],
        ["HTTP API POST /v1/records/customer (durable)", n, batch, http_s, n / http_s],
        ["bare Celery apply_async loop (Redis only, not durable)", n, 1, celery_s, n / celery_s],
    ]
    table.notes += [
        f"target: bulk >= {TARGET:,.0f} records/s durable: {verdict(bulk_rate >= TARGET)} "
        "(customers, validated, hashed, inserted and committed; integration in real-time mode)",
        "the analyzed-table rows follow an ANALYZE of hub_records, as autovacuum gives a live hub; "
        "a new table is slower: store._supersede's self-join is planned as a nested loop over "
        "sequential scans until statistics exist",
    ]
    return [table]
