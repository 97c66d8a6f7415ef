"""The producers' side of the hub: validated records stored, each version once.

The rest of the record's life is in the hub modules named after it: dispatching.py (hub to
Redis), transfer.py (the worker's side), attempts.py (the attempt log), prerequisites.py,
sweeps.py, operators.py; the state table they build their statements from is states.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Integration, State, utcnow
from nue_ns.records import TYPE_ORDER, _Record


def _canonical(record: _Record) -> str:
    """The record's one serialisation: what is hashed is what is stored."""
    return json.dumps(record.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def version_hash(record: _Record) -> str:
    return hashlib.sha256(_canonical(record).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    id: int
    record_type: str
    nue_id: str
    created: bool  # False: this exact version was already in the hub
    state: str


# ---------------------------------------------------------------- producers


def accept(
    engine: Engine, integration: Integration, record_type: str, records: Sequence[_Record]
) -> list[Accepted]:
    """Store validated records in one transaction; the same version twice is one row.

    A newer version supersedes the open older ones (except one a worker holds right now: that
    one finishes and the newer one follows). A version older than one the hub has (by the
    producer's `updated_at`) is kept as superseded and never sent.
    """
    if not records:
        return []
    scheduled = bool((integration.settings or {}).get("scheduled_mode"))
    initial = State.PARKED if scheduled else State.PENDING
    now = utcnow()
    latest: dict[str, _Record] = {}
    for rec in records:  # within one batch the last version of a record wins
        latest[rec.id] = rec
    # Set-based: the batch travels as one array per column (a handful of bind parameters
    # whatever its size; PostgreSQL allows 65,535 per statement), each record serialised once.
    texts = {nue_id: _canonical(rec) for nue_id, rec in latest.items()}
    hashes = {nue_id: hashlib.sha256(t.encode()).hexdigest() for nue_id, t in texts.items()}
    params = {
        "i": integration.id,
        "t": record_type,
        "rank": TYPE_ORDER[record_type],
        "state": initial.value,
        "reason": "waiting for the scheduled batch" if scheduled else None,
        "now": now,
        "nue_ids": list(latest),
        "upd": [getattr(rec, "updated_at", None) for rec in latest.values()],
        "hashes": list(hashes.values()),
        "payloads": list(texts.values()),
    }
    results: dict[str, Accepted] = {}
    with session_scope(engine) as s:
        inserted = s.execute(
            text(
                """
                INSERT INTO hub_records (integration_id, record_type, type_rank, nue_id, source_updated_at,
                                         version_hash, payload, state, reason, next_attempt_at, attempts)
                SELECT :i, :t, :rank, n.nue_id, n.upd, n.hash, CAST(n.payload AS jsonb), :state, :reason,
                       :now, 0
                FROM unnest(CAST(:nue_ids AS text[]), CAST(:upd AS timestamptz[]), CAST(:hashes AS text[]),
                            CAST(:payloads AS text[])) WITH ORDINALITY AS n(nue_id, upd, hash, payload, ord)
                ORDER BY n.ord
                ON CONFLICT ON CONSTRAINT uq_record_version DO NOTHING
                RETURNING id, nue_id, source_updated_at
                """
            ),
            params,
        ).all()
        new_ids = {r.nue_id: r for r in inserted}
        for row in inserted:
            results[row.nue_id] = Accepted(row.id, record_type, row.nue_id, True, initial.value)
        if new_ids:
            _supersede(s, integration.id, record_type, list(new_ids.values()))
        missing = [rid for rid in latest if rid not in new_ids]
        if missing:
            for row in s.execute(
                text(
                    """
                    SELECT r.id, r.nue_id, r.state FROM hub_records r
                    JOIN unnest(CAST(:nue_ids AS text[]), CAST(:hashes AS text[])) AS m(nue_id, hash)
                      ON r.nue_id = m.nue_id AND r.version_hash = m.hash
                    WHERE r.integration_id = :i AND r.record_type = :t
                    """
                ),
                {
                    "i": integration.id,
                    "t": record_type,
                    "nue_ids": missing,
                    "hashes": [hashes[m] for m in missing],
                },
            ):
                results[row.nue_id] = Accepted(row.id, record_type, row.nue_id, False, row.state)
        if new_ids:
            by_id = {row.id: row.nue_id for row in inserted}
            for row in s.execute(
                text(
                    """
                    SELECT id FROM hub_records
                    WHERE id = ANY(CAST(:ids AS bigint[])) AND state = 'superseded'
                    """
                ),
                {"ids": list(by_id)},
            ):
                nue_id = by_id[row.id]
                results[nue_id] = Accepted(row.id, record_type, nue_id, True, State.SUPERSEDED.value)
    return [results[rid] for rid in latest if rid in results]


def _supersede(s, integration_id: int, record_type: str, new_rows: Iterable[Any]) -> None:
    new_rows = list(new_rows)
    # The new versions come in as arrays (unnest) and the older ones are found through
    # ix_records_nue, one index probe each: no self-join for the planner to turn quadratic.
    params = {
        "i": integration_id,
        "t": record_type,
        "ids": [r.id for r in new_rows],
        "nue_ids": [r.nue_id for r in new_rows],
        "upd": [r.source_updated_at for r in new_rows],
    }
    replaceable = [
        st.value for st in (State.PARKED, State.PENDING, State.WAITING, State.FAILED, State.QUEUED)
    ]
    # Older open versions give way to the new one ...
    s.execute(
        text(
            """
            UPDATE hub_records o SET state = 'superseded', reason = 'replaced by version ' || n.id,
                   updated_at = now(), waiting_on = NULL
            FROM unnest(CAST(:ids AS bigint[]), CAST(:nue_ids AS text[]), CAST(:upd AS timestamptz[]))
                 AS n(id, nue_id, source_updated_at)
            WHERE o.integration_id = :i AND o.record_type = :t AND o.nue_id = n.nue_id AND o.id < n.id
              AND o.state = ANY(:states)
              AND (o.source_updated_at IS NULL OR n.source_updated_at IS NULL
                   OR o.source_updated_at <= n.source_updated_at)
            """
        ),
        params | {"states": replaceable},
    )
    if not any(params["upd"]):
        return
    # ... and a new row that is older than a version the hub already has is never sent.
    s.execute(
        text(
            """
            UPDATE hub_records SET state = 'superseded', updated_at = now(),
                   reason = 'stale: the hub has a newer version of this record (by updated_at)'
            WHERE id IN (
                SELECT n.id
                FROM unnest(CAST(:ids AS bigint[]), CAST(:nue_ids AS text[]), CAST(:upd AS timestamptz[]))
                     AS n(id, nue_id, source_updated_at)
                WHERE n.source_updated_at IS NOT NULL AND EXISTS (
                    SELECT 1 FROM hub_records o
                    WHERE o.integration_id = :i AND o.record_type = :t AND o.nue_id = n.nue_id
                      AND o.id <> n.id AND o.state <> 'superseded'
                      AND o.source_updated_at > n.source_updated_at))
            """
        ),
        params,
    )
