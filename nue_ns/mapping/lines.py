"""What every transaction mapping shares: money as NetSuite takes it, the header, the item lines.

Amounts stay Decimal until the body is built; `money` turns a cent-exact Decimal into the JSON
number NetSuite takes, through its decimal string, so 0.1 + 0.2 never becomes 0.30000000000000004.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, ref
from nue_ns.records import Line
from nue_ns.refs import Ref

CENT = Decimal("0.01")

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


def currency(config: IntegrationConfig, code: str) -> dict[str, str]:
    currency_id = config.currency_ids.get(code)
    if currency_id is None:
        raise MappingIncomplete(f"no NetSuite currency id configured for {code} (currency_ids)")
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
        "rate": money(line.unit_price),
        # Sent as well as the rate: the Nue amount (discounts, proration) is what is billed.
        "amount": money(line.amount),
        "custcol_nue_line_id": line.id,
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
OPTIONAL_LINE_FIELDS = frozenset({"item.custcol_nue_line_id", "item.revRecStartDate", "item.revRecEndDate"})


def item_sublist(lines: Iterable[Line], resolved: Resolved) -> dict[str, list[dict[str, Any]]]:
    return {"items": [item_line(line, resolved) for line in lines]}


def apply_sublist(applied: Iterable[tuple[str, Decimal]]) -> dict[str, list[dict[str, Any]]]:
    """`apply` lines from (NetSuite internal id of a document, amount applied to it); NetSuite keys
    apply lines by document, so two applications to one document become one line."""
    by_doc: dict[str, Decimal] = {}
    for doc, amount in applied:
        by_doc[doc] = by_doc.get(doc, Decimal("0")) + amount
    return {
        "items": [{"doc": ref(doc), "apply": True, "amount": money(amount)} for doc, amount in by_doc.items()]
    }


def line_requirements(lines: Iterable[Line]) -> list[Ref]:
    """Each product once, in line order."""
    return list(dict.fromkeys(Ref("product", line.product_id) for line in lines))


def memo(via: str, reference: str | None) -> str:
    """Where the money moved, and the processor's reference, for the reconciling accountant."""
    return f"{via}: {reference}" if reference else via
