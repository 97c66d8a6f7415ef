"""The hub with real PostgreSQL: durable, idempotent enqueueing, versions, atomic transitions."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from nue_ns import sample
from nue_ns.account_profile import AccountProfile
from nue_ns.hub import attempts, dispatching, operators, sweeps, transfers
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import save_profile, upsert_integration
from nue_ns.hub.models import NetSuiteLink, Record, State, utcnow
from nue_ns.integration import IntegrationConfig
from nue_ns.producer import InvalidBatch, enqueue, enqueue_many
from nue_ns.refs import Ref
from tests.api_support import set_record
from tests.harness import TEST_CREDENTIALS

CREDS = TEST_CREDENTIALS
# An account profile as read (dispatch sends one record at a time until it is: that one reads it).
READ = AccountProfile(currencies={"USD": "1"})


@pytest.fixture
def ctx(hub_ctx):
    return hub_ctx


def _rows(ctx, **where):
    with session_scope(ctx.engine) as s:
        q = select(Record).order_by(Record.id)
        for k, v in where.items():
            q = q.where(getattr(Record, k) == v)
        return list(s.scalars(q))


def test_same_version_twice_is_one_row(ctx):
    c = sample.customers(1)[0]
    a = enqueue("customer", c, ctx=ctx)
    b = enqueue("customer", dict(c), ctx=ctx)
    assert a.id == b.id and a.created and not b.created
    assert len(_rows(ctx)) == 1


def test_newer_version_supersedes_open_older_one(ctx):
    c = sample.customers(1)[0]
    first = enqueue("customer", c, ctx=ctx)
    second = enqueue("customer", c | {"name": "Renamed Inc"}, ctx=ctx)
    rows = {r.id: r for r in _rows(ctx)}
    assert rows[first.id].state == State.SUPERSEDED
    assert rows[second.id].state in (State.PENDING, State.QUEUED)


def test_stale_version_by_updated_at_is_never_sent(ctx):
    c = sample.customers(1)[0]
    newer = enqueue("customer", c | {"name": "New", "updated_at": "2026-05-02T00:00:00Z"}, ctx=ctx)
    older = enqueue("customer", c | {"name": "Old", "updated_at": "2026-05-01T00:00:00Z"}, ctx=ctx)
    assert older.state == State.SUPERSEDED
    rows = {r.id: r for r in _rows(ctx)}
    assert rows[newer.id].state != State.SUPERSEDED
    assert "stale" in rows[older.id].reason


def test_in_flight_version_is_not_overtaken(ctx):
    save_profile(ctx.engine, ctx.integration("default").id, READ)  # not one at a time
    c = sample.customers(1)[0]
    first = enqueue("customer", c, ctx=ctx)
    dispatching.dispatch_candidates(ctx.engine)
    assert transfers.claim(ctx.engine, first.id, "w1", 60) is not None
    second = enqueue("customer", c | {"name": "Changed"}, ctx=ctx)
    # The older one is in a worker's hands: it stays, and the newer one must wait for it.
    assert _rows(ctx, id=first.id)[0].state == State.IN_FLIGHT
    dispatching.dispatch_candidates(ctx.engine)
    assert transfers.claim(ctx.engine, second.id, "w2", 60) is None
    assert "older version" in _rows(ctx, id=second.id)[0].reason


def test_an_older_version_handed_back_after_a_newer_one_came_is_never_sent(ctx):
    """v1 in flight when v2 arrives, then v1 fails transiently (pending again): v2 goes, and v1,
    due later, must not be sent after it (NetSuite would end with v1's data)."""
    save_profile(ctx.engine, ctx.integration("default").id, READ)  # not one record at a time
    c = sample.customers(1)[0]
    first = enqueue("customer", c, ctx=ctx)
    dispatching.dispatch_candidates(ctx.engine)
    held = transfers.claim(ctx.engine, first.id, "w1", 60)
    assert held is not None
    second = enqueue("customer", c | {"name": "Changed"}, ctx=ctx)
    transfers.retry_later(ctx.engine, held, _transient(), max_attempts=5, base=0.0, cap=0.0)
    dispatching.dispatch_candidates(ctx.engine)
    assert transfers.claim(ctx.engine, first.id, "w1", 60) is None  # retired, not sent
    row = _rows(ctx, id=first.id)[0]
    assert row.state == State.SUPERSEDED and f"version {second.id}" in row.reason
    assert transfers.claim(ctx.engine, second.id, "w2", 60) is not None


def test_a_newer_version_waiting_for_its_older_one_is_due_when_that_one_lands(ctx):
    c = sample.customers(1)[0]
    first = enqueue("customer", c, ctx=ctx)
    dispatching.dispatch_candidates(ctx.engine)
    held = transfers.claim(ctx.engine, first.id, "w1", 60)
    second = enqueue("customer", c | {"name": "Changed"}, ctx=ctx)
    dispatching.dispatch_candidates(ctx.engine)
    assert transfers.claim(ctx.engine, second.id, "w2", 60) is None  # deferred behind the first
    assert dispatching.dispatch_candidates(ctx.engine) == []  # not due yet
    transfers.complete(ctx.engine, held, "customer", "NUE-C", "77")
    # Due now: the refill that follows the older one's completion hands it out at once.
    assert dispatching.dispatch_candidates(ctx.engine) == [second.id]


def _transient():
    from nue_ns.netsuite.errors import Kind, NetSuiteError

    return NetSuiteError(Kind.TRANSIENT, "try again", status=503, code="UNAVAILABLE")


def test_invalid_batch_stores_nothing_and_names_fields(ctx):
    good = sample.customers(3)
    bad = dict(good[1], email="not-an-email", id="bad id!")
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("customer", [good[0], bad, good[2]], ctx=ctx)
    text = str(exc.value)
    assert "customer #2" in text and "email" in text and "id:" in text  # the second record, counted from 1
    assert _rows(ctx) == []


def test_claim_is_exclusive_and_lease_recovery_returns_record(ctx):
    a = enqueue("customer", sample.customers(1)[0], ctx=ctx)
    assert (
        dispatching.dispatch_candidates(ctx.engine) == [a.id] or _rows(ctx, id=a.id)[0].state == State.QUEUED
    )
    first = transfers.claim(ctx.engine, a.id, "w1", lease_seconds=0.01)
    assert first is not None
    assert transfers.claim(ctx.engine, a.id, "w2", 60) is None  # nobody else gets it
    import time

    time.sleep(0.05)
    assert sweeps.recover_leases(ctx.engine) == [a.id]
    row = _rows(ctx, id=a.id)[0]
    assert row.state == State.PENDING and "lost" in row.reason


def test_dispatch_window_per_integration_is_fair(ctx):
    big = upsert_integration(
        ctx.engine, ctx.settings, "big", account_id="BIG", credentials=CREDS, concurrency=2
    )
    small = upsert_integration(
        ctx.engine, ctx.settings, "small", account_id="SMALL", credentials=CREDS, concurrency=2
    )
    enqueue_many("customer", sample.customers(50, prefix="B"), integration="big", ctx=ctx, dispatch_now=False)
    enqueue_many(
        "customer", sample.customers(3, prefix="S"), integration="small", ctx=ctx, dispatch_now=False
    )
    for integ in (big, small):
        save_profile(ctx.engine, integ.id, READ)  # read: the whole window goes
    ids = dispatching.dispatch_candidates(ctx.engine)
    by_integration = {big.id: 0, small.id: 0}
    for r in _rows(ctx, state=State.QUEUED):
        by_integration[r.integration_id] += 1
    assert len(ids) == 7
    assert by_integration[big.id] == 4  # window = 2 x concurrency
    assert by_integration[small.id] == 3


def test_scheduled_mode_parks_until_the_batch_sweep(ctx):
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "sched",
        account_id="SCHED",
        credentials=CREDS,
        config=IntegrationConfig(scheduled_mode=True, batches=False),
    )
    accepted = enqueue_many("customer", sample.customers(5), integration="sched", ctx=ctx)
    save_profile(ctx.engine, ctx.integration("sched").id, READ)
    assert {a.state for a in accepted} == {State.PARKED}
    assert dispatching.dispatch_candidates(ctx.engine) == []
    dispatching.release_batch(ctx.engine)
    assert sorted(dispatching.dispatch_candidates(ctx.engine)) == sorted(a.id for a in accepted)


