"""Auto Apply on a customer payment: NetSuite applies it to the customer's open invoices, oldest
first, instead of the apply lines sent.

`autoApply` is a boolean on customerPayment (REST API Browser). Whether a payment sent without it
is auto-applied depends on the account's preferences and is not documented for REST: the sandbox
account's `auto_apply_default` switch covers both (UNVERIFIED).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def wanted(acct: Any, body: dict[str, Any]) -> bool:
    value = body.get("autoApply")
    return value is True or (value is None and acct.auto_apply_default)


def apply_lines(open_invoices: list[tuple[str, str, Decimal]], amount: Decimal) -> list[dict[str, Any]]:
    """Apply lines for `amount` over (tranDate, id, open amount) invoices, oldest first."""
    lines = []
    left = amount
    for _date, doc, due in sorted(open_invoices, key=lambda t: (t[0], int(t[1]))):
        if left <= 0:
            break
        take = min(due, left)
        if take > 0:
            lines.append({"doc": {"id": doc}, "apply": True, "amount": float(take)})
            left -= take
    return lines
