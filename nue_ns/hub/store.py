"""Every state change of a hub record, each one atomic in PostgreSQL.

Workers, sweeps and producers only move records through these functions, and every transition
is a single conditional UPDATE, so two workers (or two beats) racing on one record can never
both win it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from nue_ns.hub.batch_store import BATCHING_SQL
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, NetSuiteLink, Record, State, utcnow
from nue_ns.netsuite.errors import Exchange, NetSuiteError
from nue_ns.refs import Ref  # noqa: F401 - re-exported: callers name it store.Ref
from nue_ns.safe_text import clip, clip_json

_RETRYABLE_BY_HAND = (State.FAILED, State.WAITING, State.PENDING, State.PARKED)


# ---------------------------------------------------------------- dispatch


def dispatch_candidates(
    engine: Engine, integration_id: int | None = None, window: int | None = None
) -> list[int]:
    """Move due records to QUEUED, at most `window` queued + in flight per integration (not those of
    integrations that send in batches: hub/batch_store.py takes theirs).

    One query serves every integration at once (round robin: each gets its own window), so one
    account's backlog never crowds out another's. Returns the ids to hand to Redis.
    """
    params: dict[str, Any] = {"only": integration_id, "window": window}
    sql = text(
        f"""
        WITH busy AS (
            SELECT integration_id, count(*) AS n FROM hub_records
            WHERE state IN ('queued', 'in_flight') GROUP BY integration_id
        ), room AS (
            SELECT i.id, i.batch_released_at,
                   GREATEST(0, COALESCE(:window, i.concurrency * 2) - COALESCE(b.n, 0)) AS free
            FROM integrations i LEFT JOIN busy b ON b.integration_id = i.id
            WHERE (CAST(:only AS integer) IS NULL OR i.id = :only)
              AND (i.not_before IS NULL OR i.not_before <= now())
              AND NOT {BATCHING_SQL}
              AND i.enabled  -- a disabled integration's records stay in the hub, unsent
        )
        SELECT c.id FROM room
        CROSS JOIN LATERAL (
            SELECT r.id FROM hub_records r
            WHERE r.integration_id = room.id
              AND ((r.state = 'pending' AND r.next_attempt_at <= now())
                   OR (r.state = 'parked' AND r.created_at <= room.batch_released_at))
            ORDER BY r.type_rank, r.next_attempt_at, r.id
            LIMIT room.free
        ) c
        WHERE room.free > 0
        """
    )
    with session_scope(engine) as s:
        ids = [row[0] for row in s.execute(sql, params)]
        if not ids:
            return []
        return list(
            s.scalars(
                update(Record)
                .where(Record.id.in_(ids), Record.state.in_([State.PENDING, State.PARKED]))
                .values(state=State.QUEUED, dispatched_at=func.now(), reason=None)
                .returning(Record.id)
            )
        )


def hold_dispatch(engine: Engine, integration_id: int, seconds: float) -> None:
    """Dispatch nothing more for this integration for `seconds` (its account has no token).

    Raw SQL on purpose: it must not touch updated_at, which would make every worker reload the
    integration."""
    with session_scope(engine) as s:
        s.execute(
            text(
                """
                UPDATE integrations
                SET not_before = GREATEST(COALESCE(not_before, now()), now() + make_interval(secs => :s))
                WHERE id = :i
                """
            ),
            {"i": integration_id, "s": max(0.0, seconds)},
        )


def stale_queued(engine: Engine, older_than: float, limit: int = 5000) -> list[int]:
    """QUEUED records whose task Redis may have lost: stamp them and hand them out again.

    Sending a record twice is harmless: only one worker can claim it, and the write is an upsert.
    """
    with session_scope(engine) as s:
        return list(
            s.scalars(
                text(
                    """
                    UPDATE hub_records SET dispatched_at = now() WHERE id IN (
                        SELECT id FROM hub_records WHERE state = 'queued'
                          AND dispatched_at < now() - make_interval(secs => :age)
                        ORDER BY dispatched_at LIMIT :limit FOR UPDATE SKIP LOCKED)
                    RETURNING id
                    """
                ),
                {"age": older_than, "limit": limit},
            )
        )


def release_batch(engine: Engine) -> list[int]:
    """The scheduled-mode batch sweep: let every parked record of scheduled integrations go."""
    with session_scope(engine) as s:
        return list(
            s.scalars(
                text(
                    """
                    UPDATE integrations SET batch_released_at = now()
                    WHERE COALESCE((settings ->> 'scheduled_mode')::boolean, false)
                       OR EXISTS (SELECT 1 FROM hub_records r WHERE r.integration_id = integrations.id
                                  AND r.state = 'parked')
                    RETURNING id
                    """
                )
            )
        )


def recover_leases(engine: Engine, max_attempts: int | None = None) -> list[int]:
    """Records whose worker died mid-transfer go back to PENDING, due now; their call (if one was
    made) is closed in the attempt log as `lost` and counted, so a record that keeps killing its
    worker ends as needing a person after `max_attempts`."""
    with session_scope(engine) as s:
        ids = list(
            s.scalars(
                update(Record)
                .where(Record.state == State.IN_FLIGHT, Record.lease_expires_at < func.now())
                .values(
                    state=State.PENDING,
                    next_attempt_at=func.now(),
                    lease_expires_at=None,
                    leased_by=None,
                    reason="the worker holding it was lost; sending again (the upsert cannot duplicate)",
                )
                .returning(Record.id)
            )
        )
        called = _close_attempts(s, ids, "lost", "the worker was lost before the answer was recorded")
        if called:
            s.execute(update(Record).where(Record.id.in_(called)).values(attempts=Record.attempts + 1))
            if max_attempts is not None:
                s.execute(
                    update(Record)
                    .where(Record.id.in_(called), Record.attempts >= max_attempts)
                    .values(
                        state=State.FAILED,
                        error_kind="transient",
                        reason=f"needs a person: gave up after {max_attempts} attempts "
                        "(the worker was lost during the last one)",
                    )
                )
        return ids


def _close_attempts(s, record_ids: Sequence[int], outcome: str, detail: str) -> list[int]:
    """End the attempt rows these records left in flight; returns the records that had one."""
    if not record_ids:
        return []
    return sorted(
        set(
            s.scalars(
                update(Attempt)
                .where(Attempt.record_id.in_(list(record_ids)), Attempt.outcome == "in_flight")
                .values(
                    outcome=outcome,
                    detail=detail,
                    # Its end is unknown: counted as ending now, so the governor's re-seeding
                    # (recent_calls) counts it once, never for ever.
                    elapsed_ms=func.extract("epoch", func.now() - Attempt.started_at) * 1000,
                )
                .returning(Attempt.record_id)
            )
        )
    )


def abandon(engine: Engine, record_id: int, reason: str, *, max_attempts: int, delay: float = 30.0) -> str:
    """An attempt that broke on our side (a bug, an answer we could not store): counted like a
    transient failure, its attempt row closed, and needs a person after `max_attempts`."""
    with session_scope(engine) as s:
        _close_attempts(s, [record_id], "error", reason)
        attempts = s.scalar(
            update(Record)
            .where(Record.id == record_id, Record.state == State.IN_FLIGHT)
            .values(attempts=Record.attempts + 1)
            .returning(Record.attempts)
        )
        if attempts is None:
            return "gone"
        if attempts >= max_attempts:
            s.execute(
                update(Record)
                .where(Record.id == record_id)
                .values(
                    state=State.FAILED,
                    lease_expires_at=None,
                    leased_by=None,
                    error_kind="transient",
                    reason=f"needs a person: gave up after {attempts} attempts: {reason}",
                )
            )
            return State.FAILED
        _to_pending(s, record_id, delay, f"{reason}; retrying (attempt {attempts} of {max_attempts})")
        return State.PENDING


# ---------------------------------------------------------------- worker side


def claim(engine: Engine, record_id: int, worker: str, lease_seconds: float) -> Record | None:
    """Take a QUEUED record for this worker, or None if someone else has it or it is done."""
    with session_scope(engine) as s:
        rec = s.scalars(
            update(Record)
            .where(Record.id == record_id, Record.state == State.QUEUED)
            .values(
                state=State.IN_FLIGHT,
                lease_expires_at=func.now() + dt.timedelta(seconds=lease_seconds),
                leased_by=worker,
                updated_at=func.now(),
            )
            .returning(Record)
        ).one_or_none()
        if rec is None:
            return None
        # An older version still in a worker's hands goes first: never overtake it.
        older = s.scalar(
            select(func.count()).where(
                Record.integration_id == rec.integration_id,
                Record.record_type == rec.record_type,
                Record.nue_id == rec.nue_id,
                Record.id < rec.id,
                Record.state == State.IN_FLIGHT,
            )
        )
        if older:
            _to_pending(s, rec.id, 2.0, "an older version of this record is being sent; this one follows")
            return None
        return rec


def _to_pending(s, record_id: int, delay: float, reason: str, **extra: Any) -> None:
    s.execute(
        update(Record)
        .where(Record.id == record_id, Record.state == State.IN_FLIGHT)
        .values(
            state=State.PENDING,
            next_attempt_at=func.now() + dt.timedelta(seconds=delay),
            lease_expires_at=None,
            leased_by=None,
            reason=reason,
            **extra,
        )
    )


def defer(engine: Engine, record_id: int, delay: float, reason: str) -> None:
    """Hand a record back without counting an attempt (no token, account paused)."""
    with session_scope(engine) as s:
        _to_pending(s, record_id, delay, reason)


def retry_later(
    engine: Engine, record: Record, error: NetSuiteError, *, max_attempts: int, base: float, cap: float
) -> str:
    """A transient failure: back off exponentially with full jitter, up to max_attempts."""
    attempts = record.attempts + 1
    fields = _error_fields(error)
    with session_scope(engine) as s:
        if attempts >= max_attempts:
            s.execute(
                update(Record)
                .where(Record.id == record.id, Record.state == State.IN_FLIGHT)
                .values(
                    state=State.FAILED,
                    attempts=attempts,
                    lease_expires_at=None,
                    leased_by=None,
                    reason=f"gave up after {attempts} attempts: {error}",
                    **fields,
                )
            )
            return State.FAILED
        delay = random.uniform(base, min(cap, base * 2 ** (attempts - 1)) + base)
        _to_pending(
            s,
            record.id,
            delay,
            f"retrying in {delay:.0f}s (attempt {attempts} failed: {error})",
            attempts=attempts,
            **fields,
        )
        return State.PENDING


def fail(engine: Engine, record: Record, error: NetSuiteError | str) -> None:
    """Needs a person: parked with NetSuite's own detail and field path, never retried by itself."""
    fields = _error_fields(error) if isinstance(error, NetSuiteError) else {"error_kind": "needs_person"}
    reason = f"needs a person: {error}"
    with session_scope(engine) as s:
        s.execute(
            update(Record)
            .where(Record.id == record.id, Record.state == State.IN_FLIGHT)
            .values(
                state=State.FAILED,
                attempts=record.attempts + 1,
                lease_expires_at=None,
                leased_by=None,
                reason=reason,
                **fields,
            )
        )


