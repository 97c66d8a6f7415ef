"""A bare Celery app whose one task stands for a NetSuite call limited by Celery's own `rate_limit`.

Run by `celery -A bench.celery_rate worker`; each run of the task stamps Redis's clock into a list,
so the stamps are the "calls" judged against the limit. BENCH_BROKER names the Redis database.
"""

from __future__ import annotations

import os
from functools import cache

import redis
from celery import Celery

QUEUE = "bench.rate"
STAMPS = "bench:celery_rate:stamps"
RATE = os.environ.get("BENCH_CELERY_RATE", "150/m")  # 5 per 2 s, as Celery spells rates

# The bench process sets broker_url itself before sending; workers are given BENCH_BROKER.
app = Celery("bench_rate", broker=os.environ.get("BENCH_BROKER", "memory://"))
app.conf.update(task_default_queue=QUEUE, worker_prefetch_multiplier=1, task_acks_late=True)


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(app.conf.broker_url)


@app.task(name="bench.call", rate_limit=RATE, ignore_result=True)
def call() -> None:
    seconds, micros = _redis().time()
    _redis().rpush(STAMPS, seconds + micros / 1e6)
