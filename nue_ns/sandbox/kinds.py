"""Kinds of sandbox NetSuite account: their record schema (as the metadata catalog serves it) and
their reference data (currencies, subsidiaries).

Every kind starts from a real account's schema (schema/account-2025-09.json, plus the hand-written
types of schema_extra.py) and adds what its features bring:
- `real-2025-09`: exactly that account: no Advanced Revenue Management, no SuiteTax, no nue-ns
  custom line column; USD base currency with GBP, EUR, CAD; one subsidiary.
- `arm`: + revenue recognition (items' deferredRevenueAccount, revenueRecognitionRule; item lines'
  revRecStartDate/revRecEndDate) + the custom column custcol_nue_line_id; three subsidiaries
  (a parent and two children); USD base.
- `suitetax`: + SuiteTax (transactions' taxDetails sublist and taxDetailsOverride; item lines'
  taxDetailsReference) + custcol_nue_line_id; two subsidiaries; EUR base.
- `full`: every feature above (the demo's default: what the sandbox accepted before kinds), and
  JPY beside them, a currency of precision 0.
- `single-currency`: Multiple Currencies off (every kind above has it on): customers have no
  `currency` or `currencyList`, transactions no `currency` or `exchangeRate` [U: no account
  document in hand lacks the feature; the fields are the ones the feature brings], and every amount
  is in the base currency, USD; + custcol_nue_line_id; one subsidiary. REST's currency record needs
  the feature ("You must have the Multiple Currencies feature enabled before you can use this
  record through REST web services", section_0818023012), so whether SuiteQL's `currency` table
  answers is open: the switch `currency_table` has it refuse the query ("refused", the default) or
  list the base currency alone ("base_only").
- `single-company`: no OneWorld (every kind above has it): customers, items and transactions have
  no `subsidiary` (items no `includeChildren`, customers no `representingSubsidiary`), SuiteQL has
  no `subsidiary` table [U: the fields OneWorld brings; no such account's document in hand], every
  item is sold to every customer (the subsidiary record needs OneWorld or the hidden Subsidiaries
  feature: section_157607424766); USD base with EUR; + custcol_nue_line_id.

Currency and subsidiary internal ids differ between kinds on purpose: ids belong to an account, so
a connector that guesses them posts in the wrong currency in some kind.

Chosen per account: `POST /_sandbox/accounts {"kind": ...}`; accounts registered at start take
NUE_NS_SANDBOX_KIND (default `full`). The names of the revenue recognition and SuiteTax fields are
UNVERIFIED against a live account with those features (the real document has neither).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from nue_ns.sandbox import schema_extra
from nue_ns.sandbox.account_schema import derived_document

KIND_ENV = "NUE_NS_SANDBOX_KIND"
DEFAULT_KIND = "full"
_REF = "#/components/schemas/"
SALES = ("salesOrder", "invoice", "creditMemo")
ITEMS = ("nonInventorySaleItem", "serviceSaleItem", "inventoryItem")

_DATE = {"format": "date", "nullable": True, "type": "string"}
_REF_PROP = {"$ref": _REF + "nsResource"}
_NUMBER = {"format": "double", "nullable": True, "type": "number"}
_TEXT = {"nullable": True, "type": "string"}

# What each feature adds: {schema name: {field: property}}.
ARM = {
    **{f"{t}-itemElement": {"revRecStartDate": _DATE, "revRecEndDate": _DATE} for t in SALES},
    **{t: {"deferredRevenueAccount": _REF_PROP, "revenueRecognitionRule": _REF_PROP} for t in ITEMS},
}
LINE_ID_COLUMN = "custcol_nue_line_id"
CUSTOM_COLUMN = {f"{t}-itemElement": {LINE_ID_COLUMN: {**_TEXT, "x-ns-custom-field": True}} for t in SALES}
# A tax detail line's fields as the REST API Browser (2026.1) types `invoice-taxDetailsElement` and
# `creditMemo-taxDetailsElement`: taxDetailsReference a list value {id, refName} (the reference of
# the item line it is tied to), taxType a string; item lines' taxDetailsReference is a string.
TAX_DETAIL_FIELDS = {
    "taxDetailsReference": schema_extra.select(),
    "lineType": _TEXT,
    "lineName": _TEXT,
    "netAmount": _NUMBER,
    "taxType": _TEXT,
    "taxCode": _REF_PROP,
    "taxBasis": _NUMBER,
    "taxRate": _NUMBER,
    "taxAmount": _NUMBER,
    "calcDetail": _TEXT,
}
SUITETAX: dict[str, dict[str, Any]] = {
    **{
        t: {
            "taxDetailsOverride": {"type": "boolean"},
            "taxDetails": {"$ref": f"{_REF}{t}-taxDetailsCollection"},
        }
        for t in SALES
    },
    **{f"{t}-itemElement": {"taxDetailsReference": _TEXT} for t in SALES},
}


# What an account without OneWorld lacks (kind `single-company`).
SINGLE_COMPANY_LACKS = {
    "customer": ("subsidiary", "representingSubsidiary"),
    **{t: ("subsidiary",) for t in (*SALES, "customerPayment", "customerRefund")},
    **{t: ("subsidiary", "includeChildren") for t in ITEMS},
}
# What an account without Multiple Currencies lacks (kind `single-currency`).
SINGLE_CURRENCY_LACKS = {
    "customer": ("currency", "currencyList"),
    **{t: ("currency", "exchangeRate") for t in (*SALES, "customerPayment", "customerRefund")},
}


def _tax_details_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in SALES:
        element = {"properties": dict(TAX_DETAIL_FIELDS), "type": "object"}
        element["x-ns-sublistkey"] = {
            "present": True,
            "value": {"existing": ["taxDetailsReference"], "new": []},
        }
        out[f"{t}-taxDetailsElement"] = element
        out[f"{t}-taxDetailsCollection"] = {
            "properties": {"items": {"items": {"$ref": f"{_REF}{t}-taxDetailsElement"}, "type": "array"}},
            "type": "object",
        }
    return out


@dataclass(frozen=True)
class AccountKind:
    name: str
    features: tuple[str, ...]
    currencies: dict[str, str]  # internal id -> ISO code (the first is the base currency)
    subsidiaries: dict[str, tuple[str, str | None]]  # internal id -> (name, parent id)
    schemas: dict[str, Any] = field(repr=False, default_factory=dict)
    tax_codes: dict[str, str] = field(default_factory=dict)  # SuiteTax tax codes: internal id -> name

    @property
    def multiple_currencies(self) -> bool:
        return "single_currency" not in self.features

    @property
    def oneworld(self) -> bool:
        return "single_company" not in self.features

    @property
    def base_currency(self) -> str:
        return next(iter(self.currencies))

    def currency_id(self, code: str) -> str | None:
        return next((i for i, c in self.currencies.items() if c == code), None)

    def places(self, currency_id: str | None) -> int:
        """The currency's Currency Precision: the decimal places of its amounts."""
        return CURRENCY_PRECISION.get(self.currencies.get(currency_id or "", ""), 2)

    # -- schema lookups ----------------------------------------------------------------------

    def fields(self, ns_type: str) -> frozenset[str]:
        return _fields(self.name, ns_type)

    def sublists(self, ns_type: str) -> dict[str, frozenset[str]]:
        """{sublist: its line fields} of a record type (collections of objects with items)."""
        return _sublists(self.name, ns_type)

    def document(self, types: list[str]) -> dict[str, Any]:
        """The metadata catalog's OpenAPI 3.0 answer for `types`: their schemas and every schema
        they refer to (section_1545126526)."""
        wanted: dict[str, Any] = {}
        stack = list(types)
        while stack:
            name = stack.pop()
            if name in wanted or name not in self.schemas:
                continue
            wanted[name] = self.schemas[name]
            stack += _refs(self.schemas[name])
        paths = {f"/{t}": {"get": {"tags": [t], "summary": "Get list of records"}} for t in types}
        return {
            "openapi": "3.0.1",
            "info": {"title": "NetSuite REST Record API", "version": "v1"},
            "paths": paths,
            "components": {"schemas": copy.deepcopy(wanted)},
        }

    def type_name(self, name: str) -> str | None:
        """A record type by its name as `select` gives it (case-insensitive: Oracle's example
        selects `salesorder`)."""
        return _type_names(self.name).get(name.lower())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"].removeprefix(_REF)] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            out += _refs(value)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _with(schemas: dict[str, Any], additions: dict[str, dict[str, Any]]) -> None:
    for name, props in additions.items():
        schemas[name]["properties"].update(copy.deepcopy(props))