def wait_for(engine: Engine, record: Record, missing: Sequence[Ref], reason: str) -> None:
    """Park a record until its prerequisites are in NetSuite; due ones the hub holds go first."""
    with session_scope(engine) as s:
        s.execute(
            update(Record)
            .where(Record.id == record.id, Record.state == State.IN_FLIGHT)
            .values(
                state=State.WAITING,
                waiting_on=[m.as_json() for m in missing],
                lease_expires_at=None,
                leased_by=None,
                reason=reason,
            )
        )


def hurry(engine: Engine, integration_id: int, refs: Sequence[Ref]) -> int:
    """Make the hub's open versions of these prerequisites due now (even in scheduled mode)."""
    if not refs:
        return 0
    n = 0
    with session_scope(engine) as s:
        for ref in refs:
            n += s.execute(
                update(Record)
                .where(
                    Record.integration_id == integration_id,
                    Record.record_type == ref.type,
                    Record.nue_id == ref.id,
                    Record.state.in_([State.PARKED, State.PENDING]),
                )
                .values(state=State.PENDING, next_attempt_at=func.now())
            ).rowcount
    return n


def complete(engine: Engine, record: Record, ns_type: str, external_id: str, internal_id: str) -> int:
    """Transferred: store the NetSuite id, remember the link, wake records that waited for it.

    Returns the number of waiting records woken."""
    return complete_many(engine, [(record, ns_type, external_id, internal_id)])


