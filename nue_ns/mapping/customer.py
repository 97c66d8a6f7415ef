"""Nue customer → NetSuite customer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id, ref
from nue_ns.mapping.lines import currency
from nue_ns.records import Customer

# NetSuite's Customer ID (`entityId`): its length limit is on no Oracle page found [U]; public
# import templates give entityId 80 characters (companyName 83) [J], so nue-ns stays within 80.
CUSTOMER_ID_CHARS = 80


def map_customer(c: Customer, config: IntegrationConfig) -> NsRequest:
    # No entityId: where the account numbers customers, NetSuite fills it with the number ("If
    # you use Auto-Generated Numbering, the customer number or code fills here", the real schema);
    # elsewhere it takes the name (see `with_customer_id` for a name another customer has).
    body: dict[str, Any] = {"isPerson": c.is_person}
    if c.is_person:
        body["firstName"] = c.first_name
        body["lastName"] = c.last_name
    else:
        body["companyName"] = c.name
    if c.email:
        body["email"] = c.email
    if c.phone:
        body["phone"] = c.phone
    subsidiary = primary_subsidiary(c, config)
    if subsidiary:
        body["subsidiary"] = ref(subsidiary)
    if c.currency:
        body["currency"] = currency(config, c.currency)
    others = [code for code in dict.fromkeys(c.currencies) if code != c.currency]
    if others:
        # customer-currencyListElement, keyed by currency: lines merge, none is doubled.
        body["currencyList"] = {"items": [{"currency": currency(config, code)} for code in others]}
    return NsRequest("customer", external_id("customer", c.id), body)


def primary_subsidiary(c: Customer, config: IntegrationConfig) -> str | None:
    return c.subsidiary_id or config.subsidiary_id


def customer_name(c: Customer) -> str:
    """The name NetSuite makes the Customer ID of where it does not number customers: the
    company name, an individual's first and last name."""
    return " ".join(filter(None, (c.first_name, c.last_name))) if c.is_person else c.name


def unique_customer_id(c: Customer) -> str:
    """A Customer ID no other Nue customer has, recognisable in NetSuite's lists: the name and
    the Nue id ("Acme (C-17)"), the name shortened to keep it within CUSTOMER_ID_CHARS."""
    suffix = f" ({c.id})"
    return customer_name(c)[: CUSTOMER_ID_CHARS - len(suffix)].rstrip() + suffix


def with_customer_id(request: NsRequest, c: Customer) -> NsRequest:
    """The request again, under a unique Customer ID: NetSuite refused the name as the ID
    (UNIQUE_CUST_ID_REQD: "A customer record with this ID already exists", Error Status Codes,
    section_N3539978), so the account does not number customers and takes a sent entityId
    ("Enter the name of this customer ... the way it should appear in all lists", the real
    schema). Only then: where the account numbers customers, a sent entityId would be ignored or
    refused [U], and the name stays the ID wherever it is free."""
    return replace(request, body=request.body | {"entityId": unique_customer_id(c)})


def primary_changes(before: Customer, now: Customer, config: IntegrationConfig) -> list[tuple[str, str, str]]:
    """(field, before, now) for a primary subsidiary or currency this version changes: NetSuite
    keeps both once the customer has transactions (docs/NETSUITE.md "Customers")."""
    pairs = [
        ("subsidiary_id", primary_subsidiary(before, config), primary_subsidiary(now, config)),
        ("currency", before.currency, now.currency),
    ]
    return [(name, old or "(the default)", new) for name, old, new in pairs if new and new != old]
