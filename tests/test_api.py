"""The HTTP API against real PostgreSQL and Redis (and the sandbox NetSuite where NetSuite is asked):
every endpoint, its auth failures and its bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import requests
from sqlalchemy import select
from typer.testing import CliRunner

from nue_ns.cli import app as cli
from nue_ns.context import get_context
from nue_ns.hub import attempts
from nue_ns.hub.api_keys import create_key, revoke
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, Record, utcnow
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.processes import Child, free_port, nue_ns_argv
from tests.api_support import bearer, key, set_record, transfer_all

CUSTOMER = {"id": "C-1", "name": "Acme Ltd", "email": "billing@acme.example", "currency": "USD"}


def _customers(n: int, prefix: str = "C") -> list[dict]:
    return [{"id": f"{prefix}-{i}", "name": f"Customer {i}", "currency": "USD"} for i in range(1, n + 1)]


def _enqueue(client, k: str, record_type: str, body, **params):
    return client.post(f"/v1/records/{record_type}", json=body, headers=bearer(k), params=params)


def _wait_job(client, k: str, job_id: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=bearer(k)).json()
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running: {job}")


def _fail(record_id: int, code: str = "INVALID_CONTENT", path: str = "currency") -> None:
    set_record(
        record_id,
        state="failed",
        reason="needs a person",
        error_kind="needs_person",
        error_status=400,
        error_code=code,
        error_detail="Invalid Field Value 9 for the following field: currency",
        error_path=path,
    )


# ---------------------------------------------------------------- auth


def test_every_v1_endpoint_refuses_a_missing_or_wrong_key(client):
    calls = [
        ("post", "/v1/records/customer"),
        ("get", "/v1/records"),
        ("get", "/v1/records/1"),
        ("post", "/v1/records/1/retry"),
        ("post", "/v1/records/retry"),
        ("get", "/v1/jobs/1"),
        ("get", "/v1/status"),
        ("post", "/v1/verify"),
        ("get", "/v1/integrations"),
        ("get", "/v1/integrations/default"),
        ("put", "/v1/integrations/default"),
        ("post", "/v1/integrations/default/validate"),
        ("get", "/v1/governor"),
    ]
    for method, path in calls:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "API key is required" in r.json()["detail"]
        r = client.request(method, path, json={}, headers=bearer("nns_not-a-real-key"))
        assert r.status_code == 401, (method, path)
        assert "unknown or revoked" in r.json()["detail"]


def test_producer_key_may_only_enqueue(client):
    producer = key("producer")
    for method, path in [
        ("get", "/v1/records"),
        ("get", "/v1/records/1"),
        ("post", "/v1/records/retry"),
        ("get", "/v1/integrations/default"),
        ("put", "/v1/integrations/default"),
        ("get", "/v1/governor"),
        ("post", "/v1/verify"),
    ]:
        r = client.request(method, path, json={}, headers=bearer(producer))
        assert r.status_code == 403, (method, path, r.text)
        assert "operator role" in r.json()["detail"]


def test_revoked_key_and_x_api_key_header(client):
    operator, row = create_key(get_context().engine, "on-call", "operator")
    assert row.role == "operator" and operator.startswith("nns_") and row.key_hash != operator
    assert client.get("/v1/status", headers={"X-API-Key": operator}).status_code == 200
    assert revoke(get_context().engine, row.id)
    assert client.get("/v1/status", headers={"X-API-Key": operator}).status_code == 401


# ---------------------------------------------------------------- producers


def test_enqueue_one_and_batch_and_idempotent(client, hub):
    producer = key("producer")
    r = _enqueue(client, producer, "customer", CUSTOMER)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["new"] == 1
    hub_id = body["records"][0]["id"]
    with session_scope(get_context().engine) as s:
        assert s.get(Record, hub_id).nue_id == "C-1"
    again = _enqueue(client, producer, "customer", CUSTOMER).json()
    assert again["records"][0] == {
        "id": hub_id,
        "nue_id": "C-1",
        "created": False,
        "state": again["records"][0]["state"],
    }
    batch = _enqueue(client, producer, "customer", _customers(3, "B")).json()
    assert batch["accepted"] == 3 and len({r["id"] for r in batch["records"]}) == 3


def test_invalid_batch_names_each_field_and_stores_nothing(client, hub):
    producer = key("producer")
    records = _customers(3) + [{"id": "bad id!", "name": "x"}, {"id": "C-9", "name": "y", "email": "nope"}]
    r = _enqueue(client, producer, "customer", records)
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == "2 invalid record(s), nothing stored"
    by_index = {e["index"]: e for e in body["errors"]}
    assert set(by_index) == {3, 4}
    assert by_index[3]["errors"][0]["field"] == "id"
    assert "letters, digits" in by_index[3]["errors"][0]["reason"]
    assert by_index[4]["errors"][0]["field"] == "email"
    with session_scope(get_context().engine) as s:
        assert s.scalars(select(Record)).all() == []


def test_enqueue_bad_input(client, hub):
    producer = key("producer")
    r = _enqueue(client, producer, "spaceship", CUSTOMER)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record_type"
    r = client.post(
        "/v1/records/customer",
        content=b"{not json",
        headers=bearer(producer) | {"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"] == "invalid request"
    r = _enqueue(client, producer, "customer", [])
    assert r.status_code == 422 and r.json()["errors"][0]["errors"][0] == {
        "field": "(batch)",
        "reason": "is empty",
    }
    r = _enqueue(client, producer, "customer", [1, 2])
    assert r.status_code == 422 and r.json()["errors"][0]["errors"][0]["field"] == "(record)"
    r = _enqueue(client, producer, "customer", CUSTOMER, integration="nowhere")
    assert r.status_code == 404 and "nowhere" in r.json()["detail"]
    line = {"id": "L1", "product_id": "P-1", "quantity": "1", "unit_price": "10", "amount": "10"}
    draft = {"id": "I-1", "invoice_number": "1", "customer_id": "C-1", "status": "Draft",
             "invoice_date": "2025-01-02", "currency": "USD", "total": "10.00", "lines": [line]}  # fmt: skip
    r = _enqueue(client, producer, "invoice", draft)
    assert r.status_code == 422 and r.json()["errors"][0]["errors"][0]["field"] == "status"


# ---------------------------------------------------------------- hub


def _seed(client, n: int = 5) -> tuple[str, list[int]]:
    operator = key("operator")
    ids = [r["id"] for r in _enqueue(client, operator, "customer", _customers(n)).json()["records"]]
    return operator, ids


def test_list_filters_and_cursor_paging(client, hub):
    operator, ids = _seed(client, 5)
    _fail(ids[1])
    _fail(ids[3], code="USER_ERROR")
    page = client.get("/v1/records", params={"limit": 2}, headers=bearer(operator)).json()
    assert [r["id"] for r in page["records"]] == ids[:2] and page["next_cursor"] == ids[1]
    page = client.get(
        "/v1/records", params={"limit": 2, "cursor": page["next_cursor"]}, headers=bearer(operator)
    ).json()
    assert [r["id"] for r in page["records"]] == ids[2:4]
    last = client.get("/v1/records", params={"limit": 2, "cursor": ids[3]}, headers=bearer(operator)).json()
    assert [r["id"] for r in last["records"]] == ids[4:] and last["next_cursor"] is None

    def listed(**params) -> list[int]:
        r = client.get("/v1/records", params=params, headers=bearer(operator))
        assert r.status_code == 200, r.text
        return [rec["id"] for rec in r.json()["records"]]

    assert listed(state="failed") == [ids[1], ids[3]]
    assert listed(state="Not Transferred", error_code="USER_ERROR") == [ids[3]]
    assert listed(nue_id="C-3") == [ids[2]]
    assert listed(type="product") == []
    assert listed(integration="default", type="customer") == ids
    tomorrow = (utcnow() + dt.timedelta(days=1)).isoformat()
    assert listed(until=tomorrow, since=(utcnow() - dt.timedelta(hours=1)).isoformat()) == ids
    assert listed(since=tomorrow) == []
    failed = client.get("/v1/records", params={"state": "failed"}, headers=bearer(operator)).json()[
        "records"
    ][0]
    assert failed["error"] == {
        "kind": "needs_person", "status": 400, "code": "INVALID_CONTENT",
        "detail": "Invalid Field Value 9 for the following field: currency", "path": "currency",
    }  # fmt: skip


def test_list_bad_filters_are_named(client):
    operator = key("operator")
    cases = {
        "state": ({"state": "sideways"}, "expected one of"),
        "type": ({"type": "spaceship"}, "unknown record type"),
        "limit": ({"limit": 0}, "greater than or equal to 1"),
        "since": ({"since": "yesterday"}, "datetime"),
        "until": ({"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "after since"),
    }
    for field, (params, reason) in cases.items():
        r = client.get("/v1/records", params=params, headers=bearer(operator))
        assert r.status_code == 422, field
        errors = r.json()["errors"]
        assert any(e["field"].endswith(field) and reason in e["reason"] for e in errors), (field, errors)


def test_record_with_attempts_and_404(client, hub):
    operator, ids = _seed(client, 1)
    ctx = get_context()
    with session_scope(ctx.engine) as s:
        rec = s.get(Record, ids[0])
    answer = {"o:errorDetails": [{"detail": "bad", "o:errorCode": "INVALID_CONTENT", "o:errorPath": "email"}]}
    url = "https://x/record/v1/customer/eid:nue-cust-C-1"
    ex = Exchange("PUT", url, {"companyName": "Customer 1"}, 400, answer, 12.5)
    err = NetSuiteError(Kind.NEEDS_PERSON, "bad", 400, "INVALID_CONTENT", "email", ex)
    attempts.log_attempt(
        ctx.engine, rec, rec.integration_id, "TSTDRV1", ex, "needs_person", utcnow(), "w1", err
    )
    body = client.get(f"/v1/records/{ids[0]}", headers=bearer(operator)).json()
    assert body["payload"]["name"] == "Customer 1"
    [attempt] = body["attempts_log"]
    assert attempt["status"] == 400 and attempt["error_code"] == "INVALID_CONTENT"
    assert attempt["response_body"]["o:errorDetails"][0]["o:errorPath"] == "email"
    assert client.get("/v1/records/999999", headers=bearer(operator)).status_code == 404
    assert client.get("/v1/records/abc", headers=bearer(operator)).status_code == 422


def test_retry_one(client, hub):
    operator, ids = _seed(client, 2)
    _fail(ids[0])
    r = client.post(f"/v1/records/{ids[0]}/retry", headers=bearer(operator))
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("pending", "queued") and r.json()["reason"] in ("retry requested", None)
    set_record(ids[1], state="transferred")
    r = client.post(f"/v1/records/{ids[1]}/retry", headers=bearer(operator))
    assert r.status_code == 409 and "nothing to retry" in r.json()["detail"]
    assert client.post("/v1/records/424242/retry", headers=bearer(operator)).status_code == 404


def test_retry_matching_is_a_tracked_job(client, hub):
    operator, ids = _seed(client, 6)
    for i in ids[:4]:
        _fail(i, code="USER_ERROR" if i == ids[0] else "INVALID_CONTENT")
    set_record(ids[5], state="transferred")
    r = client.post(
        "/v1/records/retry",
        json={"state": "failed", "error_code": "INVALID_CONTENT"},
        headers=bearer(operator),
    )
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
    job = _wait_job(client, operator, r.json()["id"])
    assert job["state"] == "done" and job["total"] == 3 and job["done"] == 3
    assert job["result"]["retried"] == 3 and sum(job["result"]["now"].values()) == 3
    assert job["params"]["error_code"] == "INVALID_CONTENT"
    with session_scope(get_context().engine) as s:
        states = dict(s.execute(select(Record.id, Record.state).where(Record.id.in_(ids))).all())
    assert states[ids[0]] == "failed"  # other error code: untouched
    assert {states[i] for i in ids[1:4]} <= {"pending", "queued"}
    assert states[ids[5]] == "transferred"
    r = client.post("/v1/records/retry", json={"state": "sideways"}, headers=bearer(operator))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"
    r = client.post("/v1/records/retry", json={"colour": "red"}, headers=bearer(operator))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    assert client.get("/v1/jobs/987654", headers=bearer(operator)).status_code == 404


def test_status_counts(client, hub):
    operator, ids = _seed(client, 3)
    _fail(ids[0])
    counts = client.get("/v1/status", headers=bearer(operator)).json()
    assert counts["customer"]["failed"] == 1 and sum(counts["customer"].values()) == 3


# ---------------------------------------------------------------- integrations and governor


def test_integration_view_has_no_secrets_and_advises_scheduled_mode(client, netsuite):
    operator = key("operator")
    r = client.get("/v1/integrations/default", headers=bearer(operator))
    assert r.status_code == 200
    body = r.json()
    assert body["account_id"] == "TSTDRV1234567" and body["credentials"] == "from environment"
    assert body["config"]["gl"]["subscription_income"] == "5" and body["throttling"] is None
    s = netsuite.settings
    for secret in (
        s.netsuite_consumer_secret,
        s.netsuite_token_secret,
        s.netsuite_consumer_key,
        s.netsuite_token_id,
    ):
        assert secret.get_secret_value() not in r.text
    integ = netsuite.integration("default")
    ex = Exchange("PUT", "https://x/record/v1/customer/eid:a", None, 429, {"title": "Too Many Requests"})
    for _ in range(5):
        attempts.log_attempt(
            netsuite.engine, None, integ.id, integ.account_id, ex, "throttled", utcnow(), "w"
        )
    advice = client.get("/v1/integrations/default", headers=bearer(operator)).json()["throttling"]
    assert advice["recent_429"] == 5 and "scheduled mode" in advice["advice"]
    assert client.get("/v1/integrations", headers=bearer(operator)).json()[0]["throttling"] == advice
    assert client.get("/v1/integrations/nowhere", headers=bearer(operator)).status_code == 404


def test_put_integration_validates_in_netsuite_before_saving(client, netsuite):
    operator = key("operator")
    current = client.get("/v1/integrations/default", headers=bearer(operator)).json()["config"]
    bad = current | {"gl": current["gl"] | {"subscription_income": "14", "clearing": "999"}}
    r = client.put("/v1/integrations/default", json=bad, headers=bearer(operator))
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert "inactive" in errors["subscription_income"] and "does not exist" in errors["clearing"]
    saved = client.get("/v1/integrations/default", headers=bearer(operator)).json()["config"]
    assert saved["gl"]["subscription_income"] == "5"  # nothing saved

    r = client.put("/v1/integrations/default", json=current | {"colour": "red"}, headers=bearer(operator))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    r = client.put(
        "/v1/integrations/default", json=current | {"gl": {"clearing": "abc"}}, headers=bearer(operator)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gl.clearing"

    good = current | {"scheduled_mode": True, "gl": current["gl"] | {"subscription_income": "12"},
                      "category_overrides": {"Training": {"subscription_income": "16"}}}  # fmt: skip
    r = client.put("/v1/integrations/default", json=good, headers=bearer(operator))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["validation"]["valid"] is True and body["config"]["scheduled_mode"] is True
    assert body["config"]["category_overrides"]["Training"]["subscription_income"] == "16"
    assert body["config"]["validation"]["hash"] == body["validation"]["hash"]
    assert client.put("/v1/integrations/nowhere", json=good, headers=bearer(operator)).status_code == 404


def test_saving_a_fixed_mapping_wakes_waiting_records(client, netsuite):
    operator = key("operator")
    rec = _enqueue(client, operator, "customer", CUSTOMER).json()["records"][0]
    integ = netsuite.integration("default")
    set_record(rec["id"], state="waiting", waiting_on=[{"type": "mapping", "id": str(integ.id)}])
    current = client.get("/v1/integrations/default", headers=bearer(operator)).json()["config"]
    assert client.put("/v1/integrations/default", json=current, headers=bearer(operator)).status_code == 200
    with session_scope(netsuite.engine) as s:
        assert s.get(Record, rec["id"]).state in ("pending", "queued")


def test_validate_endpoint_checks_without_saving(client, netsuite):
    operator = key("operator")
    current = client.get("/v1/integrations/default", headers=bearer(operator)).json()["config"]
    r = client.post(
        "/v1/integrations/default/validate", json=current | {"gl": {"cogs": "5"}}, headers=bearer(operator)
    )
    assert r.status_code == 200
    body = r.json()
    assert (
        body["valid"] is False
        and body["errors"][0]["field"] == "cogs"
        and "type Income" in body["errors"][0]["reason"]
    )
    assert client.post("/v1/integrations/default/validate", headers=bearer(operator)).json()["valid"] is True
    calls = [a for a in _attempts(netsuite) if a.outcome == "validated"]
    assert len(calls) == 2  # each check is one governed SuiteQL call, in the attempt log


def test_discover_reads_the_account_profile_and_shows_it_with_its_age(client, netsuite):
    operator = key("operator")
    assert client.get("/v1/integrations/default", headers=bearer(operator)).json()["profile"] is None
    r = client.post("/v1/integrations/default/discover", headers=bearer(operator))
    assert r.status_code == 200, r.text
    read = r.json()
    assert read["currencies"]["USD"] == "1" and read["calls"] == len(
        [a for a in _attempts(netsuite) if a.outcome == "profile"]
    )
    assert read["account"]["problems"] == []  # the demo account has what the mapping needs
    shown = client.get("/v1/integrations/default", headers=bearer(operator)).json()["profile"]
    assert shown["read_at"] == read["read_at"] and shown["age_seconds"] >= 0
    checked = client.post("/v1/integrations/default/validate", headers=bearer(operator)).json()
    assert checked["account"] == read["account"]


def _attempts(ctx) -> list[Attempt]:
    with session_scope(ctx.engine) as s:
        return list(s.scalars(select(Attempt)))


def test_governor_state_per_account(client, netsuite):
    operator = key("operator")
    gov = netsuite.governor(netsuite.integration("default"))
    grant = gov.try_acquire()
    gov.pause(30, "NetSuite answered 429 (concurrency limit)")
    [account] = client.get("/v1/governor", headers=bearer(operator)).json()
    assert account["account_id"] == "TSTDRV1234567" and account["integrations"] == ["default"]
    assert account["in_flight"] == 1 and account["calls_in_window"] == 1
    assert account["tokens_available"] == 999 and account["concurrency"] == 5
    assert account["pause_reason"].startswith("NetSuite answered 429")
    until = dt.datetime.fromisoformat(account["paused_until"])
    assert 20 < (until - utcnow()).total_seconds() <= 31
    gov.release(grant.lease_id)


def test_verify_job_reports_missing_records(client, netsuite):
    operator = key("operator")
    rec = _enqueue(client, operator, "customer", CUSTOMER).json()["records"][0]
    set_record(rec["id"], state="transferred", ns_internal_id="77", ns_type="customer",
               external_id="nue-cust-C-1", transferred_at=utcnow())  # fmt: skip
    r = client.post("/v1/verify", json={"integration": "default"}, headers=bearer(operator))
    assert r.status_code == 202, r.text
    job = _wait_job(client, operator, r.json()["id"])
    assert job["state"] == "done", job
    assert job["result"]["checked"] == 1 and job["result"]["ok"] is False
    assert job["result"]["missing"][0]["external_id"] == "nue-cust-C-1"
    assert (
        client.post("/v1/verify", json={"integration": "nowhere"}, headers=bearer(operator)).status_code
        == 404
    )


# ---------------------------------------------------------------- operations


def test_health_and_docs(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    spec = client.get("/openapi.json").json()
    assert "/v1/records/{record_type}" in spec["paths"] and "/v1/governor" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_transfer_loop_helper_reaches_netsuite(client, netsuite):
    """The in-process transfer loop the other tests use really moves records into the sandbox."""
    operator = key("operator")
    rec = _enqueue(client, operator, "customer", CUSTOMER).json()["records"][0]
    transfer_all(netsuite)
    body = client.get(f"/v1/records/{rec['id']}", headers=bearer(operator)).json()
    assert body["state"] == "transferred" and body["netsuite"]["internal_id"]


def test_cli_apikey_and_api_server(api_env, tmp_path):
    """`nue-ns apikey create` makes a working key; `nue-ns api` serves with JSON logs."""
    runner = CliRunner()
    made = runner.invoke(cli, ["apikey", "create", "--role", "operator", "--name", "ops", "--json"])
    assert made.exit_code == 0, made.output
    api_key = json.loads(made.stdout)["key"]
    assert runner.invoke(cli, ["apikey", "create", "--role", "admin", "--name", "x"]).exit_code == 2
    listed = json.loads(runner.invoke(cli, ["apikey", "list", "--json"]).stdout)
    assert [(k["name"], k["role"]) for k in listed] == [("ops", "operator")] and "key" not in listed[0]

    port = free_port()
    env = os.environ | {"NUE_NS_STATE_DIR": str(tmp_path / "state")}
    server = Child("api", nue_ns_argv("api", "--port", str(port)), env, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/v1/status", headers=bearer(api_key), timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.alive, server.log_path.read_text()
                time.sleep(0.2)
        assert r.status_code == 200
    finally:
        server.stop()
    assert runner.invoke(cli, ["apikey", "revoke", str(listed[0]["id"])]).exit_code == 0
    assert runner.invoke(cli, ["apikey", "revoke", str(listed[0]["id"])]).exit_code == 2
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert any("Uvicorn running" in x["event"] or "Started server" in x["event"] for x in lines), lines


def test_inbound_events_listed_and_retried_through_the_api(client, hub):
    from nue_ns.context import get_context
    from nue_ns.hub.db import session_scope
    from nue_ns.hub.integrations import ensure_default
    from nue_ns.hub.models_inbound import InboundEvent

    ctx = get_context()
    integ = ensure_default(ctx.engine, ctx.settings)
    with session_scope(ctx.engine) as s:
        s.add(
            InboundEvent(
                integration_id=integ.id,
                kind="credit_memo_voided",
                ns_type="creditMemo",
                ns_internal_id="501",
                lastmodified=dt.datetime(2026, 1, 5, 10, 0),
                sequence=1,
                idempotency_key="k-1",
                content_hash="h",
                payload={"credit_memo_id": "CM-1"},
                state="failed",
                attempts=3,
                last_error="422 from the receiver",
            )
        )
    op = bearer(key("operator"))
    listed = client.get("/v1/inbound", params={"state": "failed"}, headers=op).json()["items"]
    assert [(e["kind"], e["state"]) for e in listed] == [("credit_memo_voided", "failed")]
    assert client.get("/v1/inbound", params={"state": "bogus"}, headers=op).status_code == 422
    assert client.get("/v1/inbound").status_code == 401
    assert client.get("/v1/inbound", headers=bearer(key("producer"))).status_code == 403
    retried = client.post("/v1/inbound/retry", json={"all_failed": True}, headers=op).json()["retried"]
    assert retried == [listed[0]["id"]]
    assert client.post("/v1/inbound/retry", json={}, headers=op).status_code == 422


def test_health_answers_while_producers_hold_every_hub_connection(client):
    """/health has a connection of its own: a burst of producers holding the whole main pool (as
    1,000 concurrent enqueues do; see bench/burst.py) does not make it wait."""
    engine = get_context().engine
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        started = time.monotonic()
        r = client.get("/health")
        assert r.status_code == 200 and r.json()["database"] == "ok"
        assert time.monotonic() - started < 1.0
    finally:
        for conn in held:
            conn.close()
