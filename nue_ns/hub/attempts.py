"""The attempt log: every call made to NetSuite, logged BEFORE it is made and finished after.

Logging first is what keeps the governor right after Redis loses its memory: it re-seeds from
this log (recent_calls), which counts a call still in flight. The start and the finish are plain
prebuilt SQL (they are on every transfer's path)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Engine, func, select

from nue_ns.hub.db import Hub, session_scope, statement, transaction
from nue_ns.hub.models import Attempt, Record
from nue_ns.netsuite.errors import Exchange, NetSuiteError
from nue_ns.safe_text import clip, clip_json


def log_attempt(
    engine: Engine,
    record: Record | None,
    integration_id: int,
    account_id: str,
    exchange: Exchange,
    outcome: str,
    started_at: dt.datetime,
    worker: str | None,
    error: NetSuiteError | None = None,
) -> None:
    with session_scope(engine) as s:
        s.add(
            Attempt(
                record_id=record.id if record else None,
                integration_id=integration_id,
                account_id=account_id,
                started_at=started_at,
                elapsed_ms=exchange.elapsed_ms,
                method=exchange.method,
                url=clip(exchange.url, 1000),
                request_body=_jsonable(exchange.request_body),
                status=exchange.status,
                response_body=_jsonable(exchange.response_body),
                outcome=outcome,
                error_code=error.code if error else None,
                detail=str(error)[:4000] if error else None,
                worker=worker,
            )
        )


_START = """
    INSERT INTO hub_attempts (record_id, integration_id, account_id, started_at, method, url,
                              request_body, outcome, worker)
    VALUES (%(record_id)s, %(i)s, %(account)s, now(), %(method)s, %(url)s, %(body)s, 'in_flight', %(worker)s)
    RETURNING id
"""

# An answer's elapsed time, or (none: the call ended without one) the time since it started:
# without an end, recent_calls would count the call as "now" for ever.
FINISH = """
    UPDATE hub_attempts SET outcome = %(outcome)s, status = %(status)s, response_body = %(response)s,
           elapsed_ms = COALESCE(%(elapsed)s, extract(epoch FROM now() - started_at) * 1000),
           error_code = %(code)s, detail = %(detail)s
    WHERE id = %(attempt)s
"""


def start_attempt(
    hub: Hub,
    integration_id: int,
    account_id: str,
    method: str,
    url: str,
    request_body: Any,
    worker: str | None,
    *,
    record_id: int | None = None,
) -> int:
    """Log a call before it is made: if Redis loses the governor's memory while the call is in
    flight, the re-seeding still counts it (see recent_calls)."""
    params = {
        "record_id": record_id,
        "i": integration_id,
        "account": account_id,
        "method": method,
        "url": clip(url, 1000),
        "body": _jsonb(request_body),
        "worker": worker,
    }
    row = statement(hub, _START, params).fetchone()
    assert row is not None
    return int(row[0])


# The finished calls an account's governor still counts in its rate window (nue_ns/governor.py): a
# call counts from its end (NetSuite may see it arrive any time until then), as recent_calls reads
# it; a call ends at most `lease` seconds after it starts (the governor's lease). Parameters: the
# account's column, `window` in seconds. Calls still in flight are their records' (in_flight).
FINISHED_IN_WINDOW = """
    (SELECT count(*) FROM hub_attempts a
     WHERE a.account_id = {account} AND a.elapsed_ms IS NOT NULL
       AND a.started_at > now() - make_interval(secs => {window} + %(lease)s)
       AND a.started_at + a.elapsed_ms * interval '1 millisecond' > now() - make_interval(secs => {window}))
"""


def finish_params(
    attempt_id: int,
    exchange: Exchange | None,
    outcome: str,
    error: NetSuiteError | None = None,
    *,
    detail: str | None = None,
) -> dict[str, Any]:
    """FINISH's parameters: the attempt's outcome and NetSuite's answer; `detail` says why a call
    ended without one."""
    params: dict[str, Any] = {
        "attempt": attempt_id,
        "outcome": outcome,
        "status": None,
        "response": None,
        "elapsed": None,
        "code": None,
        "detail": None,
    }
    if exchange is not None:
        params |= {
            "status": exchange.status,
            "response": _jsonb(exchange.response_body),
            "elapsed": exchange.elapsed_ms,
        }
    if error is not None:
        params |= {"code": error.code, "detail": str(error)[:4000]}
    elif detail is not None:
        params["detail"] = clip(detail, 4000)
    return params


def finish_attempt(
    hub: Hub,
    attempt_id: int,
    exchange: Exchange | None,
    outcome: str,
    error: NetSuiteError | None = None,
    *,
    detail: str | None = None,
    then: Callable[[Any], None] | None = None,
) -> None:
    """The attempt's outcome and NetSuite's answer; `detail` says why a call ended without one.
    `then(cursor)`: the caller's side of the outcome, in the same transaction."""
    params = finish_params(attempt_id, exchange, outcome, error, detail=detail)
    if then is None:
        statement(hub, FINISH, params)
        return
    with transaction(hub) as cur:
        cur.execute(FINISH, params)
        then(cur)


def recent_calls(
    engine: Engine, account_id: str, period: float, call_timeout: float
) -> tuple[list[float], int]:
    """For re-seeding the governor after Redis lost its memory: the account's calls in the last
    period, and the calls still in flight (logged as started, not finished, and not older than the
    HTTP timeout: a killed worker's call ends by then)."""
    # A call counts from when it ended (NetSuite may have seen it arrive any time until then);
    # one still in flight counts from now.
    ended = func.coalesce(Attempt.started_at + Attempt.elapsed_ms * dt.timedelta(milliseconds=1), func.now())
    with session_scope(engine) as s:
        times = [
            t.timestamp()
            for t in s.scalars(
                select(ended).where(
                    Attempt.account_id == account_id,
                    ended > func.now() - dt.timedelta(seconds=period * 1.1),
                )
            )
        ]
        in_flight = s.scalar(
            select(func.count()).where(
                Attempt.account_id == account_id,
                Attempt.outcome == "in_flight",
                Attempt.started_at > func.now() - dt.timedelta(seconds=call_timeout + 1),
            )
        )
    return times, int(in_flight or 0)


# Its end is unknown: counted as ending now, so the governor's re-seeding (recent_calls) counts
# it once, never for ever.
CLOSE_IN_FLIGHT = """
    UPDATE hub_attempts SET outcome = %(outcome)s, detail = %(detail)s,
           elapsed_ms = extract(epoch FROM now() - started_at) * 1000
    WHERE record_id = ANY(CAST(%(ids)s AS bigint[])) AND outcome = 'in_flight'
    RETURNING record_id
"""


def close_in_flight(cur: Any, record_ids: Sequence[int], outcome: str, detail: str) -> list[int]:
    """End the attempt rows these records left in flight (inside the caller's transaction);
    returns the records that had one."""
    if not record_ids:
        return []
    rows = cur.execute(CLOSE_IN_FLIGHT, {"ids": list(record_ids), "outcome": outcome, "detail": detail})
    return sorted({r[0] for r in rows})


def _jsonb(value: Any) -> Jsonb | None:
    v = _jsonable(value)
    return None if v is None else Jsonb(v)


def _jsonable(value: Any) -> dict[str, Any] | None:
    """What a jsonb column of the attempt log may hold: NUL-free, bounded (see errors.clip)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return clip_json(value)
    return {"text": clip(str(value), 20000)}
