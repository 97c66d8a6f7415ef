"""Batch upserts: the undocumented shapes (unit), the sandbox's async jobs over HTTP, and a month in
scheduled mode with real workers, lost submit answers and lost jobs."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nue_ns import batches, sample
from nue_ns.hub import batch_store
from nue_ns.hub.models import BatchState, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.netsuite import batch_shapes
from nue_ns.netsuite.auth import Credentials, tba_auth
from nue_ns.netsuite.client import NetSuiteClient
from nue_ns.netsuite.errors import Kind, NetSuiteError
from nue_ns.processes import start_sandbox
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import demo

# ------------------------------------------------------------------ unit: the undocumented shapes


def test_a_repeated_key_answers_the_earlier_job_400_as_documented_and_409():
    body = {"status": 400, "o:errorDetails": [{"detail": "same key", "o:errorCode": "IDEMPOTENCY_ERROR"}]}
    loc = "https://x.suitetalk.api.netsuite.com/services/rest/async/v1/job/77"
    assert batch_shapes.duplicate_key_job(400, body, loc) == "77"
    assert batch_shapes.duplicate_key_job(409, body, loc) == "77"
    assert (
        batch_shapes.duplicate_key_job(400, {"o:errorDetails": [{"o:errorCode": "USER_ERROR"}]}, loc) is None
    )
    assert batch_shapes.duplicate_key_job(202, body, loc) is None


def test_record_results_read_an_id_a_self_link_or_an_error_with_its_path():
    ok = batch_shapes.record_result(
        200, {"links": [{"rel": "self", "href": "/services/rest/record/v1/customer/812"}]}, None
    )
    assert ok is not None and ok.internal_id == "812" and ok.error is None
    assert (
        batch_shapes.record_result(204, None, "https://h/services/rest/record/v1/invoice/9").internal_id
        == "9"
    )
    bad = {
        "status": 400,
        "o:errorDetails": [
            {"detail": "Invalid Field Value 77", "o:errorCode": "INVALID_CONTENT", "o:errorPath": "entity"}
        ],
    }
    err = batch_shapes.record_result(200, bad, None).error
    assert err.kind is Kind.NEEDS_PERSON and err.path == "entity" and "77" in err.detail
    locked = {
        "status": 400,
        "o:errorDetails": [{"detail": "This record has been changed", "o:errorCode": "USER_ERROR"}],
    }
    assert batch_shapes.record_result(200, locked, None).error.kind is Kind.TRANSIENT
    assert batch_shapes.record_result(200, {"nothing": 1}, None) is None


def test_one_task_lists_every_record_in_request_order():
    body = {
        "items": [
            {"id": "5"},
            {"status": 500, "o:errorDetails": [{"detail": "x", "o:errorCode": "UNEXPECTED_ERROR"}]},
        ]
    }
    results = batch_shapes.one_task_results(body, 3)
    assert results[0].internal_id == "5" and results[1].error.kind is Kind.TRANSIENT and results[2] is None
    assert batch_shapes.is_one_task(1, 3) and not batch_shapes.is_one_task(3, 3)


def test_the_one_task_of_a_one_record_job_is_read_in_either_shape():
    """One record, one task: its result lists the record ("one_task") or is its answer."""
    link = {"links": [{"rel": "self", "href": "https://h/services/rest/record/v1/customer/41"}]}
    assert batch_shapes.lone_task_result(200, {"items": [link]}, None).internal_id == "41"
    assert batch_shapes.lone_task_result(200, link, None).internal_id == "41"
    refused = {"status": 400, "o:errorDetails": [{"detail": "taken", "o:errorCode": "USER_ERROR"}]}
    assert batch_shapes.lone_task_result(200, {"items": [refused]}, None).error.detail == "taken"
    assert batch_shapes.lone_task_result(400, refused, None).error.detail == "taken"
    assert batch_shapes.lone_task_result(200, {"items": []}, None) is None  # nothing to read: again


def test_a_malformed_item_is_its_own_classified_outcome_naming_the_field():
    """A hostile answer (a status that is not an HTTP status, an id that is not an internal id, a
    list where an object belongs) never raises: that item gets a MALFORMED_ANSWER error naming the
    field, transient where the outcome is unknown (the upsert goes again, counted), needing a person
    where the answer says it succeeded but names no record; the other items are read as usual."""
    body = {
        "items": [
            {"status": "200", "id": "5"},
            {"status": [400], "o:errorDetails": [{"detail": "x", "o:errorCode": "INVALID_CONTENT"}]},
            {"id": {"id": 7}},
            {"id": True},
            "oops",
            {"id": "6"},
            {"status": 1e3, "id": "8"},
        ]
    }
    results = batch_shapes.one_task_results(body, 8)
    errors = [r.error for r in results[:5]] + [results[6].error]
    assert all(e.code == "MALFORMED_ANSWER" for e in errors)
    assert [e.path for e in errors] == [
        "items[0].status", "items[1].status", "items[2].id", "items[3].id", "items[4]", "items[6].status",
    ]  # fmt: skip
    kinds = [e.kind for e in errors]
    assert (
        kinds == [Kind.TRANSIENT, Kind.TRANSIENT, Kind.NEEDS_PERSON, Kind.NEEDS_PERSON] + [Kind.TRANSIENT] * 2
    )
    assert "'200'" in errors[0].detail and "expected an HTTP status" in errors[0].detail
    assert results[5].internal_id == "6" and results[7] is None  # the others read as usual
    assert all(r.error.kind is Kind.TRANSIENT for r in batch_shapes.one_task_results({"items": 3}, 2))
    # One record's own answer (task per record): its body's fields, its status, or a non-object.
    per_record = batch_shapes.record_result(200, {"id": "12abc"}, None)
    assert (per_record.error.path, per_record.error.kind) == ("id", Kind.NEEDS_PERSON)
    assert batch_shapes.record_result(200, ["id", 5], None).error.path == "result"
    refused = {"status": "bad", "o:errorDetails": [{"detail": "no", "o:errorCode": "INVALID_CONTENT"}]}
    err = batch_shapes.record_result(404, refused, None).error  # an error whose own status is unreadable
    assert (err.status, err.code, err.kind) == (404, "INVALID_CONTENT", Kind.NEEDS_PERSON)
    linked = {"links": 5, "externalId": ["x"]}
    assert batch_shapes.record_result(204, linked, "http://[bad") is None  # nothing to read: sent again
    assert batch_shapes.record_result(204, {"links": [{"href": 9}, 3]}, None) is None


def test_a_malformed_task_list_keeps_every_task_in_its_position():
    page = {"items": [{"id": "1"}, {"id": "../../record/v1/customer/5"}, "2", {"id": 3}, {"id": "x" * 41}]}
    tasks = batch_shapes.task_ids(page)
    assert tasks[0] == "1" and tasks[3] == "3"  # positions kept: task 4 is still the 4th record's
    bad = [t.error for t in tasks if isinstance(t, batch_shapes.ItemResult)]
    assert [e.path for e in bad] == ["items[1].id", "items[2]", "items[4].id"]
    assert all(e.code == "MALFORMED_ANSWER" and e.kind is Kind.TRANSIENT for e in bad)
    [whole] = batch_shapes.task_ids({"items": {"id": "1"}})
    assert whole.error.path == "items"
    assert batch_shapes.task_ids({"items": None}) == batch_shapes.task_ids("not a page") == []
    # A job id the hub cannot keep (its column holds 40) or that is not one path segment: no job.
    assert batch_shapes.job_id_from_location("/services/rest/async/v1/job/" + "7" * 41) is None
    assert batch_shapes.job_id_from_location("http://[x/services/rest/async/v1/job/7") is None
    assert batch_shapes.job_id_from_location("/services/rest/async/v1/job/7/task") == "7"
    odd = {"o:errorDetails": 5}
    assert batch_shapes.duplicate_key_job(400, odd, "/services/rest/async/v1/job/7") is None
    unhashable = {"o:errorDetails": [{"o:errorCode": ["IDEMPOTENCY_ERROR"]}]}
    assert batch_shapes.duplicate_key_job(400, unhashable, "/services/rest/async/v1/job/7") is None


def test_a_malformed_task_is_its_records_outcome_and_the_others_are_read(monkeypatch):
    """The poll reads every well-formed task and asks nothing about a malformed one (its id never
    reaches a URL); the one-task shape with an unreadable task gives every record that outcome."""
    asked: list[str] = []

    def call(ctx, conn, method, url, body, send, **kw):
        asked.append(url.removeprefix("https://ns/services/rest/async/v1/job/77/task"))
        if url.endswith("/task"):
            return {"items": [{"id": "1"}, {"id": "../../record/v1/customer/5"}, {"id": "3"}]}
        return 200, {"id": "80" + url.rsplit("/", 2)[-2]}, None

    monkeypatch.setattr(batches.gateway, "call", call)
    conn = SimpleNamespace(client=SimpleNamespace(base_url="https://ns/services/rest"))
    batch = SimpleNamespace(job_id="77", items=[{}, {}, {}])
    results = batches._job_results(None, conn, batches.Run(calls_left=10), batch, [0, 1, 2])
    assert results[0].internal_id == "801" and results[2].internal_id == "803"
    assert (results[1].error.code, results[1].error.path) == ("MALFORMED_ANSWER", "items[1].id")
    assert asked == ["", "/1/result", "/3/result"]
    call_one = call

    def one(ctx, conn, method, url, body, send, **kw):
        return (
            {"items": [{"id": None}]}
            if url.endswith("/task")
            else call_one(ctx, conn, method, url, body, send)
        )

    monkeypatch.setattr(batches.gateway, "call", one)
    results = batches._job_results(None, conn, batches.Run(calls_left=10), batch, [0, 1, 2])
    assert {r.error.path for r in results.values()} == {"items[0].id"}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_FIELDS = st.sampled_from(["status", "id", "links", "externalId", "o:errorDetails", "items", "href"])
_ANSWER = (
    _JSON
    | st.dictionaries(_FIELDS, _JSON, max_size=5)
    | st.fixed_dictionaries(
        {"items": st.lists(st.dictionaries(_FIELDS, _JSON, max_size=4) | _JSON, max_size=5)}
    )
)


@settings(max_examples=400, deadline=None)
@given(status=_JSON | st.integers(100, 599), body=_ANSWER, location=st.none() | st.text(max_size=40))
def test_no_answer_makes_the_batch_reader_raise(status, body, location):
    for result in [
        batch_shapes.record_result(status, body, location),
        batch_shapes.lone_task_result(status, body, location),
        *batch_shapes.one_task_results(body, 3),
        *[t for t in batch_shapes.task_ids(body) if not isinstance(t, str)],
    ]:
        assert result is None or isinstance(result, batch_shapes.ItemResult)
        if result is not None:
            assert (result.internal_id is None) != (result.error is None)
            assert result.internal_id is None or result.internal_id.isdigit()
    job = batch_shapes.duplicate_key_job(400, body, location)
    assert job is None or batch_shapes.ASYNC_ID.fullmatch(job)


def test_only_an_answer_about_batches_switches_the_account_to_single_upserts():
    assert batch_shapes.batches_unsupported(NetSuiteError(Kind.NEEDS_PERSON, "no", status=405))
    said = NetSuiteError(
        Kind.NEEDS_PERSON, "Batch requests are not supported", status=400, code="INVALID_REQUEST"
    )
    assert batch_shapes.batches_unsupported(said)
    other = NetSuiteError(Kind.NEEDS_PERSON, "Invalid Field Value", status=400, code="INVALID_CONTENT")
    assert not batch_shapes.batches_unsupported(other)


# ------------------------------------------------------------------ the sandbox's async jobs


@pytest.fixture(scope="module")
def sandbox_base(tmp_path_factory) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSUITE_")}
    child, base = start_sandbox(env, tmp_path_factory.mktemp("sandbox-logs"))
    yield base
    child.stop()


@pytest.fixture
def ns(sandbox_base) -> Iterator[NetSuiteClient]:
    import requests

    requests.post(f"{sandbox_base}/_sandbox/reset", timeout=5).raise_for_status()
    default = {"result_shape": "one_task", "duplicate_key": "400", "batches": "supported"}
    default |= {"lost_job_probability": 0, "processors": 1, "item_ms": 1, "job_start_ms": 20}
    requests.post(f"{sandbox_base}/_sandbox/async", json=default, timeout=5).raise_for_status()
    acct = demo.demo_account()
    creds = Credentials(acct["consumer_key"], acct["consumer_secret"], acct["token_id"], acct["token_secret"])
    client = NetSuiteClient(
        acct["account_id"], tba_auth(creds, acct["account_id"]), f"{sandbox_base}/services/rest"
    )
    client.sandbox = sandbox_base  # type: ignore[attr-defined]
    yield client
    client.close()


def _switch(client: NetSuiteClient, **switches) -> None:
    import requests

    requests.post(f"{client.sandbox}/_sandbox/async", json=switches, timeout=5).raise_for_status()


def _customers(n: int, bad: int | None = None) -> list[dict]:
    items = [
        {"externalId": f"nue-cust-B{i}", "companyName": f"Batch {i}", "subsidiary": {"id": "1"}}
        for i in range(n)
    ]
    if bad is not None:
        items[bad]["subsidiary"] = {"id": "999"}
        items[bad]["isPerson"] = "false"  # a string where the schema says boolean: refused first
    return items


def _wait_job(client: NetSuiteClient, job: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        view, _ = client.job(job)
        if view["completed"]:
            return view
        time.sleep(0.05)
    raise AssertionError("job never completed")


@pytest.mark.parametrize("shape", ["one_task", "task_per_record"])
def test_a_batch_runs_in_the_background_and_each_record_stands_alone(ns, shape):
    _switch(ns, result_shape=shape)
    job, exchange = ns.batch_upsert("customer", _customers(3, bad=1), str(uuid.uuid4()))
    assert exchange.status == 202
    view = _wait_job(ns, job)
    assert view["progress"] in ("succeeded", "failed") and "startTime" in view
    page = ns.job_tasks(job)[0]
    tasks = batch_shapes.task_ids(page)
    # The task list is a collection: it links to itself ("Collection Paging", section_156414087576).
    assert {"rel": "self", "href": f"{ns.base_url}/async/v1/job/{job}/task?limit=1000&offset=0"} in page[
        "links"
    ]
    if shape == "one_task":
        assert len(tasks) == 1
        status, body, _ = ns.task_result(job, tasks[0])[0]
        results = batch_shapes.one_task_results(body, 3)
    else:
        assert len(tasks) == 3
        results = [batch_shapes.record_result(*ns.task_result(job, t)[0]) for t in tasks]
    assert results[0].internal_id and results[2].internal_id
    assert results[1].error.kind is Kind.NEEDS_PERSON and results[1].error.path == "isPerson"
    ids = {r["externalId"] for r in ns_records(ns)}
    assert ids == {"nue-cust-B0", "nue-cust-B2"}  # the bad one was not made; the others were


def ns_records(client: NetSuiteClient) -> list[dict]:
    import requests

    return requests.get(f"{client.sandbox}/_sandbox/records", params={"type": "customer"}, timeout=5).json()


@pytest.mark.parametrize("answer", ["400", "409"])
def test_a_repeated_key_is_the_same_job_and_nothing_runs_twice(ns, answer):
    _switch(ns, duplicate_key=answer)
    key = str(uuid.uuid4())
    first, _ = ns.batch_upsert("customer", _customers(2), key)
    again, exchange = ns.batch_upsert("customer", _customers(2), key)
    assert again == first and exchange.status == int(answer)
    _wait_job(ns, first)
    assert len(ns_records(ns)) == 2


def test_a_lost_job_answers_404_though_its_records_were_written(ns):
    _switch(ns, lost_job_probability=1.0)
    job, _ = ns.batch_upsert("customer", _customers(2), str(uuid.uuid4()))
    with pytest.raises(NetSuiteError) as lost:
        ns.job(job)
    assert lost.value.status == 404 and lost.value.kind is Kind.NEEDS_PERSON
    time.sleep(0.5)
    assert len(ns_records(ns)) == 2


@pytest.mark.parametrize("processors", [1, 2])
def test_an_accounts_jobs_take_turns_on_its_processors(ns, processors):
    _switch(ns, processors=processors, item_ms=60, job_start_ms=0)
    first, _ = ns.batch_upsert("customer", _customers(3), str(uuid.uuid4()))
    others = [dict(c, externalId=f"{c['externalId']}-2") for c in _customers(2)]
    second, _ = ns.batch_upsert("customer", others, str(uuid.uuid4()))
    a, b = sorted((_wait_job(ns, first), _wait_job(ns, second)), key=lambda v: v["startTime"])
    # One processor: the second job starts once the first has ended; two: while it still runs.
    assert (b["startTime"] >= a["endTime"]) is (processors == 1)
    import requests

    bad = requests.post(f"{ns.sandbox}/_sandbox/async", json={"processors": 0}, timeout=5)
    assert bad.status_code == 400 and "processors" in bad.json()["error"]


def test_batches_need_respond_async_and_at_most_100_items_and_an_account_may_refuse_them(ns):
    with pytest.raises(ValueError):
        ns.batch_upsert("customer", _customers(101), str(uuid.uuid4()))
    r = ns._session.put(  # no Prefer: respond-async
        f"{ns.base_url}/record/v1/customer", data=json.dumps({"items": _customers(1)}), auth=ns._auth,
        headers={"Content-Type": batch_shapes.COLLECTION_TYPE}, timeout=5,
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["o:errorDetails"][0]["o:errorHeader"] == "Prefer"
    _switch(ns, batches="405")
    with pytest.raises(NetSuiteError) as refused:
        ns.batch_upsert("customer", _customers(1), str(uuid.uuid4()))
    assert batch_shapes.batches_unsupported(refused.value)


# ------------------------------------------------------------------ end to end, real workers

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", scheduled_mode=True)
FAST = {
    "NUE_NS_BATCH_SWEEP_SECONDS": "2",
    "NUE_NS_RETRY_SWEEP_SECONDS": "0.5",
    "NUE_NS_BATCH_POLL_FIRST": "0.3",
    "NUE_NS_BATCH_POLL_MAX": "2",
    "NUE_NS_BATCH_SIZE": "20",
}


def _month() -> dict[str, list[dict]]:
    return sample.month(n_customers=30, n_products=6, n_orders=15, n_invoices=25, n_payments=10, n_refunds=3,
                        n_credit_memos=3, seed=5)  # fmt: skip


def _enqueue(month: dict[str, list[dict]]) -> list[int]:
    from nue_ns.records import TYPE_ORDER

    ids = []
    for rtype in sorted(month, key=TYPE_ORDER.__getitem__):
        ids += [a.id for a in enqueue_many(rtype, month[rtype])]
    return ids


@pytest.mark.parametrize("shape", ["one_task", "task_per_record"])
def test_a_month_in_scheduled_mode_goes_in_batches_exactly_once_despite_lost_answers_and_jobs(system, shape):
    system.start(rate_limit="20/1s", config=CONFIG, **FAST)
    system.sandbox_post("async", {"result_shape": shape, "lost_job_probability": 0.2, "seed": 3})
    system.sandbox_post("faults", {"kind": "lost_after_commit", "type": "batch", "count": 1, "delay_s": 4})
    system.sandbox_post(
        "faults", {"kind": "lost_after_commit", "type": "batch", "probability": 0.1, "delay_s": 4}
    )
    ids = _enqueue(_month())
    system.workers(1, concurrency=4)
    system.beat()
    system.wait(ids, timeout=240)
    stats = system.stats()
    assert stats["duplicates"] == []
    calls = system.log()
    batch_calls = [c for c in calls if c["type"] == "batch"]
    # Batches, their polls, SuiteQL reads and the account profile's one catalog read; the only
    # record calls are the linked documents' (invoice_link transform, the default): an invoice of an
    # order and a credit memo of an invoice are made by a transform, never carried in a batch.
    alone = [c for c in calls if c["type"] not in ("batch", "async", "suiteql", "metadata")]
    assert batch_calls and not [c for c in alone if c["method"] == "PUT"]  # no single upsert
    month = _month()
    linked = [i for i in month["invoice"] if i.get("order_id")] + [
        m for m in month["credit_memo"] if m.get("invoice_id")
    ]
    transforms = {c["external_id"] for c in alone if "!transform" in c["path"] and c["status"] < 300}
    assert linked and len(transforms) == len(linked)
    assert len([c for c in calls if c["type"] == "metadata"]) == 1
    assert len(calls) < len(ids)  # fewer calls than records, every poll counted
    listed = batch_store.listing(system.ctx.engine, limit=1000)
    assert all(b.state == BatchState.DONE for b in listed)
    assert any(b.submits > 1 for b in listed)  # a lost submit answer: sent again with the same key
    assert [c for c in batch_calls if c["fault"]]
    # every call went through the gateway: one attempt row each
    from sqlalchemy import func, select

    from nue_ns.hub.db import session_scope
    from nue_ns.hub.models import Attempt, Record

    with session_scope(system.ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Attempt)) == len(calls)
        alone = select(func.count()).where(Record.id.in_(ids), Record.batch_id.is_(None))
        assert s.scalar(alone) == len(linked)  # every other record went in a batch


def test_a_record_netsuite_refuses_in_a_batch_needs_a_person_with_the_field_path(system):
    system.start(rate_limit="20/1s", config=CONFIG, **FAST)
    good = sample.customers(3)
    bad = dict(good[0], id="CUST-BAD", subsidiary_id="999")
    ids = [a.id for a in enqueue_many("customer", [*good, bad])]
    system.workers(1, concurrency=2)
    system.beat()
    system.wait(ids, states=(State.TRANSFERRED, State.FAILED), timeout=40)
    counts = system.counts(ids)
    assert counts == {State.TRANSFERRED: 3, State.FAILED: 1}
    from nue_ns.hub.db import session_scope
    from nue_ns.hub.models import Record

    with session_scope(system.ctx.engine) as s:
        rec = s.get(Record, ids[-1])
        assert rec.error_path == "subsidiary" and rec.batch_id is not None and "needs a person" in rec.reason


def test_an_account_that_refuses_batches_falls_back_to_single_upserts(system):
    system.start(rate_limit="20/1s", config=CONFIG, **FAST)
    system.sandbox_post("async", {"batches": "405"})
    ids = [a.id for a in enqueue_many("customer", sample.customers(5))]
    system.workers(1, concurrency=2)
    system.beat()
    system.wait(ids, timeout=40)
    puts = [c for c in system.log() if c["method"] == "PUT"]
    assert [c["status"] for c in puts if c["type"] == "batch"] == [405]
    assert len([c for c in puts if c["type"] == "customer"]) == 5
    integ = system.ctx.integration(1)
    assert "405" in json.dumps(integ.settings["batches_unsupported"])
    assert batch_store.batching_integrations(system.ctx.engine) == []
