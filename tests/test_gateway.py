"""The gateway, the one place a governed NetSuite call is made, over fakes (no servers).

Before it, each of transfer, GL validation, inbound poll and audit wrote its own copy; only the
transfer logged the attempt before the call and held the slot after an unanswered call, and the
audit never paused the account on an auth failure. These tests pin the rules for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from nue_ns import audit, gateway, inbound, validation
from nue_ns.config import Settings
from nue_ns.governor import Denied, Grant
from nue_ns.hub import attempts, dispatching
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError


@dataclass
class FakeGovernor:
    deny: Denied | None = None
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def acquire(self, max_wait: float) -> Grant | Denied:
        if self.deny is not None:
            return self.deny
        self.events.append(("acquire",))
        return Grant(lease_id="L1", granted_at=0.0)

    def release(self, lease_id: str, hold: float = 0.0) -> None:
        self.events.append(("release", lease_id, hold))

    def pause(self, seconds: float, reason: str) -> None:
        self.events.append(("pause", seconds, reason))


class FakeClient:
    base_url = "https://1234567.suitetalk.api.netsuite.com/services/rest"

    def __init__(self, answer: Any):
        self.answer = answer

    def suiteql(self, query: str, limit: int = 1000, offset: int = 0):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer, Exchange("POST", self.base_url, {"q": query}, 200, self.answer, 5.0)


@pytest.fixture
def hub_calls(monkeypatch):
    """The hub calls the gateway makes, in order."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(attempts, "start_attempt", lambda *a, **k: calls.append(("start", a[3], a[4])) or 7)
    monkeypatch.setattr(
        attempts, "finish_attempt", lambda engine, attempt, ex, outcome, err=None, **k: calls.append(
            ("finish", attempt, outcome, ex.response_body if ex else None)
        )
    )  # fmt: skip
    monkeypatch.setattr(
        dispatching, "hold_dispatch", lambda engine, integ, secs: calls.append(("hold", integ, secs))
    )
    return calls


def _setup(answer: Any, deny: Denied | None = None):
    settings = Settings(NUE_NS_PAUSE_ON_429=30, NUE_NS_PAUSE_ON_AUTH=300, NETSUITE_TIMEOUT=60)
    ctx = SimpleNamespace(settings=settings, engine=None, worker_name="w1")
    governor = FakeGovernor(deny=deny)
    integration = SimpleNamespace(id=3, account_id="1234567", name="acme")
    conn = SimpleNamespace(
        integration=integration, client=FakeClient(answer), governor=governor, profile=None, bearer=None
    )
    return ctx, conn, governor


def test_the_attempt_is_logged_before_the_call_and_finished_after(hub_calls) -> None:
    ctx, conn, governor = _setup({"items": [{"id": "1"}], "count": 1})
    seen_at_call: list[int] = []
    original = conn.client.suiteql
    conn.client.suiteql = lambda *a, **k: (seen_at_call.append(len(hub_calls)), original(*a, **k))[1]
    page = gateway.suiteql(ctx, conn, "SELECT id FROM account", outcome="validated")
    assert page["count"] == 1
    assert seen_at_call == [1] and hub_calls[0][0] == "start" and hub_calls[0][1] == "POST"
    assert hub_calls[1] == ("finish", 7, "validated", {"items": [{"id": "1"}], "count": 1})
    assert governor.events == [("acquire",), ("release", "L1", 0.0)]


def test_an_answered_call_frees_its_token_before_the_hub_records_it(hub_calls, monkeypatch) -> None:
    """The call's rate window starts at its answer, not after the hub's transaction (which may
    wait for another worker's dispatch): a 5 per 2 s account turns over sooner."""
    ctx, conn, governor = _setup({"items": [], "count": 0})
    released_when_finished: list[bool] = []
    monkeypatch.setattr(
        attempts, "finish_attempt", lambda *a, **k: released_when_finished.append(
            ("release", "L1", 0.0) in governor.events
        )
    )  # fmt: skip
    gateway.suiteql(ctx, conn, "SELECT 1")
    assert released_when_finished == [True]


def test_rows_can_be_left_out_of_the_log() -> None:
    ex = Exchange("POST", "u", None, 200, {"items": [1, 2], "count": 2})
    assert gateway._logged(ex, keep_rows=False).response_body == {"count": 2}
    assert gateway._logged(ex, keep_rows=True) is ex


