"""Hub -> Redis: which due records go to the workers, a bounded window per integration, and the
sweeps that hand out again what Redis may have lost."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from nue_ns.config import RateLimit, get_settings
from nue_ns.hub import states
from nue_ns.hub.attempts import FINISHED_IN_WINDOW
from nue_ns.hub.batch_store import BATCHING_SQL
from nue_ns.hub.db import Hub, transaction

log = logging.getLogger(__name__)

# Due records move to QUEUED, at most `window` queued + in flight per integration (not those of
# integrations that send in batches: hub/batch_store.py takes theirs), and no more than its account
# has rate tokens free (its queued and in-flight records each hold one, its finished calls count
# until they leave the window): a record queued without a token is only claimed to be deferred, a
# task that costs a worker as much as a call. An integration whose account profile is not read yet
# gets one record: its transfer reads the profile (several calls), the others would only wait.
# One statement serves every integration (round robin: each gets its own window, so one account's
# backlog never crowds out another's) or just one (a worker's refill after a task): each
# integration's count of queued and in-flight rows is an index probe of its own (ix_records_busy),
# never a scan of every integration's rows.
# `ahead`: count only the finished calls still in the window that many seconds from now (a worker's
# refill looks NUE_NS_GOVERNOR_MAX_WAIT ahead); `kick`: the same for the one record an idle account
# gets when its next token frees that soon (see refill).
_FINISHED = FINISHED_IN_WINDOW.format(account="i.account_id", window="GREATEST(rl.span - %(ahead)s, 0)")
_FINISHED_KICK = FINISHED_IN_WINDOW.format(account="i.account_id", window="GREATEST(rl.span - %(kick)s, 0)")
DISPATCH = f"""
    WITH mine AS MATERIALIZED (  -- one integration's row, unless another dispatch holds it
        SELECT id FROM integrations WHERE id = %(only)s FOR NO KEY UPDATE SKIP LOCKED
    ), room AS (
        SELECT i.id, i.batch_released_at,
               LEAST(GREATEST(0, CASE WHEN i.profile IS NULL THEN 1
                                      ELSE COALESCE(%(window)s, i.concurrency * 2) END - n.busy),
                     GREATEST(0, rl.calls - n.busy - {_FINISHED},
                              CASE WHEN n.busy > 0 THEN 0 WHEN {_FINISHED_KICK} < rl.calls THEN 1 ELSE 0 END)
               ) AS free
        FROM integrations i
        JOIN unnest(CAST(%(limits)s AS text[]), CAST(%(calls)s AS integer[]), CAST(%(windows)s AS float8[]))
             AS rl(rate_limit, calls, span) ON rl.rate_limit = i.rate_limit
        CROSS JOIN LATERAL (
            SELECT count(*) AS busy FROM hub_records b
            WHERE b.integration_id = i.id AND b.state IN ('queued', 'in_flight')) n
        WHERE (CAST(%(only)s AS integer) IS NULL OR i.id IN (SELECT id FROM mine))  -- mine first
          AND (i.not_before IS NULL OR i.not_before <= now())
          AND NOT {BATCHING_SQL}
          AND i.enabled  -- a disabled integration's records stay in the hub, unsent
        -- One dispatch at a time fills an integration's window: two at once (the sweep and a
        -- worker's refill) would each count the other's rows as free and queue twice the window.
        FOR NO KEY UPDATE OF i SKIP LOCKED
    ), due AS (
        SELECT c.id FROM room
        CROSS JOIN LATERAL (
            SELECT r.id FROM hub_records r
            WHERE r.integration_id = room.id
              AND ((r.state = 'pending' AND r.next_attempt_at <= now())
                   OR (r.state = 'parked' AND r.created_at <= room.batch_released_at))
            ORDER BY r.type_rank, r.next_attempt_at, r.id
            LIMIT room.free
            FOR UPDATE SKIP LOCKED  -- two dispatches at once (a sweep, workers' refills) never
        ) c                         -- wait on each other's rows, so they cannot deadlock
        WHERE room.free > 0
    ), moved AS (
        UPDATE hub_records SET state = {states.target("dispatch")}, dispatched_at = now(), reason = NULL,
               updated_at = now()
        WHERE id IN (SELECT id FROM due) AND {states.guard("dispatch")}
        RETURNING id
    )
    SELECT id FROM moved
    UNION ALL  -- NULL: the one integration asked for was held by another dispatch (see Refilled)
    SELECT NULL WHERE CAST(%(only)s AS integer) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mine)
