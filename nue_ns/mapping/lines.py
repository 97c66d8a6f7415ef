"""What every transaction mapping shares: money as NetSuite takes it, the header, the item lines.

Amounts stay Decimal until the body is built; `money` turns a cent-exact Decimal into the JSON
number NetSuite takes, through its decimal string, so 0.1 + 0.2 never becomes 0.30000000000000004.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, ref
from nue_ns.records import Line
from nue_ns.refs import Ref

CENT = Decimal("0.01")
# The default script id of nue-ns's line-id custom column (docs/NETSUITE_SETUP.md).
LINE_ID = "custcol_nue_line_id"

Resolved = Mapping[Ref, str]


def money(value: Decimal) -> float:
    """A cent-exact JSON number: the shortest float that prints back as the same cents."""
    return float(str(value.quantize(CENT)))


def number(value: Decimal) -> float:
    """A quantity: as many decimals as the producer gave, no binary noise added."""
    return float(str(value))


def day(value: dt.date) -> str:
    return value.isoformat()


def netsuite_id(resolved: Resolved, record_type: str, nue_id: str) -> str:
    """The NetSuite internal id of a prerequisite; sync resolves every one before mapping."""
    found = resolved.get(Ref(record_type, nue_id))
    if found is None:  # a caller bug: requirements() and build() disagree
        raise LookupError(f"{record_type} {nue_id} is not resolved to a NetSuite id")
    return found


def currency_ids(config: IntegrationConfig, profile: AccountProfile | None) -> dict[str, str]:
    """ISO code -> internal id: the account's own (its profile), an explicit setting overriding."""
    return (profile.currencies if profile else {}) | config.currency_ids


def in_the_one_currency(
    request: NsRequest, code: str | None, config: IntegrationConfig, profile: AccountProfile | None
) -> NsRequest:
    """Without Multiple Currencies an account's records have no `currency` field [U: the fields the
    feature brings; REST's currency record needs it, section_0818023012] and every amount is in its
    one currency: the field is left out where the account's record lacks it and the record is in the
    only currency the integration knows for the account (`config.currency_ids` as mapping.build
    makes it). Anything else keeps it, and fit refuses it naming the feature."""
    if profile is None or code is None or profile.has(request.ns_type, "currency") is not False:
        return request
    if set(config.currency_ids) != {code}:
        return request
    return replace(request, optional=request.optional | {"currency"})


def currency(config: IntegrationConfig, code: str) -> dict[str, str]:
    """`config.currency_ids` holds the account's ids here (mapping.build puts the profile's in)."""
    currency_id = config.currency_ids.get(code)
    if currency_id is None:
        raise MappingIncomplete(
            f"currency {code} is not a currency of the NetSuite account (read its profile with "
            "`nue-ns integration discover`, or enable the currency in NetSuite; an account whose "
            "currencies cannot be read, without Multiple Currencies, needs its one currency in "
            f"currency_ids: `nue-ns integration set NAME --currency-id {code}=ID`)"
        )
    return ref(currency_id)


def header(
    config: IntegrationConfig, resolved: Resolved, customer_id: str, tran_id: str, date: dt.date, code: str
) -> dict[str, Any]:
    """Fields of a sales transaction's header. The subsidiary is left out: NetSuite takes the
    customer's primary subsidiary, which is the only one the customer may transact in."""
    return {
        "entity": ref(netsuite_id(resolved, "customer", customer_id)),
        "tranId": tran_id,
        "tranDate": day(date),
        "currency": currency(config, code),
    }


def item_line(line: Line, resolved: Resolved) -> dict[str, Any]:
    out: dict[str, Any] = {
        "item": ref(netsuite_id(resolved, "product", line.product_id)),
        "quantity": number(line.quantity),
        # The unit price as given (up to 8 decimals); the amount is Nue's, in cents, never
        # recomputed from quantity x rate: the Nue amount (discounts, proration) is what is billed.
        "rate": number(line.unit_price),
        "amount": money(line.amount),
        LINE_ID: line.id,
    }
    if line.description:
        out["description"] = line.description
    # Service dates drive revenue recognition (ARM) of the line.
    if line.start_date:
        out["revRecStartDate"] = day(line.start_date)
    if line.end_date:
        out["revRecEndDate"] = day(line.end_date)
    return out


# Line fields an account may lack (mapping/fit.py drops them there): nue-ns's custom line-id column
# and the revenue recognition dates of Advanced Revenue Management.
OPTIONAL_LINE_FIELDS = frozenset({f"item.{LINE_ID}", "item.revRecStartDate", "item.revRecEndDate"})


def with_line_id_field(request: NsRequest, name: str) -> NsRequest:
    """The request with the line-id column under the account's script id (IntegrationConfig
    line_id_field) instead of the default one."""
    if name == LINE_ID or not isinstance(request.body.get("item"), dict):
        return request
    lines = [
        {(name if k == LINE_ID else k): v for k, v in line.items()} for line in request.body["item"]["items"]
    ]
    optional = frozenset(f"item.{name}" if o == f"item.{LINE_ID}" else o for o in request.optional)
    return replace(request, body=request.body | {"item": {"items": lines}}, optional=optional)


def item_sublist(lines: Iterable[Line], resolved: Resolved) -> dict[str, list[dict[str, Any]]]:
    return {"items": [item_line(line, resolved) for line in lines]}


# An apply line's secondary key: `line` 0 for a whole document, as Oracle's customerPayment sample
# sends it (`{"amount": 200.0, "apply": true, "doc": {"id": "104"}, "line": 0}`, article_0224093711;
# the key is (doc, line): `x-ns-sublistkey` of creditMemo-applyElement in the real schema). Left out
# where the account's apply lines have no `line` (APPLY_LINE_OPTIONAL, mapping/fit.py).
DOCUMENT_LINE = 0
APPLY_LINE_OPTIONAL = frozenset({"apply.line"})


def apply_sublist(applied: Iterable[tuple[str, Decimal]]) -> dict[str, list[dict[str, Any]]]:
    """`apply` lines from (NetSuite internal id of a document, amount applied to it); NetSuite keys
    apply lines by document (and line), so two applications to one document become one line."""
    by_doc: dict[str, Decimal] = {}
    for doc, amount in applied:
        by_doc[doc] = by_doc.get(doc, Decimal("0")) + amount
    return {
        "items": [
            {"doc": ref(doc), "line": DOCUMENT_LINE, "apply": True, "amount": money(amount)}
            for doc, amount in by_doc.items()
        ]
    }


def unapplied_line(doc: str) -> dict[str, Any]:
    """An `apply` line saying this document is NOT applied: the way to undo a default application
    (a credit memo made from an invoice starts applied to it), since `apply` lines are the
    customer's open documents keyed by doc, not lines the client owns (creditMemo-applyElement
    `x-ns-sublistkey` doc, line; "Lines on the apply sublist are not identified by line numbers,
    but by the doc field as a key", article_0830101547)."""
    return {"doc": ref(doc), "line": DOCUMENT_LINE, "apply": False}


def line_requirements(lines: Iterable[Line]) -> list[Ref]:
    """Each product once, in line order."""
    return list(dict.fromkeys(Ref("product", line.product_id) for line in lines))


def memo(via: str, reference: str | None) -> str:
    """Where the money moved, and the processor's reference, for the reconciling accountant."""
    return f"{via}: {reference}" if reference else via
