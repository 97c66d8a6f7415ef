"""What the modules outside hub/ do with the hub's answers, over fakes (no servers): since only hub/
opens sessions, each caller's own logic (sums, advice, principals, event payloads, the delivery
loop, a job's view) is driven here by replacing the one hub function it calls."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nue_ns import inbound, metrics, webhook
from nue_ns.api import common, jobs, keys
from nue_ns.config import Settings
from nue_ns.hub.models import Integration, utcnow
from nue_ns.hub.models_api import ApiKey, BulkJob, Role
from nue_ns.hub.models_inbound import EventState, InboundEvent
from nue_ns.hub.queries import MetricRows

ENGINE = object()  # what the callers hand to the hub; the fakes below never use it


def _samples(families) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_metrics_sum_the_attempt_log_into_transfers_errors_and_429s(monkeypatch):
    rows = MetricRows(
        records=[("default", "customer", "failed", 2)],
        attempts=[
            ("default", "transferred", "", 204, 3),
            ("default", "transient", "", 503, 1),
            ("default", "throttled", "", 429, 4),
            ("default", "queried", "", 200, 9),  # a successful read: neither a transfer nor an error
            ("default", "needs_person", "INVALID_FLD", 400, 1),
        ],
        oldest=[("default", 12.5)],
        governor_waits=[("default", 2)],
    )
    asked = []
    monkeypatch.setattr(metrics, "metric_rows", lambda engine, states: asked.append(states) or rows)
    monkeypatch.setattr("nue_ns.hub.batch_store.counts", lambda engine: {})
    m = _samples(metrics.HubCollector()._hub(SimpleNamespace(engine=ENGINE)))
    assert asked == [metrics.NOT_TRANSFERRED]
    default = (("integration", "default"),)
    assert m[("nue_ns_records", (*default, ("state", "failed"), ("type", "customer")))] == 2
    assert m[("nue_ns_transfers_total", default)] == 3
    assert m[("nue_ns_throttled_total", default)] == 4
    assert m[("nue_ns_oldest_not_transferred_seconds", default)] == 12.5
    assert m[("nue_ns_governor_waiting_records", default)] == 2
    errors = {k[1]: v for k, v in m.items() if k[0] == "nue_ns_errors_total"}
    assert errors == {
        (("error_code", ""), ("integration", "default"), ("outcome", "transient")): 1,
        (("error_code", ""), ("integration", "default"), ("outcome", "throttled")): 4,
        (("error_code", "INVALID_FLD"), ("integration", "default"), ("outcome", "needs_person")): 1,
    }


def test_throttling_advice_only_for_busy_real_time_integrations(monkeypatch):
    asked = []
    monkeypatch.setattr(
        common,
        "recent_status_counts",
        lambda engine, status, window: asked.append((status, window))
        or [("busy", {}, common.THROTTLE_THRESHOLD), ("quiet", {}, common.THROTTLE_THRESHOLD - 1),
            ("batched", {"scheduled_mode": True}, 50)],
    )  # fmt: skip
    advice = common.throttling(ENGINE)
    assert asked == [(429, common.THROTTLE_WINDOW)]
    assert list(advice) == ["busy"]
    assert advice["busy"]["recent_429"] == common.THROTTLE_THRESHOLD
    assert "scheduled mode" in advice["busy"]["advice"]


def test_a_key_is_looked_up_only_when_it_could_be_one_and_maps_to_its_principal(monkeypatch):
    looked_up = []
    row = ApiKey(id=4, name="billing", role="producer", integrations=["eu"])
    monkeypatch.setattr(keys.api_keys, "live_key", lambda engine, key: looked_up.append(key) or row)
    assert keys.authenticate(ENGINE, "") is None and keys.authenticate(ENGINE, "x" * 201) is None
    assert looked_up == []  # nothing that long or empty reaches the hub
    principal = keys.authenticate(ENGINE, "nns_abc")
    assert principal == keys.Principal(4, "billing", Role.PRODUCER, ("eu",))
    assert principal.serves("eu") and not principal.serves("us") and not principal.may(Role.OPERATOR)
    monkeypatch.setattr(keys.api_keys, "live_key_by_id", lambda engine, key_id: None)  # revoked
    assert keys.principal_of(ENGINE, 4) is None


def test_a_retry_job_shows_where_its_records_stand_now(monkeypatch):
    monkeypatch.setattr(
        jobs.bulk_jobs, "states_of", lambda engine, ids: {"transferred": len(ids) - 1, "failed": 1}
    )
    job = BulkJob(
        id=9, kind="retry", state="running", total=3, done=3, params={}, created_by="op",
        result={"retried": 2, "record_ids": [1, 2, 3]}, updated_at=utcnow() - jobs.STALLED_AFTER * 2,
    )  # fmt: skip
    view = jobs.job_view(ENGINE, job)
    assert view["state"] == "stalled"  # running, but silent for longer than a live job is
    assert view["result"] == {"retried": 2, "now": {"transferred": 2, "failed": 1}, "transferred": 2}


def _change(id_: int, kind: str = "CustPymt") -> inbound.Change:
    return inbound.Change.parse(
        {"id": str(id_), "type": kind, "lastmodified": "2026-01-02 03:04:05", "tranid": f"P{id_}"}
    )


def test_a_page_of_changes_becomes_events_and_echoes_are_only_counted(monkeypatch):
    recorded = []

    def record_page(engine, integration_id, new, last_key):
        recorded.append((integration_id, list(new), last_key))
        return len(new), 0

    monkeypatch.setattr(inbound.events, "record_page", record_page)
    integ = Integration(id=3, name="default", account_id="TSTDRV1")
    changes = [_change(5), _change(6), _change(7, "CustCred")]
    contents = {5: {"payment": {"amount": "10.00"}}, 6: None, 7: {"credit_memo": {"nue_id": "CM-1"}}}
    counts = inbound._record_page(SimpleNamespace(engine=ENGINE), integ, changes, contents, changes[-1].key)
    assert (counts.created, counts.echoes, counts.unchanged) == (2, 1, 0)
    ((integration_id, new, last_key),) = recorded
    assert integration_id == 3 and last_key == changes[-1].key  # the watermark passes the echo too
    payment, void = new
    assert payment.idempotency_key == inbound.idempotency_key(3, changes[0])
    assert payment.kind == "payment_received" and void.kind == "credit_memo_voided"
    assert payment.content_hash == inbound._hash(contents[5]) and payment.ns_internal_id == "5"
    assert payment.payload == {
        "event_id": payment.idempotency_key,
        "type": "payment_received",
        "integration": "default",
        "sequence": None,  # the hub numbers it when it inserts the event
        "netsuite": {"account_id": "TSTDRV1", "type": "customerPayment", "internal_id": "5",
                     "last_modified": "2026-01-02 03:04:05"},
        "payment": {"amount": "10.00"},
    }  # fmt: skip


def _event(id_: int) -> InboundEvent:
    return InboundEvent(id=id_, kind="payment_received", idempotency_key=f"evt-{id_}", payload={"n": id_},
                        attempts=0, state=EventState.PENDING.value)  # fmt: skip


def test_delivery_sends_each_due_event_once_to_its_integrations_url(monkeypatch):
    due = [
        (_event(1), Integration(settings={"webhook_url": "https://tenant.example/hooks"})),
        (_event(2), Integration(settings={})),
    ]
    sent = []

    def deliver_next(engine, tried, attempt):
        if not due:
            return None
        event, integ = due.pop(0)
        tried.append(event.id)
        return attempt(event, integ)

    def post(session, url, event, secret, timeout):
        sent.append((url, event.id, secret))
        return webhook._Answer(200, None) if event.id == 1 else webhook._Answer(503, "webhook answered 503")

    monkeypatch.setattr(webhook.events, "deliver_next", deliver_next)
    monkeypatch.setattr(webhook, "_post", post)
    settings = Settings(NUE_NS_WEBHOOK_URL="https://nue.example/hooks", NUE_NS_WEBHOOK_SECRET="s3cret")
    delivered, retried = due[0][0], due[1][0]
    report = webhook.deliver_due(SimpleNamespace(engine=ENGINE, settings=settings))
    assert report.as_json() == {"delivered": 1, "retrying": 1, "failed": 0, "not_configured": 0}
    assert sent == [("https://tenant.example/hooks", 1, "s3cret"), ("https://nue.example/hooks", 2, "s3cret")]
    assert delivered.state == EventState.DELIVERED and delivered.attempts == 1
    assert (
        retried.state == EventState.PENDING
        and retried.last_status == 503
        and "retrying in" in retried.last_error
    )


def test_delivery_without_a_secret_sends_nothing_and_says_what_is_missing(monkeypatch):
    event = _event(1)
    due = [(event, Integration(settings={}))]
    monkeypatch.setattr(
        webhook.events, "deliver_next", lambda engine, tried, attempt: attempt(*due.pop()) if due else None
    )
    monkeypatch.setattr(webhook, "_post", pytest.fail)
    settings = Settings(NUE_NS_WEBHOOK_URL="https://nue.example/hooks", NUE_NS_WEBHOOK_SECRET=None)
    report = webhook.deliver_due(SimpleNamespace(engine=ENGINE, settings=settings))
    assert report.not_configured == 1 and event.attempts == 0
    assert event.last_error == "not sent: no NUE_NS_WEBHOOK_SECRET configured"


def test_a_worker_refuses_a_pool_smaller_than_its_threads_need(monkeypatch) -> None:
    """Each thread keeps a hub connection and may need a second: a smaller pool would stall."""
    from typer.testing import CliRunner

    from nue_ns import cli
    from nue_ns.config import reset_settings

    monkeypatch.setenv("NUE_NS_DB_POOL_SIZE", "24")
    reset_settings()
    monkeypatch.setattr(cli, "_ctx", lambda: (_ for _ in ()).throw(AssertionError("no server")))
    result = CliRunner().invoke(cli.app, ["worker", "--concurrency", "64"])
    reset_settings()
    assert result.exit_code == 2
    assert "NUE_NS_DB_POOL_SIZE=24 is below the worker's threads + 2 (66)" in result.output
