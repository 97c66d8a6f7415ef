"""(3) Fairness: 50 accounts, one with a backlog of 5,000 records and 49 with 20 each. Each small
account must finish within 1.2x the time one small account takes when it runs alone.

Same workers, same sandbox for both runs. Times are from the dispatch that starts a run to the
account's last transfer, both on PostgreSQL's clock. The big account never finishes in the run
(it would need 5000 / limit periods); its own rate is reported too.
"""

from __future__ import annotations

import statistics

from sqlalchemy import func, select, text

from bench.env import wait_until, world
from bench.report import Table, verdict
from nue_ns import dispatch, sample
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Integration, Record, State
from nue_ns.producer import enqueue_many

RATE = "5/10s"
SMALL, SMALL_RECORDS, BIG_RECORDS = 49, 20, 5000
BIG_BATCH = 250
TARGET = 1.2


def _now(ctx) -> float:
    with session_scope(ctx.engine) as s:
        return float(s.scalar(text("SELECT extract(epoch FROM clock_timestamp())")))


def _finish_times(ctx, names: list[str], t0: float) -> dict[str, float | None]:
    """Seconds from t0 to each account's last transfer (None: not all transferred yet)."""
    with session_scope(ctx.engine) as s:
        rows = s.execute(
            select(
                Integration.name,
                func.count().filter(Record.state != State.TRANSFERRED),
                func.extract("epoch", func.max(Record.transferred_at)),
            )
            .join(Record, Record.integration_id == Integration.id)
            .where(Integration.name.in_(names))
            .group_by(Integration.name)
        ).all()
    return {name: (float(last) - t0 if not open_ and last else None) for name, open_, last in rows}


def _run(ctx, names: list[str], timeout: float) -> tuple[dict[str, float | None], float]:
    t0 = _now(ctx)
    dispatch.dispatch(ctx)
    wait_until(lambda: all(v is not None for v in _finish_times(ctx, names, t0).values()), timeout, 0.5)
    return _finish_times(ctx, names, t0), t0


def _fill(ctx, prefix: str) -> list[str]:
    names = [f"{prefix}{i:05d}" for i in range(SMALL)]
    for name in names:
        enqueue_many("customer", sample.customers(SMALL_RECORDS, prefix=name), integration=name, ctx=ctx,
                     dispatch_now=False)  # fmt: skip
    return names


def run(timeout: float = 300.0) -> list[Table]:
    with world("fairness") as w:
        w.sandbox()
        ctx = w.ctx
        w.accounts(1, RATE, prefix="ALONE")
        w.accounts(1, RATE, prefix="BIG")
        w.accounts(SMALL, RATE, prefix="SMALL")
        w.accounts(SMALL, RATE, prefix="CTRL")
        w.workers(2, concurrency=16)
        w.beat()
        w.wait_workers(2)

        enqueue_many("customer", sample.customers(SMALL_RECORDS, prefix="A"), integration="alone00000",
                     ctx=ctx, dispatch_now=False)  # fmt: skip
        alone, _ = _run(ctx, ["alone00000"], timeout)
        alone_s = alone["alone00000"]

        controls = _fill(ctx, "ctrl")
        together, _ = _run(ctx, controls, timeout)  # the small ones without the big one: the load alone

        big = sample.customers(BIG_RECORDS, prefix="B")
        # In batches: one 5,000-record batch into a new integration makes the hub's supersede check
        # quadratic (docs/BENCHMARKS.md, "Open problems"); this benchmark is about dispatch, not that.
        for i in range(0, BIG_RECORDS, BIG_BATCH):
            enqueue_many("customer", big[i : i + BIG_BATCH], integration="big00000", ctx=ctx,
                         dispatch_now=False)  # fmt: skip
        smalls = _fill(ctx, "small")
        mixed, t0 = _run(ctx, smalls, timeout)
        elapsed = _now(ctx) - t0
        with session_scope(ctx.engine) as s:
            big_done = s.scalar(
                select(func.count())
                .select_from(Record)
                .join(Integration, Integration.id == Record.integration_id)
                .where(Integration.name == "big00000", Record.state == State.TRANSFERRED)
                .where(Record.transferred_at >= func.to_timestamp(t0))  # the retry sweep starts it earlier
            )
    done = [v for v in mixed.values() if v is not None]
    worst = max(done) if len(done) == SMALL else float("inf")
    limit_calls, limit_period = (float(x.rstrip("s")) for x in RATE.split("/"))
    table = Table(
        f"Fairness: {SMALL} small accounts ({SMALL_RECORDS} records) beside one with {BIG_RECORDS:,}, "
        f"each limited to {RATE}",
        ["measure", "seconds", "× alone"],
    )
    ctrl = [v for v in together.values() if v is not None]
    table.rows += [
        ["one small account alone", alone_s, 1.0],
        [
            f"{SMALL} small accounts together, no big one: median",
            statistics.median(ctrl),
            statistics.median(ctrl) / alone_s,
        ],
        ["... slowest", max(ctrl), max(ctrl) / alone_s],
        ["small accounts beside the big one: fastest", min(done), min(done) / alone_s],
        ["... median", statistics.median(done), statistics.median(done) / alone_s],
        ["... slowest", worst, worst / alone_s],
    ]
    table.notes += [
        f"target: every small account within {TARGET}x alone: {verdict(worst <= TARGET * alone_s)} "
        f"({len(done)}/{SMALL} finished)",
        f"big account meanwhile: {big_done} records in {elapsed:.1f} s = "
        f"{big_done / elapsed:.2f}/s (its limit: {limit_calls / limit_period:.2f}/s)",
        "limit 5 per 10 s per account so that the 50 accounts' total (25 calls/s) is within what this "
        "2-core machine transfers; workers: 2 `nue-ns worker` processes x 16 threads, and beat",
    ]
    return [table]
