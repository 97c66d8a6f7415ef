"""The use cases every entrypoint shares (nue_ns/services.py), over fakes: no server."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from nue_ns import cli, dispatch, services, sync, validation
from nue_ns.hub import dispatching, operators, prerequisites, sweeps, transfers
from nue_ns.refs import Ref


@pytest.fixture
def ctx():
    return SimpleNamespace(engine=object(), settings=SimpleNamespace(max_attempts=7))


@pytest.fixture
def calls(monkeypatch):
    """Record every hub verb and dispatch the services reach, answering like a hub would."""
    seen: list[tuple] = []

    def fake(name, answer):
        def f(*args, **kwargs):
            seen.append((name, args[1:], kwargs))
            return answer

        return f

    monkeypatch.setattr(operators, "retry", fake("retry", [11, 12]))
    monkeypatch.setattr(operators, "integrations_of", fake("integrations_of", [3]))
    monkeypatch.setattr(sweeps, "wake_settled", fake("wake_settled", 2))
    monkeypatch.setattr(sweeps, "recover_leases", fake("recover_leases", [5]))
    monkeypatch.setattr(dispatching, "release_batch", fake("release_batch", [3]))
    monkeypatch.setattr(dispatch, "dispatch", fake("dispatch", 1))
    monkeypatch.setattr(dispatch, "resend_stale", fake("resend_stale", 0))
    monkeypatch.setattr(dispatch, "dispatch_batches", fake("dispatch_batches", 0))
    return seen


def _names(seen):
    return [c[0] for c in seen]


def test_retry_dispatches_only_the_integrations_of_the_retried_records(ctx, calls):
    done = services.retry(ctx, [11, 12])
    assert done == services.Retried([11, 12], 1)
    assert [c for c in calls if c[0] == "dispatch"] == [("dispatch", (3,), {})]


def test_cli_retry_dispatches_the_records_own_integration_not_every_one(ctx, calls, monkeypatch):
    monkeypatch.setattr(cli, "_ctx", lambda: ctx)
    result = CliRunner().invoke(cli.app, ["hub", "retry", "11", "12"])
    assert result.exit_code == 0, result.output
    assert "2 record(s) set to retry; 1 dispatched now" in result.output
    assert [c for c in calls if c[0] == "dispatch"] == [("dispatch", (3,), {})]


def test_cli_sweep_does_what_beat_does_and_wakes_settled_waiters(ctx, calls, monkeypatch):
    monkeypatch.setattr(cli, "_ctx", lambda: ctx)
    result = CliRunner().invoke(cli.app, ["hub", "sweep", "--batch"])
    assert result.exit_code == 0, result.output
    assert "woke 2" in result.output
    assert {"release_batch", "recover_leases", "wake_settled", "resend_stale", "dispatch_batches"} <= set(
        _names(calls)
    )
    # Lease recovery counts lost calls against the same limit as beat's task does.
    assert ("recover_leases", (7,), {}) in calls


def test_beat_retry_sweep_is_the_same_service(ctx, calls, monkeypatch):
    from nue_ns import tasks

    @contextmanager
    def lock(_name, _ttl):
        yield True

    monkeypatch.setattr(tasks, "_sweep_lock", lock)
    monkeypatch.setattr(tasks, "get_context", lambda: ctx)
    assert tasks.retry_sweep() == {"woken": 2, "dispatched": 1, "resent": 0, "batch_tasks": 0}


def test_internal_requeue_keeps_the_attempts_never_the_operators_retry(ctx, monkeypatch):
    """A waiter re-checked after parking goes again through transfers.requeue, not operators.retry."""
    requeued: list[tuple] = []

    def no_retry(*_a, **_k):
        raise AssertionError("operators.retry is the operator's verb: it resets the attempts")

    monkeypatch.setattr(operators, "retry", no_retry)
    monkeypatch.setattr(
        transfers, "requeue", lambda _e, ids, reason: requeued.append((list(ids), reason)) or ids
    )
    rec = SimpleNamespace(id=9, integration_id=3)
    missing = [Ref("customer", "C1")]
    monkeypatch.setattr(prerequisites, "prerequisite_states", lambda *_a: {missing[0]: None})
    monkeypatch.setattr(prerequisites, "hurry", lambda *_a: 0)
    monkeypatch.setattr(transfers, "wait_all", lambda *_a: 1)  # parked, then re-checked
    monkeypatch.setattr(prerequisites, "resolve", lambda *_a: ({}, []))  # the customer landed meanwhile
    assert sync._wait(ctx, rec, missing) is sync.Outcome.WAITING

    ctx.integration = lambda _id: SimpleNamespace(settings={})
    monkeypatch.setattr(validation.accounts, "current_verdict", lambda _cfg: {"valid": True})
    validation._wait_for_mapping(ctx, rec, "the mapping names a missing account")
    assert [ids for ids, _ in requeued] == [[9], [9]]
    assert all(reason and reason != "retry requested" for _, reason in requeued)
