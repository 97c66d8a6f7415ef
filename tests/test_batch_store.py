"""The hub's writes for a whole batch with real PostgreSQL: a batch's answer (transfers.complete_many
with a customer's currency listings), parking many waiters in one statement (transfers.wait_all), and
the prerequisites' states read in one query; the same functions serve a single transfer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nue_ns import mapping, sample
from nue_ns.hub import batch_store, prerequisites, transfers
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import NetSuiteLink, Record, State
from nue_ns.producer import enqueue_many
from nue_ns.refs import Ref
from tests.harness import TEST_CREDENTIALS

CREDS = TEST_CREDENTIALS


@pytest.fixture
def ctx(hub_ctx):
    return hub_ctx


def _month() -> dict[str, list[dict]]:
    return sample.month(n_customers=4, n_products=6, n_orders=2, n_invoices=0, n_payments=0,
                        n_refunds=0, n_credit_memos=0, seed=4)  # fmt: skip


def _taken(ctx, record_type: str, items: list[dict]) -> list[Record]:
    """Records enqueued and claimed by a batcher (in flight), as batches._form holds them."""
    ids = {a.id for a in enqueue_many(record_type, items, ctx=ctx, dispatch_now=False)}
    taken = batch_store.take(ctx.engine, 1, "batcher", 60, record_type=record_type)
    assert {r.id for r in taken} == ids
    return taken


def _row(ctx, record_id: int) -> Record:
    with session_scope(ctx.engine) as s:
        row = s.get(Record, record_id)
        s.expunge(row)
        return row


def _links(ctx) -> dict[tuple[str, str], tuple[str, str, int]]:
    with session_scope(ctx.engine) as s:
        rows = s.scalars(select(NetSuiteLink)).all()
        return {(r.record_type, r.nue_id): (r.ns_type, r.ns_internal_id, r.record_id) for r in rows}


COLUMNS = ("state", "attempts", "ns_type", "external_id", "ns_internal_id", "reason", "waiting_on",
           "leased_by", "lease_expires_at", "error_code", "error_detail")  # fmt: skip


def test_a_batchs_answer_lands_as_complete_many_would_and_wakes_its_waiters(ctx):
    month = _month()
    one, two, three, four = _taken(ctx, "customer", month["customer"])
    orders = _taken(ctx, "order", month["order"])
    # One order waits for customer 1 itself, the other for customer 2's currency listing.
    usd = mapping.customer_currency(two.nue_id, two.payload["currency"])
    transfers.wait_all(
        ctx.engine,
        1,
        [(orders[0].id, [Ref("customer", one.nue_id)], "r0"), (orders[1].id, [usd], "r1")],
    )
    transfers.fail(ctx.engine, three, "needs a person")  # no longer in flight: left as it is
    woken = transfers.complete_many(
        ctx.engine,
        [(one, "customer", "nue-cust-1", "11"), (two, "customer", "nue-cust-2", "12"),
         (three, "customer", "nue-cust-3", "13")],
        also=[(two, usd)],
    )  # fmt: skip
    transfers.complete(ctx.engine, four, "customer", "nue-cust-4", "14")
    assert woken == 2
    assert [_row(ctx, o.id).state for o in orders] == [State.PENDING, State.PENDING]
    a, b = _row(ctx, one.id), _row(ctx, four.id)
    assert a.state == State.TRANSFERRED and a.ns_internal_id == "11" and a.transferred_at
    assert {c: getattr(a, c) for c in COLUMNS} == {c: getattr(b, c) for c in COLUMNS} | {
        "external_id": "nue-cust-1",
        "ns_internal_id": "11",
    }
    assert _row(ctx, three.id).state == State.FAILED
    links = _links(ctx)
    assert links[("customer", one.nue_id)] == ("customer", "11", one.id)
    assert links[(usd.type, usd.id)] == ("customer", "12", two.id)


def test_records_park_in_one_statement_and_their_prerequisites_go_first(ctx):
    month = _month()
    customers = month["customer"][:2]
    enqueue_many("customer", customers, ctx=ctx, dispatch_now=False)
    orders = _taken(ctx, "order", month["order"])
    refs = [Ref("customer", c["id"]) for c in customers] + [Ref("customer", "NOT-THERE")]
    states = prerequisites.prerequisite_states(ctx.engine, 1, refs)
    assert states[refs[0]] == State.PENDING and states[refs[2]] is None
    with session_scope(ctx.engine) as s:  # the customers parked, as in scheduled mode
        s.execute(Record.__table__.update().where(Record.record_type == "customer").values(state="parked"))
    assert prerequisites.hurry(ctx.engine, 1, refs) == 2
    assert prerequisites.prerequisite_states(ctx.engine, 1, refs)[refs[1]] == State.PENDING
    parked = transfers.wait_all(
        ctx.engine, 1, [(orders[0].id, refs[:1], "waiting for A"), (orders[1].id, refs[1:], "waiting for B")]
    )
    assert parked == 2
    row = _row(ctx, orders[1].id)
    assert row.state == State.WAITING and row.reason == "waiting for B" and row.leased_by is None
    assert row.waiting_on == [r.as_json() for r in refs[1:]]
    # Only records still in flight park: a second call changes nothing.
    assert transfers.wait_all(ctx.engine, 1, [(orders[0].id, refs, "again")]) == 0


def test_a_batch_takes_only_the_latest_version_and_never_one_behind_an_older_in_flight(ctx):
    """v1 held by a worker when v2 arrived: v2 waits for it; v1 back as pending after v2 came is
    retired when a batch takes it, never sent after v2."""
    c = sample.customers(1)[0]
    first = enqueue_many("customer", [c], ctx=ctx, dispatch_now=False)[0]
    (held,) = batch_store.take(ctx.engine, 1, "batcher", 60, record_type="customer")
    second = enqueue_many("customer", [c | {"name": "Changed"}], ctx=ctx, dispatch_now=False)[0]
    assert batch_store.take(ctx.engine, 1, "batcher", 60, record_type="customer") == []  # v1 in flight
    transfers.defer(ctx.engine, held.id, 0.0, "a transient failure in its job")
    taken = batch_store.take(ctx.engine, 1, "batcher", 60, record_type="customer")
    assert [r.id for r in taken] == [second.id]
    assert _row(ctx, first.id).state == State.SUPERSEDED
    assert f"version {second.id}" in _row(ctx, first.id).reason