def complete_many(engine: Engine, done: Sequence[tuple[Record, str, str, str]]) -> int:
    """`complete` for many records (record, ns_type, externalId, internal id) in one transaction: a
    NetSuite batch's answer lands at once."""
    if not done:
        return 0
    links: dict[tuple[int, str, str], dict[str, Any]] = {}
    with session_scope(engine) as s:
        for record, ns_type, external_id, internal_id in done:
            s.execute(
                update(Record)
                .where(
                    Record.id == record.id, Record.state.in_([State.IN_FLIGHT, State.PENDING, State.QUEUED])
                )
                .values(
                    state=State.TRANSFERRED,
                    attempts=record.attempts + 1,
                    ns_type=ns_type,
                    external_id=external_id,
                    ns_internal_id=internal_id,
                    transferred_at=func.now(),
                    lease_expires_at=None,
                    leased_by=None,
                    reason=None,
                    waiting_on=None,
                    error_kind=None,
                    error_status=None,
                    error_code=None,
                    error_detail=None,
                    error_path=None,
                )
            )
            links[(record.integration_id, record.record_type, record.nue_id)] = {
                "integration_id": record.integration_id,
                "record_type": record.record_type,
                "nue_id": record.nue_id,
                "ns_type": ns_type,
                "external_id": external_id,
                "ns_internal_id": internal_id,
                "record_id": record.id,
                "transferred_at": utcnow(),
            }
        stmt = insert(NetSuiteLink).values(list(links.values()))
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["integration_id", "record_type", "nue_id"],
                set_={
                    c: stmt.excluded[c]
                    for c in ("ns_type", "ns_internal_id", "external_id", "record_id", "transferred_at")
                },
            )
        )
    # Wake the waiters only once the link is committed: a record that parks itself meanwhile
    # re-checks the link after parking, so one of the two always sees the other.
    with session_scope(engine) as s:
        return sum(_wake(s, integ, Ref(rtype, nue_id)) for integ, rtype, nue_id in links)


