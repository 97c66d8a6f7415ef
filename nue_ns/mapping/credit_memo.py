"""Nue credit memo → NetSuite creditMemo, applied to the invoices Nue applied it to."""

from __future__ import annotations

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id
from nue_ns.mapping.lines import (
    APPLY_LINE_OPTIONAL,
    OPTIONAL_LINE_FIELDS,
    Resolved,
    apply_sublist,
    header,
    item_sublist,
    line_requirements,
    netsuite_id,
    unapplied_line,
)
from nue_ns.records import CreditMemo
from nue_ns.refs import Ref


def credit_memo_requirements(c: CreditMemo) -> list[Ref]:
    invoices = [c.invoice_id] if c.invoice_id else []
    invoices += [a.invoice_id for a in c.applications or []]
    return [
        Ref("customer", c.customer_id),
        *line_requirements(c.lines),
        *dict.fromkeys(Ref("invoice", i) for i in invoices),
    ]


def map_credit_memo(c: CreditMemo, config: IntegrationConfig, resolved: Resolved) -> NsRequest:
    body = header(config, resolved, c.customer_id, c.credit_memo_number, c.credit_memo_date, c.currency)
    # Linked to its invoice by the transform (mapping/links.py), not by a body createdFrom.
    body["item"] = item_sublist(c.lines, resolved)
    # Applied only to the invoices Nue names; autoApply is sent where the account's credit memos
    # have it (the real account schema's creditMemo does not).
    body["autoApply"] = False
    replace: tuple[str, ...] = ("item",)
    applied = [(netsuite_id(resolved, "invoice", a.invoice_id), a.amount) for a in c.applications or []]
    lines = apply_sublist(applied)["items"]
    if c.invoice_id:
        # Made from its invoice, a memo starts applied to it [Oracle's transform copies the source;
        # the sandbox models it]: unless Nue applies it there, say explicitly that it is not, rather
        # than hoping `?replace=apply` with no lines removes the default (no page says it does).
        source = netsuite_id(resolved, "invoice", c.invoice_id)
        if all(line["doc"]["id"] != source for line in lines):
            lines.insert(0, unapplied_line(source))
    if lines:
        body["apply"] = {"items": lines}
    if c.applications:
        replace += ("apply",)
    return NsRequest(
        "creditMemo",
        external_id("credit_memo", c.id),
        body,
        replace=replace,
        optional=OPTIONAL_LINE_FIELDS | APPLY_LINE_OPTIONAL,
        if_present=frozenset({"autoApply"}),
    )
