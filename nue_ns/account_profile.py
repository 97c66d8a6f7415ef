"""What nue-ns knows of one NetSuite account: its record schema and its facts (pure, no I/O).

Accounts differ: features (SuiteTax, Advanced Revenue Management, multiple currencies), custom
fields, currency ids, subsidiaries. NetSuite's metadata catalog describes each account's record
types, "custom records and fields" included, as OpenAPI 3.0 (docs/NETSUITE.md "Metadata catalog"
[section_1545126526]); `record_schema` reads that document into the small shape the mapping needs.
The facts (currencies, subsidiaries, GL accounts, tax codes) come from SuiteQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SublistSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: list[str] = Field(default_factory=list)  # x-ns-sublistkey for new lines
    fields: dict[str, str] = Field(default_factory=dict)  # name → kind (see _kind)


class RecordSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str] = Field(default_factory=dict)  # body field → kind
    sublists: dict[str, SublistSchema] = Field(default_factory=dict)


class AccountProfile(BaseModel):
    """One account's schema and facts, kept in the hub with the moment it was read."""

    model_config = ConfigDict(extra="forbid")

    read_at: dt.datetime | None = None
    records: dict[str, RecordSchema] = Field(default_factory=dict)  # by NetSuite record type
    currencies: dict[str, str] = Field(default_factory=dict)  # ISO 4217 code → internal id
    # False when SuiteQL's currency table could not be read (an account without Multiple
    # Currencies may not have it: docs/NETSUITE.md "Currencies"); its currency is then configured.
    currencies_read: bool = True
    # ISO 4217 code → decimal places of its amounts in this account: the currency record's
    # currencyPrecision, as SuiteQL answered it (empty when the account's SuiteQL has no such column).
    currency_precision: dict[str, int] = Field(default_factory=dict)
    subsidiaries: dict[str, str] = Field(default_factory=dict)  # internal id → name
    accounts: dict[str, str] = Field(default_factory=dict)  # GL account internal id → accttype
    tax_codes: dict[str, str] = Field(default_factory=dict)  # tax code name → internal id (SuiteTax)
    # The configured department, class and location as read (SuiteQL table → {internal id: name}),
    # active ones only; a table is absent when it was not read (none configured, or refused).
    classifications: dict[str, dict[str, str]] = Field(default_factory=dict)
    calls: int = 0  # NetSuite calls the last read cost

    def has(self, ns_type: str, name: str, sublist: str | None = None) -> bool | None:
        """Whether the account has this body (or sublist line) field; None when the type was not read."""
        schema = self.records.get(ns_type)
        if schema is None:
            return None
        if sublist is None:
            return name in schema.fields
        lines = schema.sublists.get(sublist)
        return lines is not None and name in lines.fields

    def kind(self, ns_type: str, name: str, sublist: str | None = None) -> str | None:
        """The kind (`_kind`) the account's schema gives a body or sublist line field; None when
        the type was not read or the account lacks the field."""
        schema = self.records.get(ns_type)
        if schema is None:
            return None
        if sublist is None:
            return schema.fields.get(name)
        lines = schema.sublists.get(sublist)
        return lines.fields.get(name) if lines is not None else None

    def places(self, code: str) -> int:
        """The decimal places amounts in `code` may have in this account: its currency record's
        precision, else (not read) `fallback_places`."""
        read = self.currency_precision.get(code)
        return read if read is not None else fallback_places(code)

    @property
    def suitetax(self) -> bool:
        """SuiteTax is on: transactions have tax details (REST supports tax only with SuiteTax,
        article_0814121722)."""
        return bool(self.has("invoice", "taxDetails"))

    @property
    def multiple_currencies(self) -> bool:
        """Multiple Currencies is on: transactions have a currency field (assumed where the invoice
        record was not read)."""
        return self.has("invoice", "currency") is not False

    @property
    def arm(self) -> bool:
        """Advanced Revenue Management is on: item lines carry revenue recognition dates."""
        return bool(self.has("invoice", "revRecStartDate", sublist="item"))


