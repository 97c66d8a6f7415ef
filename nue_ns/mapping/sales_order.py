"""Nue order → NetSuite salesOrder (sent once the order is activated)."""

from __future__ import annotations

from nue_ns.integration import IntegrationConfig, InvoiceLink
from nue_ns.mapping.base import NsRequest, external_id
from nue_ns.mapping.lines import OPTIONAL_LINE_FIELDS, Resolved, header, item_sublist, line_requirements
from nue_ns.records import Order
from nue_ns.refs import Ref

# orderStatus "B": Pending Fulfillment, i.e. approved (section_159795516182).
ORDER_APPROVED = "B"


def order_requirements(o: Order) -> list[Ref]:
    return [Ref("customer", o.customer_id), *line_requirements(o.lines)]


def map_sales_order(o: Order, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    if o.activated_at is None:  # the producer refuses orders that are not activated
        raise ValueError(f"order {o.id} is not activated")
    # The activation date as the producer saw it (its own offset), which is the date Nue shows.
    body = header(config, resolved, o.customer_id, o.order_number, o.activated_at.date(), o.currency)
    # Approved: "After you create a sales order, the orderStatus field ... is initially set to
    # value "A" [Pending Approval] ... To create a preapproved sales order, set the orderStatus in
    # the POST request to "B"" (section_159795516182), and an invoice is made only from an approved
    # order (Oracle's tutorial "Create Invoices or Cash Sales From Your Sales Order"). Nue's order
    # is activated, so approved. Sent while no line is billed (links.header_only leaves it out
    # after): re-approving an unbilled order is a no-op or what Nue means, while a billed order's
    # status is NetSuite's history. Shape: a select, fitted to the account (mapping/fit.py).
    body["orderStatus"] = {"id": ORDER_APPROVED}
    body["item"] = item_sublist(o.lines, resolved)
    if config.invoice_link is InvoiceLink.standalone:
        # Its invoices are sent on their own, so NetSuite never bills the order: closed lines keep
        # it out of the billing queue (and, flagged, out of ARM) from the start, at no extra call.
        flag = {config.order_line_no_revenue_field: True} if config.order_line_no_revenue_field else {}
        for line in body["item"]["items"]:
            line |= {"isClosed": True} | flag
    return NsRequest(
        "salesOrder", external_id("order", o.id), body, replace=("item",), optional=OPTIONAL_LINE_FIELDS,
        selects=frozenset({"orderStatus"}),
    )  # fmt: skip
