"""Nue's tax on a sales document, in the shape the account takes it (pure).

NetSuite's REST API carries tax only with SuiteTax: "REST web services do not support legacy tax
features. To work with taxation through REST web services, you must have the SuiteTax feature
enabled." [article_0814121722]. So:

- In a SuiteTax account (its profile shows `taxDetails` on the record) Nue's tax goes as the
  document's tax details, each tied to its item line by `taxDetailsReference`, with
  `taxDetailsOverride: true` so NetSuite's tax engine keeps Nue's amounts instead of computing its
  own (with the override checked, "Tax lines on the Tax Details subtab are retained, regardless of
  whether or not tax-related fields are changed", Oracle's "Editing Transactions in SuiteTax",
  section_1513063654). The override is sent on every document, taxed or not: without it NetSuite
  would add tax Nue never charged. NetSuite's total is then the lines plus Nue's tax, to the cent.
  REST names and shapes (Oracle's REST API Browser 2026.1, e.g. `invoice`, `creditMemo`): body
  `taxDetailsOverride` boolean and `taxDetails` collection; `-taxDetailsElement` has
  `taxDetailsReference` typed as an object {id, refName} (a list field: in the UI a tax line picks
  the Tax Details Reference of its item), taxCode (salesTaxItem), taxBasis, taxRate, taxAmount;
  `-itemElement` has `taxDetailsReference` as a string. The element's reference is sent as
  {"id": ...}, or bare where the account's profile types it as a string (fit.select_value).
  UNVERIFIED against a live SuiteTax account: that a client-chosen taxDetailsReference is kept.
- Elsewhere tax posts as ordinary lines of the configured tax item (`tax_item_id`), whose account
  is the tax liability account (`gl.tax_liability`, checked to be a liability by the GL check),
  never revenue: one line per taxed Nue line, so every line's tax stays traceable.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, ref
from nue_ns.mapping.fit import select_value
from nue_ns.mapping.lines import money, number
from nue_ns.records import Line

TAXED_TYPES = ("salesOrder", "invoice", "creditMemo")
RATE_STEP = Decimal("0.0001")


def suitetax(ns_type: str, profile: AccountProfile | None) -> bool:
    """The account takes tax details on this record type (False without a profile: nothing known)."""
    if profile is None:
        return False
    has = profile.has(ns_type, "taxDetails")
    return profile.suitetax if has is None else has


def reference(line: Line) -> str:
    """The taxDetailsReference tying an item line to its tax details."""
    return f"nue-{line.id}"


def rate(line: Line) -> Decimal:
    """Nue's rate in percent, else the one its amounts imply (a reporting figure: the amount rules)."""
    if line.tax_rate is not None:
        return line.tax_rate
    if line.amount == 0:
        return Decimal(0)
    return (line.tax / line.amount * 100).quantize(RATE_STEP)


def _tax_code_id(line: Line, config: IntegrationConfig, profile: AccountProfile) -> str:
    name = line.tax_code or config.tax_code_default
    if name is None:
        raise MappingIncomplete(
            f"line {line.id} has tax but no tax code: send tax_code or set tax_code_default"
        )
    found = profile.tax_codes.get(name)
    if found is None:
        raise MappingIncomplete(
            f"tax code {name!r} (line {line.id}) is not a tax code of the NetSuite account; "
            "create it in NetSuite or rediscover the account profile"
        )
    return found


def _tax_details(
    request: NsRequest, lines: list[Line], config: IntegrationConfig, profile: AccountProfile
) -> NsRequest:
    body = dict(request.body)
    items = [dict(item) for item in body["item"]["items"]]
    details: list[dict[str, Any]] = []
    # An item line's reference is a string; a tax detail's is a list value {id} (REST API Browser).
    detail_kind = profile.kind(request.ns_type, "taxDetailsReference", sublist="taxDetails")
    for item, line in _pairs(items, lines):
        if line.tax_amount is None:
            continue
        item["taxDetailsReference"] = reference(line)
        details.append(
            {
                "taxDetailsReference": select_value({"id": reference(line)}, detail_kind),
                "taxCode": ref(_tax_code_id(line, config, profile)),
                "taxBasis": money(line.amount),
                "taxRate": number(rate(line)),
                "taxAmount": money(line.tax),
            }
        )
    body["item"] = {"items": items}
    body["taxDetailsOverride"] = True
    body["taxDetails"] = {"items": details}
    return replace(request, body=body, replace=(*request.replace, "taxDetails"))


def _pairs(items: list[dict[str, Any]], lines: list[Line]) -> list[tuple[dict[str, Any], Line]]:
    """Each item line with its Nue line: by nue-ns's line-id column where every line has it (a
    builder may order or key lines its own way), else in order."""
    by_id = {line.id: line for line in lines}
    if items and all(item.get("custcol_nue_line_id") in by_id for item in items):
        return [(item, by_id[item["custcol_nue_line_id"]]) for item in items]
    return list(zip(items, lines, strict=True))


def _tax_lines(request: NsRequest, lines: list[Line], config: IntegrationConfig) -> NsRequest:
    if not config.tax_item_id:
        raise MappingIncomplete(
            "the document has tax and the NetSuite account has no SuiteTax: configure tax_item_id "
            "(an item whose account is the tax liability account)"
        )
    if not config.gl.tax_liability:
        raise MappingIncomplete("GL account 'tax_liability' is not configured (the tax item's account)")
    body = dict(request.body)
    items = list(body["item"]["items"])
    for line in lines:
        if line.tax_amount is None:
            continue
        described = " ".join(
            part
            for part in ("Tax", line.tax_code, f"{line.tax_rate}%" if line.tax_rate is not None else None)
            if part
        )
        items.append(
            {
                "item": ref(config.tax_item_id),
                "quantity": 1.0,
                "rate": money(line.tax),
                "amount": money(line.tax),
                "description": f"{described} on line {line.id}",
                "custcol_nue_line_id": f"{line.id}-tax",
            }
        )
    body["item"] = {"items": items}
    return replace(request, body=body)


def add_tax(
    request: NsRequest, lines: list[Line], config: IntegrationConfig, profile: AccountProfile | None
) -> NsRequest:
    """`request` (a sales document built from `lines`) with Nue's tax in the account's shape."""
    if request.ns_type not in TAXED_TYPES:
        return request
    if suitetax(request.ns_type, profile):
        assert profile is not None
        return _tax_details(request, lines, config, profile)
    if any(line.tax_amount is not None for line in lines):
        return _tax_lines(request, lines, config)
    return request


def problems(config: IntegrationConfig, profile: AccountProfile | None) -> list[str]:
    """What the account's setup lacks for Nue's tax, one sentence each (nothing known without a
    profile; records that need a missing piece also wait naming it, from `add_tax`)."""
    out = []
    if config.tax_item_id and not config.gl.tax_liability:
        out.append("tax_liability: not configured (the tax item's account, checked to be a liability)")
    if profile is None:
        return out
    if profile.suitetax:
        code = config.tax_code_default
        if code is not None and code not in profile.tax_codes:
            out.append(f"tax_code_default: {code!r} is not a tax code of the NetSuite account")
    elif not config.tax_item_id:
        out.append(
            "tax_item_id: not configured and the account has no SuiteTax: taxed documents will wait "
            "(create an item posting to the tax liability account, or enable SuiteTax)"
        )
    return out
