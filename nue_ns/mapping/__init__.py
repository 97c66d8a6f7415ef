"""Pure mapping: Nue record + integration config + resolved NetSuite ids → request body.

`requirements` says which records must be in NetSuite first; `build` makes the request. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nue_ns.account_profile import AccountProfile
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete, NsRequest, external_id
from nue_ns.mapping.classifications import with_classifications
from nue_ns.mapping.credit_memo import credit_memo_requirements, map_credit_memo
from nue_ns.mapping.customer import (
    customer_name,
    map_customer,
    primary_changes,
    unique_customer_id,
    with_customer_id,
)
from nue_ns.mapping.field_values import with_field_values
from nue_ns.mapping.fit import fit
from nue_ns.mapping.invoice import invoice_requirements, map_invoice
from nue_ns.mapping.item import map_item
from nue_ns.mapping.lines import currency_ids, in_the_one_currency, with_line_id_field
from nue_ns.mapping.numbering import place_number
from nue_ns.mapping.payment import map_payment, payment_requirements
from nue_ns.mapping.receivables import with_receivables
from nue_ns.mapping.refund import map_refund, refund_requirements
from nue_ns.mapping.sales_order import map_sales_order, order_requirements
from nue_ns.mapping.tax import add_tax
from nue_ns.records import Customer, _Record
from nue_ns.refs import Ref

__all__ = [
    "MappingIncomplete",
    "NsRequest",
    "build",
    "customer_currencies",
    "customer_currency",
    "customer_name",
    "external_id",
    "not_ready",
    "primary_changes",
    "requirements",
    "unique_customer_id",
    "with_customer_id",
]

Resolved = Mapping[Ref, str]

# Keyed by record type: each builder takes the class records.CONTRACTS names for its key (hence Any).
_BUILDERS: dict[str, Callable[[Any, IntegrationConfig, Resolved], NsRequest]] = {
    "customer": lambda r, c, _ids: map_customer(r, c),
    "product": lambda r, c, _ids: map_item(r, c),
    "order": map_sales_order,
    "invoice": map_invoice,
    "payment": map_payment,
    "refund": map_refund,
    "credit_memo": map_credit_memo,
}

_REQUIREMENTS: dict[str, Callable[[Any], list[Ref]]] = {
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


# A customer with a currency on its currency list (or as its primary currency) is a prerequisite
# of its transactions in that currency: the hub links it when the customer version that has it is
# transferred (sync.py).
CUSTOMER_CURRENCY = "customer:"


def customer_currency(customer_id: str, code: str) -> Ref:
    return Ref(f"{CUSTOMER_CURRENCY}{code}", customer_id)


def customer_currencies(customer: Customer) -> list[Ref]:
    """The currency prerequisites a transferred customer version satisfies."""
    codes = [getattr(customer, "currency", None), *getattr(customer, "currencies", [])]
    return [customer_currency(customer.id, code) for code in dict.fromkeys(codes) if code]


def requirements(record_type: str, record: _Record) -> list[Ref]:
    refs = _REQUIREMENTS[record_type](record)
    code, customer_id = getattr(record, "currency", None), getattr(record, "customer_id", None)
    if record_type not in ("customer", "product") and code and customer_id:
        refs.append(customer_currency(customer_id, code))
    return refs


def build(
    record_type: str,
    record: _Record,
    config: IntegrationConfig,
    resolved: Resolved,
    profile: AccountProfile | None = None,
) -> NsRequest:
    """The request for `record`, with the account's currency ids, Nue's tax in the account's
    shape, the configured classifications on the header and every item line (tax lines too), the
    configured A/R account, the line-id column under the account's name, the configured custom
    field values and Nue's number where the account keeps it, fitted to its schema when its
    profile is known."""
    config = config.model_copy(update={"currency_ids": currency_ids(config, profile)})
    request = _BUILDERS[record_type](record, config, resolved)
    lines = getattr(record, "lines", None)
    if lines is not None:  # before the column is renamed: tax pairs lines by it
        request = add_tax(request, lines, config, profile)
    request = with_classifications(request, config)
    request = with_receivables(request, config)
    request = with_field_values(record_type, request, config, profile)
    request = with_line_id_field(request, config.line_id_field)
    request = in_the_one_currency(request, getattr(record, "currency", None), config, profile)
    return fit(place_number(record_type, request, config), profile)


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
