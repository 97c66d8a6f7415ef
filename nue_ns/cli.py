"""`nue-ns`: one command for operators (typer + rich)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Keep Nue billing and NetSuite's general ledger in step.")
hub_app = typer.Typer(no_args_is_help=True, help="The Transaction Hub: status, listings, retries.")
integration_app = typer.Typer(no_args_is_help=True, help="Integrations: NetSuite connection and mapping.")
app.add_typer(hub_app, name="hub")
app.add_typer(integration_app, name="integration")

console = Console()
err = Console(stderr=True)


def _ctx():
    from nue_ns.context import get_context
    from nue_ns.hub.db import migrate
    from nue_ns.hub.integrations import ensure_default

    ctx = get_context()
    migrate(ctx.database_url)
    ensure_default(ctx.engine, ctx.settings)
    return ctx


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def read_records_file(path: Path) -> list[Any]:
    """A JSON object, a JSON array, or JSON lines."""
    text = path.read_text(encoding="utf-8") if str(path) != "-" else sys.stdin.read()
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{path}: the file is empty")
    try:
        data = json.loads(stripped)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError as whole:
        items = []
        for n, line in enumerate(stripped.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    if n == 1:
                        raise ValueError(f"{path}: not JSON ({whole.msg} at line {whole.lineno})") from None
                    raise ValueError(f"{path}: line {n} is not JSON ({exc.msg})") from None
        return items


@app.command()
def enqueue(
    record_type: str = typer.Argument(..., help="customer|product|order|invoice|payment|refund|credit_memo"),
    file: Path = typer.Argument(..., help="JSON object, JSON array or JSON lines ('-' for stdin)"),
    integration: str = typer.Option("default", "--integration", "-i"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate records and make them durable in the hub (all or nothing)."""
    from nue_ns.producer import InvalidBatch, enqueue_many

    try:
        items = read_records_file(file)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    ctx = _ctx()
    try:
        accepted = enqueue_many(record_type, items, integration=integration, ctx=ctx)
    except InvalidBatch as exc:
        if as_json:
            _print_json({"accepted": 0, "errors": exc.as_json()})
        else:
            err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    except LookupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    new = sum(a.created for a in accepted)
    if as_json:
        _print_json({"accepted": len(accepted), "new": new, "ids": [a.id for a in accepted]})
    else:
        console.print(
            f"accepted {len(accepted)} {record_type} record(s) ({new} new, "
            f"{len(accepted) - new} already in the hub)"
        )


