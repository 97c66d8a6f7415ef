"""Transfer one hub record: claim → prerequisites → map → govern → call → record the outcome.

Every branch ends with the record in a definite hub state; nothing here sleeps longer than the
governor's brief wait, so a worker slot is never tied up by one account's limit.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from nue_ns import currencies, gateway, linking, mapping, profile, records, validation
from nue_ns.context import Context
from nue_ns.hub import store
from nue_ns.hub.models import Record, State
from nue_ns.logging import bound
from nue_ns.netsuite.client import WriteResult
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.refs import Ref

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SKIPPED = "skipped"  # someone else has it, or it is done
    TRANSFERRED = "transferred"
    WAITING = "waiting"
    DEFERRED = "deferred"
    RETRYING = "retrying"
    FAILED = "failed"


def transfer(ctx: Context, record_id: int) -> tuple[Outcome, int | None]:
    """Returns the outcome and the record's integration (None when it was not ours to send)."""
    rec = store.claim(ctx.engine, record_id, ctx.worker_name, ctx.settings.lease_seconds)
    if rec is None:
        return Outcome.SKIPPED, None
    with bound(record_id=rec.id, integration_id=rec.integration_id):  # on every log line of the transfer
        try:
            return _transfer(ctx, rec), rec.integration_id
        except Exception as exc:  # a bug or an outage of the hub/Redis: never leave the record in flight
            log.exception("transfer of record %s failed unexpectedly", rec.id)
            try:  # counted: a fault that recurs ends as needing a person, never loops
                reason = f"internal error ({type(exc).__name__})"
                store.abandon(ctx.engine, rec.id, reason, max_attempts=ctx.settings.max_attempts)
            except Exception:
                log.exception("could not hand record %s back; lease recovery will", rec.id)
            return Outcome.DEFERRED, rec.integration_id


def _transfer(ctx: Context, rec: Record) -> Outcome:
    conn = ctx.connection(rec.integration_id)
    if not conn.integration.enabled:  # dispatch skips it; this one was queued before it was disabled
        reason = f"integration {conn.integration.name!r} is disabled: the record stays until it is enabled"
        store.defer(ctx.engine, rec.id, 0.0, reason)
        return Outcome.DEFERRED
    try:
        contract = records.validate(rec.record_type, rec.payload)
    except records.InvalidRecord as exc:  # cannot happen for rows the hub accepted, unless rules tightened
        store.fail(ctx.engine, rec, str(exc))
        return Outcome.FAILED

    needed = mapping.requirements(rec.record_type, contract)
    resolved, missing = store.resolve(ctx.engine, rec.integration_id, needed)
    if missing:
        return _wait(ctx, rec, missing)

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
        store.wait_for(
            ctx.engine,
            rec,
            [Ref("mapping", str(rec.integration_id))],
            f"waiting for the integration mapping: {exc}",
        )
        return Outcome.WAITING

    url = f"{conn.client.base_url}/record/v1/{request.ns_type}/eid:{request.external_id}"

    def upsert() -> tuple[WriteResult, Exchange]:
        result = conn.client.upsert(
            request.ns_type, request.external_id, request.body, replace=request.replace
        )
        return result, result.exchange

    try:
        # Linked documents: made by a transform, or only what may change re-sent (linking.py).
        step = linking.plan(ctx, conn, rec, contract, request)
        if step.transform is not None:
            internal_id = linking.transform(ctx, conn, rec, step, contract, resolved)
        else:
            request = step.request
            url = f"{conn.client.base_url}/record/v1/{request.ns_type}/eid:{request.external_id}"
            internal_id = gateway.call(
                ctx, conn, "PUT", url, request.body, upsert, outcome="transferred", record=rec
            ).internal_id
    except linking.LinkRefused as exc:
        store.fail(ctx.engine, rec, str(exc))
        return Outcome.FAILED
    except gateway.NoCallSlot as exc:
        # Back shortly before the token frees: the next worker's brief wait covers the rest.
        due = max(0.0, exc.denied.retry_after - ctx.settings.governor_max_wait)
        if exc.denied.reason != "concurrency":
            store.hold_dispatch(ctx.engine, rec.integration_id, due)
        store.defer(ctx.engine, rec.id, due, f"waiting for a NetSuite call slot ({exc.denied.reason})")
        return Outcome.DEFERRED
    except NetSuiteError as err:
        field = profile.unknown_field(err)  # the account changed since its profile was read
        if field is not None and profile.refresh_once(ctx, conn, rec, field):
            return Outcome.DEFERRED
        return _failed(ctx, rec, err)
    if step.needs_person:  # the header went; the lines NetSuite keeps as billed did not
        store.fail(ctx.engine, rec, f"{request.ns_type} lines are linked in NetSuite, only its header was "
                   f"updated; change these in NetSuite by hand: {', '.join(step.needs_person)}")  # fmt: skip
        return Outcome.FAILED
    store.complete(ctx.engine, rec, request.ns_type, request.external_id, internal_id)
    currencies.link_listed(ctx.engine, rec, request.ns_type, request.external_id, internal_id, contract)
    return Outcome.TRANSFERRED


