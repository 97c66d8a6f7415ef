"""The one place a governed NetSuite call is made.

Every call nue-ns makes to NetSuite (a record upsert, a GL-account check, an inbound poll, an
audit, an account-profile read) goes through `call`, which:
1. takes a token from the account's governor (rate and concurrency), or raises NoCallSlot;
2. logs the attempt BEFORE the call: if Redis loses the governor's memory while the call is in
   flight, the governor re-seeds from the attempt log and still counts it (hub/attempts.recent_calls);
3. makes the call, and always releases the token (a context manager, as dramatiq's rate limiters
   do); a call that got no answer keeps its concurrency slot one more timeout, since NetSuite may
   still be working on it;
4. finishes the attempt row with an outcome, whatever happened;
5. applies the account-level pause policy: throttling (a 429, or a CONCURRENCY_LIMIT_EXCEEDED code)
   pauses the account for its Retry-After where it has one (bounded), else NUE_NS_PAUSE_ON_429, an
   auth failure (no record at fault) for NUE_NS_PAUSE_ON_AUTH, and dispatch holds back meanwhile;
   with OAuth 2.0, a 401 first drops the shared token and the caller tries once more (tokens.py).
What to do with the record or the job that wanted the call stays with the caller.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from nue_ns.context import Connection, Context
from nue_ns.governor import Denied, Grant
from nue_ns.hub import attempts, dispatching
from nue_ns.hub.engines import Hub
from nue_ns.hub.models import Record
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.tokens import TokenSlotDenied, from_token_endpoint

log = logging.getLogger(__name__)

T = TypeVar("T")
TOKEN_REFUSED = "token_refused"  # error code: the shared OAuth 2.0 token was refused and dropped


class NoCallSlot(Exception):
    """The governor gave no token in time; `denied` says why and how long to wait."""

    def __init__(self, denied: Denied):
        self.denied = denied
        super().__init__(f"no NetSuite call slot ({denied.reason}, free in {denied.retry_after:.1f}s)")


@contextmanager
def slot(ctx: Context, conn: Connection, max_wait: float | None = None) -> Iterator[Grant]:
    """A governor token that is always released; the caller marks an unanswered call on the grant
    with `hold(grant)` to keep the concurrency slot one more timeout."""
    wait = ctx.settings.governor_max_wait if max_wait is None else max_wait
    grant = conn.governor.acquire(wait)
    if isinstance(grant, Denied):
        raise NoCallSlot(grant)
    held = {"seconds": 0.0}
    try:
        yield grant
    except NetSuiteError as err:
        if err.status is None and err.kind is Kind.TRANSIENT:  # no answer: NetSuite may still be at it
            held["seconds"] = ctx.settings.netsuite_timeout
        raise
    finally:
        conn.governor.release(grant.lease_id, hold=held["seconds"])


def call(
    ctx: Context,
    conn: Connection,
    method: str,
    url: str,
    body: Any,
    send: Callable[[], tuple[T, Exchange]],
    *,
    outcome: str,
    record: Record | None = None,
    max_wait: float | None = None,
    keep_rows: bool = True,
    hub: Hub | None = None,
    settle: Callable[[Any, T], None] | None = None,
) -> T:
    """Make one governed call: `send()` returns (value, exchange) or raises NetSuiteError.

    `outcome` names a success in the attempt log ("transferred", "validated", "queried", ...);
    `keep_rows=False` logs a SuiteQL answer's row count instead of its rows. `hub`: the caller's
    own hub connection (a transfer checks one out for all its transactions); `settle(cursor,
    value)` records the caller's side of a success in the transaction that finishes the attempt."""
    integ = conn.integration
    db = ctx.engine if hub is None else hub
    if conn.bearer is not None:
        _ensure_token(ctx, conn, max_wait)
    with slot(ctx, conn, max_wait):
        attempt = attempts.start_attempt(
            db, integ.id, integ.account_id, method, url, body, ctx.worker_name,
            record_id=record.id if record else None,
        )  # fmt: skip
        try:
            value, exchange = send()
        except NetSuiteError as err:
            attempts.finish_attempt(db, attempt, _logged(err.exchange, keep_rows), err.kind.value, err)
            if _token_refused_once(conn, err):
                raise dataclasses.replace(
                    err,
                    kind=Kind.TRANSIENT,
                    code=TOKEN_REFUSED,
                    detail="NetSuite refused the access token; sending again with a new one",
                ) from err
            _pause_policy(ctx, conn, err)
            raise
        except BaseException as exc:
            attempts.finish_attempt(db, attempt, None, "error", None, detail=type(exc).__name__)
            raise
    # NetSuite has answered: the slot is free and the call's rate token counts from now (the
    # governor's release), not from after the hub's bookkeeping, so a short window (5 per 2 s)
    # turns over as soon as it can.
    then = None if settle is None else (lambda cur: settle(cur, value))
    attempts.finish_attempt(db, attempt, _logged(exchange, keep_rows), outcome, then=then)
    return value


