"""`nue-ns demo`: the main job end to end on one machine.

Starts the sandbox NetSuite, workers and beat as real processes, enqueues a sample batch of
customers and products into the `demo` integration (its own sandbox account: the `default`
integration is never touched), shows them arrive under the rate limit and ends with a summary of
this run's batch. Its processes' logs go to the state dir (logs/demo-*), the newest few kept.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nue_ns import sample
from nue_ns.config import RateLimit, get_settings, reset_settings
from nue_ns.context import reset_context
from nue_ns.embedded import resolve_urls, running_embedded
from nue_ns.processes import start_beat, start_sandbox, start_worker
from nue_ns.sandbox import demo as sandbox_demo

console = Console()

DEMO_INTEGRATION = "demo"
# The demo's own sandbox account (the tests' default integration uses DEMO_ACCOUNT_ID): its governor
# window and records never mix with anything else's.
DEMO_RUN_ACCOUNT_ID = "TSTDRV7654321"
KEEP_LOGS = 5  # demo runs whose logs are kept


def demo_env(database_url: str, redis_url: str, rest_url: str, rate_limit: str) -> dict[str, str]:
    """The environment of a system whose `default` integration is the sandbox's public test account
    (the tests' harness; the demo itself leaves `default` alone)."""
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
    from nue_ns.hub.engines import migrate
    from nue_ns.hub.integrations import upsert_integration
    from nue_ns.hub.queries import status
    from nue_ns.integration import SANDBOX_GL, IntegrationConfig
    from nue_ns.netsuite.auth import Credentials

    limit = RateLimit.parse(rate_limit)
    settings = get_settings()
    state_dir = settings.state_dir.resolve()
    embedded = [
        name for name, url in (("postgres", settings.database_url), ("redis", settings.redis_url)) if not url
    ]
    already = running_embedded(state_dir) if embedded else []
    database_url, redis_url = resolve_urls(settings)
    console.print(f"[bold]nue-ns demo[/bold]: {servers_line(embedded, already, state_dir)}")
    migrate(database_url)
    log_dir = new_log_dir(state_dir / "logs")
    base_env = os.environ | {"NUE_NS_DATABASE_URL": database_url, "NUE_NS_REDIS_URL": redis_url}
    sandbox_env = base_env | {  # the sandbox knows the demo's account by these (public, local-only) values
        "NETSUITE_ACCOUNT_ID": DEMO_RUN_ACCOUNT_ID,
        "NETSUITE_CONSUMER_KEY": sandbox_demo.DEMO_CONSUMER_KEY,
        "NETSUITE_CONSUMER_SECRET": sandbox_demo.DEMO_CONSUMER_SECRET,
        "NETSUITE_TOKEN_ID": sandbox_demo.DEMO_TOKEN_ID,
        "NETSUITE_TOKEN_SECRET": sandbox_demo.DEMO_TOKEN_SECRET,
    }
    sandbox, base = start_sandbox(sandbox_env, log_dir)
    children = [sandbox]
    try:
        env = base_env | {  # time-scaled sweeps, so that the demo takes a minute
            "NUE_NS_RETRY_SWEEP_SECONDS": "1",
            "NUE_NS_LEASE_SWEEP_SECONDS": "5",
            "NUE_NS_LEASE_SECONDS": "30",
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("NUE_NS_")})
        reset_settings()
        reset_context()
        from nue_ns.context import get_context
        from nue_ns.producer import enqueue_many

        ctx = get_context()
        credentials = Credentials(
            sandbox_demo.DEMO_CONSUMER_KEY,
            sandbox_demo.DEMO_CONSUMER_SECRET,
            sandbox_demo.DEMO_TOKEN_ID,
            sandbox_demo.DEMO_TOKEN_SECRET,
        )
        upsert_integration(
            ctx.engine,
            ctx.settings,
            DEMO_INTEGRATION,
            account_id=DEMO_RUN_ACCOUNT_ID,
            credentials=credentials,
            rest_url=f"{base}/services/rest",
            rate_limit=rate_limit,
            concurrency=sandbox_demo.DEMO_CONCURRENCY_LIMIT,
            config=IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"),
        )
        console.print(
            f"sandbox NetSuite at {base}; integration {DEMO_INTEGRATION!r}, account {DEMO_RUN_ACCOUNT_ID}; "
            f"rate limit {limit} (time-scaled), concurrency {sandbox_demo.DEMO_CONCURRENCY_LIMIT}"
        )
        for i in range(workers):
            children.append(start_worker(env, log_dir, f"worker{i + 1}", concurrency=4))
        children.append(start_beat(env, log_dir))

        run_tag = str(int(time.time()))
        batch_c = sample.customers(customers, prefix=f"DEMO{run_tag}-C")
        batch_p = sample.products(products, prefix=f"DEMO{run_tag}-P")
        accepted = enqueue_many("customer", batch_c, integration=DEMO_INTEGRATION, ctx=ctx)
        accepted += enqueue_many("product", batch_p, integration=DEMO_INTEGRATION, ctx=ctx)
        ids = {a.id for a in accepted}
        console.print(f"enqueued {len(batch_c)} customers and {len(batch_p)} products; logs in {log_dir}")

        ok = _watch(ctx, ids, limit, timeout=60 + len(ids) * limit.period / limit.calls * 3)
        from nue_ns.tables import status_table

        table = status_table(status(ctx.engine, ids=ids))
        table.title = "This run's batch in the Transaction Hub"
        console.print(table)
        calls = requests.get(
            f"{base}/_sandbox/log", params={"account": DEMO_RUN_ACCOUNT_ID}, timeout=5
        ).json()
        stats = requests.get(
            f"{base}/_sandbox/stats",
            params={"account": DEMO_RUN_ACCOUNT_ID, "period": limit.period, "limit": limit.calls},
            timeout=5,
        ).json()
        console.print(
            f"{explain_calls(calls, len(ids))}; busiest {limit.period:g}s window: "
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
        console.print(after_line(embedded, state_dir))


def servers_line(embedded: list[str], already: list[str], state_dir: Path) -> str:
    """Which servers the demo uses, and which of them it starts."""
    names = {"postgres": "PostgreSQL", "redis": "Redis"}
    configured = [names[n] for n in names if n not in embedded]
    parts = []
    started = [names[n] for n in embedded if n not in already]
    reused = [names[n] for n in embedded if n in already]
    if started:
        parts.append(f"started embedded {' and '.join(started)} in {state_dir}")
    if reused:
        parts.append(f"using the embedded {' and '.join(reused)} already running in {state_dir}")
    if configured:
        parts.append(f"using the configured {' and '.join(configured)} (NUE_NS_*_URL)")
    return "; ".join(parts)


def after_line(embedded: list[str], state_dir: Path) -> str:
    """What keeps running after the demo, and how to end or reset it."""
    ended = "sandbox, workers and beat have stopped."
    if not embedded:
        return f"The demo's {ended} The hub keeps this run's records in the configured PostgreSQL."
    names = " and ".join({"postgres": "PostgreSQL", "redis": "Redis"}[n] for n in embedded)
    return (
        f"The demo's {ended} The embedded {names} keep running (data in {state_dir}): "
        "`make stop` ends them; `make clean` also deletes their data and the demo's logs."
    )


def new_log_dir(logs: Path, keep: int = KEEP_LOGS) -> Path:
    """A fresh logs/demo-<time> folder; older demo folders beyond the newest `keep` are deleted."""
    logs.mkdir(parents=True, exist_ok=True)
    folder = logs / time.strftime("demo-%Y%m%d-%H%M%S")
    n = 1
    while folder.exists():
        n += 1
        folder = logs / time.strftime(f"demo-%Y%m%d-%H%M%S-{n}")
    folder.mkdir()
    runs = sorted((p for p in logs.glob("demo-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def explain_calls(calls: Iterable[dict[str, Any]], records: int) -> str:
    """'NetSuite saw 37 calls for 32 records: 32 record writes, 5 reads of the account profile (1
    metadata catalog, 4 SuiteQL queries, the GL-account check among them)'."""
    calls = list(calls)
    reads = {kind: sum(1 for c in calls if c.get("type") == kind) for kind in ("metadata", "suiteql")}
    writes = len(calls) - sum(reads.values())
    refused = sum(1 for c in calls if c.get("type") not in reads and int(c.get("status") or 0) >= 400)
    parts = [f"{writes} record write{'s' if writes != 1 else ''}"]
    if refused:
        parts[0] += f" ({refused} refused and retried: a 429 or a transient error)"
    if sum(reads.values()):
        what = []
        if reads["metadata"]:
            what.append(f"{reads['metadata']} metadata catalog")
        if reads["suiteql"]:
            what.append(f"{reads['suiteql']} SuiteQL quer{'ies' if reads['suiteql'] != 1 else 'y'}")
        parts.append(
            f"{sum(reads.values())} read{'s' if sum(reads.values()) != 1 else ''} of the account profile "
            f"({', '.join(what)}, the GL-account check among them)"
        )
    return f"NetSuite saw {len(calls)} calls for {records} records: {', '.join(parts)}"


def _watch(ctx, ids: set[int], limit: RateLimit, timeout: float) -> bool:
    from nue_ns.hub.models import State
    from nue_ns.hub.queries import status

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
            by_state = list(status(ctx.engine, ids=ids).values())
            done = sum(counts.get(State.TRANSFERRED, 0) for counts in by_state)
            failed = sum(counts.get(State.FAILED, 0) for counts in by_state)
            progress.update(task, completed=done)
            if done + failed >= len(ids):
                return failed == 0
            time.sleep(0.5)
    return False
