"""The hub functions that took over the SQL of the modules outside hub/, on real PostgreSQL: inbound
events (numbering, stale changes, per-record delivery order), API keys and ended UI sessions, a
verdict on changed settings, what a bulk retry touches."""

from __future__ import annotations

import datetime as dt

import pytest

from nue_ns.hub import api_keys, bulk_jobs, events
from nue_ns.hub.integrations import save_validation
from nue_ns.hub.models import State
from nue_ns.hub.models_inbound import EventState
from nue_ns.hub.queries import Filter
from nue_ns.producer import enqueue_many
from tests.api_support import set_record

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def _new(internal_id: str, minutes: int, content_hash: str) -> events.NewEvent:
    at = T0 + dt.timedelta(minutes=minutes)
    key = f"k-{internal_id}-{minutes}-{content_hash}"
    payload = {"event_id": key, "sequence": None, "payment": {"hash": content_hash}}
    return events.NewEvent("payment_received", "customerPayment", internal_id, at, key, content_hash, payload)


def _sequences(engine, internal_id: str) -> list[int]:
    return [e.payload["sequence"] for e in events.list_events(engine, ns_internal_id=internal_id)]


def test_events_are_numbered_per_record_and_stale_or_unchanged_changes_are_skipped(hub):
    engine, integ = hub.engine, hub.integration("default")
    assert events.watermark(engine, integ.id, T0) == (T0, 0)
    assert events.watermark(engine, integ.id, T0 + dt.timedelta(days=1)) == (T0, 0)  # made once

    assert events.record_page(engine, integ.id, [_new("5", 1, "a"), _new("6", 1, "a")], (T0, 9)) == (2, 0)
    page = [_new("5", 2, "a"), _new("5", 3, "b"), _new("5", 0, "c")]  # same content, new, stale
    assert events.record_page(engine, integ.id, page, (T0, 3)) == (1, 2)
    assert _sequences(engine, "5") == [1, 2] and _sequences(engine, "6") == [1]
    assert events.watermark(engine, integ.id, T0) == (T0, 9)  # never moved backwards
    assert events.known_keys(engine, ["k-5-3-b", "k-7-1-a"]) == {"k-5-3-b"}


def test_an_event_is_offered_only_when_its_records_earlier_events_are_delivered(hub):
    engine, integ = hub.engine, hub.integration("default")
    events.watermark(engine, integ.id, T0)
    events.record_page(engine, integ.id, [_new("5", 1, "a"), _new("5", 2, "b"), _new("6", 1, "a")], (T0, 1))
    first, second, other = (e.id for e in events.list_events(engine))
    seen = []

    def look(event, integration):
        seen.append((event.id, integration.id))
        return "looked"

    tried: list[int] = []
    while events.deliver_next(engine, tried, look) is not None:
        pass
    assert seen == [(first, integ.id), (other, integ.id)] and tried == [first, other]

    def deliver(event, integration):
        event.state = EventState.DELIVERED.value
        return "delivered"

    assert events.deliver_next(engine, [other], deliver) == "delivered"  # commits with the lock
    tried = [other]
    assert events.deliver_next(engine, tried, look) == "looked" and tried == [other, second]

    assert events.retry_events(engine, [first, second]) == [second]  # a delivered event stays delivered
    with pytest.raises(ValueError, match="give event ids"):
        events.retry_events(engine)


def test_keys_are_kept_hashed_and_a_revoked_key_or_ended_session_is_refused(hub):
    key, row = api_keys.create_key(hub.engine, "billing", "producer", ["eu", " eu", ""])
    assert (
        key.startswith(api_keys.PREFIX) and row.key_hash == api_keys.digest(key) and key not in row.key_hash
    )
    assert row.integrations == ["eu"]
    found = api_keys.live_key(hub.engine, key)
    assert found.id == row.id and found.last_used_at is not None
    assert api_keys.live_key(hub.engine, key + "x") is None
    assert api_keys.revoke(hub.engine, row.id) and not api_keys.revoke(hub.engine, row.id)
    assert api_keys.live_key(hub.engine, key) is None and api_keys.live_key_by_id(hub.engine, row.id) is None

    api_keys.end_ui_session(hub.engine, "sid-1", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert api_keys.ui_session_ended(hub.engine, "sid-1") and not api_keys.ui_session_ended(
        hub.engine, "sid-2"
    )


def test_a_verdict_on_settings_changed_since_is_dropped(hub):
    integ = hub.integration("default")
    verdict = {"valid": True, "problems": []}
    assert save_validation(hub.engine, integ.id, integ.settings, verdict)
    judged = hub.integration("default").settings
    assert judged["validation"] == verdict
    assert save_validation(hub.engine, integ.id, judged, verdict | {"valid": False})  # only the verdict moved
    assert not save_validation(hub.engine, integ.id, judged | {"gl": {"x": "1"}}, verdict)


def test_a_bulk_retry_touches_only_the_records_that_can_be_retried(hub):
    customers = [{"id": f"C-{i}", "name": f"Customer {i}"} for i in range(3)]
    ids = [a.id for a in enqueue_many("customer", customers, ctx=hub, dispatch_now=False)]
    set_record(ids[0], state=State.TRANSFERRED)
    set_record(ids[1], state=State.FAILED)
    assert bulk_jobs.retryable_ids(hub.engine, Filter()) == ids[1:]
    assert bulk_jobs.retryable_ids(hub.engine, Filter(state="failed")) == [ids[1]]
    assert bulk_jobs.states_of(hub.engine, ids) == {"transferred": 1, "failed": 1, "pending": 1}
