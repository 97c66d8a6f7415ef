"""Prometheus metrics, computed at scrape time from the hub, the attempt log and Redis.

Workers run in many processes on many hosts; rather than share counters between them, every
number is read from the durable stores when Prometheus scrapes: gauges from hub_records and the
governor, counters from the attempt log (which only grows). Any API process serves the same
answer, and a restart loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from nue_ns.context import Context, get_context
from nue_ns.hub.integrations import list_integrations
from nue_ns.hub.queries import metric_rows
from nue_ns.netsuite.errors import Kind

log = logging.getLogger(__name__)

QUEUES = ("nue_ns", "nue_ns.sweeps")  # Celery's Redis lists (celeryconfig.task_routes)
NOT_TRANSFERRED = ("parked", "pending", "waiting", "failed")

# Attempt outcomes that are failures: a classified NetSuite error, a call whose worker was lost,
# or one that broke on our side. Anything else (transferred, queried, validated, audit, in flight)
# is not an error: a list of failures, so a new kind of successful call is never counted as one.
_ERROR_OUTCOMES = frozenset({k.value for k in Kind} | {"lost", "error"})


class HubCollector:
    def __init__(self, context: Context | None = None) -> None:
        self._context = context

    def collect(self) -> Iterator[Metric]:
        ctx = self._context or get_context()
        up = GaugeMetricFamily(
            "nue_ns_metrics_source_up", "1 when the source answered this scrape", labels=["source"]
        )
        for source, part in (("hub", self._hub), ("redis", self._redis)):
            try:
                yield from part(ctx)
                up.add_metric([source], 1)
            except Exception:  # a scrape must answer even when a store is down
                log.exception("metrics: reading %s failed", source)
                up.add_metric([source], 0)
        yield up

    def _hub(self, ctx: Context) -> Iterator[Metric]:
        records = GaugeMetricFamily(
            "nue_ns_records", "Hub records by integration, type and state (superseded versions left out)",
            labels=["integration", "type", "state"],
        )  # fmt: skip
        transfers = CounterMetricFamily(
            "nue_ns_transfers", "Records NetSuite accepted (attempt log)", labels=["integration"]
        )
        errors = CounterMetricFamily(
            "nue_ns_errors", "Failed NetSuite calls by outcome and NetSuite error code (attempt log)",
            labels=["integration", "outcome", "error_code"],
        )  # fmt: skip
        throttled = CounterMetricFamily(
            "nue_ns_throttled", "NetSuite 429 answers (concurrency limit); each pauses the account",
            labels=["integration"],
        )  # fmt: skip
        oldest = GaugeMetricFamily(
            "nue_ns_oldest_not_transferred_seconds", "Age of the oldest Not Transferred record",
            labels=["integration"],
        )  # fmt: skip
        waits = GaugeMetricFamily(
            "nue_ns_governor_waiting_records",
            "Records handed back to the hub to wait for a NetSuite call slot",
            labels=["integration"],
        )  # fmt: skip
        rows = metric_rows(ctx.engine, NOT_TRANSFERRED)
        for name, rtype, state, n in rows.records:
            records.add_metric([name, rtype, state], n)
        ok, failed, limited = Counter(), Counter(), Counter()
        for name, outcome, code, status, n in rows.attempts:
            if outcome == "transferred":
                ok[name] += n
            elif outcome in _ERROR_OUTCOMES:
                failed[(name, outcome, code)] += n
            if status == 429:
                limited[name] += n
        for name, n in ok.items():
            transfers.add_metric([name], n)
        for key, n in failed.items():
            errors.add_metric(list(key), n)
        for name, n in limited.items():
            throttled.add_metric([name], n)
        for name, age in rows.oldest:
            oldest.add_metric([name], float(age))
        for name, n in rows.governor_waits:
            waits.add_metric([name], n)
        yield from (records, transfers, errors, throttled, oldest, waits)
        yield from self._batches(ctx)

    def _batches(self, ctx: Context) -> Iterator[Metric]:
        from nue_ns.hub import batch_store

        c = batch_store.counts(ctx.engine)
        batches = GaugeMetricFamily("nue_ns_batches", "NetSuite batches by state", labels=["state"])
        for key, n in c.items():
            if key.startswith("batches_"):
                batches.add_metric([key.removeprefix("batches_")], n)
        calls = CounterMetricFamily(
            "nue_ns_batch_calls", "Batch submits and job polls made (each one NetSuite call)", labels=["kind"]
        )
        calls.add_metric(["submit"], c.get("submits", 0))
        calls.add_metric(["poll"], c.get("polls", 0))
        outcomes = CounterMetricFamily(
            "nue_ns_batch_records", "Per-record outcomes of finished batches", labels=["outcome"]
        )
        for key in ("succeeded", "failed", "retried"):
            outcomes.add_metric([key], c.get(key, 0))
        yield from (batches, calls, outcomes)

    def _redis(self, ctx: Context) -> Iterator[Metric]:
        depth = GaugeMetricFamily("nue_ns_queue_depth", "Tasks waiting in a Redis queue", labels=["queue"])
        for queue in QUEUES:
            depth.add_metric([queue], ctx.redis.llen(queue))
        yield depth
        labels = ["account"]
        tokens = GaugeMetricFamily("nue_ns_governor_tokens_available", "Rate tokens free now", labels=labels)
        in_flight = GaugeMetricFamily("nue_ns_governor_in_flight", "NetSuite calls in flight", labels=labels)
        paused = GaugeMetricFamily("nue_ns_governor_paused", "1 while the account is paused", labels=labels)
        pause_left = GaugeMetricFamily(
            "nue_ns_governor_pause_seconds", "Seconds until the account's pause ends", labels=labels
        )
        seen = set()
        for integ in list_integrations(ctx.engine):
            if integ.account_id in seen:
                continue
            seen.add(integ.account_id)
            st = ctx.governor(integ).state()
            tokens.add_metric([st.account_id], st.tokens_available)
            in_flight.add_metric([st.account_id], st.in_flight)
            paused.add_metric([st.account_id], 1 if st.paused_until else 0)
            pause_left.add_metric([st.account_id], max(0.0, (st.paused_until or 0) - time.time()))
        yield from (tokens, in_flight, paused, pause_left)


def render(context: Context | None = None) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(context))
    return generate_latest(registry), CONTENT_TYPE_LATEST
