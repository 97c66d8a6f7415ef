"""Transfer one hub record: claim → prerequisites → map → govern → call → record the outcome.

Every branch ends with the record in a definite hub state; nothing here sleeps longer than the
governor's brief wait, so a worker slot is never tied up by one account's limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import psycopg

from nue_ns import currencies, dispatch, gateway, linking, mapping, profile, records, validation, waiting
from nue_ns.context import Connection, Context
from nue_ns.hub import dispatching, links, prerequisites, transfers
from nue_ns.hub.engines import Hub, autocommitted, checkout, drop_kept, kept_connection, transaction
from nue_ns.hub.models import Record, State
from nue_ns.logging import bound
from nue_ns.netsuite import periods
from nue_ns.netsuite.client import WriteResult
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError, customer_id_taken
from nue_ns.refs import Ref

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SKIPPED = "skipped"  # someone else has it, or it is done
    TRANSFERRED = "transferred"
    WAITING = "waiting"
    DEFERRED = "deferred"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass
class _Claimed:
    """What the claiming transaction read: the record, its integration, its prerequisites' links."""

    rec: Record
    conn: Connection
    contract: records._Record | None  # None: the payload no longer validates (`invalid` says why)
    invalid: str = ""
    resolved: dict[Ref, str] = field(default_factory=dict)
    missing: list[Ref] = field(default_factory=list)
    linked: dict[Ref, tuple[str, str]] = field(default_factory=dict)  # incl. the record's own link


def transfer(ctx: Context, record_id: int) -> tuple[Outcome, int | None]:
    """Returns the outcome and the record's integration (None when it was not ours to send).

    On one connection: the claim, the prerequisites' links and the attempt logged before the call,
    each a statement autocommitted on its own; then one transaction finishing the attempt with the
    outcome, the links and the waiters woken. A worker's task runs `carry_on`, which also refills
    the integration's window."""
    return _transfer_one(ctx, record_id, None)


def carry_on(
    ctx: Context, record_id: int, seconds: float, stopping: Callable[[], bool] = lambda: False
) -> list[Outcome]:
    """A worker's task: the record, then, for up to `seconds`, the first record each refill makes
    due for its integration, on this thread; the others go to Redis as tasks.

    A record carried on to skips a Redis round trip (a publish, a delivery, an acknowledgement:
    about 1.3 ms of a worker's CPU, docs/BENCHMARKS.md). It is QUEUED in the hub, committed with
    the refill, like any other: if this worker dies before claiming it, the retry sweep sends it
    again (stale_queued). The refill is token-capped (counting tokens that free within
    NUE_NS_GOVERNOR_MAX_WAIT), so a record carried on to waits at most that for its call, as it
    would on any thread; `stopping`: the worker is shutting down, carry on no further."""
    deadline = time.monotonic() + seconds
    outcomes: list[Outcome] = []
    while True:
        refilled: list[int] = []
        outcome, integration_id = _transfer_one(ctx, record_id, refilled)
        outcomes.append(outcome)
        if not refilled or time.monotonic() >= deadline or stopping():
            _hand_out(ctx, outcome, integration_id, refilled)
            return outcomes
        record_id = refilled.pop(0)
        if refilled:
            dispatch.send(refilled)


def _hand_out(ctx: Context, outcome: Outcome, integration_id: int | None, refilled: list[int] | None) -> None:
    """After a worker's transfer: the records its refill made due to Redis; or, when it did not
    transfer (no refill ran), a dispatch that keeps its integration's window full."""
    if refilled:
        dispatch.send(refilled)
    elif refilled is not None and integration_id is not None and outcome is not Outcome.TRANSFERRED:
        dispatch.dispatch(ctx, integration_id)


def _transfer_one(ctx: Context, record_id: int, refilled: list[int] | None) -> tuple[Outcome, int | None]:
    # The worker thread keeps its hub connection from record to record (no checkout, no ping);
    # one that died meanwhile (PostgreSQL restarted) fails the claim, and the claim is tried
    # once more on a fresh connection.
    reused = kept_connection(ctx.engine)
    try:
        return _on(ctx, record_id, refilled)
    except _DeadConnection as dead:
        drop_kept()
        if not reused:
            raise dead.__cause__ from None  # type: ignore[misc]
        return _on(ctx, record_id, refilled)


class _DeadConnection(Exception):
    """The claim failed on a connection that had died."""


