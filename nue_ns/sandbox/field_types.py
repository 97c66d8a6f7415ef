"""Property value validation: each value a write sends must have the type the account's schema gives
its field (the metadata catalog's OpenAPI 3.0 document, kinds.py).

NetSuite checks values under `X-NetSuite-PropertyValueValidation`, a header parameter of every write
operation in NetSuite's OpenAPI document (enum Error, Warning, Ignore; default Error), and answers a
bad value with 400 INVALID_CONTENT whose o:errorPath is the value's JSON path ("Error Handling in
REST Web Services", section_156570709583). What a schema type takes here:
- `string`: a JSON string; with format `date` a valid YYYY-MM-DD, with `date-time` an ISO 8601 time;
- `number`: a JSON number (a string such as "10" is not one); `integer`: a whole JSON number;
- `boolean`: true or false;
- a reference (a `$ref` or `oneOf` to a schema with `id`, e.g. nsResource): an object with `id` (a
  string, or a number as in Oracle's own example `"entity": { "id": 107 }`, section_156570709583)
  or `externalId` (a string: the nsResource schema's);
- a list field (`type: object` with `id`, enum-checked where the schema lists the values): `{"id":
  ...}`; `orderStatus` also as the bare letter of Oracle's example (section_159795516182);
- a sublist (a `...Collection` schema): `{"items": [...]}`, each line checked against its element;
- a subrecord (another object schema, e.g. an address): an object, each field checked.
null is always taken: it clears the field ("null clears", docs/NETSUITE.md "Record API").
Names the schema lacks are not checked here: property-name validation owns them (state.py).
Whether NetSuite coerces a string to a number, or a number to a string, is on no Oracle page; the
sandbox does not, so the product must send each value in its schema type.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

_REF = "#/components/schemas/"
Bad = list[tuple[str, Any]]  # (JSON path, value)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Select fields that also take the bare value: Oracle's example sends `"orderStatus": "B"`
# (section_159795516182).
BARE_SELECTS = frozenset({"orderStatus"})


def invalid_values(schemas: dict[str, Any], ns_type: str, body: dict[str, Any]) -> Bad:
    """(JSON path, value) of each value in `body` its field's schema type does not take, in order."""
    return _object(schemas, schemas.get(ns_type, {}), body, "")


def _object(schemas: dict[str, Any], schema: dict[str, Any], value: dict[str, Any], prefix: str) -> Bad:
    props = schema.get("properties", {})
    out: Bad = []
    for name, field_value in value.items():
        if name in props:
            out += _value(schemas, name, props[name], field_value, f"{prefix}{name}")
    return out


def _targets(prop: dict[str, Any]) -> list[str]:
    alternatives = prop.get("oneOf") or prop.get("anyOf") or [prop]
    return [a["$ref"].removeprefix(_REF) for a in alternatives if isinstance(a.get("$ref"), str)]


def _value(schemas: dict[str, Any], name: str, prop: dict[str, Any], value: Any, path: str) -> Bad:
    if value is None:
        return []
    targets = _targets(prop)
    if targets:
        target = schemas.get(targets[0], {})
        props = target.get("properties", {})
        if targets[0].endswith("Collection") and "items" in props:
            return _sublist(schemas, props["items"].get("items", {}), value, path)
        if "id" in props:
            return [] if is_reference(value) else [(path, value)]
        return _object(schemas, target, value, f"{path}.") if isinstance(value, dict) else [(path, value)]
    return [] if _scalar_ok(name, prop, value) else [(path, value)]


def _sublist(schemas: dict[str, Any], element: dict[str, Any], value: Any, path: str) -> Bad:
    lines = value.get("items") if isinstance(value, dict) else None
    if not isinstance(lines, list):
        return [(path, value)]
    targets = _targets(element)
    line_schema = schemas.get(targets[0], {}) if targets else {}
    out: Bad = []
    for i, line in enumerate(lines):
        where = f"{path}.items[{i}]"
        if targets and targets[0].endswith("Element"):  # a line: its fields (a line may have an `id`)
            out += (
                _object(schemas, line_schema, line, f"{where}.")
                if isinstance(line, dict)
                else [(where, line)]
            )
        else:  # a list of references (nsResourceCollection: an item's subsidiaries)
            out += _value(schemas, "", element, line, where)
    return out


def is_reference(value: Any) -> bool:
    """`{"id": ...}` or `{"externalId": ...}` (nsResource), the id a string or a whole number."""
    if not isinstance(value, dict):
        return False
    ident, external = value.get("id"), value.get("externalId")
    if ident is None and external is None:
        return False
    ident_ok = (
        ident is None or isinstance(ident, str) or (isinstance(ident, int) and not isinstance(ident, bool))
    )
    return ident_ok and (external is None or isinstance(external, str))


def _scalar_ok(name: str, prop: dict[str, Any], value: Any) -> bool:
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "object" and "id" in prop.get("properties", {}):  # a list (select) field
        letter = value if name in BARE_SELECTS and isinstance(value, str) else None
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            letter = value["id"]
        allowed = prop["properties"]["id"].get("enum")
        return letter is not None and (not allowed or letter in allowed)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if kind == "string":
        if not isinstance(value, str):
            return False
        if fmt == "date":
            return _is_date(value)
        if fmt == "date-time":
            return _is_time(value)
        return True
    return True  # a schema without a type takes any value


def _is_date(value: str) -> bool:
    try:
        return bool(_DATE.match(value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _is_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
