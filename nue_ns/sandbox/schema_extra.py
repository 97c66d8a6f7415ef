"""Record schemas the derived real-account document lacks, written by hand in the same OpenAPI form.

schema/account-2025-09.json covers customer, invoice and creditMemo (and reference types); the
types below are listed with the fields Oracle's REST API Browser (2026.1) documents for them and
docs/NETSUITE.md names as key fields: salesOrder, customerPayment, customerRefund, deposit, the
three sale item types, and subsidiary (whose exposed elements section_157607424766 lists). Fields
that depend on an account's features (revenue recognition, ARM dates, SuiteTax, custom columns)
are not here: each sandbox account kind adds its own (kinds.py).
"""

from __future__ import annotations

import copy
from typing import Any

from nue_ns.sandbox.account_schema import derived_document

_REF = "#/components/schemas/"
# A hand-written schema whose record the real document has a sibling of: a field both have takes
# the real document's type (an order's lines are an invoice's lines before billing; payments' and
# refunds' apply lines are a credit memo's) [J]; the other fields are typed by name below. Status
# is not copied: each transaction type has its own status values.
ANALOGUES = {
    "salesOrder": "invoice",
    "salesOrder-itemElement": "invoice-itemElement",
    "customerPayment-applyElement": "creditMemo-applyElement",
    "customerRefund-applyElement": "creditMemo-applyElement",
}

# Field kinds: a name in one of these sets gets that OpenAPI type; any other name is a string.
_REFS = frozenset(
    "entity customer subsidiary currency account createdFrom arAcct item doc incomeAccount "
    "assetAccount cogsAccount revenueRecognitionRule parent status department class location price "
    "units terms salesRep partner postingPeriod taxSchedule".split()
)
_NUMBERS = frozenset(
    "total amount rate quantity payment applied unapplied paymentAmount due exchangeRate".split()
)
_BOOLEANS = frozenset("isInactive includeChildren apply deposit autoApply isClosed isElimination".split())
_DATES = frozenset("tranDate dueDate applyDate".split())
_DATETIMES = frozenset("lastModifiedDate createdDate dateCreated".split())
_ITEM_COLLECTIONS = frozenset({"subsidiary"})  # items: a list of subsidiaries (nsResourceCollection)
# List (select) fields, typed by the REST API Browser as an object {id, refName} with the id's enum
# where it lists one: salesOrder.orderStatus A/B, customerPayment.undepFunds (no enum listed).
_SELECTS: dict[str, list[str] | None] = {"orderStatus": ["A", "B"], "undepFunds": None}


def select(enum: list[str] | None = None) -> dict[str, Any]:
    """A list (select) field's property: an object {id, refName}, the id's enum where listed."""
    ident: dict[str, Any] = {"title": "Internal identifier", "type": "string"}
    if enum:
        ident["enum"] = list(enum)
    return {
        "type": "object",
        "properties": {"id": ident, "refName": {"title": "Reference Name", "type": "string"}},
    }


def prop(name: str, *, collection_ok: bool = False) -> dict[str, Any]:
    """The OpenAPI property of a field by its name's kind."""
    if name in _SELECTS:
        return select(_SELECTS[name])
    if collection_ok and name in _ITEM_COLLECTIONS:
        return {"$ref": _REF + "nsResourceCollection"}
    if name in _REFS:
        return {"$ref": _REF + "nsResource"}
    if name in _NUMBERS:
        return {"format": "double", "nullable": True, "type": "number"}
    if name in _BOOLEANS:
        return {"type": "boolean"}
    if name in _DATES:
        return {"format": "date", "nullable": True, "type": "string"}
    if name in _DATETIMES:
        return {"format": "date-time", "nullable": True, "type": "string"}
    if name == "line":
        return {"format": "int64", "nullable": True, "type": "integer"}
    return {"nullable": True, "type": "string"}


def _names(text: str) -> list[str]:
    return text.split()


_SALES_LINE = _names(
    """account amount chargeType class costEstimate costEstimateRate costEstimateType department
    description estGrossProfit estGrossProfitPercent inventoryDetail isClosed isOpen item itemSubtype
    itemType line linked location marginal matrixType options price printItems quantity
    quantityAvailable quantityCommitted quantityOnHand rate rateSchedule refName subsidiary units"""
)
_APPLY_LINE = _names("amount apply applyDate createdFrom currency doc due line refName refNum total type")
_ITEM = _names(
    """itemId displayName subsidiary includeChildren incomeAccount isInactive externalId description
    salesDescription id refName lastModifiedDate taxSchedule"""
)