def test_scheduled_mode_with_batches_leaves_records_to_the_batcher(ctx):
    from nue_ns.hub import batch_store

    integ = upsert_integration(
        ctx.engine, ctx.settings, "sched", account_id="SCHED", credentials=CREDS,
        config=IntegrationConfig(scheduled_mode=True),
    )  # fmt: skip
    accepted = enqueue_many("customer", sample.customers(5), integration="sched", ctx=ctx)
    assert batch_store.take(ctx.engine, integ.id, "t", 60) == []  # not released yet
    dispatching.release_batch(ctx.engine)
    assert dispatching.dispatch_candidates(ctx.engine) == []  # never one by one
    taken = batch_store.take(ctx.engine, integ.id, "t", 60)
    assert [r.id for r in taken] == sorted(a.id for a in accepted) and {r.state for r in taken} == {
        State.IN_FLIGHT
    }


def test_payments_refused_when_collecting_in_netsuite(ctx):
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "nscollect",
        account_id="NSC",
        credentials=CREDS,
        config=IntegrationConfig(collection="netsuite"),
    )
    payment = {
        "id": "PAY-1",
        "customer_id": "C-1",
        "amount": "10.00",
        "currency": "USD",
        "payment_date": "2026-01-05",
        "collected_via": "stripe",
        "applications": [{"invoice_id": "INV-1", "amount": "10.00"}],
    }
    with pytest.raises(InvalidBatch, match="collects payments in NetSuite"):
        enqueue("payment", payment, integration="nscollect", ctx=ctx)
    assert _rows(ctx) == []


