"""Producers' records into the hub: one set-based statement per part of a batch, all in one pipeline.

Each record is serialised once (its canonical JSON: what is hashed is what is stored) and sent as
an element of an array parameter. One statement per part of a batch inserts the new versions,
marks a version older than one the hub has as superseded, and retires the open older versions
the new ones replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
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

# A part's rows, sent as four arrays in binary (psycopg's text format quotes array elements in
# Python, one regex each): no bind parameter per row, so a part of any size fits (PostgreSQL
# allows 65,535 parameters per statement), and no COPY, so every part of a batch goes out in one
# pipeline.
_BATCH = """
unnest(%(ids)b::text[], %(upds)b::timestamptz[], %(hashes)b::text[], %(payloads)b::text[])
    WITH ORDINALITY AS b(nue_id, upd, hash, payload, ord)
"""

# Every lookup of a record's other versions is a correlated subquery (EXISTS, or LATERAL kept
# from being flattened into a join by OFFSET 0): one probe of ix_records_nue per batch row,
# whatever the statistics say. A join the planner may reorder went quadratic: the batch has no
# statistics, a new hub table none either, and without them the planner scanned every open
# row of the integration once per batch row (5 s for 1,000 rows into a table of 6,000).
#
# The new versions, in the batch's order (their ids follow it). A version older (by the
# producer's updated_at) than one the hub holds open or sent goes in as superseded, never sent.
# Every new version, stale or not, retires the open older versions of its record; those are the
# rows this statement's snapshot sees, so never the ones it inserts.
_INSERT = (
    """
WITH ins AS (
    INSERT INTO hub_records (integration_id, record_type, type_rank, nue_id, source_updated_at,
                             version_hash, payload, state, reason, next_attempt_at, attempts)
    SELECT %(i)s, %(t)s, %(rank)s, b.nue_id, b.upd, b.hash, b.payload::jsonb,
           CASE WHEN newer.found THEN 'superseded' ELSE %(state)s END,
           CASE WHEN newer.found THEN %(stale)s ELSE %(reason)s END,
           %(now)s, 0
    FROM """
    + _BATCH
    + """
    CROSS JOIN LATERAL (
        SELECT b.upd IS NOT NULL AND EXISTS (
            SELECT 1 FROM hub_records o
            WHERE o.integration_id = %(i)s AND o.record_type = %(t)s AND o.nue_id = b.nue_id
              AND o.state <> 'superseded' AND o.source_updated_at > b.upd)
    ) AS newer(found)
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
)

# The versions the hub already had (the insert skipped them): their rows as they stand.
_EXISTING = (
    """
SELECT r.id, b.nue_id, r.state FROM """
    + _BATCH
    + """
CROSS JOIN LATERAL (
    SELECT r.id, r.state FROM hub_records r
    WHERE r.integration_id = %(i)s AND r.record_type = %(t)s AND r.nue_id = b.nue_id
      AND r.version_hash = b.hash
    OFFSET 0
) AS r
"""
)


Row = tuple[int, str, dt.datetime | None, str, str]  # ord, nue_id, updated_at, hash, canonical JSON


def latest_versions(records: Sequence[_Record]) -> dict[str, _Record]:
    """Within one batch the last version of a record wins, in the place of its first appearance."""
    latest: dict[str, _Record] = {}
    for rec in records:
        latest[rec.id] = rec
    return latest


def batch_rows(latest: dict[str, _Record]) -> Iterator[Row]:
    """The rows of a batch: each record serialised once, hashed from that text."""
    for ord_, (nue_id, rec) in enumerate(latest.items()):
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
    sent: list[tuple[Any, dict[str, _Record], dict[str, list[Any]]]] = []
    with engine.begin() as conn:
        raw = conn.connection.driver_connection  # psycopg's: pipeline mode is not SQLAlchemy's to give
        assert raw is not None
        with raw.pipeline():
            for part in parts:
                if not part:
                    continue
                latest = latest_versions(part)
                arrays = _arrays(latest)
                cur = raw.cursor()  # one per part: a cursor holds the results of its last statement
                cur.execute(_INSERT, params | arrays)  # sent; PostgreSQL inserts while the next part is made
                sent.append((cur, latest, arrays))
        accepted: list[Accepted] = []
        for cur, latest, arrays in sent:
            accepted += _results(cur, record_type, latest, params | arrays)
            cur.close()
    return accepted


def _arrays(latest: dict[str, _Record]) -> dict[str, list[Any]]:
    columns: tuple[list[Any], ...] = ([], [], [], [])
    for _, *values in batch_rows(latest):
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return dict(zip(("ids", "upds", "hashes", "payloads"), columns, strict=True))


def _results(
    cur: Any, record_type: str, latest: dict[str, _Record], params: dict[str, Any]
) -> list[Accepted]:
    """A part's answers (`latest`: its records), in its order."""
    results: dict[str, Accepted] = {}
    for id_, nue_id, state in cur.fetchall():
        results[nue_id] = Accepted(id_, record_type, nue_id, True, state)
    if len(results) < len(latest):
        cur.execute(_EXISTING, params)
        for id_, nue_id, state in cur.fetchall():
            if nue_id not in results:
                results[nue_id] = Accepted(id_, record_type, nue_id, False, state)
    return [results[nue_id] for nue_id in latest if nue_id in results]
