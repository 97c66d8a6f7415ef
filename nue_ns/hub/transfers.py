"""The worker's side of a record's transfer: claim, outcome, back-off, waiting.

Every transition is one conditional UPDATE whose guard and new state come from the state table
(hub/states.py), so two workers racing on one record can never both win it. The hot path (claim,
outcome) is prebuilt SQL on plain psycopg, on the connection the transfer checked out once
(hub/db.checkout): the claim, the prerequisites' links and the attempt logged before the call
(hub/attempts.py) are each a statement of its own (autocommitted), then one transaction finishes
the attempt with the outcome, the links, the waiters woken and the integration's window refilled.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from nue_ns.hub import states
from nue_ns.hub.attempts import close_in_flight
from nue_ns.hub.db import Hub, autocommitted, transaction
from nue_ns.hub.models import Record
from nue_ns.netsuite.errors import NetSuiteError
from nue_ns.refs import Ref

_COLUMNS = tuple(c.name for c in Record.__table__.columns)


class HeldRecord(SimpleNamespace):
    """A claimed record's row (the columns of `Record`, read by attribute): a plain object, since
    an ORM instance costs more to build than the claim's whole statement."""

    id: int
    integration_id: int
    record_type: str
    nue_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Claimed:
    record: Record
    integration_updated_at: dt.datetime  # the worker's cached integration is current if equal


# A later version of the same record that may still be sent (intake marks stale ones superseded).
_NEWER = """(SELECT min(n.id) FROM hub_records n
             WHERE n.integration_id = {r}.integration_id AND n.record_type = {r}.record_type
               AND n.nue_id = {r}.nue_id AND n.id > {r}.id AND n.state <> 'superseded')"""

# An older version of the same record in a worker's hands: it goes first, this one follows.
OLDER_IN_FLIGHT = """EXISTS (SELECT 1 FROM hub_records o
             WHERE o.integration_id = {r}.integration_id AND o.record_type = {r}.record_type
               AND o.nue_id = {r}.nue_id AND o.id < {r}.id AND o.state = 'in_flight')"""

_CLAIM = f"""
    WITH c AS (
        UPDATE hub_records SET state = {states.target("claim")}, leased_by = %(worker)s, updated_at = now(),
               lease_expires_at = now() + make_interval(secs => %(lease)s)
        WHERE id = %(id)s AND {states.guard("claim")}
        RETURNING *)
    SELECT c.*,
           (SELECT i.updated_at FROM integrations i WHERE i.id = c.integration_id) AS integration_updated_at,
           {OLDER_IN_FLIGHT.format(r="c")} AS older_in_flight,
           {_NEWER.format(r="c")} AS newer_id
    FROM c
"""


def claim(hub: Hub, record_id: int, worker: str, lease_seconds: float) -> Record | None:
    """Take a QUEUED record for this worker, or None if someone else has it or it is done (or an
    older version of it is in a worker's hands: it goes first, this one follows)."""
    with autocommitted(hub) as cur:
        claimed = claim_in(cur, record_id, worker, lease_seconds)
    return claimed.record if claimed else None


def claim_in(cur: Any, record_id: int, worker: str, lease_seconds: float) -> Claimed | None:
    """`claim` on the caller's cursor (a transfer's, which reads the prerequisites' links next)."""
    with cur.connection.cursor(row_factory=dict_row) as c:
        row = c.execute(_CLAIM, {"id": record_id, "worker": worker, "lease": lease_seconds}).fetchone()
    if row is None:
        return None
    if row["newer_id"] is not None:  # it came back (a retry, an operator's) after a newer version came
        retire_in(cur, [record_id])
        return None
    if row["older_in_flight"]:
        _to_pending(
            cur, "defer", record_id, 2.0, "an older version of this record is being sent; this one follows"
        )
        return None
    held = HeldRecord(**{k: row[k] for k in _COLUMNS})
    return Claimed(held, row["integration_updated_at"])  # type: ignore[arg-type]  # read like a Record


RETIRE = f"""
    UPDATE hub_records r SET state = {states.target("retire")}, updated_at = now(),
           lease_expires_at = NULL, leased_by = NULL,
           reason = 'replaced by version ' || {_NEWER.format(r="r")}
    WHERE r.id = ANY(CAST(%(ids)s AS bigint[])) AND {states.guard("retire", "r.state")}
      AND {_NEWER.format(r="r")} IS NOT NULL
    RETURNING r.id
"""


