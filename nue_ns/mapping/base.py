"""What every mapping returns, and the externalId scheme.

externalIds are unique per NetSuite record GROUP (entities, items, transactions), so each Nue
type gets its own prefix and types can never collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXTERNAL_ID_PREFIX = {
    "customer": "nue-cust-",
    "product": "nue-item-",
    "order": "nue-so-",
    "invoice": "nue-inv-",
    "payment": "nue-pay-",
    "refund": "nue-ref-",
    "credit_memo": "nue-cm-",
}


def external_id(record_type: str, nue_id: str) -> str:
    return EXTERNAL_ID_PREFIX[record_type] + nue_id


def ref(internal_id: str) -> dict[str, str]:
    """A NetSuite record reference in a request body."""
    return {"id": str(internal_id)}


@dataclass(frozen=True)
class NsRequest:
    """One upsert: `PUT /record/v1/{ns_type}/eid:{external_id}`."""

    ns_type: str
    external_id: str
    body: dict[str, Any]
    replace: tuple[str, ...] = field(default=())  # sublists the request replaces (never doubles)
    # Fields left out where the account lacks them ("memo", or "item.revRecStartDate" for a line
    # field); every other field is needed (mapping/fit.py).
    optional: frozenset[str] = field(default=frozenset())
    # Body fields sent only where the account's profile shows them (left out without a profile):
    # fields some accounts lack whose absence is harmless, e.g. a credit memo's autoApply.
    if_present: frozenset[str] = field(default=frozenset())
    # Body fields holding one value of a NetSuite list (an order's orderStatus, a payment's
    # undepFunds), written {"id": "B"} as the account schema types such fields; mapping/fit.py
    # rewrites them in the shape the account's own schema gives (a string, a boolean) and leaves
    # them out where the account lacks them.
    selects: frozenset[str] = field(default=frozenset())


class MappingIncomplete(ValueError):
    """The integration's configuration lacks something this record needs (e.g. a GL account)."""