def _build(name: str, features: tuple[str, ...]) -> dict[str, Any]:
    schemas = copy.deepcopy(derived_document()["schemas"]) | schema_extra.schemas()
    if "arm" in features:
        _with(schemas, ARM)
    if "line_id_column" in features:
        _with(schemas, CUSTOM_COLUMN)
    if "suitetax" in features:
        schemas |= _tax_details_schemas()
        _with(schemas, SUITETAX)
    features_off = {"single_currency": SINGLE_CURRENCY_LACKS, "single_company": SINGLE_COMPANY_LACKS}
    for feature, lacking in features_off.items():
        if feature in features:  # a feature off: the fields it brings are not there
            for schema, fields in lacking.items():
                for f in fields:
                    schemas[schema]["properties"].pop(f, None)
    return schemas


_SPECS: dict[str, tuple[tuple[str, ...], dict[str, str], dict[str, tuple[str, str | None]]]] = {
    "real-2025-09": (
        (),
        {"1": "USD", "2": "GBP", "3": "EUR", "4": "CAD"},
        {"1": ("Parent Company", None)},
    ),
    "arm": (
        ("arm", "line_id_column"),
        {"1": "USD", "2": "GBP", "3": "EUR", "5": "CAD"},  # CAD as 5: ids are the account's
        {"1": ("Parent Company", None), "2": ("EMEA", "1"), "3": ("Americas", "1")},
    ),
    "suitetax": (
        ("suitetax", "line_id_column"),
        {"1": "EUR", "2": "USD", "3": "GBP"},
        {"1": ("Parent Company", None), "2": ("UK Ltd", "1")},
    ),
    "full": (
        ("arm", "line_id_column", "suitetax"),
        {"1": "USD", "2": "EUR", "3": "GBP", "4": "CAD", "5": "JPY"},
        {"1": ("Parent Company", None), "2": ("EMEA", "1"), "3": ("Americas", "1")},
    ),
    "single-currency": (
        ("line_id_column", "single_currency"),
        {"1": "USD"},
        {"1": ("Parent Company", None)},
    ),
    "single-company": (  # one company: its subsidiary "1" is internal only (no field, no table)
        ("line_id_column", "single_company"),
        {"1": "USD", "2": "EUR"},
        {"1": ("Company", None)},
    ),
}
KIND_NAMES = tuple(_SPECS)
# A currency record's Currency Precision: "The only values supported are 0 and 2"; the Japan locale's
# is 0, the United States' 2 (Currency Decimal Precision, section_N1397831). Every other currency of
# the kinds has 2.
CURRENCY_PRECISION = {"JPY": 0}
# Tax codes of the SuiteTax kinds (salesTaxItem records, article_0814121722).
TAX_CODES = {"21": "S-GB", "22": "Z-GB", "23": "S-DE", "24": "EXEMPT"}


