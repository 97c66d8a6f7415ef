"""/metrics computed at scrape time from the hub, the attempt log and Redis; JSON logs carrying the
hub id and integration on every line written during a transfer."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
import requests
import structlog
from prometheus_client.parser import text_string_to_metric_families

from nue_ns import sync
from nue_ns.config import reset_settings
from nue_ns.context import reset_context
from nue_ns.hub import attempts, dispatching
from nue_ns.hub.models import utcnow
from nue_ns.logging import bound, configure
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.producer import enqueue_many
from tests.api_support import ACCOUNT, set_record


def _scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _attempt(ctx, integ, status: int | None, outcome: str, code: str | None) -> None:
    ex = Exchange("PUT", "https://x/record/v1/customer/eid:a", {}, status, None)
    err = NetSuiteError(Kind.NEEDS_PERSON, "x", status, code) if code else None
    attempts.log_attempt(ctx.engine, None, integ.id, integ.account_id, ex, outcome, utcnow(), "w", err)


@pytest.fixture
def customers(hub):
    """Six customers enqueued (not dispatched) on the shared hub: (context, their ids)."""
    customers = [{"id": f"C-{i}", "name": f"Customer {i}"} for i in range(6)]
    ids = [a.id for a in enqueue_many("customer", customers, ctx=hub, dispatch_now=False)]
    return hub, ids


def test_metrics_from_hub_attempt_log_and_redis(client, customers):
    ctx, ids = customers
    integ = ctx.integration("default")
    gov = ctx.governor(integ)  # before the attempts below, which it would count as calls
    gov.try_acquire()
    gov.pause(60, "NetSuite answered 429 (concurrency limit)")
    ctx.redis.rpush("nue_ns", "t1", "t2", "t3")
    set_record(ids[0], state="transferred")
    set_record(ids[1], state="failed", error_code="INVALID_CONTENT")
    set_record(ids[2], state="pending", reason="waiting for a NetSuite call slot (rate)")
    set_record(ids[3], created_at=utcnow() - dt.timedelta(hours=1))  # the oldest Not Transferred
    for status, outcome, code in [
        (204, "transferred", None), (204, "transferred", None), (400, "needs_person", "INVALID_CONTENT"),
        (429, "throttled", "USER_ERROR"), (429, "throttled", "USER_ERROR"), (429, "throttled", "USER_ERROR"),
        (200, "audit", None), (200, "queried", None), (200, "queried", None), (200, "validated", None),
        (None, "in_flight", None), (None, "lost", None),
    ]:  # fmt: skip
        _attempt(ctx, integ, status, outcome, code)

    m = _scrape(client)
    default = (("integration", "default"),)

    def records(state: str) -> float:
        return m[("nue_ns_records", (("integration", "default"), ("state", state), ("type", "customer")))]

    assert (records("pending"), records("failed"), records("transferred")) == (4, 1, 1)
    assert m[("nue_ns_transfers_total", default)] == 2

    def errors(code: str, outcome: str) -> float:
        labels = (("error_code", code), ("integration", "default"), ("outcome", outcome))
        return m[("nue_ns_errors_total", labels)]

    assert errors("INVALID_CONTENT", "needs_person") == 1 and errors("USER_ERROR", "throttled") == 3
    assert errors("", "lost") == 1
    # Successful SuiteQL polls, validations, audits and calls in flight are no errors.
    assert {labels for (name, labels) in m if name == "nue_ns_errors_total"} == {
        (("error_code", c), ("integration", "default"), ("outcome", o))
        for c, o in [("INVALID_CONTENT", "needs_person"), ("USER_ERROR", "throttled"), ("", "lost")]
    }
    assert m[("nue_ns_throttled_total", default)] == 3
    assert 3590 < m[("nue_ns_oldest_not_transferred_seconds", default)] < 3700
    assert m[("nue_ns_governor_waiting_records", default)] == 1
    assert m[("nue_ns_queue_depth", (("queue", "nue_ns"),))] == 3
    assert m[("nue_ns_queue_depth", (("queue", "nue_ns.sweeps"),))] == 0
    account = (("account", "TSTDRV1"),)
    assert m[("nue_ns_governor_paused", account)] == 1
    assert 50 < m[("nue_ns_governor_pause_seconds", account)] <= 60
    assert m[("nue_ns_governor_in_flight", account)] == 1
    assert m[("nue_ns_governor_tokens_available", account)] == 4  # 5/60s, one taken
    assert m[("nue_ns_metrics_source_up", (("source", "hub"),))] == 1
    assert m[("nue_ns_metrics_source_up", (("source", "redis"),))] == 1


def test_metrics_answer_when_redis_is_down(client, customers, monkeypatch):
    monkeypatch.setenv("NUE_NS_REDIS_URL", "redis://127.0.0.1:1/0")
    reset_settings()
    reset_context()
    m = _scrape(client)
    assert m[("nue_ns_metrics_source_up", (("source", "redis"),))] == 0
    assert m[("nue_ns_metrics_source_up", (("source", "hub"),))] == 1
    assert sum(v for (name, _), v in m.items() if name == "nue_ns_records") == 6


@pytest.fixture
def json_logs():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure("INFO", stream=stream)
    yield stream
    root.handlers, root.level = saved[0], saved[1]
    structlog.reset_defaults()


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_log_line_of_a_transfer_names_the_record_and_integration(netsuite, sandbox_base, json_logs):
    [accepted] = enqueue_many("customer", [{"id": "C-1", "name": "Acme"}], ctx=netsuite, dispatch_now=False)
    fault = {"kind": "invalid_login", "account": ACCOUNT, "count": 1}
    requests.post(f"{sandbox_base}/_sandbox/faults", json=fault, timeout=10).raise_for_status()
    dispatching.dispatch_candidates(netsuite.engine)
    logging.getLogger("outside").info("before the transfer")
    assert sync.transfer(netsuite, accepted.id)[0] == sync.Outcome.DEFERRED
    logging.getLogger("outside").info("after the transfer")

    lines = _lines(json_logs)
    during = [x for x in lines if x["event"] not in ("before the transfer", "after the transfer")]
    assert during, lines
    auth = [x for x in during if "authentication failed" in x["event"]]
    assert auth and auth[0]["level"] == "error" and auth[0]["logger"] == "nue_ns.sync"
    integ_id = netsuite.integration("default").id
    assert all(x["record_id"] == accepted.id and x["integration_id"] == integ_id for x in during)
    assert all("record_id" not in x for x in lines if x not in during)
    assert all("timestamp" in x for x in lines)


def test_log_lines_mask_secret_looking_fields(json_logs):
    with bound(record_id=7):
        logging.getLogger("t").info("calling", extra={"token_secret": "s3cr3t", "consumer_key": "k"})
        structlog.get_logger("t").info("signed", authorization="OAuth abc", account="TSTDRV1")
    first, second = _lines(json_logs)
    assert first["token_secret"] == "***" and first["record_id"] == 7 and first["consumer_key"] == "k"
    assert second["authorization"] == "***" and second["account"] == "TSTDRV1"
    assert "s3cr3t" not in json_logs.getvalue() and "OAuth abc" not in json_logs.getvalue()
