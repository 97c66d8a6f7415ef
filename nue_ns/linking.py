"""The transfer of documents NetSuite links (README "Linking documents").

`plan` decides, from what the hub knows, how a record goes: an ordinary upsert, an upsert of only
what may change (a billed order, an invoice made from its order: their lines are NetSuite's
history now), or a transform (the first version of an invoice of an order, of a credit memo of an
invoice). `transform` makes the transform's calls, each through the gateway:

    invoice of an order:  GET salesOrder (expanded)  ->  POST !transform/invoice  [-> PATCH close lines]
    credit memo:          POST invoice/{id}/!transform/creditMemo

Exactly once: the transform carries the new record's externalId, so a repeat fails on NetSuite's
uniqueness of external ids; that failure, and a retry after an unanswered call, are resolved by
reading the record by externalId (GET eid:), never by making a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nue_ns import gateway, records
from nue_ns.context import Connection, Context
from nue_ns.hub import links as hub_links
from nue_ns.hub.models import Record
from nue_ns.integration import IntegrationConfig, InvoiceLink
from nue_ns.mapping import links
from nue_ns.mapping.base import NsRequest
from nue_ns.netsuite.client import WriteResult
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError
from nue_ns.refs import Ref

LinkRefused = links.LinkRefused


@dataclass(frozen=True)
class Plan:
    request: NsRequest  # the upsert, or the mapped document a transform is built from
    transform: str | None = None  # "invoice" (from its order) or "credit_memo" (from its invoice)
    needs_person: list[str] = field(default_factory=list)  # line changes NetSuite will not take


def plan(
    ctx: Context,
    conn: Connection,
    rec: Record,
    contract: records._Record,
    request: NsRequest,
    *,
    linked: dict[Ref, tuple[str, str]] | None = None,
) -> Plan:
    """`linked`: the links the caller already read ({ref: (internal id, NetSuite type)}, the
    record's own among them: a transfer reads them with its claim), else they are read here."""
    integ, config = rec.integration_id, conn.config
    if isinstance(contract, records.Product):
        before = _own_type(ctx, rec, linked)
        if before is not None and before != request.ns_type:
            raise LinkRefused(
                f"product {contract.id} is in NetSuite as {before} and would now be {request.ns_type}: "
                "NetSuite cannot change an item's type; create a new product in Nue or map the type back"
            )
        return Plan(request)
    linked_invoices = config.invoice_link is InvoiceLink.transform
    if isinstance(contract, records.Order) and linked_invoices:
        if hub_links.order_invoiced(ctx.engine, integ, contract.id):
            return _header_only(ctx, rec, contract, request)
    if isinstance(contract, records.Invoice) and contract.order_id and linked_invoices:
        if _own_type(ctx, rec, linked) is not None:
            return _header_only(ctx, rec, contract, request)
        return Plan(request, "invoice")
    if (
        isinstance(contract, records.CreditMemo)
        and contract.invoice_id
        and _own_type(ctx, rec, linked) is None
    ):
        return Plan(request, "credit_memo")
    return Plan(request)


def plain_upsert(config: IntegrationConfig, contract: records._Record, sent: bool) -> bool:
    """Whether `plan` surely makes this record an ordinary upsert of its request, decided without
    the hub (`sent`: the record is in NetSuite already). False for every case `plan` may turn into
    a transform, a header-only update or a refusal; batches (nue_ns/batches.py) carry only the
    others, since a batch holds upserts only [article_0127092747], and these go one by one."""
    linked_invoices = config.invoice_link is InvoiceLink.transform
    if isinstance(contract, records.Product) or (isinstance(contract, records.Order) and linked_invoices):
        return not sent  # an item's type change; an invoiced order's lines
    if isinstance(contract, records.Invoice) and contract.order_id and linked_invoices:
        return False
    if isinstance(contract, records.CreditMemo) and contract.invoice_id:
        return sent
    return True


def _own_type(ctx: Context, rec: Record, linked: dict[Ref, tuple[str, str]] | None) -> str | None:
    """The NetSuite type this record went in as (None: never transferred)."""
    if linked is not None:
        own = linked.get(Ref(rec.record_type, rec.nue_id))
        return own[1] if own else None
    return hub_links.ns_types(ctx.engine, rec.integration_id, rec.record_type, [rec.nue_id]).get(rec.nue_id)


def _header_only(ctx: Context, rec: Record, contract: records._Record, request: NsRequest) -> Plan:
    """Its lines are linked: send the header, and name the line changes for a person."""
    payload = hub_links.transferred(ctx.engine, rec.integration_id, rec.record_type, rec.nue_id)
    before = records.validate(rec.record_type, payload) if payload else None
    changes = links.line_changes(before, contract)
    return Plan(links.header_only(request), needs_person=changes)


def transform(
    ctx: Context, conn: Connection, rec: Record, p: Plan, contract: records._Record, resolved: dict[Ref, str]
) -> str:
    """Make the linked document once; its NetSuite internal id. Raises NetSuiteError, NoCallSlot
    or LinkRefused like any transfer."""
    req = p.request
    made = _find(ctx, conn, rec, req) if rec.attempts else None  # an earlier answer may have been lost
    if isinstance(contract, records.Invoice):
        order_ns_id = resolved[Ref("order", contract.order_id or "")]
        order = _order(ctx, rec, contract)
        ns_order = _read(ctx, conn, rec, "salesOrder", order_ns_id, expand=True)
        if made is None:
            try:
                t = links.invoice_from_order(req, contract, order, ns_order, conn.config)
            except LinkRefused:
                # Its lines already billed: by this invoice, if a worker died after making it?
                made = _find(ctx, conn, rec, req)
                if made is None:
                    raise
            else:
                made = _post(ctx, conn, rec, t)
        close = links.lines_to_close(contract, order, ns_order, conn.config)
        if close:
            body = links.close_lines_body(close, conn.config)
            url = f"{conn.client.base_url}/record/v1/salesOrder/{order_ns_id}"
            gateway.call(
                ctx, conn, "PATCH", url, body,
                lambda: _pair(conn.client.update("salesOrder", order_ns_id, body)),
                outcome="lines closed", record=rec,
            )  # fmt: skip
        return made
    if made is not None:
        return made
    assert isinstance(contract, records.CreditMemo) and contract.invoice_id
    t = links.credit_memo_from_invoice(req, contract, resolved[Ref("invoice", contract.invoice_id)])
    return _post(ctx, conn, rec, t)


def _pair(result: WriteResult) -> tuple[WriteResult, Exchange]:
    """A write's result as the gateway's (value, exchange)."""
    return result, result.exchange


def _order(ctx: Context, rec: Record, invoice: records.Invoice) -> records.Order:
    payload = hub_links.transferred(ctx.engine, rec.integration_id, "order", invoice.order_id or "")
    if payload is None:  # cannot happen: the order is a resolved prerequisite
        raise LinkRefused(f"order {invoice.order_id} is not in NetSuite")
    order = records.validate("order", payload)
    assert isinstance(order, records.Order)
    return order


def _post(ctx: Context, conn: Connection, rec: Record, t: links.TransformRequest) -> str:
    url = f"{conn.client.base_url}/record/v1/{t.source_type}/{t.source_id}/!transform/{t.ns_type}"
    try:
        result = gateway.call(
            ctx, conn, "POST", url, t.body,
            lambda: _pair(conn.client.transform(t.source_type, t.source_id, t.ns_type, t.body, t.replace)),
            outcome="transferred", record=rec,
        )  # fmt: skip
    except NetSuiteError as err:
        # Refused with an answer: if it is because the record exists (an earlier transform whose
        # answer was lost, or a concurrent one), that record is ours.
        if err.kind is Kind.NEEDS_PERSON and err.status is not None:
            request = NsRequest(t.ns_type, t.external_id, t.body)
            found = _find(ctx, conn, rec, request)
            if found is not None:
                return found
        raise
    return result.internal_id


def _find(ctx: Context, conn: Connection, rec: Record, req: NsRequest) -> str | None:
    """The internal id of the record holding this externalId, None when NetSuite has none."""
    try:
        data = _read(ctx, conn, rec, req.ns_type, f"eid:{req.external_id}")
    except NetSuiteError as err:
        if err.status == 404:
            return None
        raise
    return str(data["id"])


def _read(ctx: Context, conn: Connection, rec: Record, ns_type: str, ref: str, expand: bool = False) -> dict:
    url = f"{conn.client.base_url}/record/v1/{ns_type}/{ref}" + ("?expandSubResources=true" if expand else "")
    return gateway.call(
        ctx, conn, "GET", url, None, lambda: conn.client.get(ns_type, ref, expand=expand),
        outcome="read", record=rec,
    )  # fmt: skip