def test_an_unanswered_call_keeps_its_slot_one_timeout(hub_calls) -> None:
    ctx, conn, governor = _setup(NetSuiteError(Kind.TRANSIENT, "read timed out", status=None))
    with pytest.raises(NetSuiteError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert governor.events[-1] == ("release", "L1", 60.0)
    assert hub_calls[-1][:3] == ("finish", 7, "transient")


def test_an_answered_failure_frees_its_slot_at_once(hub_calls) -> None:
    ctx, conn, governor = _setup(NetSuiteError(Kind.TRANSIENT, "boom", status=500))
    with pytest.raises(NetSuiteError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert governor.events[-1] == ("release", "L1", 0.0)


@pytest.mark.parametrize(("kind", "status", "seconds"), [(Kind.THROTTLED, 429, 30), (Kind.AUTH, 401, 300)])
def test_429_and_auth_failures_pause_the_account_and_hold_dispatch(hub_calls, kind, status, seconds) -> None:
    ctx, conn, governor = _setup(NetSuiteError(kind, "no", status=status))
    with pytest.raises(NetSuiteError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert [e for e in governor.events if e[0] == "pause"][0][1] == seconds
    assert ("hold", 3, seconds) in hub_calls


def test_a_throttled_answer_pauses_for_its_retry_after_where_it_has_one(hub_calls) -> None:
    ctx, conn, governor = _setup(NetSuiteError(Kind.THROTTLED, "no", status=400, retry_after=7.0))
    with pytest.raises(NetSuiteError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert [e for e in governor.events if e[0] == "pause"][0][1] == 7.0 and ("hold", 3, 7.0) in hub_calls


def test_no_token_means_no_call_and_no_log(hub_calls) -> None:
    ctx, conn, governor = _setup({"items": []}, deny=Denied(retry_after=4.0, reason="rate"))
    with pytest.raises(gateway.NoCallSlot, match="rate"):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert hub_calls == [] and governor.events == []


def test_a_crash_in_the_call_still_releases_and_finishes_the_attempt(hub_calls) -> None:
    ctx, conn, governor = _setup(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert governor.events[-1][0] == "release" and hub_calls[-1][:3] == ("finish", 7, "error")


def test_the_audit_pauses_the_account_on_an_auth_failure(hub_calls) -> None:
    """The audit's own copy never did: its queries now go through the gateway."""
    ctx, conn, governor = _setup(NetSuiteError(Kind.AUTH, "Invalid login attempt.", status=401))
    with pytest.raises(audit.AuditError):
        audit._governed_query(ctx, conn, "SELECT id FROM transaction", timeout=5)
    assert any(e[0] == "pause" for e in governor.events)


def test_the_inbound_poll_and_validation_log_before_they_call(hub_calls) -> None:
    ctx, conn, _ = _setup({"items": [], "count": 0, "hasMore": False})
    inbound._Reader(ctx, conn).query("SELECT 1", limit=10)
    assert [h[0] for h in hub_calls] == ["start", "finish"]
    hub_calls.clear()
    ctx.connection = lambda integration_id: conn
    config = validation.IntegrationConfig.model_validate({"gl": {"clearing": "4"}})
    verdict = validation.check(ctx, 3, config, max_wait=0)
    assert [h[0] for h in hub_calls] == ["start", "finish"] and hub_calls[1][2] == "validated"
    assert verdict["valid"] is False  # NetSuite answered no such account


class FakeBearer:
    """The shared OAuth 2.0 token: `refusals` answers unauthorized() in turn (True: drop it, once)."""

    def __init__(self, refusals: list[bool], ensure_error: Exception | None = None):
        self.refusals = refusals
        self.keeper = SimpleNamespace(ensure=self._ensure)
        self.ensure_error = ensure_error
        self.ensured = 0

    def _ensure(self, wait: float) -> str:
        self.ensured += 1
        if self.ensure_error is not None:
            raise self.ensure_error
        return "token"

    def unauthorized(self) -> bool:
        return self.refusals.pop(0)


def test_a_refused_token_is_dropped_once_before_the_account_is_paused(hub_calls) -> None:
    login = NetSuiteError(Kind.AUTH, "Invalid login attempt.", status=401, code="INVALID_LOGIN")
    ctx, conn, governor = _setup(login)
    conn.bearer = FakeBearer([True, False])
    with pytest.raises(NetSuiteError) as first:
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert first.value.code == gateway.TOKEN_REFUSED and first.value.kind is Kind.TRANSIENT
    assert not any(e[0] == "pause" for e in governor.events)  # the token, not the account
    with pytest.raises(NetSuiteError) as second:
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert second.value.kind is Kind.AUTH
    pauses = [e for e in governor.events if e[0] == "pause"]
    assert len(pauses) == 1 and "Invalid login" in pauses[0][2]
    assert conn.bearer.ensured == 2  # the token is made sure of before each call's own slot


def test_a_refused_token_request_pauses_and_no_slot_means_no_call(hub_calls) -> None:
    from nue_ns.tokens import TokenSlotDenied

    refused = NetSuiteError(Kind.AUTH, "OAuth 2.0 token request rejected: invalid_client", status=401)
    ctx, conn, governor = _setup({"items": []})
    conn.bearer = FakeBearer([], ensure_error=refused)
    with pytest.raises(NetSuiteError):
        gateway.suiteql(ctx, conn, "SELECT 1")
    assert governor.events == [("pause", 300, "NetSuite refused the login: " + refused.detail)]
    assert hub_calls == [("hold", 3, 300)]  # no attempt: no record call was made
    conn.bearer = FakeBearer([], ensure_error=TokenSlotDenied(Denied(retry_after=4.0, reason="rate")))
    with pytest.raises(gateway.NoCallSlot):
        gateway.suiteql(ctx, conn, "SELECT 1")
