"""Fit a request body to one account's schema: send only the fields the account has.

The mappings build the body they would send to an account with every feature; `fit` then drops
the optional fields this account lacks (an account without Advanced Revenue Management has no
revenue recognition dates, one without nue-ns's custom line column has no such column) and
refuses a body whose needed field the account lacks, naming the field and what to enable.
NetSuite refuses unknown fields under `X-NetSuite-PropertyNameValidation: Error`
(docs/NETSUITE.md "Record API"), so sending them anyway would fail every record one by one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nue_ns.account_profile import AccountProfile
from nue_ns.mapping.base import MappingIncomplete, NsRequest

# What an administrator enables or creates when a needed field is missing (docs/NETSUITE_SETUP.md).
FEATURE_HINT = {
    "revRecStartDate": "enable Advanced Revenue Management",
    "revRecEndDate": "enable Advanced Revenue Management",
    "deferredRevenueAccount": "enable revenue recognition (Advanced Revenue Management)",
    "taxDetails": "enable SuiteTax",
    "taxDetailsOverride": "enable SuiteTax",
    "currency": "the account has no Multiple Currencies and this record is not in its one currency "
    "(currency_ids); enable Multiple Currencies (Setup > Company > Enable Features > Company)",
    "currencyList": "enable Multiple Currencies per Customer (Setup > Company > Enable Features > Company)",
    "subsidiary": "the account lists subsidiaries but its record has no subsidiary field: check the "
    "integration role's permissions (Lists: Subsidiaries)",
}


# Fields OneWorld brings. An account without it is one company [U: which fields it lacks]: where its
# record has no such field and the account lists no subsidiaries, there is nothing to name.
ONEWORLD_FIELDS = frozenset({"subsidiary", "includeChildren"})


def _hint(name: str) -> str:
    if name in FEATURE_HINT:
        return FEATURE_HINT[name]
    if name.startswith(("custbody", "custcol", "custentity", "custitem")):
        return f"create the custom field {name}"
    return "check the integration role's permissions and the account's features"


def select_value(value: Any, kind: str | None) -> Any:
    """A list value written {"id": "B"} in the shape the account's schema gives the field: the
    object as the REST API Browser and the account document type every such field (`orderStatus`,
    `undepFunds`: "object" with `id`), the bare letter where it says string (Oracle's own example
    sends `"orderStatus": "B"`, section_159795516182), true/false where it says boolean (SOAP's
    and SuiteScript's undepFunds; "T" is true)."""
    letter = value.get("id") if isinstance(value, dict) else value
    if kind == "string":
        return letter
    if kind == "boolean":
        return letter == "T"
    return value


def fit(request: NsRequest, profile: AccountProfile | None) -> NsRequest:
    """The request with only the fields `profile`'s account has (unchanged without a profile or
    when the record type was not read)."""
    if profile is None or profile.records.get(request.ns_type) is None:
        if not request.if_present:
            return request
        return replace(request, body={k: v for k, v in request.body.items() if k not in request.if_present})
    fields = profile.records[request.ns_type].fields
    body: dict[str, Any] = {}
    for name, value in request.body.items():
        if name in request.if_present and not profile.has(request.ns_type, name):
            continue
        if name in request.selects:
            if name in fields:
                body[name] = select_value(value, fields[name])
            continue
        sublist = isinstance(value, dict) and isinstance(value.get("items"), list)
        if not profile.has(request.ns_type, name):
            if name in request.optional or (name in ONEWORLD_FIELDS and not profile.subsidiaries):
                continue
            raise MappingIncomplete(
                f"the NetSuite account has no field '{name}' on {request.ns_type}: {_hint(name)}"
            )
        if sublist and name in profile.records[request.ns_type].sublists:
            value = {"items": [_fit_line(request, profile, name, line) for line in value["items"]]}
        body[name] = value
    return replace(request, body=body)


def _fit_line(
    request: NsRequest, profile: AccountProfile, sublist: str, line: dict[str, Any]
) -> dict[str, Any]:
    out = {}
    for name, value in line.items():
        if profile.has(request.ns_type, name, sublist=sublist):
            out[name] = value
        elif f"{sublist}.{name}" not in request.optional:
            raise MappingIncomplete(
                f"the NetSuite account has no field '{sublist}.{name}' on {request.ns_type} lines: "
                f"{_hint(name)}"
            )
    return out