def suiteql(
    ctx: Context,
    conn: Connection,
    query: str,
    *,
    limit: int = 1000,
    offset: int = 0,
    outcome: str = "queried",
    record: Record | None = None,
    max_wait: float | None = None,
    keep_rows: bool = True,
) -> dict[str, Any]:
    """One governed SuiteQL page (the query alone: values inlined, netsuite/literals.py)."""
    url = f"{conn.client.base_url}/query/v1/suiteql?limit={limit}&offset={offset}"
    return call(
        ctx, conn, "POST", url, {"q": query},
        lambda: conn.client.suiteql(query, limit=limit, offset=offset),
        outcome=outcome, record=record, max_wait=max_wait, keep_rows=keep_rows,
    )  # fmt: skip


def _logged(exchange: Exchange | None, keep_rows: bool) -> Exchange | None:
    body = exchange.response_body if exchange else None
    if exchange is None or keep_rows or not (isinstance(body, dict) and "items" in body):
        return exchange
    return dataclasses.replace(exchange, response_body={"count": body.get("count")})


def _ensure_token(ctx: Context, conn: Connection, max_wait: float | None) -> None:
    """OAuth 2.0: a valid shared token before the call's own governor token is taken (the token
    request pays one of its own; nested, the two could starve a concurrency limit of 1)."""
    assert conn.bearer is not None
    wait = ctx.settings.governor_max_wait if max_wait is None else max_wait
    try:
        conn.bearer.keeper.ensure(wait)
    except TokenSlotDenied as exc:
        raise NoCallSlot(exc.denied) from None
    except NetSuiteError as err:
        _pause_policy(ctx, conn, err)  # NetSuite refused the token request: the setup is wrong
        raise


def _token_refused_once(conn: Connection, err: NetSuiteError) -> bool:
    """A 401 on a call that carried the shared token: exactly one new token before a pause."""
    return (
        conn.bearer is not None
        and err.kind is Kind.AUTH
        and err.status == 401
        and not from_token_endpoint(err)
        and conn.bearer.unauthorized()
    )


def _pause_policy(ctx: Context, conn: Connection, err: NetSuiteError) -> None:
    s = ctx.settings
    if err.kind is Kind.THROTTLED:
        # NetSuite's own wait where it names one (Retry-After, bounded in errors.py), else ours.
        pause = s.pause_on_429 if err.retry_after is None else err.retry_after
        reason = f"NetSuite answered {err.status or 429} (concurrency limit)"
    elif err.kind is Kind.AUTH:
        pause, reason = s.pause_on_auth, f"NetSuite refused the login: {err.detail}"
    else:
        return
    log.warning("integration %s: account paused for %gs: %s", conn.integration.name, pause, reason)
    conn.governor.pause(pause, reason)
    dispatching.hold_dispatch(ctx.engine, conn.integration.id, pause)