def test_credentials_are_encrypted_at_rest(ctx):
    from nue_ns.hub.models import Integration

    with session_scope(ctx.engine) as s:
        integ = s.scalars(select(Integration).where(Integration.name == "default")).one()
    assert b"cs-secret" not in integ.credentials and b"ts-secret" not in integ.credentials


def test_retry_sweep_wakes_records_whose_prerequisites_arrived(ctx):
    """A worker killed between parking a record and re-checking must not leave it waiting for ever."""
    save_profile(ctx.engine, ctx.integration("default").id, READ)  # not one record at a time
    invoice = {
        "id": "INV-1",
        "invoice_number": "1",
        "customer_id": "CUST-00001",
        "status": "active",
        "invoice_date": "2026-01-02",
        "currency": "USD",
        "total": "10.00",
        "lines": [
            {"id": "L1", "product_id": "P-1", "quantity": "1", "unit_price": "10.00", "amount": "10.00"}
        ],
    }
    rec_id = enqueue("invoice", invoice, ctx=ctx).id
    dispatching.dispatch_candidates(ctx.engine)
    rec = transfers.claim(ctx.engine, rec_id, "w1", 60)
    transfers.wait_for(ctx.engine, rec, [Ref("customer", "CUST-00001")], "waiting for customer CUST-00001")
    # The customer lands, but its wake-up happened before this record parked (no waiter then).
    customer = enqueue("customer", sample.customers(1)[0], ctx=ctx)
    dispatching.dispatch_candidates(ctx.engine)
    cust = transfers.claim(ctx.engine, customer.id, "w2", 60)
    with session_scope(ctx.engine) as s:
        s.add(
            NetSuiteLink(
                integration_id=cust.integration_id,
                record_type="customer",
                nue_id="CUST-00001",
                ns_type="customer",
                external_id="nue-cust-CUST-00001",
                ns_internal_id="101",
                record_id=cust.id,
                transferred_at=utcnow(),
            )
        )
    assert sweeps.wake_settled(ctx.engine, older_than=60) == 0  # too recent to judge
    assert sweeps.wake_settled(ctx.engine, older_than=0) == 1
    assert _rows(ctx, id=rec_id)[0].state == State.PENDING
    # A record waiting on something still missing stays put.
    rec2 = enqueue("invoice", invoice | {"id": "INV-2", "customer_id": "NOPE"}, ctx=ctx).id
    dispatching.dispatch_candidates(ctx.engine)
    transfers.wait_for(
        ctx.engine, transfers.claim(ctx.engine, rec2, "w3", 60), [Ref("customer", "NOPE")], "w"
    )
    assert sweeps.wake_settled(ctx.engine, older_than=0) == 0


