"""Documents linked the way NetSuite links them (pure: the NetSuite reads come in as arguments).

An invoice of an order is made from the sales order by `POST /salesOrder/{id}/!transform/invoice`
and a credit memo from its invoice by `POST /invoice/{id}/!transform/creditMemo`
[section_157901123882]. The request carries the new record's externalId, so a repeated transform
fails on NetSuite's uniqueness of external ids within transactions [section_N3436356] instead of
making a second document. Invoice lines are keyed to the order's lines by `orderLine`
(`x-ns-sublistkey` of `invoice-itemElement`); an order line the invoice does not bill is sent with
quantity 0 (Oracle's SuiteTalk REST tutorial "Create Invoices or Cash Sales From Your Sales
Order"), and closed afterwards unless Nue bills it later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping import classifications
from nue_ns.mapping.base import NsRequest
from nue_ns.records import CreditMemo, Invoice, Order, _Record

# Header fields a transform takes from its source (the order's, the invoice's customer and
# currency): left out of the body, so an account that treats them as sourced never sees them set
# [J: they would be equal; no page says whether NetSuite accepts them on a transform].
SOURCED = ("entity", "currency")


class LinkRefused(ValueError):
    """The document cannot be linked as Nue describes it; a person must look (the message says why)."""


@dataclass(frozen=True)
class TransformRequest:
    """`POST /record/v1/{source_type}/{source_id}/!transform/{ns_type}?replace=...`."""

    source_type: str
    source_id: str
    ns_type: str
    external_id: str
    body: dict[str, Any]
    replace: tuple[str, ...] = ()
    # NetSuite line numbers of the source order to close once the invoice exists.
    close_lines: tuple[int, ...] = field(default=())


def _ns_lines(ns_order: dict[str, Any]) -> list[dict[str, Any]]:
    item = ns_order.get("item")
    return [line for line in (item or {}).get("items", []) if isinstance(line, dict)]


def _is_tax_line(line: dict[str, Any], config: IntegrationConfig) -> bool:
    """A line of the tax item (accounts without SuiteTax: mapping/tax.py appends one per taxed line)."""
    return bool(config.tax_item_id) and str((line.get("item") or {}).get("id")) == config.tax_item_id


def order_lines(
    order: Order, ns_order: dict[str, Any], config: IntegrationConfig
) -> dict[str, dict[str, Any]]:
    """{Nue order line id: the order's NetSuite line}: by nue-ns's line column where the account has
    it, else by position (NetSuite keeps a transaction's lines in the order they were sent [J]).
    The order's tax-item lines are not Nue lines: each invoice carries its own (see tax_lines)."""
    lines = [line for line in _ns_lines(ns_order) if not _is_tax_line(line, config)]
    column = config.line_id_field
    tagged = {line[column]: line for line in lines if line.get(column)}
    if tagged:
        return {nue.id: tagged[nue.id] for nue in order.lines if nue.id in tagged}
    if len(lines) != len(order.lines):
        raise LinkRefused(
            f"sales order {ns_order.get('id')} has {len(lines)} lines in NetSuite and {len(order.lines)} "
            f"in Nue, and the account has no {column} column to match them by"
        )
    return {nue.id: line for nue, line in zip(order.lines, lines, strict=True)}


def tax_lines(ns_order: dict[str, Any], config: IntegrationConfig) -> list[dict[str, Any]]:
    """The order's open tax-item lines: never billed by the transform (the invoice brings Nue's tax
    as lines of its own), closed once an invoice is made from the order."""
    return [line for line in _ns_lines(ns_order) if _is_tax_line(line, config) and is_open(line)]


def is_open(line: dict[str, Any]) -> bool:
    """Still to bill: not closed, and billed for less than its quantity."""
    if line.get("isClosed") is True:
        return False
    quantity = Decimal(str(line.get("quantity", 1)))
    return Decimal(str(line.get("quantityBilled") or 0)) < quantity


def invoice_from_order(
    request: NsRequest, invoice: Invoice, order: Order, ns_order: dict[str, Any], config: IntegrationConfig
) -> TransformRequest:
    """The transform that makes `invoice` from its sales order, as NetSuite shows the order now."""
    by_nue = order_lines(order, ns_order, config)
    body = {k: v for k, v in request.body.items() if k not in ("createdFrom", "item", *SOURCED)}
    body["externalId"] = request.external_id
    mapped = request.body["item"]["items"]
    # The mapping's lines are Nue's lines in order, then (without SuiteTax) their tax-item lines.
    own_tax = mapped[len(invoice.lines) :]
    lines: list[dict[str, Any]] = []
    billed: set[str] = set()
    for nue, sent in zip(invoice.lines, mapped[: len(invoice.lines)], strict=True):
        if not nue.order_line_id:  # usage, proration: a line of its own
            lines.append(sent)
            continue
        ns = by_nue.get(nue.order_line_id)
        if ns is None:
            raise LinkRefused(
                f"invoice line {nue.id} bills order line {nue.order_line_id}, "
                f"which order {order.id} does not have"
            )
        if not is_open(ns):
            raise LinkRefused(
                f"invoice line {nue.id} bills order line {nue.order_line_id}, which NetSuite shows "
                "closed or billed in full"
            )
        billed.add(nue.order_line_id)
        lines.append({k: v for k, v in sent.items() if k != "item"} | {"orderLine": ns["line"]})
    # The order's lines this invoice does not bill come along at quantity 0, with the classifications
    # every line of ours carries (an order sent before they were set has none, and an account that
    # makes them mandatory wants them on every line: mapping/classifications.py).
    segments = {k: v for k, v in (mapped[0] if mapped else {}).items() if k in classifications.FIELDS}
    for nue_id, ns in by_nue.items():
        if nue_id not in billed and is_open(ns):
            lines.append({"orderLine": ns["line"], "quantity": 0} | segments)  # not on this invoice
    lines += [{"orderLine": ns["line"], "quantity": 0} | segments for ns in tax_lines(ns_order, config)]
    lines += own_tax
    body["item"] = {"items": lines}
    close = lines_to_close(invoice, order, ns_order, config)
    return TransformRequest(
        "salesOrder", str(ns_order["id"]), "invoice", request.external_id, body, (), close
    )


def lines_to_close(
    invoice: Invoice, order: Order, ns_order: dict[str, Any], config: IntegrationConfig
) -> tuple[int, ...]:
    """The order's open lines this invoice does not bill and Nue will not bill later, and its tax
    lines (each invoice brings its own tax)."""
    keep = {line.order_line_id for line in invoice.lines if line.order_line_id}
    keep |= set(invoice.order_lines_billed_later or ())
    by_nue = order_lines(order, ns_order, config)
    unbilled = [ns["line"] for nue_id, ns in by_nue.items() if nue_id not in keep and is_open(ns)]
    return tuple(unbilled + [ns["line"] for ns in tax_lines(ns_order, config)])


def close_lines_body(lines: tuple[int, ...], config: IntegrationConfig) -> dict[str, Any]:
    """`PATCH salesOrder` body closing these lines (and flagging them for ARM where configured)."""
    flag = {config.order_line_no_revenue_field: True} if config.order_line_no_revenue_field else {}
    return {"item": {"items": [{"line": n, "isClosed": True} | flag for n in lines]}}


def credit_memo_from_invoice(request: NsRequest, memo: CreditMemo, invoice_ns_id: str) -> TransformRequest:
    """The transform that makes `memo` from its invoice: Nue's lines replace the invoice's copied
    lines [`replace` of NetSuite's transform operations]; its `apply` lines (mapping/credit_memo.py)
    say explicitly which documents it applies to, the source invoice included (`apply: false` when
    Nue does not apply it there), and update the default application by its key (doc, line) like any
    keyed sublist [section_1545295601], so `apply` is not replaced."""
    body = {k: v for k, v in request.body.items() if k not in ("createdFrom", *SOURCED)}
    body["externalId"] = request.external_id
    return TransformRequest("invoice", invoice_ns_id, "creditMemo", request.external_id, body, ("item",))


# Sent only while nothing is billed: a billed order's approval is NetSuite's (and its people's) now.
_UNTIL_BILLED = frozenset({"orderStatus"})


def header_only(request: NsRequest) -> NsRequest:
    """The request without its sublists: what may change on a document whose lines are linked."""
    body = {
        k: v
        for k, v in request.body.items()
        if not (isinstance(v, dict) and "items" in v) and k not in _UNTIL_BILLED
    }
    return replace(request, body=body, replace=())


def line_changes(before: _Record | None, after: _Record) -> list[str]:
    """What changed in the lines between two versions of a document, for a person to act on."""
    old = {line.id: line for line in getattr(before, "lines", [])}
    new = {line.id: line for line in getattr(after, "lines", [])}
    out = [f"line {i} removed" for i in old if i not in new]
    out += [f"line {i} added" for i in new if i not in old]
    out += [f"line {i} changed" for i in new if i in old and new[i] != old[i]]
    return out