def retire_in(cur: Any, ids: Sequence[int]) -> set[int]:
    """Of the held records `ids`, those a newer version replaced are retired, never sent: an older
    version handed back (a transient failure, an operator's retry) after a newer one arrived.
    Returns the ids retired."""
    if not ids:
        return set()
    return {row[0] for row in cur.execute(RETIRE, {"ids": list(ids)})}


def _to_pending(cur: Any, verb: str, record_id: int, delay: float, reason: str, **extra: Any) -> bool:
    sets = "".join(f", {k} = %({k})s" for k in extra)
    moved = cur.execute(
        f"""
        UPDATE hub_records SET state = {states.target(verb)}, reason = %(reason)s, updated_at = now(),
               next_attempt_at = now() + make_interval(secs => %(delay)s),
               lease_expires_at = NULL, leased_by = NULL{sets}
        WHERE id = %(id)s AND {states.guard(verb)}
        """,
        {"id": record_id, "delay": max(0.0, delay), "reason": reason} | extra,
    ).rowcount
    return bool(moved)


def defer(hub: Hub, record_id: int, delay: float, reason: str) -> None:
    """Hand a record back without counting an attempt (no token, account paused)."""
    with transaction(hub) as cur:
        _to_pending(cur, "defer", record_id, delay, reason)


def _to_failed(cur: Any, verb: str, record_id: int, reason: str, **extra: Any) -> None:
    sets = "".join(f", {k} = %({k})s" for k in extra)
    cur.execute(
        f"""
        UPDATE hub_records SET state = {states.target(verb)}, reason = %(reason)s, updated_at = now(),
               lease_expires_at = NULL, leased_by = NULL{sets}
        WHERE id = %(id)s AND {states.guard(verb)}
        """,
        {"id": record_id, "reason": reason} | extra,
    )


def retry_later(
    hub: Hub, record: Record, error: NetSuiteError, *, max_attempts: int, base: float, cap: float
) -> str:
    """A transient failure: back off exponentially with full jitter, up to max_attempts."""
    attempts = record.attempts + 1
    fields = _error_fields(error)
    with transaction(hub) as cur:
        if attempts >= max_attempts:
            reason = f"gave up after {attempts} attempts: {error}"
            _to_failed(cur, "give_up", record.id, reason, attempts=attempts, **fields)
            return states.TRANSITIONS["give_up"].target
        delay = random.uniform(base, min(cap, base * 2 ** (attempts - 1)) + base)
        reason = f"retrying in {delay:.0f}s (attempt {attempts} failed: {error})"
        _to_pending(cur, "retry_later", record.id, delay, reason, attempts=attempts, **fields)
        return states.TRANSITIONS["retry_later"].target


def fail(hub: Hub, record: Record, error: NetSuiteError | str) -> None:
    """Needs a person: parked with NetSuite's own detail and field path, never retried by itself."""
    with transaction(hub) as cur:
        fail_in(cur, record, error)


def fail_in(cur: Any, record: Record, error: NetSuiteError | str) -> None:
    """`fail` inside the caller's transaction."""
    fields = _error_fields(error) if isinstance(error, NetSuiteError) else {"error_kind": "needs_person"}
    _to_failed(cur, "fail", record.id, f"needs a person: {error}", attempts=record.attempts + 1, **fields)


_WAIT_LOCK = "SELECT pg_advisory_xact_lock(%(i)s, hashtext(k)) FROM unnest(CAST(%(keys)s AS text[])) k"


def lock_refs(cur: Any, integration_id: int, refs: Sequence[Ref]) -> None:
    """Serialise a record that starts waiting for a prerequisite with the record that links it:
    whichever takes the lock second sees what the first committed (the waiter sees the link, or
    the completer sees the waiter), so no waiter sleeps through its wake-up. Locks are taken in
    one order (sorted), so two transactions never wait on each other."""
    keys = sorted({f"{r.type}:{r.id}" for r in refs})
    if keys:
        cur.execute(_WAIT_LOCK, {"i": integration_id, "keys": keys})


def wait_for(hub: Hub, record: Record, missing: Sequence[Ref], reason: str) -> None:
    """Park a record until its prerequisites are in NetSuite (or its mapping is fixed)."""
    wait_all(hub, record.integration_id, [(record.id, missing, reason)])


