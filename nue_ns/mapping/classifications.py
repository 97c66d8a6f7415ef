"""Departments, classes and locations on transactions (pure): the integration's ids on the header
and every item line.

An account may make each one mandatory, and then on "both the header and line level"
(nue_ns/netsuite/segments.py has Oracle's words). A preference is not in the account's profile, so
nue-ns puts each configured one (IntegrationConfig department_id, class_id, location_id) on the
transactions it writes wherever the account's record has the field: the real account's invoice and
creditMemo have `department`, `class` and `location` on the body and on item lines, each a
reference {id} (schema/account-2025-09.json). Where the account lacks one (the feature off) it is
left out (mapping/fit.py).
"""

from __future__ import annotations

from dataclasses import replace

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import NsRequest, ref
from nue_ns.netsuite import literals
from nue_ns.netsuite.segments import SEGMENTS, Segment

# Transactions with item lines: on the header and every item line (the tax-item lines of an account
# without SuiteTax too: they are item lines), left out where the account lacks the field
# (`optional`: sent when no profile says otherwise). A sales order's header has them too: "if you
# choose the location East Coast in the Location field on a sales order, all lines on that sales
# order use East Coast" (section_N265988).
WITH_LINES = ("salesOrder", "invoice", "creditMemo")
# Payments and refunds have no item lines, and no account document in hand shows their
# classification fields [U]: sent only where the account's profile shows them (`if_present`).
HEADER_ONLY = ("customerPayment", "customerRefund")


# The REST fields, on a header and on item lines.
FIELDS = frozenset(s.field for s in SEGMENTS)


def configured(config: IntegrationConfig) -> list[tuple[Segment, str]]:
    """The classifications the integration sets, with their internal ids."""
    return [(s, value) for s in SEGMENTS if (value := getattr(config, s.setting))]


def with_classifications(request: NsRequest, config: IntegrationConfig) -> NsRequest:
    """`request` with the configured classifications on its header and item lines."""
    ids = {s.field: value for s, value in configured(config)}
    if not ids or request.ns_type not in (*WITH_LINES, *HEADER_ONLY):
        return request

    def values() -> dict[str, dict[str, str]]:  # fresh references each time: no shared objects
        return {name: ref(value) for name, value in ids.items()}

    body = dict(request.body) | values()
    if request.ns_type in HEADER_ONLY:
        return replace(request, body=body, if_present=request.if_present | frozenset(ids))
    item = body.get("item")
    if isinstance(item, dict) and isinstance(item.get("items"), list):
        body["item"] = {"items": [line | values() for line in item["items"]]}
    optional = frozenset(ids) | frozenset(f"item.{name}" for name in ids)
    return replace(request, body=body, optional=request.optional | optional)


# -- checked against the account (the profile's read, nue_ns/profile.py; `validate`) -------------


def query(segment: Segment, internal_id: str) -> str:
    """The SuiteQL for one configured classification: its row, if the account has it. Columns as
    the Departments table of Oracle's ODBC schema names them (name, isinactive) [U for SuiteQL's
    department, classification and location tables, like salestaxitem's]."""
    return f"SELECT id, name, isinactive FROM {segment.table} WHERE id = {literals.integer(internal_id)}"


def problems(config: IntegrationConfig, profile: AccountProfile) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the configured classifications, for `validate` and the settings
    page: one that is not an active value of the account is a problem (NetSuite would refuse every
    transaction that carries it, one by one: records are not held back for it); one whose table
    could not be read, or that the account's transactions lack, is a warning."""
    out: tuple[list[str], list[str]] = ([], [])
    for segment, value in configured(config):
        read = profile.classifications.get(segment.table)
        if read is None:
            out[1].append(
                f"{segment.setting}: the account's {segment.plural} could not be read (SuiteQL "
                f"`{segment.table}`): is the feature on and may the role view them? Not checked"
            )
        elif value not in read:
            out[0].append(
                f"{segment.setting}: {value} is not an active {segment.label.lower()} of the NetSuite "
                f"account (it does not exist or is inactive)"
            )
        lacking = [t for t in (*WITH_LINES, *HEADER_ONLY) if profile.has(t, segment.field) is False]
        if lacking:
            out[1].append(
                f"{segment.setting}: the account's {', '.join(lacking)} have no {segment.field} field: "
                "it is not sent there"
            )
    return out
