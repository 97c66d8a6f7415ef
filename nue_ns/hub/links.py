"""What the hub knows of records already in NetSuite, for linking documents and refusing changes
NetSuite cannot make: the version last transferred, its NetSuite type, the invoices of an order.

Plain SQL (hub/db.transaction): a transfer asks these on the connection it holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Any

from nue_ns.hub.db import Hub, transaction


def ns_types(hub: Hub, integration_id: int, record_type: str, nue_ids: Sequence[str]) -> dict[str, str]:
    """{nue id: NetSuite record type} of those already transferred."""
    if not nue_ids:
        return {}
    with transaction(hub) as cur:
        rows = cur.execute(
            """
            SELECT nue_id, ns_type FROM ns_links
            WHERE integration_id = %(i)s AND record_type = %(t)s AND nue_id = ANY(CAST(%(ids)s AS text[]))
            """,
            {"i": integration_id, "t": record_type, "ids": list(nue_ids)},
        )
        return {nue_id: ns_type for nue_id, ns_type in rows}


def transferred(hub: Hub, integration_id: int, record_type: str, nue_id: str) -> dict[str, Any] | None:
    """The payload of the version last transferred (None: never transferred)."""
    with transaction(hub) as cur:
        row = cur.execute(
            """
            SELECT r.payload FROM ns_links l JOIN hub_records r ON r.id = l.record_id
            WHERE l.integration_id = %(i)s AND l.record_type = %(t)s AND l.nue_id = %(n)s
            """,
            {"i": integration_id, "t": record_type, "n": nue_id},
        ).fetchone()
        return row[0] if row else None


def order_invoiced(hub: Hub, integration_id: int, order_id: str) -> bool:
    """Whether an invoice of this order is in NetSuite (then the order's lines are billed or closed)."""
    with transaction(hub) as cur:
        row = cur.execute(
            """
            SELECT 1 FROM ns_links l JOIN hub_records r ON r.id = l.record_id
            WHERE l.integration_id = %(i)s AND l.record_type = 'invoice' AND r.payload ->> 'order_id' = %(o)s
            LIMIT 1
            """,
            {"i": integration_id, "o": order_id},
        ).fetchone()
        return row is not None


def nue_ids_of(hub: Hub, integration_id: int, refs: Set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(NetSuite type, internal id): nue id} of those of `refs` nue-ns wrote."""
    if not refs:
        return {}
    with transaction(hub) as cur:
        rows = cur.execute(
            """
            SELECT ns_type, ns_internal_id, nue_id FROM ns_links
            WHERE integration_id = %(i)s AND ns_internal_id = ANY(CAST(%(ids)s AS text[]))
            """,
            {"i": integration_id, "ids": sorted({i for _, i in refs})},
        )
        return {(t, i): n for t, i, n in rows if (t, i) in refs}


def customer_ids(hub: Hub, integration_id: int, nue_ids: Iterable[str]) -> dict[str, str]:
    """{nue id: NetSuite internal id} of those of these customers nue-ns wrote."""
    wanted = sorted(set(nue_ids))
    if not wanted:
        return {}
    with transaction(hub) as cur:
        rows = cur.execute(
            """
            SELECT nue_id, ns_internal_id FROM ns_links
            WHERE integration_id = %(i)s AND record_type = 'customer'
              AND nue_id = ANY(CAST(%(ids)s AS text[]))
            """,
            {"i": integration_id, "ids": wanted},
        )
        return dict(rows)
