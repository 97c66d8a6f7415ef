"""Pure mapping: Nue record + integration config + resolved NetSuite ids → request body.

`requirements` says which records must be in NetSuite first; `build` makes the request. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id
from nue_ns.mapping.credit_memo import credit_memo_requirements, map_credit_memo
from nue_ns.mapping.customer import map_customer
from nue_ns.mapping.fit import fit
from nue_ns.mapping.invoice import invoice_requirements, map_invoice
from nue_ns.mapping.item import map_item
from nue_ns.mapping.payment import map_payment, payment_requirements
from nue_ns.mapping.refund import map_refund, refund_requirements
from nue_ns.mapping.sales_order import map_sales_order, order_requirements
from nue_ns.records import _Record
from nue_ns.refs import Ref

__all__ = ["MappingIncomplete", "NsRequest", "build", "external_id", "not_ready", "requirements"]

Resolved = Mapping[Ref, str]

_BUILDERS: dict[str, Callable[[_Record, IntegrationConfig, Resolved], NsRequest]] = {
    "customer": lambda r, c, _ids: map_customer(r, c),
    "product": lambda r, c, _ids: map_item(r, c),
    "order": map_sales_order,
    "invoice": map_invoice,
    "payment": map_payment,
    "refund": map_refund,
    "credit_memo": map_credit_memo,
}

_REQUIREMENTS: dict[str, Callable[[_Record], list[Ref]]] = {
    "customer": lambda r: [],
    "product": lambda r: [],
    "order": order_requirements,
    "invoice": invoice_requirements,
    "payment": payment_requirements,
    "refund": refund_requirements,
    "credit_memo": credit_memo_requirements,
}

# Nue document statuses that mean "final enough to post": an order once activated, an invoice
# once active. A draft may still change or vanish, so it never reaches the ledger.
_SENDABLE_STATUS = {"order": ("activated", "active"), "invoice": ("active", "activated", "posted")}


def requirements(record_type: str, record: _Record) -> list[Ref]:
    return _REQUIREMENTS[record_type](record)


def build(
    record_type: str,
    record: _Record,
    config: IntegrationConfig,
    resolved: Resolved,
    profile: AccountProfile | None = None,
) -> NsRequest:
    """The request for `record`, fitted to the account's schema when its profile is known."""
    return fit(_BUILDERS[record_type](record, config, resolved), profile)


def not_ready(record_type: str, record: _Record) -> dict[str, str] | None:
    """Why this record may not go to NetSuite yet ({field, reason}), or None when it may."""
    allowed = _SENDABLE_STATUS.get(record_type)
    if allowed is None:
        return None
    status = getattr(record, "status", "")
    if status.lower() not in allowed:
        return {
            "field": "status",
            "reason": f"is {status!r}: the {record_type} goes to NetSuite only once it is "
            f"{' or '.join(allowed)}; enqueue it again then",
        }
    if record_type == "order" and getattr(record, "activated_at", None) is None:
        return {"field": "activated_at", "reason": "is required: the sales order is dated by its activation"}
    return None
