"""Configured custom field values on every record of a type (pure).

An account may make a custom field mandatory (a custom field's `isMandatory`, SuiteTalk's
TransactionBodyCustomField; `ismandatory` of SDF's transactionbodycustomfield, SDFxml_3330726969),
and NetSuite then refuses a record without it: "Please enter value(s) for: <label>"
(netsuite/segments.py). Nue has no such field, so the integration gives the value
(IntegrationConfig.field_values) and nue-ns puts it on the record's body, or with an `item.` key
(a transaction line field, custcol...) on every item line of a sales order, invoice or credit
memo.

NetSuite checks each value against its field's type (X-NetSuite-PropertyValueValidation, default
Error: 400 INVALID_CONTENT naming the field, section_156570709583); whether it coerces a string to
a number or a bare id to a reference is on no Oracle page. So a value goes in the type the account
profile gives the field: a list or record field as {"id": ...}, a check box as true/false, a number
as a JSON number, a date as YYYY-MM-DD. A value that cannot be written so is refused here, naming
the field, before any call. A field the account lacks is fit's to refuse ("create the custom
field", mapping/fit.py); without a profile the values go as configured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import LINE_KEY, IntegrationConfig, ListValue
from nue_ns.mapping.base import MappingIncomplete, NsRequest

# How a person reads a field's kind (account_profile._kind).
_KIND_WORDS = {
    "ref": "a list or record field (an internal id)",
    "string": "a text field",
    "boolean": "a check box (true or false)",
    "integer": "a whole number field",
    "number": "a number field",
    "date": "a date field (YYYY-MM-DD)",
}


def with_field_values(
    record_type: str, request: NsRequest, config: IntegrationConfig, profile: AccountProfile | None
) -> NsRequest:
    """`request` with the integration's values for `record_type`'s custom fields on its body."""
    values = config.field_values.get(record_type)  # type: ignore[call-overload]
    if not values:
        return request
    body = dict(request.body)
    line_values = {}
    for name, value in values.items():
        line_field = name.removeprefix(LINE_KEY)
        if line_field != name:  # every item line (Nue's tax lines of an account without SuiteTax too)
            kind = profile.kind(request.ns_type, line_field, sublist="item") if profile is not None else None
            line_values[line_field] = _typed(record_type, name, value, kind)
        else:
            kind = profile.kind(request.ns_type, name) if profile is not None else None
            body[name] = _typed(record_type, name, value, kind)
    item = body.get("item")
    if line_values and isinstance(item, dict) and isinstance(item.get("items"), list):
        body["item"] = {"items": [line | _fresh(line_values) for line in item["items"]]}
    return replace(request, body=body)


def _fresh(values: dict[str, Any]) -> dict[str, Any]:
    """Each line its own copy of a reference value: no object shared between lines."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}


def _typed(record_type: str, name: str, value: Any, kind: str | None) -> Any:
    """`value` in the JSON type of a field of `kind` (None: unknown, as configured)."""
    if isinstance(value, ListValue):
        value = value.model_dump()
    if kind is None:
        return value
    typed = _as(kind, value)
    if typed is not None:
        return typed
    where = f"field_values.{record_type}.{name}: the NetSuite account's field is"
    if kind not in _KIND_WORDS:
        raise MappingIncomplete(
            f"{where} of type {kind}, which nue-ns does not fill; remove it from the integration's "
            "field_values"
        )
    raise MappingIncomplete(
        f"{where} {_KIND_WORDS[kind]}, and {value!r} is not such a value; change it in the integration's "
        "field_values"
    )


def _as(kind: str, value: Any) -> Any:
    """`value` as a `kind` field takes it, or None when it cannot be."""
    scalar = not isinstance(value, bool | dict)
    if kind == "ref":
        if isinstance(value, dict):
            return value
        return {"id": str(value)} if scalar and str(value).lstrip("-").isdigit() else None
    if kind == "string":
        return str(value) if scalar else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in ("integer", "number") and scalar:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        if kind == "integer":
            return int(number) if number == number.to_integral_value() else None
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else None
        except ValueError:
            return None
    return None
