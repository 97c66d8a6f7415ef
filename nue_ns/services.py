"""Use cases that more than one entrypoint runs (CLI, HTTP API, UI, Celery tasks), each once here,
so the entrypoints cannot drift apart. Services call the hub and dispatch; they open no sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nue_ns import dispatch
from nue_ns.context import Context
from nue_ns.hub import dispatching, operators, sweeps


@dataclass(frozen=True)
class Retried:
    ids: list[int]
    dispatched: int


def retry(
    ctx: Context,
    ids: Sequence[int] | None = None,
    *,
    all_failed: bool = False,
    integration_id: int | None = None,
) -> Retried:
    """An operator's retry: the records start afresh (operators.retry), then the integrations they
    belong to, and only those, are dispatched (another integration's window is not ours to fill)."""
    retried = operators.retry(ctx.engine, ids, all_failed=all_failed, integration_id=integration_id)
    dispatched = sum(dispatch.dispatch(ctx, i) for i in operators.integrations_of(ctx.engine, retried))
    return Retried(retried, dispatched)


def retry_sweep(ctx: Context) -> dict[str, Any]:
    """Beat's retry sweep (and `nue-ns hub sweep`): wake settled waiters, dispatch what is due,
    resend tasks Redis may have lost, send the batch tasks."""
    return {
        "woken": sweeps.wake_settled(ctx.engine),
        "dispatched": dispatch.dispatch(ctx),
        "resent": dispatch.resend_stale(ctx),
        "batch_tasks": dispatch.dispatch_batches(ctx),
    }


def recover_leases(ctx: Context) -> list[int]:
    """Records whose worker died mid-transfer go back to pending (counted against max_attempts)."""
    return sweeps.recover_leases(ctx.engine, ctx.settings.max_attempts)


def batch_sweep(ctx: Context) -> dict[str, Any]:
    """Scheduled mode: every parked record goes, in prerequisite order, at the governed rate."""
    released = dispatching.release_batch(ctx.engine)
    return {
        "integrations": len(released),
        "dispatched": dispatch.dispatch(ctx),
        "batch_tasks": dispatch.dispatch_batches(ctx),
    }