@hub_app.command("status")
def hub_status(
    integration: str = typer.Option(None, "--integration", "-i"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts per state per record type."""
    from nue_ns.hub.queries import status

    counts = status(_ctx().engine, integration)
    if as_json:
        _print_json(counts)
        return
    console.print(status_table(counts))


def status_table(counts: dict[str, dict[str, int]]) -> Table:
    from nue_ns.hub.models import State

    states = [s.value for s in State if s is not State.SUPERSEDED]
    table = Table(title="Transaction Hub")
    table.add_column("type")
    for st in states:
        table.add_column(st, justify="right")
    table.add_column("total", justify="right")
    for rtype, by_state in sorted(counts.items()):
        row = [str(by_state.get(st, 0) or "") for st in states]
        table.add_row(rtype, *row, str(sum(by_state.values())))
    return table


@hub_app.command("list")
def hub_list(
    state: str = typer.Option(
        None, "--state", "-s", help="e.g. failed, pending, transferred, 'Not Transferred'"
    ),
    record_type: str = typer.Option(None, "--type", "-t"),
    integration: str = typer.Option(None, "--integration", "-i"),
    error_code: str = typer.Option(None, "--error-code"),
    nue_id: str = typer.Option(None, "--nue-id"),
    limit: int = typer.Option(50, "--limit"),
    after: int = typer.Option(None, "--after", help="cursor: list records with a larger id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Records with their state, reason and NetSuite error."""
    from nue_ns.hub.queries import Filter, list_records, record_view

    try:
        rows = list_records(
            _ctx().engine,
            Filter(
                state=state,
                record_type=record_type,
                integration=integration,
                error_code=error_code,
                nue_id=nue_id,
                limit=limit,
                after_id=after,
            ),
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    views = [record_view(r) for r in rows]
    if as_json:
        _print_json(views)
        return
    table = Table(title=f"{len(views)} record(s)")
    for col in ("id", "type", "nue id", "status", "NetSuite", "reason / error"):
        table.add_column(col, overflow="fold")
    for v in views:
        ns = f"{v['netsuite']['type']} {v['netsuite']['internal_id']}" if v["netsuite"] else ""
        error = v["error"]
        detail = v["reason"] or ""
        if error and v["state"] != "transferred":
            path = f" [field {error['path']}]" if error["path"] else ""
            detail = f"{error['status'] or ''} {error['code'] or ''}: {error['detail']}{path}".strip()
        table.add_row(str(v["id"]), v["type"], v["nue_id"], v["status"], ns, detail)
    console.print(table)


@hub_app.command("show")
def hub_show(record_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One record with its payload and every attempt."""
    from nue_ns.hub.queries import attempt_view, get_record, record_view

    found = get_record(_ctx().engine, record_id)
    if found is None:
        err.print(f"[red]error:[/red] no record {record_id}")
        raise typer.Exit(2)
    rec, attempts = found
    view = record_view(rec) | {"payload": rec.payload, "attempts_log": [attempt_view(a) for a in attempts]}
    _print_json(view) if as_json else console.print_json(json.dumps(view, default=str))


@hub_app.command("retry")
def hub_retry(
    record_ids: list[int] = typer.Argument(None, help="record ids"),
    all_failed: bool = typer.Option(False, "--all-failed", help="every record that needs a person"),
    integration: str = typer.Option(None, "--integration", "-i"),
) -> None:
    """Send records again now (and dispatch them)."""
    from nue_ns import dispatch
    from nue_ns.hub import store

    if not record_ids and not all_failed:
        err.print("[red]error:[/red] give record ids or --all-failed")
        raise typer.Exit(2)
    ctx = _ctx()
    integ_id = ctx.integration(integration).id if integration else None
    ids = store.retry(ctx.engine, record_ids or None, all_failed=all_failed, integration_id=integ_id)
    dispatched = dispatch.dispatch(ctx)
    console.print(f"{len(ids)} record(s) set to retry; {dispatched} dispatched now")


@hub_app.command("sweep")
def hub_sweep(
    batch: bool = typer.Option(False, "--batch", help="also release scheduled-mode batches"),
) -> None:
    """Run the sweeps once now (what beat does on its schedule)."""
    from nue_ns import dispatch
    from nue_ns.hub import store

    ctx = _ctx()
    if batch:
        store.release_batch(ctx.engine)
    recovered = store.recover_leases(ctx.engine)
    console.print(
        f"recovered {len(recovered)}, dispatched {dispatch.dispatch(ctx)}, "
        f"resent {dispatch.resend_stale(ctx)}"
    )


@integration_app.command("show")
def integration_show(
    name: str = typer.Argument("default"), as_json: bool = typer.Option(True, "--json")
) -> None:
    """An integration's connection (never its secrets) and mapping."""
    from nue_ns.hub.integrations import public_view

    try:
        view = public_view(_ctx().integration(name))
    except LookupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_json(view)


@app.command()
def worker(
    concurrency: int = typer.Option(8, "--concurrency", "-c"),
    pool: str = typer.Option("threads", "--pool", help="threads (default: calls are I/O bound) or prefork"),
    loglevel: str = typer.Option("INFO", "--loglevel"),
    queues: str = typer.Option("nue_ns,nue_ns.sweeps", "--queues", "-Q"),
    hostname: str = typer.Option(None, "--hostname", "-n"),
) -> None:
    """Run a Celery worker."""
    _ctx()
    from nue_ns.tasks import app as celery_app

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"-Q={queues}",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


@app.command()
def beat(loglevel: str = typer.Option("INFO", "--loglevel")) -> None:
    """Run celery beat: batch sweep, retry sweep, lease recovery."""
    _ctx()
    from nue_ns.tasks import app as celery_app

    celery_app.start(["beat", f"--loglevel={loglevel}"])


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8900, "--port")
) -> None:
    """Serve the NetSuite REST emulator."""
    from nue_ns.sandbox.app import serve

    serve(host, port)


@app.command()
def migrate() -> None:
    """Create or upgrade the hub schema."""
    _ctx()
    console.print("hub schema is up to date")


@app.command()
def demo(
    customers: int = typer.Option(20, "--customers"),
    products: int = typer.Option(12, "--products"),
    rate_limit: str = typer.Option("5/5s", "--rate-limit", help="time-scaled so the demo takes a minute"),
    workers: int = typer.Option(2, "--workers"),
) -> None:
    """Sandbox NetSuite + worker + beat + a sample batch, ending with a hub summary."""
    from nue_ns.demo import run_demo

    raise typer.Exit(run_demo(customers=customers, products=products, rate_limit=rate_limit, workers=workers))


if __name__ == "__main__":
    app()
