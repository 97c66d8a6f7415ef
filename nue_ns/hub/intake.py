"""Producers' records into the hub: one COPY and one set-based statement per batch.

Each record is serialised once (its canonical JSON: what is hashed is what is stored) and streamed
to PostgreSQL with COPY into a per-connection temporary table: no bind parameter per row, so a
batch of any size fits (PostgreSQL allows 65,535 parameters per statement). One statement then
inserts the new versions, marks a version older than one the hub has as superseded, and retires
the open older versions the new ones replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from nue_ns.hub.models import Integration, State, utcnow
from nue_ns.records import TYPE_ORDER, _Record

# json.dumps with these arguments makes a new encoder per call (half its time for a customer);
# one kept encoder gives the same text.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _canonical(record: _Record) -> str:
    """The record's one serialisation: what is hashed is what is stored."""
    return _ENCODER.encode(record.model_dump(mode="json"))


def version_hash(record: _Record) -> str:
    return hashlib.sha256(_canonical(record).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    id: int
    record_type: str
    nue_id: str
    created: bool  # False: this exact version was already in the hub
    state: str


# Open states a newer version replaces; in_flight is not among them: a worker holds that one right
# now, it finishes and the newer version follows.
_REPLACEABLE = [s.value for s in (State.PARKED, State.PENDING, State.WAITING, State.FAILED, State.QUEUED)]
_STALE = "stale: the hub has a newer version of this record (by updated_at)"

# The batch table: one per connection, emptied at every commit, so no catalog churn per batch
# (ON COMMIT DROP would create and drop a table each time); created again if the transaction that
# created it rolled back.
_PREPARE = """
CREATE TEMPORARY TABLE IF NOT EXISTS intake_batch (
    ord integer NOT NULL, nue_id text NOT NULL, upd timestamptz, hash text NOT NULL, payload jsonb NOT NULL
) ON COMMIT DELETE ROWS
"""
_COPY = "COPY intake_batch (ord, nue_id, upd, hash, payload) FROM STDIN"

# Every lookup of a record's other versions is a correlated subquery (EXISTS, or LATERAL kept
# from being flattened into a join by OFFSET 0): one probe of ix_records_nue per batch row,
# whatever the statistics say. A join the planner may reorder went quadratic: a temporary table
# has no statistics, a new hub table none either, and without them the planner scanned every open
# row of the integration once per batch row (5 s for 1,000 rows into a table of 6,000).
#
# The new versions, in the batch's order (their ids follow it). A version older (by the
# producer's updated_at) than one the hub holds open or sent goes in as superseded, never sent.
# Every new version, stale or not, retires the open older versions of its record; those are the
# rows this statement's snapshot sees, so never the ones it inserts.
_INSERT = """
WITH ins AS (
    INSERT INTO hub_records (integration_id, record_type, type_rank, nue_id, source_updated_at,
                             version_hash, payload, state, reason, next_attempt_at, attempts)
    SELECT %(i)s, %(t)s, %(rank)s, b.nue_id, b.upd, b.hash, b.payload,
           CASE WHEN newer.found THEN 'superseded' ELSE %(state)s END,
           CASE WHEN newer.found THEN %(stale)s ELSE %(reason)s END,
           %(now)s, 0
    FROM intake_batch b
    CROSS JOIN LATERAL (
        SELECT b.upd IS NOT NULL AND EXISTS (
            SELECT 1 FROM hub_records o
            WHERE o.integration_id = %(i)s AND o.record_type = %(t)s AND o.nue_id = b.nue_id
              AND o.state <> 'superseded' AND o.source_updated_at > b.upd)
    ) AS newer(found)
    WHERE b.ord >= %(first)s
    ORDER BY b.ord
    ON CONFLICT ON CONSTRAINT uq_record_version DO NOTHING
    RETURNING id, nue_id, source_updated_at, state
), older AS (
    SELECT o.id, ins.id AS new_id
    FROM ins CROSS JOIN LATERAL (
        SELECT o.id FROM hub_records o
        WHERE o.integration_id = %(i)s AND o.record_type = %(t)s AND o.nue_id = ins.nue_id
          AND o.id < ins.id AND o.state = ANY(%(states)s)
          AND (o.source_updated_at IS NULL OR ins.source_updated_at IS NULL
               OR o.source_updated_at <= ins.source_updated_at)
        OFFSET 0
    ) AS o
), replaced AS (
    UPDATE hub_records r SET state = 'superseded', reason = 'replaced by version ' || older.new_id,
           updated_at = now(), waiting_on = NULL
    FROM older WHERE r.id = older.id
    RETURNING r.id
)
SELECT id, nue_id, state FROM ins
"""

# The versions the hub already had (the insert skipped them): their rows as they stand.
_EXISTING = """
SELECT r.id, b.nue_id, r.state FROM intake_batch b
CROSS JOIN LATERAL (
    SELECT r.id, r.state FROM hub_records r
    WHERE r.integration_id = %(i)s AND r.record_type = %(t)s AND r.nue_id = b.nue_id
      AND r.version_hash = b.hash
    OFFSET 0
) AS r
WHERE b.ord >= %(first)s
"""


Row = tuple[int, str, dt.datetime | None, str, str]  # ord, nue_id, updated_at, hash, canonical JSON


def latest_versions(records: Sequence[_Record]) -> dict[str, _Record]:
    """Within one batch the last version of a record wins, in the place of its first appearance."""
    latest: dict[str, _Record] = {}
    for rec in records:
        latest[rec.id] = rec
    return latest


def batch_rows(latest: dict[str, _Record], first: int = 0) -> Iterator[Row]:
    """The COPY rows, made as they are sent: each record serialised once, hashed from that text.
    A generator, so that PostgreSQL reads the first rows while the next are being serialised."""
    for ord_, (nue_id, rec) in enumerate(latest.items(), first):
        canonical = _canonical(rec)
        yield (
            ord_,
            nue_id,
            getattr(rec, "updated_at", None),
            hashlib.sha256(canonical.encode()).hexdigest(),
            canonical,
        )


# A batch larger than this is stored part by part (see accept_parts).
PART = 250


def accept(
    engine: Engine, integration: Integration, record_type: str, records: Sequence[_Record]
) -> list[Accepted]:
    """Store validated records in one transaction; the same version twice is one row.

    A newer version supersedes the open older ones (except one a worker holds right now: that
    one finishes and the newer one follows). A version older than one the hub has (by the
    producer's `updated_at`) is kept as superseded and never sent. One result per record (the
    last version of a record given twice), in the batch's order.
    """
    if not records:
        return []
    return accept_parts(engine, integration, record_type, [records])


def accept_parts(
    engine: Engine, integration: Integration, record_type: str, parts: Iterable[Sequence[_Record]]
) -> list[Accepted]:
    """accept() for a batch given in parts, in one transaction: each part is inserted by its own
    statement, sent in pipeline mode, and the next part is taken from `parts` (validated there)
    and serialised while PostgreSQL inserts the previous one. No record may be in two parts (a
    version in a later part would supersede one of an earlier part rather than replace it). An
    exception raised by `parts` rolls the whole batch back."""
    scheduled = bool((integration.settings or {}).get("scheduled_mode"))
    initial = State.PARKED if scheduled else State.PENDING
    params: dict[str, Any] = {
        "i": integration.id,
        "t": record_type,
        "rank": TYPE_ORDER[record_type],
        "state": initial.value,
        "reason": "waiting for the scheduled batch" if scheduled else None,
        "stale": _STALE,
        "states": _REPLACEABLE,
        "now": utcnow(),
    }
    accepted: list[Accepted] = []
    with engine.begin() as conn:
        raw = conn.connection.driver_connection  # psycopg's: COPY is not SQLAlchemy's to give
        assert raw is not None
        with raw.cursor() as cur, ExitStack() as inflight:
            cur.execute(_PREPARE)
            prev: dict[str, _Record] | None = None  # the part whose insert is in flight
            prev_first = first = 0  # the first ord of that part, and of the next
            for part in parts:
                if not part:
                    continue
                latest = latest_versions(part)
                rows: Iterable[Row] = batch_rows(latest, first)
                if prev is not None:
                    rows = list(rows)  # serialised while the previous part is inserted
                    inflight.close()  # leaves pipeline mode: the previous insert's results
                    accepted += _results(cur, record_type, prev, params | {"first": prev_first})
                with cur.copy(_COPY) as copy:
                    for row in rows:
                        copy.write_row(row)
                inflight.enter_context(raw.pipeline())
                cur.execute(_INSERT, params | {"first": first})  # sent; its results read later
                prev, prev_first = latest, first
                first += len(latest)
            if prev is not None:
                inflight.close()
                accepted += _results(cur, record_type, prev, params | {"first": prev_first})
    return accepted


def _results(
    cur: Any, record_type: str, latest: dict[str, _Record], params: dict[str, Any]
) -> list[Accepted]:
    """The results of the part just inserted (`latest`), in its order; `params["first"]` its first ord."""
    results: dict[str, Accepted] = {}
    for id_, nue_id, state in cur.fetchall():
        results[nue_id] = Accepted(id_, record_type, nue_id, True, state)
    if len(results) < len(latest):
        cur.execute(_EXISTING, params)
        for id_, nue_id, state in cur.fetchall():
            if nue_id not in results:
                results[nue_id] = Accepted(id_, record_type, nue_id, False, state)
    return [results[nue_id] for nue_id in latest if nue_id in results]