def _wait(ctx: Context, rec: Record, missing: list[Ref]) -> Outcome:
    """Name exactly what is missing, and push the hub's own copies of it to the front."""
    states = store.prerequisite_states(ctx.engine, rec.integration_id, missing)
    store.hurry(ctx.engine, rec.integration_id, missing)
    parts, waits = [], list(missing)
    for ref in missing:
        st = states[ref]
        if ref.type.startswith(mapping.CUSTOMER_CURRENCY):
            # A customer version with the currency on its list goes first; the record is woken by
            # it, or by any customer version (then it asks again).
            code = ref.type.removeprefix(mapping.CUSTOMER_CURRENCY)
            currencies.request_currency(ctx, rec.integration_id, ref.id, code)
            waits.append(Ref("customer", ref.id))
            parts.append(f"customer {ref.id} with {code} on its NetSuite currency list")
        elif st is None:
            parts.append(f"{ref} (not in the hub yet)")
        elif st == State.FAILED:
            parts.append(f"{ref} (it needs a person)")
        else:
            parts.append(f"{ref} ({st})")
    store.wait_for(ctx.engine, rec, list(dict.fromkeys(waits)), "waiting for " + ", ".join(parts))
    # A prerequisite may have landed between resolve() and wait_for(): re-check so nothing sleeps forever.
    _, still = store.resolve(ctx.engine, rec.integration_id, missing)
    if len(still) < len(missing):
        store.requeue(ctx.engine, [rec.id], "a prerequisite landed while it began to wait")
    return Outcome.WAITING


def _failed(ctx: Context, rec: Record, err: NetSuiteError) -> Outcome:
    """The record's side of a failed call (the gateway already paused the account where due)."""
    s = ctx.settings
    if err.code == gateway.TOKEN_REFUSED:  # the shared token was dropped: again at once, with a new one
        store.defer(ctx.engine, rec.id, 0.0, str(err))
        return Outcome.DEFERRED
    if err.kind is Kind.THROTTLED:
        store.defer(ctx.engine, rec.id, s.pause_on_429, f"NetSuite throttled the account: {err}")
        return Outcome.DEFERRED
    if err.kind is Kind.AUTH:  # no record is at fault: keep it as it was
        log.error("integration %s: NetSuite authentication failed; account paused", rec.integration_id)
        store.defer(ctx.engine, rec.id, s.pause_on_auth, f"account paused, NetSuite refused the login: {err}")
        return Outcome.DEFERRED
    if err.kind is Kind.TRANSIENT:
        state = store.retry_later(
            ctx.engine, rec, err, max_attempts=s.max_attempts, base=s.backoff_base, cap=s.backoff_max
        )
        return Outcome.FAILED if state == State.FAILED else Outcome.RETRYING
    store.fail(ctx.engine, rec, err)
    return Outcome.FAILED