def wait_all(hub: Hub, integration_id: int, waits: Sequence[tuple[int, Sequence[Ref], str]]) -> int:
    """`wait_for` for many records of one integration (record id, what it waits for, reason), in one
    statement after the prerequisites' locks (lock_refs). Returns how many parked."""
    if not waits:
        return 0
    with transaction(hub) as cur:
        lock_refs(cur, integration_id, [ref for _, refs, _ in waits for ref in refs])
        return int(
            cur.execute(
                f"""
                UPDATE hub_records r SET state = {states.target("wait")}, waiting_on = v.w,
                       reason = v.reason, lease_expires_at = NULL, leased_by = NULL, updated_at = now()
                FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(w)s AS jsonb[]), CAST(%(reasons)s AS text[]))
                     AS v(id, w, reason)
                WHERE r.id = v.id AND {states.guard("wait", "r.state")}
                """,
                {
                    "ids": [w[0] for w in waits],
                    "w": [Jsonb([r.as_json() for r in w[1]]) for w in waits],
                    "reasons": [w[2] for w in waits],
                },
            ).rowcount
        )


# The record's links (its own, and further prerequisites it satisfies) to its NetSuite record.
_LINK = """
        INSERT INTO ns_links (integration_id, record_type, nue_id, ns_type, external_id, ns_internal_id,
                              record_id, transferred_at)
        SELECT %(i)s, k.t, k.n, %(ns_type)s, %(eid)s, %(nsid)s, %(id)s, now()
        FROM unnest(CAST(%(types)s AS text[]), CAST(%(nue_ids)s AS text[])) AS k(t, n)
        ON CONFLICT (integration_id, record_type, nue_id) DO UPDATE
        SET ns_type = EXCLUDED.ns_type, external_id = EXCLUDED.external_id,
            ns_internal_id = EXCLUDED.ns_internal_id, record_id = EXCLUDED.record_id,
            transferred_at = EXCLUDED.transferred_at
"""

# The record, its links and the waiters they release in one statement: its snapshot is taken after
# lock_refs, so it sees every waiter that parked before (see lock_refs).
_COMPLETE = f"""
    WITH done AS (
        UPDATE hub_records SET state = {states.target("complete")}, attempts = %(attempts)s,
               ns_type = %(ns_type)s, external_id = %(eid)s, ns_internal_id = %(nsid)s,
               transferred_at = now(), lease_expires_at = NULL, leased_by = NULL, reason = NULL,
               waiting_on = NULL, error_kind = NULL, error_status = NULL, error_code = NULL,
               error_detail = NULL, error_path = NULL, updated_at = now()
        WHERE id = %(id)s AND {states.guard("complete")}
        RETURNING id
    ), linked AS ({_LINK}        RETURNING 1
    ), follows AS (  -- a newer version deferred behind this one goes now (the refill hands it out)
        UPDATE hub_records f SET next_attempt_at = now()
        WHERE f.integration_id = %(i)s AND f.record_type = %(rtype)s AND f.nue_id = %(nue)s
          AND f.id > %(id)s AND f.state = 'pending' AND f.next_attempt_at > now()
        RETURNING 1
    )
    UPDATE hub_records w SET state = {states.target("wake")}, next_attempt_at = now(), waiting_on = NULL,
           reason = NULL, updated_at = now()
    FROM unnest(CAST(%(refs)s AS jsonb[])) AS r(ref)
    WHERE w.integration_id = %(i)s AND {states.guard("wake", "w.state")} AND w.waiting_on @> r.ref
"""

_WAKE = f"""
    UPDATE hub_records SET state = {states.target("wake")}, next_attempt_at = now(), waiting_on = NULL,
           reason = NULL, updated_at = now()
    WHERE integration_id = %(i)s AND {states.guard("wake")} AND waiting_on @> CAST(%(ref)s AS jsonb)
"""


def complete_in(
    cur: Any,
    record: Record,
    ns_type: str,
    external_id: str,
    internal_id: str,
    also: Sequence[Ref] = (),
    *,
    locked: bool = False,
) -> int:
    """Transferred, inside the caller's transaction: the NetSuite id stored, the record linked (and
    `also`, further prerequisites it satisfies: a customer's currencies), and the records that
    waited for any of them woken (returns how many). `locked`: the caller took the refs' locks
    already (lock_refs)."""
    refs = _refs(record, also)
    if not locked:
        lock_refs(cur, record.integration_id, refs)
    return cur.execute(
        _COMPLETE,
        {
            "id": record.id,
            "i": record.integration_id,
            "rtype": record.record_type,
            "nue": record.nue_id,
            "attempts": record.attempts + 1,
            "ns_type": ns_type,
            "eid": external_id,
            "nsid": internal_id,
            "types": [r.type for r in refs],
            "nue_ids": [r.id for r in refs],
            "refs": [Jsonb([r.as_json()]) for r in refs],
        },
    ).rowcount


