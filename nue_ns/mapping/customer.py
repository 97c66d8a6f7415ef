"""Nue customer → NetSuite customer."""

from __future__ import annotations

from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id, ref
from nue_ns.records import Customer


def map_customer(c: Customer, config: IntegrationConfig) -> NsRequest:
    body: dict = {"isPerson": c.is_person}
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
        currency = config.currency_ids.get(c.currency)
        if currency is None:
            raise MappingIncomplete(f"no NetSuite currency id configured for {c.currency} (currency_ids)")
        body["currency"] = ref(currency)
    return NsRequest("customer", external_id("customer", c.id), body)
