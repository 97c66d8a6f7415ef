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
from nue_ns.hub import intake
from nue_ns.hub.api_keys import create_key
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


class Floor:
    """What PostgreSQL itself costs (indexes, foreign key, WAL): n customers validated and serialised
    beforehand, COPied straight into hub_records with psycopg, one batch per `copy` call, committed;
    and what Python's share costs alone: validation, serialisation and hash, nothing stored."""

    COPY = (
        "COPY hub_records (integration_id, record_type, type_rank, nue_id, source_updated_at, "
        "version_hash, payload, state, next_attempt_at, attempts) FROM STDIN"
    )

    def __init__(self, ctx, n: int, batch: int, prefix: str) -> None:
        integ = ctx.integration("bench00000")
        self.items = sample.customers(n, prefix=f"{prefix}CPU")
        valid = [records.validate("customer", item) for item in sample.customers(n, prefix=prefix)]
        rows = [
            (integ.id, "customer", 0, nue_id, upd, digest, text, "pending", utcnow(), 0)
            for _, nue_id, upd, digest, text in intake.batch_rows(intake.latest_versions(valid))
        ]
        self.batches = [rows[i : i + batch] for i in range(0, n, batch)]
        self.pooled = ctx.engine.raw_connection()
        self.copy_s = self.cpu_s = 0.0

    def copy(self, k: int) -> None:
        conn = self.pooled.driver_connection
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(self.COPY) as copy:
            for row in self.batches[k]:
                copy.write_row(row)
        conn.commit()
        self.copy_s += time.perf_counter() - started

    def cpu(self, k: int) -> None:
        size = len(self.batches[k])
        started = time.perf_counter()
        chunk = self.items[k * size : (k + 1) * size]
        list(intake.batch_rows(intake.latest_versions(validate_all("customer", chunk))))
        self.cpu_s += time.perf_counter() - started

    def close(self) -> None:
        self.pooled.close()


def _bulk_beside_floor(ctx, n: int, batch: int) -> tuple[float, Floor]:
    """enqueue_many batch by batch, each followed by one floor batch: both under the same load."""
    items = sample.customers(n, prefix="BULK")
    floor = Floor(ctx, n, batch, "FLOOR")
    elapsed = 0.0
    try:
        for k, i in enumerate(range(0, n, batch)):
            started = time.perf_counter()
            enqueue_many("customer", items[i : i + batch], integration="bench00000", ctx=ctx)
            elapsed += time.perf_counter() - started
            floor.copy(k)
            floor.cpu(k)
    finally:
        floor.close()
    return elapsed, floor


def _single(ctx, n: int) -> float:
    items = sample.customers(n, prefix="ONE")
    started = time.perf_counter()
    for item in items:
        enqueue("customer", item, integration="bench00000", ctx=ctx)
    return time.perf_counter() - started


def _http(base: str, key: str, n: int, batch: int, producers: int = 1, floor: Floor | None = None) -> float:
    """n customers POSTed `batch` to a request by `producers` clients at once; each body is
    encoded beforehand (a producer's own JSON encoding is not the hub's cost). With one producer
    each request is followed by one floor batch (not timed with the requests)."""
    items = sample.customers(n, prefix=f"HTTP{producers}-")
    bodies = [json.dumps(items[i : i + batch]).encode() for i in range(0, n, batch)]
    elapsed = [0.0]

    def send(mine: list[bytes]) -> None:
        http = requests.Session()
        http.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        for k, body in enumerate(mine):
            started = time.perf_counter()
            r = http.post(
                f"{base}/v1/records/customer", params={"integration": "bench00000"}, data=body, timeout=120
            )
            r.raise_for_status()
            elapsed[0] += time.perf_counter() - started
            if floor is not None:
                floor.copy(k)

    if producers == 1:
        send(bodies)
        return elapsed[0]
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
        bulk_s, floor = _bulk_beside_floor(ctx, n, batch)
        assert _rows(ctx, "FRESH") == n // 2 and _rows(ctx, "BULK") == n, "records missing from the hub"
        assert _rows(ctx, "FLOOR") == n
        one_s = _single(ctx, singles)
        assert _rows(ctx, "ONE") == singles
        key, _ = create_key(ctx.engine, "bench", "producer")
        base = w.api()
        http_floor = Floor(ctx, n, batch, "HFLOOR")
        try:
            http_s = _http(base, key, n, batch, floor=http_floor)
        finally:
            http_floor.close()
        assert _rows(ctx, "HTTP1-") == n, "HTTP records missing from the hub"
        http2_s = _http(base, key, n, batch, producers=2)
        assert _rows(ctx, "HTTP2-") == n, "HTTP records missing from the hub"
        celery_s = _celery(w.redis_url, n)
    bulk_rate, http_rate = n / bulk_s, n / http_s
    floor_s, cpu_s, http_floor_s = floor.copy_s, floor.cpu_s, http_floor.copy_s
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
            "floor: raw psycopg COPY of such rows into hub_records, committed (between the above)",
            n,
            batch,
            floor_s,
            n / floor_s,
        ],
        [
            "floor: validation + serialisation + hash only, nothing stored (between the above)",
            n,
            batch,
            cpu_s,
            n / cpu_s,
        ],
        ["Python API enqueue, one record per call", singles, 1, one_s, singles / one_s],
        ["HTTP API POST /v1/records/customer, one producer (durable)", n, batch, http_s, http_rate],
        [
            "floor: raw psycopg COPY into hub_records, committed (between the requests above)",
            n,
            batch,
            http_floor_s,
            n / http_floor_s,
        ],
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
        f"enqueue_many takes {bulk_s / floor_s:.1f}x the raw COPY's time and "
        f"{bulk_s / (floor_s + cpu_s):.2f}x the raw COPY's plus validation's and serialisation's "
        "(each batch of the three run one after the "
        "other, so all see the same load); the floor skips the version and supersede checks and dispatch",
        f"the HTTP API takes {http_s / http_floor_s:.1f}x the raw COPY's time measured between its requests",
        "the analyzed-table rows follow an ANALYZE of hub_records, as autovacuum gives a live hub",
    ]
    return [table]
