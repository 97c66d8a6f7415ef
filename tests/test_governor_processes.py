"""Eight OS processes share one account's governor on the real Redis.

Each process loops acquire → hold → release for about 4 s at 5 calls per 1 s, concurrency 3.
Grant times are Redis times (the script's own clock); a lease's in-flight interval runs from its
grant to a Redis TIME read just before its release, so the recorded interval lies inside the real
one and an overlap found here is a real overlap.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from bisect import bisect_right
from multiprocessing.synchronize import Event

import redis

from nue_ns.config import RateLimit
from nue_ns.governor import Governor, Grant

CALLS, PERIOD, CONCURRENCY, PROCESSES, RUN = 5, 1.0, 3, 8, 4.0


def _redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def _worker(
    url: str, prefix: str, ready: multiprocessing.Queue, go: Event, results: multiprocessing.Queue
) -> None:
    client = redis.Redis.from_url(url)
    gov = Governor(client, "PROC1", RateLimit(CALLS, PERIOD), CONCURRENCY, key_prefix=prefix)
    ready.put(True)
    go.wait()
    start = float(client.get(f"{prefix}:start"))
    while _redis_now(client) < start:
        time.sleep(0.005)
    leases: list[tuple[float, float]] = []
    while _redis_now(client) < start + RUN:
        answer = gov.acquire(max_wait=0.5)
        if isinstance(answer, Grant):
            time.sleep(random.uniform(0.01, 0.1))  # the HTTP call
            leases.append((answer.granted_at, _redis_now(client)))
            gov.release(answer.lease_id)
    results.put(leases)
    client.close()


def test_eight_processes_share_one_governor(redis_url: str) -> None:
    prefix = f"test-gov-proc-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    ctx = multiprocessing.get_context("fork")  # starts in milliseconds even on a loaded machine
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(redis_url, prefix, ready, go, results)) for _ in range(PROCESSES)
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:  # every process imported and connected: start together, on Redis's clock
            ready.get(timeout=30)
        start = _redis_now(client) + 0.2
        client.set(f"{prefix}:start", start)
        go.set()
        per_process = [results.get(timeout=15) for _ in procs]
        for p in procs:
            p.join(timeout=5)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()

    leases = sorted(lease for got in per_process for lease in got)
    grants = [granted for granted, _ in leases]
    assert sum(1 for got in per_process if got) >= 4  # many processes really took part

    # No sliding window of PERIOD seconds holds more than CALLS grants.
    for i, t in enumerate(grants):
        assert bisect_right(grants, t + PERIOD) - i <= CALLS, f"window from {t} over the limit"

    # In flight never above CONCURRENCY (and the limit was reached): open intervals at every grant.
    most = max(sum(1 for g, r in leases if g <= granted < r) for granted, _ in leases)
    assert most == CONCURRENCY

    # Utilisation: at least 90 % of what the limit allows over the run.
    in_run = sum(1 for t in grants if start <= t < start + RUN)
    offsets = [round(t - start, 3) for t in grants]
    assert in_run >= 0.9 * CALLS * RUN / PERIOD, f"only {in_run} grants in {RUN} s: {offsets}"
