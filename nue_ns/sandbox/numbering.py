"""Transaction numbers in the sandbox account: NetSuite numbers every transaction itself.

Auto-generated numbers are always on for transactions; a supplied number is kept only where
"Allow Override" is checked for that type [section_N252198, section_N547392]. What NetSuite does
with a `tranId` sent for a type without Allow Override is not documented, so the account has a
switch: ignore it (the record keeps its generated number) or refuse the write (UNVERIFIED wording).
"""

from __future__ import annotations

from typing import Any

TRANSACTION_TYPES = ("salesOrder", "invoice", "creditMemo", "customerPayment", "customerRefund", "deposit")
REFUSED = "The transaction number cannot be entered: Allow Override is off for this transaction type."


def settle(
    acct: Any, ns_type: str, old_body: dict[str, Any], request: dict[str, Any], body: dict[str, Any]
) -> None:
    """Keep a supplied tranId only where the type allows override; else ignore or refuse it."""
    from nue_ns.sandbox import state as errors  # state imports this module

    if ns_type not in TRANSACTION_TYPES or request.get("tranId") is None:
        return
    if ns_type in acct.tran_id_override:
        return
    if acct.tran_id_refused:
        raise errors.user_error(REFUSED, "tranId")
    if old_body.get("tranId") is not None:
        body["tranId"] = old_body["tranId"]
    else:
        body.pop("tranId", None)  # the generated number is filled in when the record is stored