# A currency's decimal places when the account's own could not be read [U: docs/NETSUITE.md
# "Currency precision"]. NetSuite supports only 0 and 2 ("The only values supported are 0 and 2",
# Currency Decimal Precision, section_N1397831): 0 for the currencies NetSuite lists there as
# "usually expressed as integers" and for those whose ISO 4217 minor unit is 0, else 2 (an ISO
# 3-decimal currency such as KWD is held to 2, as every Nue amount already is: records.py). The
# stricter guess: a whole-yen amount is never refused by it, a fractional one never rounded.
ZERO_DECIMAL = frozenset(
    # section_N1397831 "Currencies Usually Expressed as Integers"
    "BYR KHR CLP ISK IDR IQD JPY LBP PYG KRW VND".split()
    # ISO 4217 minor unit 0
    + "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)


def fallback_places(code: str) -> int:
    return 0 if code in ZERO_DECIMAL else 2


def summary(data: dict[str, Any] | None, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """What operators see of a stored profile: when it was read, its age, what it cost, the facts,
    the features, and per record type how many fields the account has."""
    if not data:
        return None
    profile = AccountProfile.model_validate(data)
    age = None
    if profile.read_at is not None:
        age = round(((now or dt.datetime.now(dt.UTC)) - profile.read_at).total_seconds())
    return {
        "read_at": profile.read_at.isoformat() if profile.read_at else None,
        "age_seconds": age,
        "calls": profile.calls,
        "features": {
            "suitetax": profile.suitetax,
            "arm": profile.arm,
            "multiple_currencies": profile.multiple_currencies,
        },
        "currencies": profile.currencies,
        "currencies_read": profile.currencies_read,
        "currency_precision": profile.currency_precision,
        "subsidiaries": profile.subsidiaries,
        "accounts": profile.accounts,
        "tax_codes": profile.tax_codes,
        "classifications": profile.classifications,
        "records": {t: len(s.fields) for t, s in sorted(profile.records.items())},
    }


# -- reading the metadata catalog's OpenAPI ------------------------------------------------------

_REF = "#/components/schemas/"


def _target(prop: dict[str, Any]) -> str | None:
    """The schema name a property refers to (first alternative of a oneOf/anyOf), if any."""
    if "$ref" in prop:
        ref: str = prop["$ref"]
        return ref.removeprefix(_REF)
    for alternatives in (prop.get("oneOf"), prop.get("anyOf"), prop.get("allOf")):
        if alternatives:
            return _target(alternatives[0])
    return None


def _kind(prop: dict[str, Any], schemas: dict[str, Any]) -> str:
    """ref | sublist | object | string | date | date-time | number | integer | boolean | array."""
    target = _target(prop)
    if target is not None:
        if target.endswith("Collection") and "items" in schemas.get(target, {}).get("properties", {}):
            return "sublist"
        if "id" in schemas.get(target, {}).get("properties", {}):
            return "ref"  # a record reference: {"id": ...}
        return "object"
    kind: str = prop.get("type", "object")
    if kind == "string" and prop.get("format") in ("date", "date-time"):
        fmt: str = prop["format"]
        return fmt
    return kind


def _fields(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, str]:
    props = schema.get("properties", {})
    return {name: _kind(prop, schemas) for name, prop in props.items() if name != "links"}


def record_schema(document: dict[str, Any], ns_type: str) -> RecordSchema | None:
    """The body fields and sublists of `ns_type` in a metadata-catalog OpenAPI document."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    schema = schemas.get(ns_type)
    if schema is None:
        return None
    sublists: dict[str, SublistSchema] = {}
    for name, prop in schema.get("properties", {}).items():
        if _kind(prop, schemas) != "sublist":
            continue
        element_name = _target(schemas[_target(prop) or ""]["properties"]["items"].get("items", {}))
        element = schemas.get(element_name or "", {})
        key = element.get("x-ns-sublistkey", {}).get("value", {}).get("new", [])
        sublists[name] = SublistSchema(key=list(key), fields=_fields(element, schemas))
    return RecordSchema(fields=_fields(schema, schemas), sublists=sublists)