def link_also(
    engine: Engine, record: Record, refs: Sequence[Ref], ns_type: str, external_id: str, internal_id: str
) -> int:
    """Further prerequisites a transferred record satisfies (a customer's currencies): linked to
    its NetSuite record and their waiters woken. Returns the number woken."""
    if not refs:
        return 0
    with session_scope(engine) as s:
        for ref in refs:
            s.execute(
                insert(NetSuiteLink)
                .values(
                    integration_id=record.integration_id,
                    record_type=ref.type,
                    nue_id=ref.id,
                    ns_type=ns_type,
                    external_id=external_id,
                    ns_internal_id=internal_id,
                    record_id=record.id,
                    transferred_at=utcnow(),
                )
                .on_conflict_do_update(
                    index_elements=["integration_id", "record_type", "nue_id"],
                    set_={"ns_internal_id": internal_id, "record_id": record.id, "transferred_at": utcnow()},
                )
            )
    with session_scope(engine) as s:
        return sum(_wake(s, record.integration_id, ref) for ref in refs)


def latest_payloads(engine: Engine, integration_id: int, refs: Sequence[Ref]) -> dict[Ref, dict[str, Any]]:
    """The payload of the hub's latest version of each record (superseded versions aside)."""
    out: dict[Ref, dict[str, Any]] = {}
    by_type: dict[str, set[str]] = {}
    for ref in refs:
        by_type.setdefault(ref.type, set()).add(ref.id)
    with session_scope(engine) as s:
        for rtype, ids in by_type.items():
            rows = s.execute(
                select(Record.nue_id, Record.payload)
                .where(
                    Record.integration_id == integration_id,
                    Record.record_type == rtype,
                    Record.nue_id.in_(list(ids)),
                    Record.state != State.SUPERSEDED,
                )
                .order_by(Record.id)
            )
            out |= {Ref(rtype, row.nue_id): row.payload for row in rows}  # the last version wins
    return out


