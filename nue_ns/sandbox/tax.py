"""The sandbox account's tax: SuiteTax tax details and its tax engine, tax schedules on items.

Whether an account has SuiteTax, and its tax codes, come from its kind (kinds.py: the schema of a
SuiteTax kind has the tax-details fields; elsewhere strict validation refuses them like any field
the account lacks, and tax is ordinary item lines of a tax item). REST takes tax only with SuiteTax
[article_0814121722]. In a SuiteTax account every sales transaction gets tax details: the
sandbox's engine computes them at `engine_rate` on every item line, unless the request sets
`taxDetailsOverride` (then the details sent are kept, each tied to an item line by its
taxDetailsReference) [REST API Browser 2026.1: taxDetailsOverride, taxDetails; "Editing Transactions
in SuiteTax", section_1513063654: with the override checked the tax lines are retained]. The
references' shapes are the catalog's (kinds.py): an item line's a string, a tax detail's a list
value {"id": ...}. Totals: subtotal (the item lines) + taxTotal (the details) = total ("Tax Details
on Transactions in SuiteTax", section_4283867856: Subtotal, Tax Total, Total).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from nue_ns.sandbox import values

SALES_TYPES = ("salesOrder", "invoice", "creditMemo")
ITEM_TYPES = ("nonInventorySaleItem", "serviceSaleItem", "inventoryItem")
_CENT = Decimal("0.01")

TAX_SCHEDULES: dict[str, str] = {"1": "Taxable", "2": "Non-Taxable"}
TAX_LIABILITY_ACCOUNT = "18"  # chart: Sales Tax Payable (OthCurrLiab)


@dataclass
class TaxSettings:
    # Percent the engine charges on every line when the override is not set; None: the kind's
    # default (ENGINE_RATE in a `suitetax` kind, 0 in `full`, whose tests predate tax).
    engine_rate: Decimal | None = None
    # Advanced Taxes: items need a tax schedule ("Please enter value(s) for: Tax Schedule").
    tax_schedule_required: bool = False


ENGINE_RATE = Decimal("10")


def suitetax(acct: Any) -> bool:
    return "suitetax" in acct.kind.features


def engine_rate(acct: Any) -> Decimal:
    if acct.tax.engine_rate is not None:
        return acct.tax.engine_rate
    return ENGINE_RATE if acct.kind.name == "suitetax" else Decimal(0)


_lines, _num, _ref = values.lines, values.num, values.ref_id


def check(acct: Any, ns_type: str, body: dict[str, Any]) -> None:
    """Tax rules of a record about to be stored."""
    from nue_ns.sandbox import state as errors  # state imports this module

    if ns_type in ITEM_TYPES:
        schedule = body.get("taxSchedule")
        if schedule is None and acct.tax.tax_schedule_required:
            raise errors.missing_values("Tax Schedule")
        if schedule is not None and _ref(schedule) not in TAX_SCHEDULES:
            raise errors.invalid_value(schedule, "taxSchedule")
        return
    if ns_type not in SALES_TYPES or not suitetax(acct):
        return
    references: set[str] = set()
    for i, line in enumerate(_lines(body, "item")):
        reference = line.get("taxDetailsReference")
        if reference is not None and not isinstance(reference, str):
            raise errors.invalid_value(reference, f"item.items[{i}].taxDetailsReference")
        if reference is not None:
            references.add(reference)
    for i, detail in enumerate(_lines(body, "taxDetails")):
        reference = detail.get("taxDetailsReference")
        if reference is not None and _ref(reference) is None:
            raise errors.invalid_value(reference, f"taxDetails.items[{i}].taxDetailsReference")
    if body.get("taxDetailsOverride") is not True:
        return
    for i, detail in enumerate(_lines(body, "taxDetails")):
        path = f"taxDetails.items[{i}]"
        if _ref(detail.get("taxDetailsReference")) not in references:
            raise errors.invalid_value(detail.get("taxDetailsReference"), f"{path}.taxDetailsReference")
        if _ref(detail.get("taxCode")) not in acct.kind.tax_codes:
            raise errors.invalid_value(detail.get("taxCode"), f"{path}.taxCode")
        if detail.get("taxAmount") is None:
            raise errors.missing_values("Tax Amount")


def derive(acct: Any, ns_type: str, body: dict[str, Any], derived: dict[str, Any], places: int = 2) -> None:
    """Tax details (the engine's unless overridden, in the currency's `places`) and
    subtotal/taxTotal/total of a sales record whose item line amounts are final."""
    if ns_type not in SALES_TYPES or not suitetax(acct):
        return
    items = _lines(body, "item")
    if body.get("taxDetailsOverride") is not True:
        rate = engine_rate(acct)
        code = next(iter(acct.kind.tax_codes), None)
        details = []
        for line in items:
            reference = line.setdefault("taxDetailsReference", f"TD{line.get('line')}")
            amount = _num(line.get("amount"))
            tax = (amount * rate / 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            details.append(
                {
                    "taxDetailsReference": {"id": reference},
                    "taxCode": {"id": code},
                    "taxBasis": float(amount),
                    "taxRate": float(rate),
                    "taxAmount": float(tax),
                }
            )
        body["taxDetails"] = {"items": details}
    subtotal = sum((_num(line.get("amount")) for line in items), Decimal(0))
    tax_total = sum((_num(d.get("taxAmount")) for d in _lines(body, "taxDetails")), Decimal(0))
    derived["subtotal"] = float(subtotal.quantize(_CENT))
    derived["taxTotal"] = float(tax_total.quantize(_CENT))
    derived["total"] = float((subtotal + tax_total).quantize(_CENT))


def seed_tax_item(acct: Any) -> str:
    """The tax item an administrator creates in an account without SuiteTax: an item posting to
    the tax liability account (UNVERIFIED which item type NetSuite lets post to a liability; the
    sandbox stores it as a user-made item without the income-account check). Its internal id."""
    from nue_ns.sandbox import state  # state imports this module

    with acct.lock:
        rid = str(acct.next_id)
        acct.next_id += 1
        stamp = state.now_iso()
        body = {"itemId": "Sales Tax (Nue)", "incomeAccount": {"id": TAX_LIABILITY_ACCOUNT}}
        # Sold wherever the customers are: the parent subsidiary and its children.
        body |= {"subsidiary": {"items": [{"id": "1"}]}, "includeChildren": True}
        acct.records[rid] = state.Record("nonInventorySaleItem", rid, body, "user", stamp, stamp)
        acct.version += 1
        return rid
