"""Record transforms as NetSuite applies them: a sales order billed by invoices, an invoice credited.

`POST /record/v1/{source}/{id}/!transform/{target}` makes a new record from an existing one in one
request, answered 204 + Location like a create [section_157901123882]. Rules built to:

- The new record starts as a copy of the source: header (customer, currency, subsidiary, A/R
  account) and every line that is still to bill (an order line not closed and not fully billed).
  A request line with `orderLine` (the sublist key for new lines, `x-ns-sublistkey` of
  `invoice-itemElement` / `creditMemo-itemElement` in the account schema) updates the copied line;
  quantity 0 leaves it off the invoice, and a request with no lines bills everything still open
  (Oracle's SuiteTalk REST tutorial "Create Invoices or Cash Sales From Your Sales Order").
  A request line without `orderLine` is added. `?replace=item` drops the copied lines (the
  `replace` query parameter of every transform operation in NetSuite's OpenAPI document).
- The source is named by its internal id: `POST /invoice/eid:X/!transform/creditMemo` is
  answered like a missing record (404 NONEXISTENT_ID), as the OpenAPI document types the path's
  `id` an integer "Internal identifier".
- The new record's externalId is unique within the transaction group [section_N3436356], so a
  repeated transform with the same externalId fails and makes nothing.
- A closed order line is not copied and cannot be billed.
- A sales order is created Pending Approval (orderStatus "A") unless the request sets "B"
  [section_159795516182]; only an approved order is transformed (a USER_ERROR otherwise: "you
  need an approved sales order", Oracle's tutorial above; the wording is [U]).
- The sales order's status follows its approval and billing (SuiteQL `transaction.status`, letters
  of the SalesOrd status list: A Pending Approval, F Pending Billing, G Billed, H Closed
  [SuiteAnswers 23874, J]). Fulfilment
  is not modelled: an activated order is billable at once [U for inventory items, which NetSuite
  fulfils before billing].
- Replacing (`?replace=item`) the lines of an order that has billed lines, or of an invoice billed
  from an order, is refused [U: NetSuite keeps the links of billed lines; the rule is the sandbox
  switch `linked_line_replace` (sandbox/switches.py), "refuse" (default) or "allow"].
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

from nue_ns.sandbox import state as ns
from nue_ns.sandbox.state import AccountData, NsError, Record, WriteOutcome

SUPPORTED = {("salesOrder", "invoice"), ("invoice", "creditMemo")}
_INTERNAL_ID = re.compile(r"[0-9]{1,20}")
# Header fields the new record takes from its source.
_COPIED = ("entity", "currency", "subsidiary", "account", "memo")

STATUS_NAMES = {"A": "Pending Approval", "F": "Pending Billing", "G": "Billed", "H": "Closed"}


def transform(
    acct: AccountData,
    source_type: str,
    source_ref: str,
    target: str,
    body: Any,
    *,
    replace: frozenset[str] = frozenset(),
    strict: bool = False,
    strict_values: bool = True,
) -> WriteOutcome:
    with acct.lock:
        if (source_type, target) not in SUPPORTED:
            detail = f"Transformation of {source_type} into {target} is not supported."
            raise NsError(400, "INVALID_REQUEST", detail)
        if not _INTERNAL_ID.fullmatch(source_ref):
            # The path names the source by internal id only (NetSuite's OpenAPI,
            # `/invoice/{id}/!transform/creditMemo`: `id` "Internal identifier", an integer; no
            # page offers `eid:` here): anything else is a record that does not exist. Whether
            # NetSuite answers 404 NONEXISTENT_ID or a 400 is [U]; nue-ns never sends one.
            raise ns.not_found()
        source = acct.find(source_type, source_ref)
        if source.voided:
            raise ns.user_error("You cannot create a transaction from a voided transaction.")
        if source.type == "salesOrder" and ns.order_approval(source.body.get("orderStatus")) != "B":
            # Only an approved order is billed: "you need an approved sales order" (Oracle's
            # tutorial "Create Invoices or Cash Sales From Your Sales Order"); wording [U].
            raise ns.user_error("You cannot bill this sales order: it is pending approval.", "orderStatus")
        request, ignored, bad = ns._prepare(
            acct, target, body if body is not None else {}, strict, strict_values
        )
        full = _initial(acct, source, target)
        for name, value in request.items():
            if name not in ("item", "apply"):
                full[name] = copy.deepcopy(value)
        full["item"] = {"items": _lines(acct, source, full["item"]["items"], request, "item" in replace)}
        if "apply" in request or "apply" in replace:
            # Request lines update the default application by key (doc, line) and add the others,
            # as on any keyed sublist [section_1545295601]; `?replace=apply` drops the default.
            default = ns._lines(full, "apply")
            lines = ns._merge_sublist("apply", default, ns._lines(request, "apply"), "apply" in replace)
            full["apply"] = {"items": lines}
        rec = ns._store(acct, target, None, full, frozenset({"item", "apply"}), "integration")
        if source.type == "salesOrder":
            refresh_order(acct, source)
        return WriteOutcome(rec, True, ignored, bad)


def _initial(acct: AccountData, source: Record, target: str) -> dict[str, Any]:
    b = source.body
    out: dict[str, Any] = {k: copy.deepcopy(b[k]) for k in _COPIED if b.get(k) is not None}
    out["createdFrom"] = {"id": source.id}
    lines = []
    for line in ns._lines(b, "item"):
        left = open_quantity(acct, source, line) if source.type == "salesOrder" else _qty(line)
        if left <= 0:
            continue
        copied = {
            k: copy.deepcopy(v) for k, v in line.items() if k not in ("line", "isClosed", "quantityBilled")
        }
        copied |= {"orderLine": line["line"], "quantity": float(left)}
        if line.get("quantity") is not None and Decimal(str(line["quantity"])) != left:
            copied.pop("amount", None)  # a partial line is billed at its rate
        lines.append(copied)
    out["item"] = {"items": lines}
    if target == "creditMemo":  # a credit memo from an invoice applies to it
        out["apply"] = {"items": [{"doc": {"id": source.id}, "line": 0, "apply": True}]}
    return out


def _lines(
    acct: AccountData, source: Record, copied: list[dict[str, Any]], request: dict[str, Any], replace: bool
) -> list[dict[str, Any]]:
    lines = [] if replace else [dict(line) for line in copied]
    order_lines = {str(line.get("line")): line for line in ns._lines(source.body, "item")}
    for i, req in enumerate(ns._lines(request, "item")):
        key = req.get("orderLine")
        if key is None:
            lines.append({k: v for k, v in req.items() if v is not None})
            continue
        match = next((n for n, line in enumerate(lines) if str(line.get("orderLine")) == str(key)), None)
        if match is not None:
            lines[match] = {**lines[match], **{k: v for k, v in req.items() if v is not None}}
            if "quantity" in req and "amount" not in req:
                lines[match].pop("amount", None)
            continue
        line = order_lines.get(str(key))
        if line is None or not replace or open_quantity(acct, source, line) <= 0:
            # Not a line of the source, or closed / billed already: nothing to bill from it.
            raise ns.invalid_value(key, f"item.items[{i}].orderLine")
        lines.append({"item": copy.deepcopy(line["item"])} | {k: v for k, v in req.items() if v is not None})
    billed = [line for line in lines if line.get("quantity") is None or _qty(line) != 0]
    if not billed:
        raise ns.user_error("You must enter at least one line item for this transaction.")
    return billed


def _qty(line: dict[str, Any]) -> Decimal:
    return Decimal(str(line.get("quantity", 1)))


def billed_quantity(acct: AccountData, order: Record) -> dict[str, Decimal]:
    """{order line: quantity billed} over the invoices made from the order (voided ones excepted)."""
    out: dict[str, Decimal] = {}
    for rec in acct.records.values():
        if rec.type != "invoice" or rec.voided or ns._ref_id(rec.body.get("createdFrom")) != order.id:
            continue
        for line in ns._lines(rec.body, "item"):
            if line.get("orderLine") is not None:
                key = str(line["orderLine"])
                out[key] = out.get(key, Decimal(0)) + _qty(line)
    return out


def open_quantity(acct: AccountData, order: Record, line: dict[str, Any]) -> Decimal:
    if line.get("isClosed") is True:
        return Decimal(0)
    return _qty(line) - billed_quantity(acct, order).get(str(line.get("line")), Decimal(0))


def order_status(acct: AccountData, order: Record) -> dict[str, str]:
    """Pending Billing (F) while any line is open to bill; Billed (G) once every line is billed or
    closed and something was billed; Closed (H) when every line was closed unbilled."""
    billed = billed_quantity(acct, order)
    lines = ns._lines(order.body, "item")
    for line in lines:
        line["quantityBilled"] = float(billed.get(str(line.get("line")), Decimal(0)))
    if ns.order_approval(order.body.get("orderStatus")) == "A" and not billed:
        letter = "A"
    elif any(open_quantity(acct, order, line) > 0 for line in lines):
        letter = "F"
    else:
        letter = "G" if billed else "H"
    return {"id": letter, "refName": STATUS_NAMES[letter]}


def refresh_order(acct: AccountData, order: Record) -> None:
    order.derived["status"] = order_status(acct, order)
    acct.version += 1


def check_replace(acct: AccountData, existing: Record | None, replace: frozenset[str]) -> None:
    """A write that replaces the lines of a billed order or of an invoice billed from an order."""
    if existing is None or "item" not in replace or acct.linked_line_replace == "allow":
        return
    if existing.type == "salesOrder" and billed_quantity(acct, existing):
        raise ns.user_error(
            "You cannot replace the lines of this sales order: some of its lines have been billed.", "item"
        )
    if existing.type == "invoice" and any(line.get("orderLine") for line in ns._lines(existing.body, "item")):
        raise ns.user_error(
            "You cannot replace the lines of this invoice: its lines are linked to a sales order.", "item"
        )


def linked_invoices(acct: AccountData, rec: Record) -> list[Record]:
    """The orders an invoice write changes the billing of (its source), for a status refresh."""
    source = acct.records.get(ns._ref_id(rec.body.get("createdFrom")) or "")
    return [source] if source is not None and source.type == "salesOrder" else []