def open_currencies(engine: Engine, integration_id: int) -> list[str]:
    """The currencies of the records the hub still has to send (and customers' currency lists)."""
    with session_scope(engine) as s:
        return list(
            s.scalars(
                text(
                    """
                    SELECT DISTINCT c FROM (
                      SELECT payload ->> 'currency' AS c FROM hub_records
                      WHERE integration_id = :i AND state NOT IN ('transferred', 'superseded')
                      UNION ALL
                      SELECT jsonb_array_elements_text(COALESCE(payload -> 'currencies', '[]'::jsonb))
                      FROM hub_records
                      WHERE integration_id = :i AND record_type = 'customer'
                        AND state NOT IN ('transferred', 'superseded')
                    ) x WHERE c IS NOT NULL ORDER BY c
                    """
                ),
                {"i": integration_id},
            )
        )


def customer_subsidiaries(engine: Engine, integration_id: int) -> list[str]:
    """The subsidiaries the integration's customers are in (as the hub holds them)."""
    with session_scope(engine) as s:
        return list(
            s.scalars(
                text(
                    """
                    SELECT DISTINCT payload ->> 'subsidiary_id' FROM hub_records
                    WHERE integration_id = :i AND record_type = 'customer' AND state != 'superseded'
                      AND payload ->> 'subsidiary_id' IS NOT NULL
                    """
                ),
                {"i": integration_id},
            )
        )


def _wake(s, integration_id: int, ref: Ref) -> int:
    return s.execute(
        text(
            """
            UPDATE hub_records SET state = 'pending', next_attempt_at = now(), waiting_on = NULL,
                   reason = NULL, updated_at = now()
            WHERE integration_id = :i AND state = 'waiting' AND waiting_on @> CAST(:ref AS jsonb)
            """
        ),
        {"i": integration_id, "ref": json.dumps([ref.as_json()])},
    ).rowcount


def wake_settled(engine: Engine, older_than: float = 30.0) -> int:
    """Safety net for the retry sweep: records still waiting although every prerequisite they
    name is in NetSuite (their worker died between parking and re-checking) go again."""
    with session_scope(engine) as s:
        return s.execute(
            text(
                """
                UPDATE hub_records r SET state = 'pending', next_attempt_at = now(), waiting_on = NULL,
                       reason = NULL, updated_at = now()
                WHERE r.state = 'waiting' AND r.updated_at < now() - make_interval(secs => :age)
                  AND NOT EXISTS (
                    SELECT 1 FROM jsonb_array_elements(COALESCE(r.waiting_on, '[]'::jsonb)) w
                    WHERE w ->> 'type' = 'mapping' OR NOT EXISTS (
                        SELECT 1 FROM ns_links l
                        WHERE l.integration_id = r.integration_id AND l.record_type = w ->> 'type'
                          AND l.nue_id = w ->> 'id'))
                """
            ),
            {"age": older_than},
        ).rowcount


def wake_mapping(engine: Engine, integration_id: int) -> int:
    """A corrected mapping releases the records that waited for it."""
    with session_scope(engine) as s:
        return _wake(s, integration_id, Ref("mapping", str(integration_id)))


def resolve(engine: Engine, integration_id: int, refs: Sequence[Ref]) -> tuple[dict[Ref, str], list[Ref]]:
    """NetSuite internal ids of the prerequisites that are there, and the list of those missing."""
    if not refs:
        return {}, []
    found: dict[Ref, str] = {}
    with session_scope(engine) as s:
        by_type: dict[str, list[str]] = {}
        for ref in refs:
            by_type.setdefault(ref.type, []).append(ref.id)
        for rtype, ids in by_type.items():
            for row in s.execute(
                select(NetSuiteLink.nue_id, NetSuiteLink.ns_internal_id).where(
                    NetSuiteLink.integration_id == integration_id,
                    NetSuiteLink.record_type == rtype,
                    NetSuiteLink.nue_id.in_(ids),
                )
            ):
                found[Ref(rtype, row.nue_id)] = row.ns_internal_id
    return found, [r for r in refs if r not in found]


def prerequisite_states(engine: Engine, integration_id: int, refs: Sequence[Ref]) -> dict[Ref, str | None]:
    """Where the hub's latest version of each prerequisite stands (None: the hub does not hold it)."""
    out: dict[Ref, str | None] = {r: None for r in refs}
    with session_scope(engine) as s:
        for ref in refs:
            row = s.execute(
                select(Record.state, Record.reason)
                .where(
                    Record.integration_id == integration_id,
                    Record.record_type == ref.type,
                    Record.nue_id == ref.id,
                    Record.state != State.SUPERSEDED,
                )
                .order_by(Record.id.desc())
                .limit(1)
            ).first()
            out[ref] = row.state if row else None
    return out


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