def _on(ctx: Context, record_id: int, refilled: list[int] | None) -> tuple[Outcome, int | None]:
    with checkout(ctx.engine, keep=True) as hub:
        try:
            with autocommitted(hub) as cur:  # each statement its own transaction: no BEGIN, no COMMIT
                claimed = transfers.claim_in(cur, record_id, ctx.worker_name, ctx.settings.lease_seconds)
                if claimed is None:
                    return Outcome.SKIPPED, None
                rec = claimed.record
                try:
                    read: _Claimed | Exception = _read(ctx, cur, claimed)
                except Exception as exc:  # handled below, outside the claim's statements
                    read = exc
        except psycopg.OperationalError as exc:
            raise _DeadConnection() from exc
        with bound(record_id=rec.id, integration_id=rec.integration_id):  # on every log line of the transfer
            try:
                if isinstance(read, Exception):
                    raise read
                outcome = _transfer(ctx, hub, read, refilled)
            except Exception as exc:  # a bug or an outage of the hub/Redis: never leave the record in flight
                log.exception("transfer of record %s failed unexpectedly", rec.id)
                try:  # counted: a fault that recurs ends as needing a person, never loops
                    reason = f"internal error ({type(exc).__name__})"
                    transfers.abandon(ctx.engine, rec.id, reason, max_attempts=ctx.settings.max_attempts)
                except Exception:
                    log.exception("could not hand record %s back; lease recovery will", rec.id)
                outcome = Outcome.DEFERRED
    return outcome, rec.integration_id


def _read(ctx: Context, cur: Any, claimed: transfers.Claimed) -> _Claimed:
    """Right after the claim: the integration (cached, checked against the row's updated_at the
    claim read), the contract, and the links of its prerequisites and its own."""
    rec = claimed.record
    conn = ctx.connection(rec.integration_id, claimed.integration_updated_at)
    try:
        contract = records.validate(rec.record_type, rec.payload)
    except records.InvalidRecord as exc:  # cannot happen for rows the hub accepted, unless rules tightened
        return _Claimed(rec, conn, None, str(exc))
    needed = mapping.requirements(rec.record_type, contract)
    linked = prerequisites.links_in(cur, rec.integration_id, [*needed, Ref(rec.record_type, rec.nue_id)])
    resolved = {ref: linked[ref][0] for ref in needed if ref in linked}
    missing = [ref for ref in needed if ref not in linked]
    return _Claimed(rec, conn, contract, "", resolved, missing, linked)


def _transfer(ctx: Context, hub: Hub, claimed: _Claimed, refilled: list[int] | None) -> Outcome:
    rec, conn, contract = claimed.rec, claimed.conn, claimed.contract
    if not conn.integration.enabled:  # dispatch skips it; this one was queued before it was disabled
        reason = f"integration {conn.integration.name!r} is disabled: the record stays until it is enabled"
        transfers.defer(hub, rec.id, 0.0, reason)
        return Outcome.DEFERRED
    if contract is None:
        transfers.fail(hub, rec, claimed.invalid)
        return Outcome.FAILED
    resolved = claimed.resolved
    if claimed.missing:
        return _wait(ctx, rec, claimed.missing)

    try:
        held = profile.gate(ctx, conn, rec)  # the account's schema and facts, read once
    except NetSuiteError as err:
        return _failed(ctx, rec, err)
    if held is not None:
        return Outcome(held)
    if conn.profile is None:  # just read: take the integration as it is now
        conn = ctx.connection(rec.integration_id)

    held = validation.gate(ctx, conn, rec)  # GL accounts checked against NetSuite, and valid
    if held is not None:
        return Outcome(held)

    try:
        request = mapping.build(rec.record_type, contract, conn.config, resolved, conn.profile)
    except mapping.MappingIncomplete as exc:
        transfers.wait_for(
            ctx.engine,
            rec,
            [Ref("mapping", str(rec.integration_id))],
            f"waiting for the integration mapping: {exc}",
        )
        return Outcome.WAITING

    def upsert() -> tuple[WriteResult, Exchange]:
        result = conn.client.upsert(
            request.ns_type, request.external_id, request.body, replace=request.replace
        )
        return result, result.exchange

    def put() -> None:
        url = f"{conn.client.base_url}/record/v1/{request.ns_type}/eid:{request.external_id}"
        gateway.call(
            ctx, conn, "PUT", url, request.body, upsert, outcome="transferred", record=rec, hub=hub,
            settle=lambda cur, result: settle(cur, result.internal_id),
        )  # fmt: skip

    def settle(cur: Any, internal_id: str) -> None:
        """The outcome, in the transaction that finishes the call's attempt."""
        if step.needs_person:  # the header went; the lines NetSuite keeps as billed did not
            lines = ", ".join(step.needs_person)
            transfers.fail_in(cur, rec, f"{request.ns_type} lines are linked in NetSuite, only its header "
                              f"was updated; change these in NetSuite by hand: {lines}")  # fmt: skip
        else:
            also = currencies.listed(rec, contract)  # a customer's currencies are on it now
            transfers.complete_in(cur, rec, request.ns_type, request.external_id, internal_id, also)
        if refilled is not None:
            window = ctx.settings.dispatch_window or None
            got = dispatching.refill(cur, rec.integration_id, window, conn.integration.rate_limit,
                                     ahead=ctx.settings.governor_max_wait, wait=True)  # fmt: skip
            refilled.extend(got.ids)

    try:
        # Linked documents: made by a transform, or only what may change re-sent (linking.py).
        step = linking.plan(ctx, conn, rec, contract, request, linked=claimed.linked)
        if step.transform is not None:
            internal_id = linking.transform(ctx, conn, rec, step, contract, resolved)
            with transaction(hub) as cur:
                settle(cur, internal_id)
        else:
            request = step.request
            try:
                put()
            except NetSuiteError as err:
                if not (isinstance(contract, records.Customer) and customer_id_taken(err)):
                    raise
                # The account does not number customers and another customer has this name as its
                # Customer ID: once more under a unique one (mapping/customer.py with_customer_id).
                request = mapping.with_customer_id(request, contract)
                put()
    except linking.LinkRefused as exc:
        transfers.fail(hub, rec, str(exc))
        return Outcome.FAILED
    except gateway.NoCallSlot as exc:
        # Back shortly before the token frees: the next worker's brief wait covers the rest.
        due = max(0.0, exc.denied.retry_after - ctx.settings.governor_max_wait)
        if exc.denied.reason != "concurrency":
            dispatching.hold_dispatch(hub, rec.integration_id, due)
        transfers.defer(hub, rec.id, due, f"waiting for a NetSuite call slot ({exc.denied.reason})")
        return Outcome.DEFERRED
    except NetSuiteError as err:
        unknown = profile.unknown_field(err)  # the account changed since its profile was read
        if unknown is not None and profile.refresh_once(ctx, conn, rec, unknown):
            return Outcome.DEFERRED
        return refused(ctx, rec, err)
    return Outcome.FAILED if step.needs_person else Outcome.TRANSFERRED