# Classifications on a transaction's header: "If you enable classifications such as departments,
# classes, locations, and custom segments, a field for each classification shows in the header of
# transaction forms" (section_N265988), as on the real account's invoice and creditMemo; on
# payments and refunds [J: that sentence; no account document in hand has these types].
_CLASSIFIED = "department class location"

# type -> (body fields, {sublist: (line fields, x-ns-sublistkey)})
HAND_WRITTEN: dict[str, tuple[list[str], dict[str, tuple[list[str], list[str]]]]] = {
    "salesOrder": (
        _names(
            """entity tranDate tranId externalId subsidiary currency account memo dueDate createdFrom
            otherRefNum exchangeRate item id refName status orderStatus total lastModifiedDate
            createdDate """
            + _CLASSIFIED
        ),
        {"item": (_SALES_LINE, ["line"])},
    ),
    "customerPayment": (
        _names(
            """customer payment tranDate account undepFunds arAcct currency exchangeRate externalId memo
            tranId apply autoApply subsidiary id refName status total applied unapplied
            lastModifiedDate createdDate """
            + _CLASSIFIED
        ),
        {"apply": (_APPLY_LINE, ["doc", "line"])},
    ),
    "customerRefund": (
        _names(
            """customer account total tranDate currency exchangeRate externalId memo apply subsidiary
            tranId id refName lastModifiedDate createdDate """
            + _CLASSIFIED
        ),
        {"apply": (_APPLY_LINE, ["doc", "line"])},
    ),
    "deposit": (
        _names(
            """account tranDate payment other cashBack externalId memo currency subsidiary tranId id
            refName total lastModifiedDate createdDate"""
        ),
        {
            "payment": (_names("id deposit paymentAmount docNumber line"), ["id"]),
            "other": (_names("account amount entity memo department class location line"), []),
            "cashBack": (_names("account amount memo department class location line"), []),
        },
    ),
    "nonInventorySaleItem": (_ITEM, {}),
    "serviceSaleItem": (_ITEM, {}),
    "inventoryItem": ([*_ITEM, "assetAccount", "cogsAccount"], {}),
    # section_157607424766: internalid, externalid, isinactive, legalname, name, parent, currency, ...
    "subsidiary": (_names("id externalId isInactive legalName name parent currency isElimination"), {}),
}


def _typed(schema_name: str, names: list[str], collection_ok: bool = False) -> dict[str, Any]:
    """{field: property}: the real document's where ANALOGUES names a sibling that has the field
    (not a sublist: those are built here), else by the name's kind."""
    real = derived_document()["schemas"].get(ANALOGUES.get(schema_name, ""), {}).get("properties", {})
    out = {}
    for name in names:
        known = real.get(name)
        copied = known is not None and name not in _SELECTS and name != "status"
        if copied and not known.get("$ref", "").endswith("Collection"):
            out[name] = copy.deepcopy(known)
        else:
            out[name] = prop(name, collection_ok=collection_ok)
    return out


def schemas() -> dict[str, Any]:
    """The hand-written types as OpenAPI component schemas (with their sublist collections)."""
    out: dict[str, Any] = {}
    for ns_type, (fields, sublists) in HAND_WRITTEN.items():
        props = _typed(ns_type, fields, collection_ok=ns_type.endswith("Item"))
        props["links"] = {"items": {"$ref": _REF + "nsLink"}, "readOnly": True, "type": "array"}
        for sublist, (line_fields, key) in sublists.items():
            element, collection = f"{ns_type}-{sublist}Element", f"{ns_type}-{sublist}Collection"
            line_props = _typed(element, line_fields)
            out[element] = {"properties": line_props, "type": "object"}
            if key:
                out[element]["x-ns-sublistkey"] = {"present": True, "value": {"existing": key, "new": key}}
            out[collection] = {
                "properties": {"items": {"items": {"$ref": _REF + element}, "type": "array"}},
                "type": "object",
            }
            props[sublist] = {"$ref": _REF + collection}
        out[ns_type] = {"properties": props, "type": "object"}
    return out