def test_governor_seed_counts_calls_from_when_they_ended(ctx):
    import datetime as dt
    import time

    from nue_ns.hub.models import Attempt

    rec_id = enqueue("customer", sample.customers(1)[0], ctx=ctx).id
    integ = ctx.integration("default")
    started = utcnow() - dt.timedelta(seconds=10)
    with session_scope(ctx.engine) as s:
        common = {
            "record_id": rec_id,
            "integration_id": integ.id,
            "account_id": "TEST1",
            "method": "PUT",
            "url": "u",
        }
        s.add(Attempt(**common, started_at=started, elapsed_ms=4000.0, outcome="transferred"))
        s.add(Attempt(**common, started_at=utcnow(), outcome="in_flight"))
        s.add(Attempt(**common, started_at=started - dt.timedelta(seconds=120), elapsed_ms=5.0, outcome="x"))
    times, in_flight = attempts.recent_calls(ctx.engine, "TEST1", period=60, call_timeout=5)
    assert in_flight == 1
    assert len(times) == 2  # the call 2 minutes ago is out of the window
    # A record a worker merely holds has made no call: it takes no place (no token is denied for it).
    dispatching.dispatch_candidates(ctx.engine)
    assert transfers.claim(ctx.engine, rec_id, "w1", 60) is not None
    assert len(attempts.recent_calls(ctx.engine, "TEST1", period=60, call_timeout=5)[0]) == 2
    assert min(times) == pytest.approx((started + dt.timedelta(seconds=4)).timestamp(), abs=0.01)
    assert max(times) == pytest.approx(time.time(), abs=2)


def test_no_dispatch_while_the_account_has_no_token(ctx):
    accepted = enqueue_many("customer", sample.customers(3), ctx=ctx, dispatch_now=False)
    integ = ctx.integration("default")
    save_profile(ctx.engine, integ.id, READ)
    dispatching.hold_dispatch(ctx.engine, integ.id, 30)
    assert dispatching.dispatch_candidates(ctx.engine) == []
    dispatching.hold_dispatch(ctx.engine, integ.id, 1)  # a shorter hold never shortens a longer one
    assert dispatching.dispatch_candidates(ctx.engine) == []
    upsert_integration(ctx.engine, ctx.settings, "default", account_id="TEST1", rate_limit="10/60s")
    assert sorted(dispatching.dispatch_candidates(ctx.engine)) == sorted(a.id for a in accepted)


def _finished_call(ctx, integ, ended_ago: float, elapsed_ms: float = 500.0) -> None:
    import datetime as dt

    from nue_ns.hub.models import Attempt

    started = utcnow() - dt.timedelta(seconds=ended_ago, milliseconds=elapsed_ms)
    with session_scope(ctx.engine) as s:
        s.add(
            Attempt(
                integration_id=integ.id, account_id=integ.account_id, method="PUT", url="u",
                started_at=started, elapsed_ms=elapsed_ms, outcome="transferred",
            )
        )  # fmt: skip


def _read_account(ctx, name: str, rate_limit: str, records: int):
    """An integration whose account profile is read, at `rate_limit`, with `records` customers due."""
    integ = upsert_integration(
        ctx.engine,
        ctx.settings,
        name,
        account_id=name.upper(),
        credentials=CREDS,
        rate_limit=rate_limit,
        concurrency=5,
    )
    save_profile(ctx.engine, integ.id, READ)
    accepted = enqueue_many(
        "customer", sample.customers(records), integration=name, ctx=ctx, dispatch_now=False
    )
    return integ, accepted