def _wait(ctx: Context, rec: Record, missing: list[Ref]) -> Outcome:
    """Name exactly what is missing, and push the hub's own copies of it to the front."""
    waiting.park(ctx, rec.integration_id, [(rec, missing)])
    return Outcome.WAITING


def _failed(ctx: Context, rec: Record, err: NetSuiteError) -> Outcome:
    """The record's side of a failed call (the gateway already paused the account where due)."""
    s = ctx.settings
    if err.code == gateway.TOKEN_REFUSED:  # the shared token was dropped: again at once, with a new one
        transfers.defer(ctx.engine, rec.id, 0.0, str(err))
        return Outcome.DEFERRED
    if err.kind is Kind.THROTTLED:
        transfers.defer(ctx.engine, rec.id, s.pause_on_429, f"NetSuite throttled the account: {err}")
        return Outcome.DEFERRED
    if err.kind is Kind.AUTH:  # no record is at fault: keep it as it was
        log.error("integration %s: NetSuite authentication failed; account paused", rec.integration_id)
        transfers.defer(
            ctx.engine, rec.id, s.pause_on_auth, f"account paused, NetSuite refused the login: {err}"
        )
        return Outcome.DEFERRED
    if err.kind is Kind.TRANSIENT:
        state = transfers.retry_later(
            ctx.engine, rec, err, max_attempts=s.max_attempts, base=s.backoff_base, cap=s.backoff_max
        )
        return Outcome.FAILED if state == State.FAILED else Outcome.RETRYING
    transfers.fail(ctx.engine, rec, err)
    return Outcome.FAILED


def refused(ctx: Context, rec: Record, err: NetSuiteError) -> Outcome:
    """A record NetSuite refused, one by one or in a batch: its outcome by the error's class, the
    reason saying what a customer's refusal means and what a person can do."""
    return _failed(ctx, rec, _explained(ctx, rec, err))


def _explained(ctx: Context, rec: Record, err: NetSuiteError) -> NetSuiteError:
    """NetSuite's refusal of a record, with what it means and what a person can do: a document's date
    where its accounting period is shut (netsuite/periods.py), a customer's ID or primary fields."""
    if periods.refused(err):
        return periods.dated(err, rec.payload.get(f"{rec.record_type}_date"))
    if rec.record_type != "customer" or err.kind is not Kind.NEEDS_PERSON:
        return err
    customer = records.validate("customer", rec.payload)
    assert isinstance(customer, records.Customer)
    if customer_id_taken(err):
        why = (
            f"NetSuite takes a customer's name as its Customer ID in this account, another customer has "
            f"the name {mapping.customer_name(customer)!r}, and one has the Customer ID nue-ns then sent, "
            f"{mapping.unique_customer_id(customer)!r}: change that customer's ID in NetSuite, or turn on "
            "Auto-Generated Numbers for customers (Setup > Company > Auto-Generated Numbers, Entities), "
            "then retry this record"
        )
        return replace(err, detail=f"{why}. NetSuite said: {err.detail}")
    before = links.transferred(ctx.engine, rec.integration_id, "customer", rec.nue_id)
    if before is None:
        return err
    config = ctx.connection(rec.integration_id).config
    earlier = records.validate("customer", before)
    assert isinstance(earlier, records.Customer)
    changes = mapping.primary_changes(earlier, customer, config)
    if not changes:
        return err
    changed = "; ".join(f"{name} changed from {old} to {new}" for name, old, new in changes)
    why = (
        f"this version of the customer changes what NetSuite keeps once a customer has transactions, "
        f"its primary subsidiary and currency ({changed}): set it back in Nue (a later version with "
        "the earlier value goes through with its other changes), or create a new Nue customer for "
        "the new one"
    )
    return replace(err, detail=f"{why}. NetSuite said: {err.detail}")
