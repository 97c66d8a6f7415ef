"""`nue-ns demo`: the main job end to end on one machine.

Starts the sandbox NetSuite, workers and beat as real processes, enqueues a sample batch of
customers and products, shows them arrive under the rate limit and ends with the hub summary.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nue_ns import sample
from nue_ns.config import RateLimit, get_settings, reset_settings
from nue_ns.context import reset_context
from nue_ns.embedded import resolve_urls
from nue_ns.processes import start_beat, start_sandbox, start_worker
from nue_ns.sandbox import demo as sandbox_demo

console = Console()


def demo_env(database_url: str, redis_url: str, rest_url: str, rate_limit: str) -> dict[str, str]:
    return os.environ | {
        "NUE_NS_DATABASE_URL": database_url,
        "NUE_NS_REDIS_URL": redis_url,
        "NETSUITE_ACCOUNT_ID": sandbox_demo.DEMO_ACCOUNT_ID,
        "NETSUITE_CONSUMER_KEY": sandbox_demo.DEMO_CONSUMER_KEY,
        "NETSUITE_CONSUMER_SECRET": sandbox_demo.DEMO_CONSUMER_SECRET,
        "NETSUITE_TOKEN_ID": sandbox_demo.DEMO_TOKEN_ID,
        "NETSUITE_TOKEN_SECRET": sandbox_demo.DEMO_TOKEN_SECRET,
        "NETSUITE_REST_URL": rest_url,
        "NETSUITE_RATE_LIMIT": rate_limit,
        "NUE_NS_RETRY_SWEEP_SECONDS": "1",
        "NUE_NS_LEASE_SWEEP_SECONDS": "5",
        "NUE_NS_LEASE_SECONDS": "30",
    }


def run_demo(customers: int, products: int, rate_limit: str, workers: int) -> int:
    from nue_ns.hub.db import migrate
    from nue_ns.hub.integrations import ensure_default, save_config
    from nue_ns.hub.queries import status
    from nue_ns.integration import SANDBOX_GL, IntegrationConfig

    limit = RateLimit.parse(rate_limit)
    settings = get_settings()
    console.print("[bold]nue-ns demo[/bold]: starting PostgreSQL and Redis (embedded unless URLs are set)...")
    database_url, redis_url = resolve_urls(settings)
    migrate(database_url)
    log_dir = Path(tempfile.mkdtemp(prefix="nue-ns-demo-"))
    base_env = os.environ | {"NUE_NS_DATABASE_URL": database_url, "NUE_NS_REDIS_URL": redis_url}
    sandbox, base = start_sandbox(base_env, log_dir)
    children = [sandbox]
    try:
        env = demo_env(database_url, redis_url, f"{base}/services/rest", rate_limit)
        os.environ.update({k: v for k, v in env.items() if k.startswith(("NUE_NS_", "NETSUITE_"))})
        reset_settings()
        reset_context()
        from nue_ns.context import get_context
        from nue_ns.producer import enqueue_many

        ctx = get_context()
        ensure_default(ctx.engine, ctx.settings)
        save_config(ctx.engine, "default", IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"))
        console.print(
            f"sandbox NetSuite at {base}; account {sandbox_demo.DEMO_ACCOUNT_ID}; "
            f"rate limit {limit} (time-scaled), concurrency {ctx.settings.netsuite_concurrency}"
        )
        for i in range(workers):
            children.append(start_worker(env, log_dir, f"worker{i + 1}", concurrency=4))
        children.append(start_beat(env, log_dir))

        run_tag = str(int(time.time()))
        batch_c = sample.customers(customers, prefix=f"DEMO{run_tag}-C")
        batch_p = sample.products(products, prefix=f"DEMO{run_tag}-P")
        accepted = enqueue_many("customer", batch_c, ctx=ctx) + enqueue_many("product", batch_p, ctx=ctx)
        ids = {a.id for a in accepted}
        console.print(f"enqueued {len(batch_c)} customers and {len(batch_p)} products; logs in {log_dir}")

        ok = _watch(ctx, ids, limit, timeout=60 + len(ids) * limit.period / limit.calls * 3)
        counts = status(ctx.engine)
        from nue_ns.cli import status_table

        console.print(status_table(counts))
        stats = requests.get(
            f"{base}/_sandbox/stats",
            params={"account": sandbox_demo.DEMO_ACCOUNT_ID, "period": limit.period, "limit": limit.calls},
            timeout=5,
        ).json()
        console.print(
            f"NetSuite saw {stats.get('calls')} calls; busiest {limit.period:g}s window: "
            f"{stats.get('busiest_window_calls')} (limit {limit.calls}); windows over the limit: "
            f"{stats.get('windows_over_limit')}"
        )
        console.print(
            "[green]all records Transferred[/green]" if ok else "[red]not everything transferred[/red]"
        )
        return 0 if ok else 1
    finally:
        for child in reversed(children):
            child.stop()


def _watch(ctx, ids: set[int], limit: RateLimit, timeout: float) -> bool:
    from sqlalchemy import func, select

    from nue_ns.hub.db import session_scope
    from nue_ns.hub.models import Record, State

    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Transferred", total=len(ids))
        while time.monotonic() < deadline:
            with session_scope(ctx.engine) as s:
                done = s.scalar(
                    select(func.count()).where(Record.id.in_(ids), Record.state == State.TRANSFERRED)
                )
                failed = s.scalar(
                    select(func.count()).where(Record.id.in_(ids), Record.state == State.FAILED)
                )
            progress.update(task, completed=done)
            if done + failed >= len(ids):
                return failed == 0
            time.sleep(0.5)
    return False
