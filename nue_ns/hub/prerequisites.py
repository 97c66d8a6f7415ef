"""Prerequisites: which are in NetSuite (the links), where the hub's own copies stand, and the
waiters they release."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select, text

from nue_ns.hub import states
from nue_ns.hub.db import Hub, session_scope, transaction
from nue_ns.hub.models import Record, State
from nue_ns.hub.transfers import wake_in
from nue_ns.refs import Ref

_LINKS = """
    SELECT l.record_type, l.nue_id, l.ns_internal_id, l.ns_type FROM ns_links l
    JOIN unnest(CAST(%(types)s AS text[]), CAST(%(nue_ids)s AS text[])) AS k(t, n)
      ON l.record_type = k.t AND l.nue_id = k.n
    WHERE l.integration_id = %(i)s
"""


def links_in(cur: Any, integration_id: int, refs: Sequence[Ref]) -> dict[Ref, tuple[str, str]]:
    """{ref: (NetSuite internal id, NetSuite type)} of those in NetSuite, on the caller's cursor
    (a transfer's, right after its claim)."""
    if not refs:
        return {}
    params = {"i": integration_id, "types": [r.type for r in refs], "nue_ids": [r.id for r in refs]}
    return {Ref(t, n): (nsid, ns_type) for t, n, nsid, ns_type in cur.execute(_LINKS, params)}


def resolve(hub: Hub, integration_id: int, refs: Sequence[Ref]) -> tuple[dict[Ref, str], list[Ref]]:
    """NetSuite internal ids of the prerequisites that are there, and the list of those missing."""
    if not refs:
        return {}, []
    with transaction(hub) as cur:
        found = {ref: nsid for ref, (nsid, _) in links_in(cur, integration_id, refs).items()}
    return found, [r for r in refs if r not in found]


def hurry(hub: Hub, integration_id: int, refs: Sequence[Ref]) -> int:
    """Make the hub's open versions of these prerequisites due now (even in scheduled mode)."""
    if not refs:
        return 0
    with transaction(hub) as cur:
        return int(
            cur.execute(
                f"""
                UPDATE hub_records r SET state = {states.target("hurry")}, next_attempt_at = now(),
                       updated_at = now()
                FROM unnest(CAST(%(types)s AS text[]), CAST(%(nue_ids)s AS text[])) AS k(t, n)
                WHERE r.integration_id = %(i)s AND r.record_type = k.t AND r.nue_id = k.n
                  AND {states.guard("hurry", "r.state")}
                """,
                {"i": integration_id, "types": [r.type for r in refs], "nue_ids": [r.id for r in refs]},
            ).rowcount
        )


def wake_mapping(hub: Hub, integration_id: int) -> int:
    """A corrected mapping releases the records that waited for it."""
    with transaction(hub) as cur:
        return wake_in(cur, integration_id, Ref("mapping", str(integration_id)))


def prerequisite_states(hub: Hub, integration_id: int, refs: Sequence[Ref]) -> dict[Ref, str | None]:
    """Where the hub's latest version of each prerequisite stands (None: the hub does not hold it),
    in one query however many (a batch's first form parks hundreds of documents)."""
    out: dict[Ref, str | None] = {r: None for r in refs}
    if not refs:
        return out
    with transaction(hub) as cur:
        rows = cur.execute(
            """
            SELECT DISTINCT ON (r.record_type, r.nue_id) r.record_type, r.nue_id, r.state
            FROM hub_records r JOIN unnest(CAST(%(types)s AS text[]), CAST(%(nue_ids)s AS text[])) AS k(t, n)
                 ON r.record_type = k.t AND r.nue_id = k.n
            WHERE r.integration_id = %(i)s AND r.state <> 'superseded'
            ORDER BY r.record_type, r.nue_id, r.id DESC
            """,
            {"i": integration_id, "types": [r.type for r in refs], "nue_ids": [r.id for r in refs]},
        )
        for rtype, nue_id, state in rows:
            out[Ref(rtype, nue_id)] = state
    return out


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
