"""A misbehaving NetSuite, end to end through the sandbox's fault injection: error codes longer
than their column, NUL bytes and markup in the detail, bodies that are not JSON or are huge, and a
204 whose Location holds an unusable internal id. Each is stored safely (escaped, truncated with
the raw length noted), counted as an attempt, ends as needing a person after NUE_NS_MAX_ATTEMPTS
(or at once when it needs a person), and leaves no attempt row without an outcome."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from sqlalchemy import select

from nue_ns import sync
from nue_ns.config import reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.hub import attempts, dispatching, operators, sweeps, transfers
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, NetSuiteLink, Record, State, utcnow
from nue_ns.hub.models_inbound import InboundEvent
from nue_ns.producer import enqueue_many
from nue_ns.sandbox.malformed import HOSTILE_TEXT
from tests.api_support import set_record, transfer_all
from tests.bad_input_corpus import CUSTOMER

MAX_ATTEMPTS = 3


@pytest.fixture
def ns(netsuite, sandbox_base, monkeypatch):
    monkeypatch.setenv("NUE_NS_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    reset_settings()
    reset_context()
    yield get_context()
    requests.delete(f"{sandbox_base}/_sandbox/faults", timeout=10)


def _fault(base: str, kind: str) -> None:
    r = requests.post(f"{base}/_sandbox/faults", json={"kind": kind, "method": "PUT"}, timeout=10)
    assert r.status_code == 201, r.text


def _puts(base: str) -> int:
    log = requests.get(f"{base}/_sandbox/log", timeout=10).json()
    return sum(1 for c in log if c["method"] == "PUT")


def _send_until_settled(ctx, record_id: int, rounds: int = 10) -> Record:
    for _ in range(rounds):
        transfer_all(ctx)
        with session_scope(ctx.engine) as s:
            rec = s.get(Record, record_id)
            if rec.state in (State.FAILED, State.TRANSFERRED):
                return rec
        set_record(record_id, next_attempt_at=utcnow())  # skip the backoff
    raise AssertionError(f"record {record_id} still {rec.state} after {rounds} rounds: {rec.reason}")


def _attempts(ctx, record_id: int) -> list[Attempt]:
    """The record's own writes (the account profile's reads it triggered are logged with it too)."""
    with session_scope(ctx.engine) as s:
        q = select(Attempt).where(Attempt.record_id == record_id, Attempt.method == "PUT")
        return list(s.scalars(q.order_by(Attempt.id)))


def _no_nul(value) -> bool:
    return "\x00" not in repr(value).replace("\\\\x00", "")


# kind, attempts it takes, what the record keeps
CASES = [
    ("long_code", MAX_ATTEMPTS, "transient"),
    ("non_json", MAX_ATTEMPTS, "transient"),
    ("huge_body", MAX_ATTEMPTS, "transient"),
    ("nul_detail", 1, "needs_person"),
    ("long_internal_id", 1, "needs_person"),
    ("bad_location", 1, "needs_person"),
]


@pytest.mark.parametrize("kind,attempts,error_kind", CASES, ids=[c[0] for c in CASES])
def test_malformed_answer_is_stored_safely_counted_and_ends_needing_a_person(
    ns, sandbox_base, kind, attempts, error_kind
):
    _fault(sandbox_base, kind)
    (acc,) = enqueue_many("customer", [CUSTOMER], ctx=ns, dispatch_now=False)
    rec = _send_until_settled(ns, acc.id)
    assert rec.state == State.FAILED and rec.attempts == attempts, (rec.state, rec.attempts, rec.reason)
    assert rec.error_kind == error_kind and rec.display_state == "Not Transferred"
    assert _puts(sandbox_base) == attempts  # one NetSuite call per counted attempt, no loop
    assert len(rec.error_code or "") <= 64 and len(rec.error_detail or "") <= 4000
    assert all(_no_nul(v) for v in (rec.error_code, rec.error_detail, rec.error_path, rec.reason))
    rows = _attempts(ns, acc.id)
    assert len(rows) == attempts and all(a.outcome != "in_flight" for a in rows), [a.outcome for a in rows]
    for a in rows:
        assert (
            a.status is not None
            and a.response_body is not None
            or kind in ("long_internal_id", "bad_location")
        )
        assert len(str(a.response_body)) < 25_000 and len(a.detail or "") <= 4000
    if kind == "long_code":
        assert (
            rec.error_code.startswith("UNEXPECTED_ERROR_XXX")
            and "truncated: 317 characters" in rec.error_code
        )
    if kind == "huge_body":
        text = rows[0].response_body["text"]
        assert "truncated:" in text and "characters]" in text  # the raw length is noted
    if kind == "nul_detail":
        assert "\\x00" in rec.error_detail and "[/x]" in rec.error_detail and "\\x1b" in rec.error_detail
        assert rec.error_path.startswith("entity\\x00")
    if kind in ("long_internal_id", "bad_location"):
        assert rec.error_code == "MALFORMED_ANSWER" and rec.ns_internal_id is None
        assert "malformed answer" in rec.error_detail
        with session_scope(ns.engine) as s:
            assert s.scalar(select(NetSuiteLink).where(NetSuiteLink.record_id == acc.id)) is None
    # After the fault is gone, a retry by a person transfers it.
    requests.delete(f"{sandbox_base}/_sandbox/faults", timeout=10)
    operators.retry(ns.engine, [acc.id])
    assert _send_until_settled(ns, acc.id).state == State.TRANSFERRED


def test_an_error_on_our_side_is_counted_and_closes_its_attempt(ns, monkeypatch):
    """A failure after the call (here: storing the result) must not loop as 'internal error'."""

    def broken(*_a, **_k):
        raise RuntimeError("cannot store")

    monkeypatch.setattr(transfers, "complete_in", broken)
    (acc,) = enqueue_many("customer", [CUSTOMER], ctx=ns, dispatch_now=False)
    for _ in range(MAX_ATTEMPTS):
        dispatching.dispatch_candidates(ns.engine, window=10)
        sync.transfer(ns, acc.id)
        set_record(acc.id, next_attempt_at=utcnow())
    with session_scope(ns.engine) as s:
        rec = s.get(Record, acc.id)
    assert rec.state == State.FAILED and rec.attempts == MAX_ATTEMPTS, (rec.state, rec.reason)
    assert "internal error (RuntimeError)" in rec.reason
    assert all(a.outcome != "in_flight" for a in _attempts(ns, acc.id))


def test_a_lost_worker_closes_its_attempt_and_counts(ns):
    (acc,) = enqueue_many("customer", [CUSTOMER], ctx=ns, dispatch_now=False)
    dispatching.dispatch_candidates(ns.engine, window=10)
    rec = transfers.claim(ns.engine, acc.id, "w-lost", 60)
    attempts.start_attempt(
        ns.engine, rec.integration_id, "ACCT", "PUT", "https://x/r", {}, "w-lost", record_id=rec.id
    )
    for n in range(1, MAX_ATTEMPTS + 1):
        set_record(acc.id, lease_expires_at=utcnow())
        assert sweeps.recover_leases(ns.engine, MAX_ATTEMPTS) == [acc.id]
        with session_scope(ns.engine) as s:
            rec = s.get(Record, acc.id)
        assert rec.attempts == n and all(a.outcome == "lost" for a in _attempts(ns, acc.id))
        if rec.state == State.FAILED:
            break
        set_record(acc.id, state=State.IN_FLIGHT)
        attempts.start_attempt(
            ns.engine, rec.integration_id, "ACCT", "PUT", "https://x/r", {}, "w-lost", record_id=rec.id
        )
    assert rec.state == State.FAILED and rec.attempts == MAX_ATTEMPTS


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"COLUMNS": "400", "TERM": "xterm-256color"}
    return subprocess.run(
        [sys.executable, "-m", "nue_ns.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_prints_netsuite_and_webhook_text_verbatim_never_as_markup(ns, sandbox_base):
    """`[/x]` once crashed `hub list` (MarkupError), `[link=...]` became a terminal link and the
    "[field PATH]" of failed rows was swallowed as a markup tag."""
    _fault(sandbox_base, "nul_detail")
    (acc,) = enqueue_many("customer", [CUSTOMER], ctx=ns, dispatch_now=False)
    assert _send_until_settled(ns, acc.id).state == State.FAILED
    with session_scope(ns.engine) as s:
        s.add(
            InboundEvent(
                integration_id=s.scalar(select(Record.integration_id).where(Record.id == acc.id)),
                kind="payment_received",
                ns_type="customerPayment",
                ns_internal_id="7",
                lastmodified=utcnow().replace(tzinfo=None),
                sequence=1,
                idempotency_key="evt-markup",
                content_hash="0" * 64,
                payload={},
                state="failed",
                attempts=1,
                last_status=422,
                last_error=f"webhook answered 422: {HOSTILE_TEXT}",
            )
        )
    for args in (
        ("hub", "list"),
        ("hub", "list", "--state", "failed"),
        ("inbound", "list"),
        ("hub", "show", str(acc.id)),
    ):
        out = _cli(*args)
        assert out.returncode == 0, (args, out.stderr[-1500:])
        assert "[/x]" in out.stdout and "[link=http://evil.example]click[/link]" in out.stdout, (
            args,
            out.stdout,
        )
        assert "\x1b]8;" not in out.stdout and "\x1b[2J" not in out.stdout  # no terminal link, no escape run
    listed = _cli("hub", "list").stdout
    assert "[field entity\\x00[/x]" in listed  # the field at fault is shown