def test_dispatch_queues_no_more_records_than_the_account_has_tokens(ctx):
    integ, _ = _read_account(ctx, "tok", "3/60s", 10)
    _finished_call(ctx, integ, ended_ago=10)  # counts: it ended within the window
    _finished_call(ctx, integ, ended_ago=61, elapsed_ms=5000)  # ended 61 s ago: out of the 60 s window
    first = dispatching.dispatch_candidates(ctx.engine)
    assert len(first) == 2  # 3 tokens, 1 spent (the window of 2 x 5 would allow 10)
    assert dispatching.dispatch_candidates(ctx.engine) == []  # each queued record holds a token
    rec = transfers.claim(ctx.engine, first[0], "w1", 60)
    assert rec is not None
    assert dispatching.dispatch_candidates(ctx.engine) == []  # in flight: it holds its token still
    _finished_call(ctx, integ, ended_ago=0)  # its call ended ...
    transfers.complete(ctx.engine, rec, "customer", "C", "1")  # ... and it is done: the call counts
    assert dispatching.dispatch_candidates(ctx.engine) == []


def test_a_workers_refill_takes_tokens_that_free_within_the_governors_wait(ctx):
    """The refill after a transfer looks NUE_NS_GOVERNOR_MAX_WAIT ahead (its records wait the rest
    out in Governor.acquire); a sweep's dispatch takes only the tokens free now."""
    from nue_ns.hub.db import checkout, transaction

    integ, accepted = _read_account(ctx, "ahead", "3/10s", 5)
    _finished_call(ctx, integ, ended_ago=9)  # both leave the 10 s window in about 1 s
    _finished_call(ctx, integ, ended_ago=9)
    set_record(accepted[0].id, state=State.IN_FLIGHT)  # the transfer whose refill this is

    assert dispatching.dispatch_candidates(ctx.engine) == []  # 3 tokens: 2 spent, 1 held in flight
    with checkout(ctx.engine) as hub, transaction(hub) as cur:
        assert dispatching.refill(cur, integ.id, None, "3/10s", ahead=0).ids == []
        assert len(dispatching.refill(cur, integ.id, None, "3/10s", ahead=2).ids) == 2


def test_an_idle_account_gets_one_record_when_its_next_token_frees_before_the_next_sweep(ctx):
    from nue_ns.hub.db import checkout, transaction

    integ, _ = _read_account(ctx, "kick", "2/10s", 4)
    _finished_call(ctx, integ, ended_ago=5)  # leaves the window in about 5 s
    _finished_call(ctx, integ, ended_ago=9)  # ... in about 1 s: sooner than max_wait and the sweep

    with checkout(ctx.engine) as hub, transaction(hub) as cur:  # without the kick, nothing is free
        assert dispatching.refill(cur, integ.id, None, "2/10s", ahead=0, kick=0).ids == []
    first = dispatching.dispatch_candidates(ctx.engine)
    assert len(first) == 1  # one, to wait for that token in Governor.acquire
    assert dispatching.dispatch_candidates(ctx.engine) == []  # one per idle account: it is busy now


def test_an_integration_whose_profile_is_unread_gets_one_record(ctx):
    integ = upsert_integration(ctx.engine, ctx.settings, "new", account_id="NEW", credentials=CREDS)
    enqueue_many("customer", sample.customers(5), integration="new", ctx=ctx, dispatch_now=False)
    # Its transfer reads the profile (several calls); the others would only wait for it.
    assert len(dispatching.dispatch_candidates(ctx.engine)) == 1
    assert dispatching.dispatch_candidates(ctx.engine) == []
    save_profile(ctx.engine, integ.id, READ)
    assert len(dispatching.dispatch_candidates(ctx.engine)) == 4  # 5 tokens, one held by the queued record


def test_a_real_time_burst_above_the_threshold_is_found_for_a_batch(ctx):
    from nue_ns.hub import batch_store

    integ = upsert_integration(ctx.engine, ctx.settings, "rt", account_id="RT", credentials=CREDS)
    enqueue_many("customer", sample.customers(5), integration="rt", ctx=ctx, dispatch_now=False)
    enqueue_many("product", sample.products(2), integration="rt", ctx=ctx, dispatch_now=False)
    time.sleep(0.1)  # due at acceptance, by the hub's clock
    assert batch_store.burst_types(ctx.engine, 4) == [(integ.id, "customer")]
    assert batch_store.burst_types(ctx.engine, 5) == []
    taken = batch_store.take(ctx.engine, integ.id, "t", 60, record_type="customer")
    assert len(taken) == 5 and {r.record_type for r in taken} == {"customer"}


