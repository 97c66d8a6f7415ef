"""Nue product → NetSuite item, typed by product type, with the GL accounts of its category."""

from __future__ import annotations

from typing import Any

from nue_ns.integration import IntegrationConfig, ItemType
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id, ref
from nue_ns.records import Product


def _account(config: IntegrationConfig, name: str, category: str | None) -> str:
    value = config.account(name, category)
    if not value:
        where = f" (category {category})" if category else ""
        raise MappingIncomplete(f"GL account '{name}' is not configured{where}")
    return value


def map_item(p: Product, config: IntegrationConfig) -> NsRequest:
    kind = p.product_type.value  # subscription | entitlement | asset
    item_type = config.item_type(p.product_type)
    body: dict[str, Any] = {
        "itemId": p.sku,
        "displayName": p.name,
        "isInactive": not p.active,
        "incomeAccount": ref(_account(config, f"{kind}_income", p.category)),
        "deferredRevenueAccount": ref(_account(config, f"{kind}_revenue", p.category)),
    }
    subsidiaries = config.item_subsidiaries or ([config.subsidiary_id] if config.subsidiary_id else [])
    if subsidiaries:
        body["subsidiary"] = {"items": [ref(s) for s in subsidiaries]}
    if config.item_include_children:
        body["includeChildren"] = True
    if config.tax_schedule_id:  # required on items in accounts with Advanced Taxes
        body["taxSchedule"] = ref(config.tax_schedule_id)
    if item_type is ItemType.inventory:
        body["assetAccount"] = ref(_account(config, "inventory_asset", p.category))
        body["cogsAccount"] = ref(_account(config, "cogs", p.category))
    return NsRequest(
        item_type.value, external_id("product", p.id), body, optional=frozenset({"deferredRevenueAccount"})
    )
