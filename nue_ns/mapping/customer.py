"""Nue customer → NetSuite customer."""

from __future__ import annotations

from typing import Any

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id, ref
from nue_ns.mapping.lines import currency
from nue_ns.records import Customer


def map_customer(c: Customer, config: IntegrationConfig) -> NsRequest:
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
    subsidiary = c.subsidiary_id or config.subsidiary_id
    if subsidiary:
        body["subsidiary"] = ref(subsidiary)
    if c.currency:
        body["currency"] = currency(config, c.currency)
    others = [code for code in dict.fromkeys(c.currencies) if code != c.currency]
    if others:
        # customer-currencyListElement, keyed by currency: lines merge, none is doubled.
        body["currencyList"] = {"items": [{"currency": currency(config, code)} for code in others]}
    return NsRequest("customer", external_id("customer", c.id), body)
