"""GL account validation against NetSuite, and the gate that holds records while it fails.

One governed SuiteQL call on `account` judges every account the mapping names; the verdict is
stored in the integration's settings with a hash of the mapping it judged. Records whose NetSuite
postings depend on the mapping (items, payments, refunds) are sent only under a current, valid
verdict: a stale one is checked again first (by one worker at a time), an invalid one parks them
as waiting for the mapping, naming each bad account, until `integration set|validate` wakes them.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import LockError

from nue_ns import gateway
from nue_ns.context import Connection, Context
from nue_ns.hub import transfers
from nue_ns.hub.integrations import save_validation
from nue_ns.hub.models import Record, utcnow
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping import accounts
from nue_ns.netsuite.errors import Kind, NetSuiteError
from nue_ns.refs import Ref

# Records whose mapping puts GL accounts on the NetSuite record.
GATED = frozenset({"product", "payment", "refund"})


def check(
    ctx: Context,
    integration_id: int,
    config: IntegrationConfig,
    *,
    max_wait: float,
    record: Record | None = None,
) -> dict[str, Any]:
    """Judge `config`'s GL accounts with one governed SuiteQL call (logged in the attempt log).

    Raises gateway.NoCallSlot when no token comes within `max_wait`, NetSuiteError when NetSuite fails."""
    ids = accounts.account_ids(config)
    if not ids:  # nothing configured, nothing to ask: a missing account is named at mapping time
        return accounts.verdict(config, [], utcnow())
    conn = ctx.connection(integration_id)
    page = gateway.suiteql(
        ctx, conn, accounts.query(ids), outcome="validated", record=record, max_wait=max_wait
    )
    return accounts.verdict(config, page.get("items") or [], utcnow())


def blocking_reason(verdict: dict[str, Any]) -> str:
    return "waiting for the integration mapping: " + "; ".join(verdict["problems"])


# ---------------------------------------------------------------- the gate in sync


def gate(ctx: Context, conn: Connection, rec: Record) -> str | None:
    """None when `rec` may be sent; else the outcome ('waiting' or 'deferred') it was left in."""
    if rec.record_type not in GATED:
        return None
    verdict = accounts.current_verdict(conn.config)
    if verdict is None:
        found = _revalidate(ctx, conn, rec)
        if isinstance(found, str):
            return found
        verdict = found
    if verdict["valid"]:
        return None
    _wait_for_mapping(ctx, rec, blocking_reason(verdict))
    return "waiting"


def _revalidate(ctx: Context, conn: Connection, rec: Record) -> dict[str, Any] | str:
    """Check the GL accounts again, one worker per integration; the others wait a moment."""
    s = ctx.settings
    lock = ctx.redis.lock(
        f"nue_ns:validate:{rec.integration_id}",
        timeout=s.netsuite_timeout + s.governor_max_wait + 10,
        blocking_timeout=s.governor_max_wait,
    )
    if not lock.acquire():
        transfers.defer(ctx.engine, rec.id, 1.0, "waiting while another worker checks the GL accounts")
        return "deferred"
    try:
        integ = ctx.integration(rec.integration_id)  # fresh: another worker may have just checked
        fresh = IntegrationConfig.load(integ.settings)
        if accounts.mapping_hash(fresh) != accounts.mapping_hash(conn.config):
            transfers.defer(ctx.engine, rec.id, 1.0, "the integration mapping just changed; reloading it")
            return "deferred"
        verdict = accounts.current_verdict(fresh)
        if verdict is not None:
            return verdict
        try:
            verdict = check(ctx, rec.integration_id, fresh, max_wait=s.governor_max_wait, record=rec)
        except gateway.NoCallSlot as exc:
            reason = f"waiting for a NetSuite call slot to check the GL accounts ({exc.denied.reason})"
            transfers.defer(ctx.engine, rec.id, exc.denied.retry_after, reason)
            return "deferred"
        except NetSuiteError as err:
            if err.kind is not Kind.NEEDS_PERSON:
                return _defer_after(ctx, rec, err)
            # E.g. the role may not read accounts: an invalid verdict, until a person acts.
            verdict = accounts.unchecked_verdict(
                fresh, f"the GL accounts could not be checked: {err}", utcnow()
            )
        save_validation(ctx.engine, rec.integration_id, integ.settings, verdict)
        return verdict
    finally:
        try:
            lock.release()
        except LockError:  # it expired meanwhile: nothing to free
            pass


def _defer_after(ctx: Context, rec: Record, err: NetSuiteError) -> str:
    """A transient, throttled or refused check: try again later (the gateway paused the account
    where the answer called for it)."""
    s = ctx.settings
    if err.kind is Kind.THROTTLED:
        delay = s.pause_on_429
    elif err.kind is Kind.AUTH:
        delay = s.pause_on_auth
    else:
        delay = min(s.backoff_max, 30.0)
    transfers.defer(ctx.engine, rec.id, delay, f"could not check the GL accounts, retrying: {err}")
    return "deferred"


def _wait_for_mapping(ctx: Context, rec: Record, reason: str) -> None:
    transfers.wait_for(ctx.engine, rec, [Ref("mapping", str(rec.integration_id))], reason)
    # An operator may have saved a good mapping (and woken the waiters) just before this record
    # started to wait: look once more, so that it never sleeps through the wake-up.
    saved = IntegrationConfig.load(ctx.integration(rec.integration_id).settings)
    verdict = accounts.current_verdict(saved)
    if verdict is None or verdict["valid"]:
        transfers.requeue(ctx.engine, [rec.id], "the mapping was saved while it began to wait")
