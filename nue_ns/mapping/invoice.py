"""Nue invoice → NetSuite invoice (sent once the invoice is active)."""

from __future__ import annotations

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id
from nue_ns.mapping.lines import (
    OPTIONAL_LINE_FIELDS,
    Resolved,
    day,
    header,
    item_sublist,
    line_requirements,
)
from nue_ns.records import Invoice
from nue_ns.refs import Ref


def invoice_requirements(i: Invoice) -> list[Ref]:
    order = [Ref("order", i.order_id)] if i.order_id else []
    return [Ref("customer", i.customer_id), *line_requirements(i.lines), *order]


def map_invoice(i: Invoice, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    body = header(config, resolved, i.customer_id, i.invoice_number, i.invoice_date, i.currency)
    # No body createdFrom: what NetSuite does with one on an upsert is not documented, and it
    # never bills the order. An invoice of an order is linked by the transform (mapping/links.py).
    if i.due_date:
        body["dueDate"] = day(i.due_date)
    # The total is NetSuite's sum of these lines, equal to the Nue total (the contract checks it).
    body["item"] = item_sublist(i.lines, resolved)
    return NsRequest(
        "invoice", external_id("invoice", i.id), body, replace=("item",), optional=OPTIONAL_LINE_FIELDS
    )
