"""Thin Celery tasks. They carry hub ids only: never payloads, never secrets.

The beat schedule lives in celeryconfig.py. Sweeps take a short Redis lock, so two beats started
by mistake (or a slow sweep overlapping the next) never run the same sweep twice at once; and
every hub transition is atomic anyway. The lock is renewed while its sweep runs, so a worker killed
mid-sweep holds that sweep up for at most SWEEP_LOCK_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from celery.worker import state as worker_state
from redis.exceptions import LockError, RedisError

from nue_ns import batches, dispatch, inbound, services, sync, webhook
from nue_ns.celery_app import app
from nue_ns.context import get_context

log = logging.getLogger(__name__)

# A sweep's lock lapses this long after its holder last renewed it. The holder renews it every
# third of that while it sweeps (for at most the sweep's longest run), so a worker killed mid-sweep
# (SIGKILL, out of memory) holds that sweep up for seconds, not for the sweep's longest run.
SWEEP_LOCK_SECONDS = 15.0


@contextmanager
def _sweep_lock(name: str, longest: float) -> Iterator[bool]:
    """Whether this worker holds sweep `name`'s lock (yield False: another one is sweeping)."""
    lock = get_context().redis.lock(f"nue_ns:sweep:{name}", timeout=SWEEP_LOCK_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        yield False
        return
    done = threading.Event()

    def keep() -> None:
        deadline = time.monotonic() + longest
        while not done.wait(SWEEP_LOCK_SECONDS / 3) and time.monotonic() < deadline:
            try:
                lock.reacquire()
            except (LockError, RedisError):  # lost (Redis flushed or restarted): sweeps are idempotent
                return

    keeper = threading.Thread(target=keep, name=f"sweep-lock-{name}", daemon=True)
    keeper.start()
    try:
        yield True
    finally:
        done.set()
        keeper.join()
        try:
            lock.release()
        except LockError:  # lapsed and perhaps taken since: not ours to delete
            pass


@app.task(name="nue_ns.transfer", ignore_result=True)
def transfer_record(record_id: int) -> dict[str, int]:
    """The record, then what its integration's refill makes due, for up to NUE_NS_CARRY_ON_SECONDS
    (sync.carry_on); returns how many records ended in each outcome."""
    ctx = get_context()
    outcomes = sync.carry_on(ctx, int(record_id), ctx.settings.carry_on_seconds, _worker_stopping)
    return dict(Counter(o.value for o in outcomes))


def _worker_stopping() -> bool:
    return worker_state.should_stop is not None or worker_state.should_terminate is not None


@app.task(name="nue_ns.retry_sweep", ignore_result=True)
def retry_sweep() -> dict:
    """Dispatch due records (new, retrying, woken) and resend tasks Redis may have lost."""
    with _sweep_lock("retry", 60) as mine:
        if not mine:
            return {"skipped": True}
        return services.retry_sweep(get_context())


@app.task(name="nue_ns.batch_sweep", ignore_result=True)
def batch_sweep() -> dict:
    """Scheduled mode: every parked record goes, in prerequisite order, at the governed rate."""
    with _sweep_lock("batch", 300) as mine:
        if not mine:
            return {"skipped": True}
        return services.batch_sweep(get_context())


@app.task(name="nue_ns.batch_work", ignore_result=True)
def batch_work(integration_id: int, record_type: str | None = None) -> dict:
    """Advance and form one integration's NetSuite batches. No countdown: a batch's next poll is a
    due time in the hub, and the retry sweep sends this task again."""
    return batches.work(get_context(), int(integration_id), record_type).as_json()


@app.task(name="nue_ns.recover_leases", ignore_result=True)
def recover_leases() -> dict:
    with _sweep_lock("leases", 60) as mine:
        if not mine:
            return {"skipped": True}
        ctx = get_context()
        recovered = services.recover_leases(ctx)
        if recovered:
            log.warning("recovered %d record(s) from lost workers", len(recovered))
        return {"recovered": len(recovered), "dispatched": dispatch.dispatch(ctx) if recovered else 0}


@app.task(name="nue_ns.inbound_poll", ignore_result=True)
def inbound_poll() -> dict:
    """NetSuite -> Nue: read every integration's changes into hub events, then deliver them."""
    with _sweep_lock("inbound_poll", 600) as mine:
        if not mine:
            return {"skipped": True}
        results = inbound.poll_all(get_context())
    if any(r.created for r in results):
        deliver_events.delay()
    return {"integrations": [r.as_json() for r in results]}


@app.task(name="nue_ns.deliver_events", ignore_result=True)
def deliver_events() -> dict:
    """Send due inbound events to Nue's webhook, in order per NetSuite record."""
    with _sweep_lock("deliver_events", 120) as mine:
        if not mine:
            return {"skipped": True}
        return webhook.deliver_due(get_context()).as_json()
