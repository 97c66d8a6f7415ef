"""What the hub knows of records already in NetSuite, for linking documents and refusing changes
NetSuite cannot make: the version last transferred, its NetSuite type, the invoices of an order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Any

from sqlalchemy import Engine, select

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import NetSuiteLink, Record


def ns_types(engine: Engine, integration_id: int, record_type: str, nue_ids: Sequence[str]) -> dict[str, str]:
    """{nue id: NetSuite record type} of those already transferred."""
    if not nue_ids:
        return {}
    with session_scope(engine) as s:
        rows = s.execute(
            select(NetSuiteLink.nue_id, NetSuiteLink.ns_type).where(
                NetSuiteLink.integration_id == integration_id,
                NetSuiteLink.record_type == record_type,
                NetSuiteLink.nue_id.in_(list(nue_ids)),
            )
        )
        return {r.nue_id: r.ns_type for r in rows}


def transferred(engine: Engine, integration_id: int, record_type: str, nue_id: str) -> dict[str, Any] | None:
    """The payload of the version last transferred (None: never transferred)."""
    with session_scope(engine) as s:
        return s.scalar(
            select(Record.payload)
            .join(NetSuiteLink, NetSuiteLink.record_id == Record.id)
            .where(
                NetSuiteLink.integration_id == integration_id,
                NetSuiteLink.record_type == record_type,
                NetSuiteLink.nue_id == nue_id,
            )
        )


def order_invoiced(engine: Engine, integration_id: int, order_id: str) -> bool:
    """Whether an invoice of this order is in NetSuite (then the order's lines are billed or closed)."""
    with session_scope(engine) as s:
        found = s.scalar(
            select(NetSuiteLink.nue_id)
            .join(Record, NetSuiteLink.record_id == Record.id)
            .where(
                NetSuiteLink.integration_id == integration_id,
                NetSuiteLink.record_type == "invoice",
                Record.payload["order_id"].astext == order_id,
            )
            .limit(1)
        )
        return found is not None


def nue_ids_of(engine: Engine, integration_id: int, refs: Set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(NetSuite type, internal id): nue id} of those of `refs` nue-ns wrote."""
    if not refs:
        return {}
    with session_scope(engine) as s:
        rows = s.execute(
            select(NetSuiteLink.ns_type, NetSuiteLink.ns_internal_id, NetSuiteLink.nue_id).where(
                NetSuiteLink.integration_id == integration_id,
                NetSuiteLink.ns_internal_id.in_({i for _, i in refs}),
            )
        )
        return {(t, i): n for t, i, n in rows if (t, i) in refs}


def customer_ids(engine: Engine, integration_id: int, nue_ids: Iterable[str]) -> dict[str, str]:
    """{nue id: NetSuite internal id} of those of these customers nue-ns wrote (1,000 asked at a time)."""
    wanted = sorted(set(nue_ids))
    found: dict[str, str] = {}
    with session_scope(engine) as s:
        for i in range(0, len(wanted), 1000):
            rows = s.execute(
                select(NetSuiteLink.nue_id, NetSuiteLink.ns_internal_id).where(
                    NetSuiteLink.integration_id == integration_id,
                    NetSuiteLink.record_type == "customer",
                    NetSuiteLink.nue_id.in_(wanted[i : i + 1000]),
                )
            )
            found.update({r.nue_id: r.ns_internal_id for r in rows})
    return found