@cache
def kind(name: str) -> AccountKind:
    if name not in _SPECS:
        raise ValueError(f"unknown sandbox account kind {name!r}: expected one of {', '.join(_SPECS)}")
    features, currencies, subsidiaries = _SPECS[name]
    tax_codes = TAX_CODES if "suitetax" in features else {}
    return AccountKind(name, features, currencies, subsidiaries, _build(name, features), tax_codes)


def default_kind(environ: dict[str, str] | None = None) -> AccountKind:
    env = os.environ if environ is None else environ
    return kind(env.get(KIND_ENV, "").strip() or DEFAULT_KIND)


def _props(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    return schemas.get(name, {}).get("properties", {})


def _element(schemas: dict[str, Any], prop: dict[str, Any]) -> str | None:
    """The line schema of a sublist property (a `...Collection` whose items are objects)."""
    target = prop.get("$ref", "").removeprefix(_REF)
    items = _props(schemas, target).get("items", {}).get("items", {})
    ref = items.get("$ref", "").removeprefix(_REF) if isinstance(items, dict) else ""
    return ref or None


@cache
def _fields(kind_name: str, ns_type: str) -> frozenset[str]:
    return frozenset(_props(kind(kind_name).schemas, ns_type))


@cache
def _sublists(kind_name: str, ns_type: str) -> dict[str, frozenset[str]]:
    schemas = kind(kind_name).schemas
    out = {}
    for name, prop in _props(schemas, ns_type).items():
        element = _element(schemas, prop) if isinstance(prop, dict) else None
        if element is not None:
            out[name] = frozenset(_props(schemas, element))
    return out


@cache
def _type_names(kind_name: str) -> dict[str, str]:
    schemas = kind(kind_name).schemas
    return {
        n.lower(): n
        for n, s in schemas.items()
        if "-" not in n and not n.startswith("ns") and not n.endswith("Collection") and "properties" in s
    }
