"""Helpers for the API, UI, metrics and audit tests (their fixtures are in tests/api_fixtures.py)."""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select, text, update

from nue_ns import sync
from nue_ns.context import Context, get_context
from nue_ns.hub import dispatching
from nue_ns.hub.api_keys import create_key
from nue_ns.hub.db import get_engine, session_scope
from nue_ns.hub.models import Record, State
from nue_ns.sandbox import demo as sandbox_demo

ACCOUNT = sandbox_demo.DEMO_ACCOUNT_ID


def reset_api_tables(database_url: str) -> None:
    with get_engine(database_url).begin() as conn:
        conn.execute(text("TRUNCATE api_keys, bulk_jobs RESTART IDENTITY"))


def key(role: str, name: str | None = None) -> str:
    return create_key(get_context().engine, name or f"test {role}", role)[0]


def bearer(k: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {k}"}


def sandbox_records(base: str, ns_type: str) -> list[dict[str, Any]]:
    r = requests.get(f"{base}/_sandbox/records", params={"account": ACCOUNT, "type": ns_type}, timeout=10)
    r.raise_for_status()
    return r.json()


def transfer_all(ctx: Context, rounds: int = 50) -> None:
    """Run what workers do, in this process, until nothing is due or queued (prerequisites first).
    Tasks the producer already put in Redis are ignored: records are taken by their hub state."""
    for _ in range(rounds):
        dispatching.dispatch_candidates(ctx.engine, window=1000)
        with session_scope(ctx.engine) as s:
            ids = list(
                s.scalars(
                    select(Record.id)
                    .where(Record.state == State.QUEUED)
                    .order_by(Record.type_rank, Record.id)
                )
            )
        if not ids:
            return
        for record_id in ids:
            sync.transfer(ctx, record_id)
    raise AssertionError("records still due after many rounds")


def set_record(record_id: int, **values: Any) -> None:
    with session_scope(get_context().engine) as s:
        s.execute(update(Record).where(Record.id == record_id).values(**values))
