"""(8) A burst of concurrent producers against the HTTP API (`nue-ns api`, a real process): 1,000
single-record POSTs at once, while /health is asked every 100 ms. /health must answer within 1 s.

Every POST must be accepted (202) and every record be in the hub afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time

import httpx
import requests
from sqlalchemy import func, select

from bench.env import world
from bench.report import Table, verdict
from nue_ns import sample
from nue_ns.hub.api_keys import create_key
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record

HEALTH_LIMIT = 1.0  # seconds


def _probe(base: str, done, out) -> None:
    """In a process of its own, so the burst's client work never delays the probe itself."""
    with requests.Session() as http:
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                ok = http.get(f"{base}/health", timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            out.put(time.perf_counter() - t0 if ok else float("inf"))
            time.sleep(0.1)


async def _burst(base: str, key: str, n: int) -> tuple[float, list[int]]:
    items = sample.customers(n, prefix="BURST")
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(limits=limits, timeout=300, headers=headers) as c:

        async def post(item: dict) -> None:
            r = await c.post(f"{base}/v1/records/customer", params={"integration": "bench00000"}, json=item)
            statuses.append(r.status_code)

        started = time.perf_counter()
        await asyncio.gather(*(post(item) for item in items))
        return time.perf_counter() - started, statuses


def _with_probe(base: str, key: str, n: int) -> tuple[float, list[int], list[float]]:
    ctx = multiprocessing.get_context("spawn")
    done, out = ctx.Event(), ctx.Queue()
    prober = ctx.Process(target=_probe, args=(base, done, out), daemon=True)
    prober.start()
    time.sleep(1.0)  # the probe is up and has a baseline
    elapsed, statuses = asyncio.run(_burst(base, key, n))
    done.set()
    prober.join(60)
    health = []
    while not out.empty():
        health.append(out.get())
    return elapsed, statuses, health


def run(n: int = 1000) -> list[Table]:
    headers = ["concurrent POSTs", "seconds", "records/s", "202s", "/health probes", "median s", "max s"]
    table = Table("Burst: /health while 1,000 producers enqueue at once (HTTP API)", headers)
    with world("burst") as w:
        w.sandbox()
        w.accounts(1, "5/60s")
        key, _ = create_key(w.ctx.engine, "bench", "producer")
        base = w.api()
        elapsed, statuses, health = _with_probe(base, key, n)
        with session_scope(w.ctx.engine) as s:
            stored = s.scalar(select(func.count()).where(Record.nue_id.like("BURST%")))
    accepted = sum(1 for st in statuses if st == 202)
    assert stored == accepted == n, f"{accepted} accepted, {stored} stored of {n}"
    worst = max(health)
    table.rows.append([n, elapsed, n / elapsed, accepted, len(health), statistics.median(health), worst])
    met = verdict(worst <= HEALTH_LIMIT)
    table.notes.append(f"target: every /health answer within {HEALTH_LIMIT:.0f} s during the burst: {met}")
    table.notes.append("/health is probed every 100 ms from a process of its own")
    return [table]