"""


def dispatch_candidates(hub: Hub, integration_id: int | None = None, window: int | None = None) -> list[int]:
    """Move due records to QUEUED (every integration's, or one's); the ids to hand to Redis.

    For one integration held by another dispatch (a worker's refill, whose statement may have
    begun before what this caller made due: a waiter woken, a record enqueued), it waits for that
    one to commit and dispatches then; otherwise the record would wait for the next retry sweep."""
    settings = get_settings()
    kick = min(settings.governor_max_wait, settings.retry_sweep_seconds)
    with transaction(hub) as cur:
        got = refill(cur, integration_id, window, kick=kick)
    if not got.contended:
        return got.ids
    try:
        with transaction(hub) as cur:
            cur.execute("SELECT set_config('lock_timeout', %(t)s, true)", {"t": f"{_LOCK_WAIT_MS}ms"})
            return refill(cur, integration_id, window, kick=kick, wait=True).ids
    except psycopg.errors.LockNotAvailable:  # held that long: the retry sweep dispatches it
        log.warning("integration %s: its dispatch stayed locked for %d ms", integration_id, _LOCK_WAIT_MS)
        return []


_LOCK_WAIT_MS = 5000  # a dispatch holds the row for milliseconds
# The integration's row, waited for: the holder's dispatch commits first, and the DISPATCH that
# follows, a statement of its own, sees what it committed.
_WAIT_FOR_IT = "SELECT id FROM integrations WHERE id = %(i)s FOR NO KEY UPDATE"


@dataclass
class Refilled:
    """What a refill queued; `contended`: the one integration asked for was held by another
    dispatch (without `wait`), whose statement may have begun before this transaction's changes
    and so not seen them."""

    ids: list[int] = field(default_factory=list)
    contended: bool = False


def refill(
    cur: Any,
    integration_id: int | None,
    window: int | None,
    rate_limit: str | None = None,
    ahead: float = 0.0,
    kick: float | None = None,
    wait: bool = False,
) -> Refilled:
    """DISPATCH inside the caller's transaction (a transfer's last one refills its integration;
    `rate_limit`: that integration's, as the claim read it, which saves a query).

    `ahead`: take as free the rate tokens that free within that many seconds. A worker's refill
    looks NUE_NS_GOVERNOR_MAX_WAIT ahead: the record it queues waits that moment out in
    Governor.acquire, so a short window (5 calls per 2 s) is used again as it turns over, not at
    the next retry sweep (measured: 67% of the limit without it).

    `kick` (default: `ahead`): an account with nothing queued or in flight gets one record when its
    next token frees within that many seconds. The sweeps kick as far as their next run or
    NUE_NS_GOVERNOR_MAX_WAIT, whichever is sooner, so a backlogged account's next window starts
    when its token frees rather than up to a sweep interval later (the kicked record's refill
    then queues the rest); only one per account, since at 1,000 accounts every record queued
    early holds a worker thread while it waits. The sweeps look no further ahead than that.

    `wait`: for one integration, wait until no other dispatch holds it. A transfer's refill waits:
    one that skipped the row (another worker's refill, begun before this transfer committed, so
    blind to the room it freed and the waiters it woke) could leave those records pending until
    the next retry sweep. The holder only runs DISPATCH and commits, waiting on nothing, so the
    wait is short and cannot close a cycle. (Skipping and dispatching again after the commit was
    measured: 1.8 ms more worker CPU per record, as most refills of a busy account collide.)"""
    if wait and integration_id is not None:
        cur.execute(_WAIT_FOR_IT, {"i": integration_id})
    looks = {"ahead": ahead, "kick": ahead if kick is None else kick}
    params = {"only": integration_id, "window": window} | looks | _limits(cur, integration_id, rate_limit)
    rows = [row[0] for row in cur.execute(DISPATCH, params)]
    return Refilled([i for i in rows if i is not None], None in rows)


def _limits(cur: Any, integration_id: int | None, rate_limit: str | None) -> dict[str, Any]:
    """The rate limits in use (RateLimit's grammar is parsed in one place, config.RateLimit) and
    each one's governor window, period x (1 + margin), as DISPATCH's parameters."""
    settings = get_settings()
    if rate_limit is not None and integration_id is not None:
        texts = [rate_limit]
    else:
        texts = [row[0] for row in cur.execute(_RATE_LIMITS, {"only": integration_id})]
    parsed = [(text, _parse(text)) for text in texts]
    known = [(text, rate) for text, rate in parsed if rate is not None]  # the governor refuses the rest
    return {
        "limits": [text for text, _ in known],
        "calls": [rate.calls for _, rate in known],
        "windows": [rate.period * (1 + settings.governor_margin) for _, rate in known],
        "lease": settings.lease_seconds,
    }


_RATE_LIMITS = """
    SELECT DISTINCT rate_limit FROM integrations
    WHERE CAST(%(only)s AS integer) IS NULL OR id = %(only)s
"""


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> RateLimit | None:
    try:
        return RateLimit.parse(text)
    except ValueError:
        return None


def hold_dispatch(hub: Hub, integration_id: int, seconds: float) -> None:
    """Dispatch nothing more for this integration for `seconds` (its account has no token).

    It must not touch updated_at, which would make every worker reload the integration."""
    with transaction(hub) as cur:
        cur.execute(
            """
            UPDATE integrations
            SET not_before = GREATEST(COALESCE(not_before, now()), now() + make_interval(secs => %(s)s))
            WHERE id = %(i)s
            """,
            {"i": integration_id, "s": max(0.0, seconds)},
        )


def stale_queued(hub: Hub, older_than: float, limit: int = 5000) -> list[int]:
    """QUEUED records whose task Redis may have lost: stamp them and hand them out again.

    Sending a record twice is harmless: only one worker can claim it, and the write is an upsert.
    """
    with transaction(hub) as cur:
        rows = cur.execute(
            f"""
            UPDATE hub_records SET dispatched_at = now() WHERE id IN (
                SELECT id FROM hub_records WHERE state = {states.target("dispatch")}
                  AND dispatched_at < now() - make_interval(secs => %(age)s)
                ORDER BY dispatched_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,
            {"age": older_than, "limit": limit},
        )
        return [r[0] for r in rows]


def release_batch(hub: Hub) -> list[int]:
    """The scheduled-mode batch sweep: let every parked record of scheduled integrations go."""
    with transaction(hub) as cur:
        rows = cur.execute(
            """
            UPDATE integrations SET batch_released_at = now()
            WHERE COALESCE((settings ->> 'scheduled_mode')::boolean, false)
               OR EXISTS (SELECT 1 FROM hub_records r WHERE r.integration_id = integrations.id
                          AND r.state = 'parked')
            RETURNING id
            """
        )
        return [r[0] for r in rows]