def test_a_real_time_integration_forms_no_batch_without_a_burst(ctx):
    from nue_ns import batches
    from nue_ns.hub import batch_store

    integ = upsert_integration(ctx.engine, ctx.settings, "rt2", account_id="RT2", credentials=CREDS)
    ids = [
        a.id
        for a in enqueue_many("customer", sample.customers(3), integration="rt2", ctx=ctx, dispatch_now=False)
    ]
    time.sleep(0.1)
    assert batches.work(ctx, integ.id).formed == 0
    assert batch_store.open_count(ctx.engine, integ.id) == 0
    with session_scope(ctx.engine) as s:
        assert {r.state for r in s.scalars(select(Record).where(Record.id.in_(ids)))} == {State.PENDING}


def test_requeue_keeps_the_attempts_and_says_why_where_retry_starts_afresh(ctx):
    rec_id = enqueue("customer", sample.customers(1)[0], ctx=ctx).id
    dispatching.dispatch_candidates(ctx.engine)
    rec = transfers.claim(ctx.engine, rec_id, "w1", 60)
    with session_scope(ctx.engine) as s:
        s.get(Record, rec_id).attempts = 3
    transfers.wait_for(ctx.engine, rec, [Ref("customer", "PARENT")], "waiting for customer PARENT")
    assert transfers.requeue(ctx.engine, [rec_id], "the customer landed meanwhile") == [rec_id]
    row = _rows(ctx, id=rec_id)[0]
    assert (row.state, row.attempts, row.reason, row.waiting_on) == (
        State.PENDING,
        3,
        "the customer landed meanwhile",
        None,
    )
    assert operators.integrations_of(ctx.engine, [rec_id]) == [row.integration_id]
    assert operators.retry(ctx.engine, [rec_id]) == [rec_id]
    row = _rows(ctx, id=rec_id)[0]
    assert (row.attempts, row.reason) == (0, "retry requested")


def _dsn(ctx) -> str:
    return ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_dispatch_that_finds_its_integration_locked_waits_and_dispatches_once_it_is_free(ctx):
    """A worker's refill holds the integration's row and, having begun before this record was due,
    does not see it: the dispatch that found the row locked must not leave the record unsent."""
    import threading

    import psycopg

    integ, accepted = _read_account(ctx, "locked", "50/1s", 1)
    with psycopg.connect(_dsn(ctx)) as other:
        other.execute("SELECT id FROM integrations WHERE id = %s FOR NO KEY UPDATE", (integ.id,))
        threading.Timer(0.3, other.commit).start()  # the refill commits 300 ms later
        began = time.monotonic()
        assert dispatching.dispatch_candidates(ctx.engine, integ.id) == [accepted[0].id]
        assert time.monotonic() - began >= 0.25  # it waited for the holder, not gave up


def test_a_refill_says_when_another_dispatch_held_its_integration(ctx):
    """The transfer whose refill found the row held dispatches again after it commits (sync)."""
    import psycopg

    from nue_ns.hub.db import checkout, transaction

    integ, accepted = _read_account(ctx, "held", "50/1s", 2)
    with checkout(ctx.engine) as hub:
        with psycopg.connect(_dsn(ctx)) as other:
            other.execute("SELECT id FROM integrations WHERE id = %s FOR NO KEY UPDATE", (integ.id,))
            with transaction(hub) as cur:
                held = dispatching.refill(cur, integ.id, None, "50/1s")
                every = dispatching.refill(cur, None, None)  # the sweep's: skips it, nothing to say
        assert (held.ids, held.contended) == ([], True)
        assert (every.ids, every.contended) == ([], False)
        with transaction(hub) as cur:
            free = dispatching.refill(cur, integ.id, None, "50/1s")
        assert (sorted(free.ids), free.contended) == (sorted(a.id for a in accepted), False)
        with transaction(hub) as cur:  # nothing due for it: the row was free, nothing to say either
            assert dispatching.refill(cur, integ.id, None, "50/1s") == dispatching.Refilled([], False)
