"""(5) Ingestion: records made durable in the hub per second, by the bulk Python API and the HTTP
API (`nue-ns api`, a real process), beside the floor measured in the same run: a raw psycopg COPY
of the same rows (already validated and serialised) into hub_records, committed per batch, and
the validation and serialisation alone (no database). A bare Celery `apply_async` loop on the same
Redis is shown for scale.

Every nue-ns figure counts records committed in PostgreSQL (checked by counting rows afterwards);
the integration is in real-time mode, so each call also dispatches the integration's window.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from celery import Celery
from sqlalchemy import func, select, text

from bench.env import world
from bench.report import Table, verdict
from nue_ns import records, sample
from nue_ns.api.keys import create_key
from nue_ns.hub import intake
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, utcnow
from nue_ns.producer import enqueue, enqueue_many, validate_all

TARGET = 15_000.0  # records/s durable, bulk Python API (issue 15)
TARGET_HTTP = 8_000.0  # records/s durable, HTTP API, 1,000 records per request (issue 15)


def _rows(ctx, prefix: str) -> int:
    with session_scope(ctx.engine) as s:
        return s.scalar(select(func.count()).where(Record.nue_id.like(f"{prefix}%")))


def _bulk(ctx, n: int, batch: int, prefix: str) -> float:
    items = sample.customers(n, prefix=prefix)
    started = time.perf_counter()
    for i in range(0, n, batch):
        enqueue_many("customer", items[i : i + batch], integration="bench00000", ctx=ctx)
    return time.perf_counter() - started


def _cpu_only(n: int, batch: int) -> float:
    """Validation and the one serialisation (canonical JSON and its hash), nothing stored."""
    items = sample.customers(n, prefix="CPU")
    started = time.perf_counter()
    for i in range(0, n, batch):
        list(intake.batch_rows(intake.latest_versions(validate_all("customer", items[i : i + batch]))))
    return time.perf_counter() - started


def _floor(ctx, n: int, batch: int) -> float:
    """The same rows, validated and serialised beforehand, COPied straight into hub_records with
    psycopg and committed per batch: what PostgreSQL itself costs (indexes, foreign key, WAL)."""
    integ = ctx.integration("bench00000")
    valid = [records.validate("customer", item) for item in sample.customers(n, prefix="FLOOR")]
    rows = [
        (integ.id, "customer", 0, nue_id, upd, digest, text, "pending", utcnow(), 0)
        for _, nue_id, upd, digest, text in intake.batch_rows(intake.latest_versions(valid))
    ]
    copy_sql = (
        "COPY hub_records (integration_id, record_type, type_rank, nue_id, source_updated_at, "
        "version_hash, payload, state, next_attempt_at, attempts) FROM STDIN"
    )
    pooled = ctx.engine.raw_connection()
    try:
        conn = pooled.driver_connection
        started = time.perf_counter()
        for i in range(0, n, batch):
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows[i : i + batch]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - started
    finally:
        pooled.close()
    return elapsed


def _single(ctx, n: int) -> float:
    items = sample.customers(n, prefix="ONE")
    started = time.perf_counter()
    for item in items:
        enqueue("customer", item, integration="bench00000", ctx=ctx)
    return time.perf_counter() - started


def _http(base: str, key: str, n: int, batch: int, producers: int = 1) -> float:
    """n customers POSTed `batch` to a request by `producers` clients at once; each body is
    encoded beforehand (a producer's own JSON encoding is not the hub's cost)."""
    items = sample.customers(n, prefix=f"HTTP{producers}-")
    bodies = [json.dumps(items[i : i + batch]).encode() for i in range(0, n, batch)]

    def send(mine: list[bytes]) -> None:
        http = requests.Session()
        http.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        for body in mine:
            r = http.post(
                f"{base}/v1/records/customer", params={"integration": "bench00000"}, data=body, timeout=120
            )
            r.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(producers) as pool:
        list(pool.map(send, [bodies[k::producers] for k in range(producers)]))
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
        floor_s = _floor(ctx, n, batch)
        assert _rows(ctx, "FLOOR") == n
        cpu_s = _cpu_only(n, batch)
        one_s = _single(ctx, singles)
        assert _rows(ctx, "ONE") == singles
        key, _ = create_key(ctx.engine, "bench", "producer")
        base = w.api()
        http_s = _http(base, key, n, batch)
        assert _rows(ctx, "HTTP1-") == n, "HTTP records missing from the hub"
        http2_s = _http(base, key, n, batch, producers=2)
        assert _rows(ctx, "HTTP2-") == n, "HTTP records missing from the hub"
        celery_s = _celery(w.redis_url, n)
    bulk_rate, http_rate = n / bulk_s, n / http_s
    table.rows += [
        [
            "Python API enqueue_many, new hub table (no planner statistics yet)",
            n // 2,
            batch,
            fresh_s,
            n / 2 / fresh_s,
        ],
        ["Python API enqueue_many, analyzed table (durable in PostgreSQL)", n, batch, bulk_s, bulk_rate],
        [
            "floor: raw psycopg COPY of the same rows into hub_records, committed",
            n,
            batch,
            floor_s,
            n / floor_s,
        ],
        ["floor: validation + serialisation + hash only (nothing stored)", n, batch, cpu_s, n / cpu_s],
        ["Python API enqueue, one record per call", singles, 1, one_s, singles / one_s],
        ["HTTP API POST /v1/records/customer, one producer (durable)", n, batch, http_s, http_rate],
        [
            "HTTP API POST /v1/records/customer, two producers at once (durable)",
            n,
            batch,
            http2_s,
            n / http2_s,
        ],
        ["bare Celery apply_async loop (Redis only, not durable)", n, 1, celery_s, n / celery_s],
    ]
    table.notes += [
        f"target: bulk >= {TARGET:,.0f} records/s durable: {verdict(bulk_rate >= TARGET)} "
        "(customers, validated, hashed, inserted and committed; integration in real-time mode)",
        f"target: HTTP >= {TARGET_HTTP:,.0f} records/s durable, {batch:,} records per request, one "
        f"producer: {verdict(http_rate >= TARGET_HTTP)} (two producers: "
        f"{verdict(n / http2_s >= TARGET_HTTP)}); request bodies are encoded before the clock starts",
        f"enqueue_many runs at {bulk_rate / (n / floor_s):.0%} of the raw COPY floor; the floor rows "
        "skip validation, serialisation, version and supersede checks, and dispatch",
        "the analyzed-table rows follow an ANALYZE of hub_records, as autovacuum gives a live hub",
    ]
    return [table]