def _refs(record: Record, also: Sequence[Ref] = ()) -> list[Ref]:
    return list(dict.fromkeys([Ref(record.record_type, record.nue_id), *also]))


def wake_in(cur: Any, integration_id: int, ref: Ref) -> int:
    return int(cur.execute(_WAKE, {"i": integration_id, "ref": json.dumps([ref.as_json()])}).rowcount)


def complete(hub: Hub, record: Record, ns_type: str, external_id: str, internal_id: str) -> None:
    """Transferred: store the NetSuite id, remember the link, wake records that waited for it."""
    complete_many(hub, [(record, ns_type, external_id, internal_id)])


def complete_many(
    hub: Hub, done: Sequence[tuple[Record, str, str, str]], also: Sequence[tuple[Record, Ref]] = ()
) -> int:
    """`complete` for many records (record, ns_type, externalId, internal id) in one transaction: a
    NetSuite batch's answer lands at once. `also`: (record, further prerequisite it satisfies, such
    as a customer's currency listing). Returns how many waiters were woken."""
    extra: dict[int, list[Ref]] = {}
    for rec, ref in also:
        extra.setdefault(rec.id, []).append(ref)
    with transaction(hub) as cur:
        # Every lock first, in one order: two batches (or a batch and a waiter) never deadlock.
        for integration_id in sorted({r.integration_id for r, *_ in done}):
            refs = [
                ref for r, *_ in done if r.integration_id == integration_id
                for ref in _refs(r, extra.get(r.id, ()))
            ]  # fmt: skip
            lock_refs(cur, integration_id, refs)
        return sum(complete_in(cur, *each, extra.get(each[0].id, ()), locked=True) for each in done)


def link_also(
    hub: Hub, record: Record, refs: Sequence[Ref], ns_type: str, external_id: str, internal_id: str
) -> int:
    """Further prerequisites a transferred record satisfies (a customer's currencies): linked to
    its NetSuite record and their waiters woken. Returns the number woken."""
    if not refs:
        return 0
    with transaction(hub) as cur:
        lock_refs(cur, record.integration_id, refs)
        cur.execute(
            _LINK,
            {
                "i": record.integration_id,
                "id": record.id,
                "ns_type": ns_type,
                "eid": external_id,
                "nsid": internal_id,
                "types": [r.type for r in refs],
                "nue_ids": [r.id for r in refs],
            },
        )
        return sum(wake_in(cur, record.integration_id, ref) for ref in refs)


def abandon(hub: Hub, record_id: int, reason: str, *, max_attempts: int, delay: float = 30.0) -> str:
    """An attempt that broke on our side (a bug, an answer we could not store): counted like a
    transient failure, its attempt row closed, and needs a person after `max_attempts`."""
    with transaction(hub) as cur:
        close_in_flight(cur, [record_id], "error", reason)
        row = cur.execute(
            f"""
            UPDATE hub_records SET attempts = attempts + 1, updated_at = now()
            WHERE id = %(id)s AND {states.guard("give_up")} RETURNING attempts
            """,
            {"id": record_id},
        ).fetchone()
        if row is None:
            return "gone"
        attempts = int(row[0])
        if attempts >= max_attempts:
            why = f"needs a person: gave up after {attempts} attempts: {reason}"
            _to_failed(cur, "give_up", record_id, why, error_kind="transient")
            return states.TRANSITIONS["give_up"].target
        _to_pending(
            cur, "retry_later", record_id, delay, f"{reason}; retrying (attempt {attempts} of {max_attempts})"
        )
        return states.TRANSITIONS["retry_later"].target


def requeue(hub: Hub, ids: Sequence[int], reason: str) -> list[int]:
    """The product's own re-queue (a waiter whose prerequisite landed meanwhile): due now, its
    attempt count kept, and the reason why; unlike an operator's `retry`, a fresh start."""
    if not ids:
        return []
    with transaction(hub) as cur:
        rows = cur.execute(
            f"""
            UPDATE hub_records SET state = {states.target("requeue")}, next_attempt_at = now(),
                   reason = %(reason)s, waiting_on = NULL, updated_at = now()
            WHERE id = ANY(CAST(%(ids)s AS bigint[])) AND {states.guard("requeue")}
            RETURNING id
            """,
            {"ids": list(ids), "reason": reason},
        )
        return [r[0] for r in rows]


def _error_fields(error: NetSuiteError) -> dict[str, Any]:
    return {
        "error_kind": error.kind.value,
        "error_status": error.status,
        "error_code": (error.code or "")[:64] or None,
        "error_detail": (error.detail or "")[:4000],
        "error_path": (error.path or "")[:200] or None,
    }
