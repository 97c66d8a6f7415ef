"""A worker's transfer task carries on with what its integration's refill makes due (sync.carry_on):
each record still gets exactly one call, nothing carried on is also handed to Redis, and the time
budget and a stopping worker end the carrying on, handing the refill's records to Redis."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from nue_ns import dispatch, sample, sync
from nue_ns.config import reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.hub import dispatching
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.producer import enqueue_many

pytestmark = pytest.mark.usefixtures("netsuite")


@pytest.fixture
def ctx(netsuite, monkeypatch):
    monkeypatch.setenv("NUE_NS_DISPATCH_WINDOW", "1")  # each refill makes exactly one record due
    reset_settings()
    reset_context()
    return get_context()


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """What would have gone to Redis."""
    ids: list[int] = []

    def send(records) -> int:
        ids.extend(records)
        return len(ids)

    monkeypatch.setattr(dispatch, "send", send)
    return ids


def _enqueue(ctx, n: int) -> list[int]:
    accepted = enqueue_many("customer", sample.customers(n, prefix="CARRY"), ctx=ctx, dispatch_now=False)
    ids = [a.id for a in accepted]
    assert dispatching.dispatch_candidates(ctx.engine, window=1) == ids[:1]
    return ids


def _states(ctx, ids: list[int]) -> list[State]:
    with session_scope(ctx.engine) as s:
        rows = dict(s.execute(select(Record.id, Record.state).where(Record.id.in_(ids))).all())
    return [rows[i] for i in ids]


def _puts(sandbox_base: str) -> list[str]:
    log = requests.get(f"{sandbox_base}/_sandbox/log", timeout=10).json()
    return [c["path"] for c in log if c["method"] == "PUT"]


def test_one_task_carries_on_through_its_integrations_due_records(ctx, sent, sandbox_base):
    ids = _enqueue(ctx, 5)
    outcomes = sync.carry_on(ctx, ids[0], seconds=60)
    assert outcomes == [sync.Outcome.TRANSFERRED] * 5
    assert sent == []  # each record the refill made due was carried on to, none also sent
    assert _states(ctx, ids) == [State.TRANSFERRED] * 5
    puts = _puts(sandbox_base)
    assert len(puts) == 5 and len(set(puts)) == 5  # one call per record


def test_no_time_left_hands_the_refill_to_redis(ctx, sent):
    ids = _enqueue(ctx, 3)
    assert sync.carry_on(ctx, ids[0], seconds=0) == [sync.Outcome.TRANSFERRED]
    assert sent == [ids[1]]
    assert _states(ctx, ids) == [State.TRANSFERRED, State.QUEUED, State.PENDING]


def test_a_stopping_worker_carries_on_no_further(ctx, sent):
    ids = _enqueue(ctx, 3)
    calls = []

    def stopping() -> bool:
        calls.append(1)
        return len(calls) > 1  # the shutdown begins during the second record

    assert sync.carry_on(ctx, ids[0], seconds=60, stopping=stopping) == [sync.Outcome.TRANSFERRED] * 2
    assert sent == [ids[2]]
    assert _states(ctx, ids) == [State.TRANSFERRED, State.TRANSFERRED, State.QUEUED]


def test_a_transfers_refill_waits_for_another_dispatch_holding_its_integration(ctx, sent):
    """Another dispatch (a worker's refill, a sweep) holds the integration and began before this
    transfer freed its window, so it cannot see the record the transfer made room for: the
    transfer's refill waits for it to commit, then queues that record itself."""
    import threading
    import time

    import psycopg

    ids = _enqueue(ctx, 3)
    assert sync.carry_on(ctx, ids[0], seconds=0) == [sync.Outcome.TRANSFERRED]  # the profile is read
    assert sent == [ids[1]]
    dsn = ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as other:
        integration_id = other.execute("SELECT integration_id FROM hub_records WHERE id = %s", (ids[1],))
        other.execute(
            "SELECT id FROM integrations WHERE id = %s FOR NO KEY UPDATE", integration_id.fetchone()
        )
        threading.Timer(0.5, other.commit).start()
        began = time.monotonic()
        assert sync.carry_on(ctx, ids[1], seconds=60) == [sync.Outcome.TRANSFERRED] * 2
        assert time.monotonic() - began >= 0.45  # its refill waited for the holder
    assert sent == [ids[1]]  # the third was carried on to, never sent
    assert _states(ctx, ids) == [State.TRANSFERRED] * 3


def test_a_kept_connection_that_died_is_replaced_and_the_record_still_goes(ctx, sent):
    """PostgreSQL ended the worker thread's kept hub connection between two transfers (a restart, an
    idle timeout): the next claim fails on it, is made again on a fresh connection, and the record
    transfers; it is neither lost nor left in flight."""
    from sqlalchemy import text

    from nue_ns.hub import db

    ids = _enqueue(ctx, 2)
    assert sync.transfer(ctx, ids[0])[0] is sync.Outcome.TRANSFERRED
    assert db.kept_connection(ctx.engine)
    dead = db._held.kept[2].driver_connection.info.backend_pid
    with session_scope(ctx.engine) as s:
        assert s.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead}) is True
    assert dispatching.dispatch_candidates(ctx.engine, window=1) == ids[1:]

    assert sync.transfer(ctx, ids[1])[0] is sync.Outcome.TRANSFERRED
    assert _states(ctx, ids) == [State.TRANSFERRED, State.TRANSFERRED]
    assert db._held.kept[2].driver_connection.info.backend_pid != dead
