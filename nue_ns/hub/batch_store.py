"""Hub side of NetSuite batches: which records may go in one, the batches table, and moving a
batch's records. Every change is one transaction; the batch's idempotency key is committed with its
records BEFORE anything is sent (nue_ns/batches.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select, text, update

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Batch, BatchState, Record, State
from nue_ns.hub.transfers import OLDER_IN_FLIGHT, RETIRE

OPEN = (BatchState.PREPARED, BatchState.SUBMITTED)
# A batch's `progress` once its job has finished: its results are read without polling it again.
FINISHED = "finished"

# Integrations whose records go in batches: scheduled mode, batches not switched off, and the
# account has not answered that it cannot take them. dispatch_candidates leaves their records alone.
BATCHING_SQL = """(COALESCE((i.settings ->> 'scheduled_mode')::boolean, false)
     AND COALESCE((i.settings ->> 'batches')::boolean, true)
     AND (i.settings ->> 'batches_unsupported') IS NULL)"""


def batching_integrations(engine: Engine) -> list[int]:
    with session_scope(engine) as s:
        return list(s.scalars(text(f"SELECT i.id FROM integrations i WHERE {BATCHING_SQL} ORDER BY i.id")))


def burst_types(engine: Engine, threshold: int) -> list[tuple[int, str]]:
    """Real-time mode: (integration, record type) with more than `threshold` records due now."""
    sql = text(
        f"""
        SELECT r.integration_id, r.record_type
        FROM hub_records r JOIN integrations i ON i.id = r.integration_id
        WHERE r.state = 'pending' AND r.next_attempt_at <= now() AND NOT {BATCHING_SQL}
          AND COALESCE((i.settings ->> 'batches')::boolean, true)
          AND (i.settings ->> 'batches_unsupported') IS NULL
        GROUP BY r.integration_id, r.record_type HAVING count(*) > :t
        """
    )
    with session_scope(engine) as s:
        return [(row[0], row[1]) for row in s.execute(sql, {"t": threshold})]


def take(
    engine: Engine,
    integration_id: int,
    worker: str,
    lease_seconds: float,
    *,
    record_type: str | None = None,
    limit: int = 1000,
    max_rank: int | None = None,
    roots: Sequence[str] = (),
    held: Sequence[str] = (),
) -> list[Record]:
    """Claim the records ready to go in a batch (a crashed batcher's records come back by lease).

    Ready: parked and released by the batch sweep, or pending and due; lowest prerequisite rank
    first. With `record_type`, only that type (the real-time burst); with `max_rank`, only types of
    that prerequisite rank or lower, or one of `roots`; never the `held` types (held_types)."""
    sql = text(
        f"""
        SELECT r.id FROM hub_records r JOIN integrations i ON i.id = r.integration_id
        WHERE r.integration_id = :i AND (CAST(:t AS text) IS NULL OR r.record_type = :t)
          AND (CAST(:m AS integer) IS NULL OR r.type_rank <= :m OR r.record_type = ANY(:roots))
          AND r.record_type <> ALL(CAST(:held AS text[]))
          AND ((r.state = 'pending' AND r.next_attempt_at <= now())
               OR (r.state = 'parked' AND r.created_at <= i.batch_released_at))
          AND NOT {OLDER_IN_FLIGHT.format(r="r")}  -- it goes first (as in transfers.claim)
        ORDER BY r.type_rank, r.next_attempt_at, r.id LIMIT :n FOR UPDATE OF r SKIP LOCKED
        """
    )
    with session_scope(engine) as s:
        params = {
            "i": integration_id,
            "t": record_type,
            "n": limit,
            "m": max_rank,
            "roots": list(roots),
            "held": list(held),
        }
        ids = [row[0] for row in s.execute(sql, params)]
        if not ids:
            return []
        rows = s.scalars(
            update(Record)
            .where(Record.id.in_(ids), Record.state.in_([State.PENDING, State.PARKED]))
            .values(
                state=State.IN_FLIGHT,
                leased_by=worker,
                lease_expires_at=func.now() + dt.timedelta(seconds=lease_seconds),
                reason=None,
                updated_at=func.now(),
            )
            .returning(Record)
        ).all()
        retired = {row[0] for row in s.connection().exec_driver_sql(RETIRE, {"ids": [r.id for r in rows]})}
        s.expunge_all()
        return sorted((r for r in rows if r.id not in retired), key=lambda r: (r.type_rank, r.id))


# A prerequisite on its way: it will land (or fail) soon, without anyone's help. One that waits
# itself, needs a person, or retries later is not; nor one that has not moved for `stale` seconds
# (a lost worker's, or a slow job's): a hold never outlasts it.
_ON_ITS_WAY = """(p.state IN ('queued', 'in_flight')
     OR (p.state = 'pending' AND p.next_attempt_at <= now())
     OR (p.state = 'parked' AND p.created_at <= i.batch_released_at))
    AND p.updated_at > now() - make_interval(secs => :stale)"""


def held_types(engine: Engine, integration_id: int, stale: float) -> set[str]:
    """Record types of which a record waits for a prerequisite on its way (_ON_ITS_WAY): their
    ready records wait to go with it in full batches, not in a part batch now and another later."""
    sql = text(
        f"""
        SELECT DISTINCT w.record_type
        FROM hub_records w JOIN integrations i ON i.id = w.integration_id
        CROSS JOIN LATERAL jsonb_array_elements(w.waiting_on) AS ref(v)
        JOIN hub_records p ON p.integration_id = w.integration_id AND p.record_type = ref.v ->> 'type'
             AND p.nue_id = ref.v ->> 'id'
        WHERE w.integration_id = :i AND w.state = 'waiting' AND {_ON_ITS_WAY}
        """
    )
    with session_scope(engine) as s:
        return set(s.scalars(sql, {"i": integration_id, "stale": stale}))


def open_ranks(engine: Engine, integration_id: int) -> set[str]:
    """Record types of this integration's batches still open."""
    with session_scope(engine) as s:
        return set(
            s.scalars(
                select(Batch.record_type)
                .where(Batch.integration_id == integration_id, Batch.state.in_(OPEN))
                .distinct()
            )
        )


def unfinished(engine: Engine, integration_id: int, besides: Sequence[int] = ()) -> list[Batch]:
    """This integration's open batches whose jobs are not known to have finished (prepared ones
    included: they are submitted next)."""
    with session_scope(engine) as s:
        q = select(Batch).where(
            Batch.integration_id == integration_id,
            Batch.state.in_(OPEN),
            func.coalesce(Batch.progress, "") != FINISHED,
        )
        if besides:
            q = q.where(Batch.id.not_in(list(besides)))
        rows = s.scalars(q).all()
        s.expunge_all()
        return list(rows)


def open_count(engine: Engine, integration_id: int) -> int:
    with session_scope(engine) as s:
        return int(
            s.scalar(
                select(func.count()).where(Batch.integration_id == integration_id, Batch.state.in_(OPEN))
            )
            or 0
        )


def create(
    engine: Engine,
    integration_id: int,
    record_type: str,
    ns_type: str,
    worker: str,
    members: Sequence[tuple[int, str, dict[str, Any], bool]],
) -> Batch | None:
    """Store a batch and its idempotency key, and bind its records to it, in one transaction.

    `members`: (record id, externalId, item body, created) in request order; only records still
    held by `worker` join (another may have taken one meanwhile)."""
    with session_scope(engine) as s:
        batch = Batch(
            integration_id=integration_id,
            record_type=record_type,
            ns_type=ns_type,
            idempotency_key=str(uuid.uuid4()),  # a UUID, as Oracle's example [subsect_164494900632]
            state=BatchState.PREPARED,
            items=[],
            body={"items": []},
            next_at=func.now(),
            submits=0,
            polls=0,
            succeeded=0,
            failed=0,
            retried=0,
        )
        s.add(batch)
        s.flush()
        won = set(
            s.scalars(
                update(Record)
                .where(
                    Record.id.in_([m[0] for m in members]),
                    Record.state == State.IN_FLIGHT,
                    Record.leased_by == worker,
                )
                .values(batch_id=batch.id, leased_by=f"batch:{batch.id}", lease_expires_at=None)
                .returning(Record.id)
            )
        )
        kept = [m for m in members if m[0] in won]
        if not kept:
            s.delete(batch)
            return None
        batch.items = [{"record_id": m[0], "external_id": m[1], "created": m[3]} for m in kept]
        batch.body = {"items": [m[2] for m in kept]}
        s.flush()
        s.refresh(batch)
        s.expunge(batch)
        return batch


def due(engine: Engine, integration_id: int, limit: int) -> list[Batch]:
    """Open batches to submit or poll now: those to submit first, then the oldest due."""
    with session_scope(engine) as s:
        rows = s.scalars(
            select(Batch)
            .where(Batch.integration_id == integration_id, Batch.state.in_(OPEN), Batch.next_at <= func.now())
            # Submits first: a wave's jobs all run before any is polled, and are read together.
            .order_by(Batch.state != BatchState.PREPARED, Batch.next_at, Batch.id)
            .limit(limit)
        ).all()
        s.expunge_all()
        return list(rows)


def with_due_batches(engine: Engine) -> list[int]:
    with session_scope(engine) as s:
        return list(
            s.scalars(
                select(Batch.integration_id)
                .where(Batch.state.in_(OPEN), Batch.next_at <= func.now())
                .distinct()
            )
        )


def set_state(engine: Engine, batch_id: int, *, delay: float | None = None, **values: Any) -> None:
    """Update a batch; `delay`: seconds until it is due again."""
    if delay is not None:
        values["next_at"] = func.now() + dt.timedelta(seconds=delay)
    if values.get("state") in (BatchState.DONE, BatchState.ABANDONED):
        values["finished_at"] = func.now()
    with session_scope(engine) as s:
        s.execute(update(Batch).where(Batch.id == batch_id).values(**values))


def defer_polls(engine: Engine, integration_id: int, delay: float) -> None:
    """This integration's submitted batches are due no sooner than in `delay` seconds."""
    later = func.now() + dt.timedelta(seconds=delay)
    with session_scope(engine) as s:
        s.execute(
            update(Batch)
            .where(Batch.integration_id == integration_id, Batch.state == BatchState.SUBMITTED)
            .values(next_at=func.greatest(Batch.next_at, later))
        )


def bump(engine: Engine, batch_id: int, column: str) -> None:
    with session_scope(engine) as s:
        s.execute(update(Batch).where(Batch.id == batch_id).values({column: getattr(Batch, column) + 1}))


def members(engine: Engine, batch: Batch) -> list[Record]:
    """The batch's records still waiting for its answer, in request order."""
    order = {item["record_id"]: n for n, item in enumerate(batch.items)}
    with session_scope(engine) as s:
        rows = s.scalars(
            select(Record).where(
                Record.id.in_(list(order)), Record.batch_id == batch.id, Record.state == State.IN_FLIGHT
            )
        ).all()
        s.expunge_all()
    return sorted(rows, key=lambda r: order[r.id])


def members_all(engine: Engine, batches: Sequence[Batch]) -> dict[int, list[Record]]:
    """`members` of several batches in one query: batch id -> its records, in request order."""
    out: dict[int, list[Record]] = {b.id: [] for b in batches}
    ids = [item["record_id"] for b in batches for item in b.items]
    if not ids:
        return out
    with session_scope(engine) as s:
        rows = s.scalars(
            select(Record).where(
                Record.id.in_(ids), Record.batch_id.in_(list(out)), Record.state == State.IN_FLIGHT
            )
        ).all()
        s.expunge_all()
    order = {item["record_id"]: n for b in batches for n, item in enumerate(b.items)}
    for rec in sorted(rows, key=lambda r: order[r.id]):
        if rec.batch_id in out:
            out[rec.batch_id].append(rec)
    return out


def to_single(engine: Engine, record_ids: Sequence[int], reason: str | None = None) -> list[int]:
    """Hand records to the one-call-per-record path (QUEUED: a worker's transfer claims them)."""
    if not record_ids:
        return []
    with session_scope(engine) as s:
        return list(
            s.scalars(
                update(Record)
                .where(Record.id.in_(list(record_ids)), Record.state == State.IN_FLIGHT)
                .values(
                    state=State.QUEUED,
                    dispatched_at=func.now(),
                    lease_expires_at=None,
                    leased_by=None,
                    reason=reason,
                )
                .returning(Record.id)
            )
        )


def requeue(engine: Engine, record_ids: Sequence[int], reason: str, delay: float = 0.0) -> int:
    """Back to PENDING (a later batch takes them), without counting an attempt."""
    if not record_ids:
        return 0
    with session_scope(engine) as s:
        return s.execute(
            update(Record)
            .where(Record.id.in_(list(record_ids)), Record.state == State.IN_FLIGHT)
            .values(
                state=State.PENDING,
                next_attempt_at=func.now() + dt.timedelta(seconds=delay),
                lease_expires_at=None,
                leased_by=None,
                reason=reason,
            )
        ).rowcount


def mark_unsupported(engine: Engine, integration_id: int, detail: str) -> None:
    """The account cannot take batches: its integration sends one record per call from now on."""
    from nue_ns.hub.models import Integration, utcnow

    with session_scope(engine) as s:
        integ = s.get(Integration, integration_id)
        if integ is not None:
            integ.settings = dict(integ.settings or {}) | {
                "batches_unsupported": {"since": utcnow().isoformat(), "detail": detail[:500]}
            }


def listing(engine: Engine, integration_id: int | None = None, limit: int = 50) -> list[Batch]:
    with session_scope(engine) as s:
        q = select(Batch).order_by(Batch.id.desc()).limit(limit)
        if integration_id is not None:
            q = q.where(Batch.integration_id == integration_id)
        rows = s.scalars(q).all()
        s.expunge_all()
        return list(rows)


def get(engine: Engine, batch_id: int) -> Batch | None:
    with session_scope(engine) as s:
        row = s.get(Batch, batch_id)
        if row is not None:
            s.expunge(row)
        return row


def counts(engine: Engine) -> dict[str, int]:
    """Batches by state, and their polls and per-record outcomes (metrics)."""
    with session_scope(engine) as s:
        out: dict[str, int] = {}
        for state, n, polls, submits, ok, failed, retried in s.execute(
            select(
                Batch.state,
                func.count(),
                func.coalesce(func.sum(Batch.polls), 0),
                func.coalesce(func.sum(Batch.submits), 0),
                func.coalesce(func.sum(Batch.succeeded), 0),
                func.coalesce(func.sum(Batch.failed), 0),
                func.coalesce(func.sum(Batch.retried), 0),
            ).group_by(Batch.state)
        ):
            out[f"batches_{state}"] = int(n)
            for key, v in (
                ("polls", polls),
                ("submits", submits),
                ("succeeded", ok),
                ("failed", failed),
                ("retried", retried),
            ):
                out[key] = out.get(key, 0) + int(v)
        return out


# ---------------------------------------------------------------- set-based writes for a whole batch
# A batch's records land together: one statement for all of them, never one per record (a batch of
# 100 was 100 UPDATEs, 100 link INSERTs and 100 wake UPDATEs; bench/batches.py).
