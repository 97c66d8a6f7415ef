"""Custom fields an account makes mandatory (switch `mandatory_fields`, none by default).

A custom field's definition can make it mandatory (`isMandatory` of SuiteTalk's
TransactionBodyCustomField; `ismandatory` of SDF's transactionbodycustomfield, SDFxml_3330726969),
and a record saved without it is refused with the message NetSuite gives a missing required field,
"Please enter value(s) for: <label>" (as for a classification, sandbox/classifications.py). The
switch names each record type's mandatory fields and their labels:
`{"invoice": {"custbody_transaction_region": "Region", "item.custcol_bb1_labour_type": "Labour
Type"}}` (an `item.` key: a transaction line field, required on every item line). The check is on
the record about to be stored (the merged record): an update of a record that has the value passes
without it [U whether NetSuite re-checks the stored value on an update: the merged record is the
reading that holds either way for a connector that always sends it]. An empty string is no value.
"""

from __future__ import annotations

import re
from typing import Any

from nue_ns.sandbox import values

_FIELD = re.compile(r"^(cust(entity|item|body)|item\.custcol)[a-z0-9_]{1,90}$")
_LINE = "item."  # a transaction line field: on every item line


def check(acct: Any, ns_type: str, body: dict[str, Any]) -> None:
    """Refuse a record of `ns_type` lacking one of the account's mandatory custom fields (a line
    field on any of its item lines)."""
    from nue_ns.sandbox import state as errors  # state imports this module

    lines = values.lines(body, "item")
    missing = []
    for name, label in acct.mandatory_fields.get(ns_type, {}).items():
        column = name.removeprefix(_LINE)
        holders = lines if column != name else [body]
        if any(holder.get(column) in (None, "") for holder in holders):
            missing.append(label)
    if missing:
        raise errors.missing_values(*missing)


def apply(acct: Any, data: dict[str, Any]) -> None:
    """Set `mandatory_fields` from `data` when it names it (ValueError naming what is wrong)."""
    if "mandatory_fields" not in data:
        return
    given = data["mandatory_fields"]
    if not isinstance(given, dict):
        raise ValueError("mandatory_fields must be {record type: {field: label}}")
    out: dict[str, dict[str, str]] = {}
    for ns_type, fields in given.items():
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and _FIELD.match(k) and isinstance(v, str) and v for k, v in fields.items()
        ):
            raise ValueError(f"mandatory_fields.{ns_type} must be {{custom field id: label}}")
        out[str(ns_type)] = dict(fields)
    acct.mandatory_fields = out


def describe(acct: Any) -> dict[str, Any]:
    return {"mandatory_fields": acct.mandatory_fields}