def start_attempt(
    engine: Engine,
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
    with session_scope(engine) as s:
        attempt = Attempt(
            record_id=record_id,
            integration_id=integration_id,
            account_id=account_id,
            started_at=utcnow(),
            method=method,
            url=clip(url, 1000),
            request_body=_jsonable(request_body),
            outcome="in_flight",
            worker=worker,
        )
        s.add(attempt)
        s.flush()
        return attempt.id


def finish_attempt(
    engine: Engine,
    attempt_id: int,
    exchange: Exchange | None,
    outcome: str,
    error: NetSuiteError | None = None,
    *,
    detail: str | None = None,
) -> None:
    """The attempt's outcome and NetSuite's answer; `detail` says why a call ended without one."""
    values: dict[str, Any] = {"outcome": outcome}
    if exchange is not None:
        values |= {
            "status": exchange.status,
            "response_body": _jsonable(exchange.response_body),
            "elapsed_ms": exchange.elapsed_ms,
        }
    if exchange is None or exchange.elapsed_ms is None:
        # Ended now: without an end, recent_calls would count the call as "now" for ever.
        values["elapsed_ms"] = func.extract("epoch", func.now() - Attempt.started_at) * 1000
    if error is not None:
        values |= {"error_code": error.code, "detail": str(error)[:4000]}
    elif detail is not None:
        values["detail"] = clip(detail, 4000)
    with session_scope(engine) as s:
        s.execute(update(Attempt).where(Attempt.id == attempt_id).values(**values))


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


# ---------------------------------------------------------------- operators


def retry(
    engine: Engine,
    ids: Sequence[int] | None = None,
    *,
    all_failed: bool = False,
    integration_id: int | None = None,
) -> list[int]:
    """Send again now: chosen records, or every record that needs a person."""
    q = update(Record).values(
        state=State.PENDING, next_attempt_at=func.now(), attempts=0, reason="retry requested", waiting_on=None
    )
    if ids is not None:
        q = q.where(Record.id.in_(list(ids)), Record.state.in_(_RETRYABLE_BY_HAND))
    elif all_failed:
        q = q.where(Record.state == State.FAILED)
    else:
        raise ValueError("give record ids or all_failed=True")
    if integration_id is not None:
        q = q.where(Record.integration_id == integration_id)
    with session_scope(engine) as s:
        return list(s.scalars(q.returning(Record.id)))


def requeue(engine: Engine, ids: Sequence[int], reason: str) -> list[int]:
    """The product's own re-queue (a waiter whose prerequisite landed meanwhile): due now, its
    attempt count kept, and the reason why; unlike `retry`, which is an operator's fresh start."""
    if not ids:
        return []
    q = (
        update(Record)
        .where(Record.id.in_(list(ids)), Record.state.in_((State.WAITING, State.PENDING)))
        .values(state=State.PENDING, next_attempt_at=func.now(), reason=reason, waiting_on=None)
        .returning(Record.id)
    )
    with session_scope(engine) as s:
        return list(s.scalars(q))


def integrations_of(engine: Engine, ids: Sequence[int]) -> list[int]:
    """The integrations these records belong to (to dispatch just those)."""
    if not ids:
        return []
    with session_scope(engine) as s:
        q = select(Record.integration_id).where(Record.id.in_(list(ids))).distinct()
        return sorted(s.scalars(q))


def _error_fields(error: NetSuiteError) -> dict[str, Any]:
    return {
        "error_kind": error.kind.value,
        "error_status": error.status,
        "error_code": (error.code or "")[:64] or None,
        "error_detail": (error.detail or "")[:4000],
        "error_path": (error.path or "")[:200] or None,
    }


def _jsonable(value: Any) -> dict[str, Any] | None:
    """What a jsonb column of the attempt log may hold: NUL-free, bounded (see errors.clip)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return clip_json(value)
    return {"text": clip(str(value), 20000)}
