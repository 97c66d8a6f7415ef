"""Bench data: the sample month, and a copy of its documents under fresh ids (a "warm" month)."""

from __future__ import annotations

import re
from typing import Any

from nue_ns import sample
from nue_ns.context import Context
from nue_ns.producer import enqueue_many
from nue_ns.records import TYPE_ORDER

_DOC_ID = re.compile(r"^(ORD|INV|CM|PAY|REF|SO)-")


def month(scale: int = 1, seed: int = 3) -> dict[str, list[dict[str, Any]]]:
    """A consistent month of every record type, about 110 records per unit of `scale`."""
    return sample.month(
        n_customers=20 * scale,
        n_products=9 * scale,
        n_orders=20 * scale,
        n_invoices=30 * scale,
        n_payments=20 * scale,
        n_refunds=6 * scale,
        n_credit_memos=6 * scale,
        seed=seed,
    )


def renamed_documents(batch: dict[str, list[dict[str, Any]]], tag: str) -> dict[str, list[dict[str, Any]]]:
    """The month's documents (not customers, products) again under new ids; references follow."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and _DOC_ID.match(value):
            return f"{tag}{value}"
        return value

    return {t: walk(items) for t, items in batch.items() if t not in ("customer", "product")}


def enqueue_all(
    ctx: Context, integration: str, batch: dict[str, list[dict[str, Any]]], dispatch_now: bool = False
) -> dict[str, list[int]]:
    """Every record type in prerequisite order; returns hub ids by type."""
    ids: dict[str, list[int]] = {}
    for record_type in sorted(batch, key=TYPE_ORDER.__getitem__):
        if batch[record_type]:
            accepted = enqueue_many(
                record_type, batch[record_type], integration=integration, ctx=ctx, dispatch_now=dispatch_now
            )
            ids[record_type] = [a.id for a in accepted]
    return ids
