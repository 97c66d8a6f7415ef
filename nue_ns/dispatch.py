"""Hub → Redis: hand due records to the workers, a bounded window per integration.

Redis only carries work: a record is QUEUED in the hub before its task exists, and a task Redis
loses is sent again by the retry sweep (stale_queued), so losing Redis loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nue_ns.context import Context
from nue_ns.hub import dispatching

log = logging.getLogger(__name__)


def send(ids: Iterable[int]) -> int:
    from nue_ns.celery_app import app  # only needed here; tasks are sent by name (no import cycle)

    ids = list(ids)
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for record_id in ids:
                app.send_task("nue_ns.transfer", (record_id,), producer=producer)
                sent += 1
    except Exception:  # Redis down: the records stay QUEUED and the retry sweep resends them
        log.exception("could not hand %d record(s) to Redis; the retry sweep will", len(ids) - sent)
    return sent


def dispatch(ctx: Context, integration_id: int | None = None) -> int:
    """Queue what is due (all integrations, or one), respecting each integration's window."""
    window = ctx.settings.dispatch_window or None
    total = 0
    while True:
        ids = dispatching.dispatch_candidates(ctx.engine, integration_id, window)
        if not ids:
            return total
        total += send(ids)
        if integration_id is not None or len(ids) < 1000:
            return total


def resend_stale(ctx: Context) -> int:
    ids = dispatching.stale_queued(ctx.engine, ctx.settings.dispatch_timeout)
    return send(ids) if ids else 0


def dispatch_batches(ctx: Context) -> int:
    """One batch task per integration that sends in batches (nue_ns/batches.py), and per real-time
    burst of one record type above NUE_NS_BATCH_BURST_THRESHOLD."""
    from nue_ns.celery_app import app
    from nue_ns.hub import batch_store

    # Integrations that batch, and any other with a batch due (a real-time burst's job to poll).
    every = set(batch_store.batching_integrations(ctx.engine)) | set(batch_store.with_due_batches(ctx.engine))
    jobs: list[tuple[int, str | None]] = [(i, None) for i in sorted(every)]
    if ctx.settings.batch_burst_threshold:
        jobs += batch_store.burst_types(ctx.engine, ctx.settings.batch_burst_threshold)
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for integration_id, record_type in jobs:
                app.send_task("nue_ns.batch_work", (integration_id, record_type), producer=producer)
                sent += 1
    except Exception:  # Redis down: the next sweep sends them; the hub holds every batch
        log.exception("could not hand batch tasks to Redis; the next sweep will")
    return sent
