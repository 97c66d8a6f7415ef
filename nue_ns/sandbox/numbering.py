"""Numbers in the sandbox account: NetSuite numbers every transaction itself, and customers where
the account auto-numbers them.

Auto-generated numbers are always on for transactions; a supplied number is kept only where
"Allow Override" is checked for that type [section_N252198, section_N547392]. What NetSuite does
with a `tranId` sent for a type without Allow Override is not documented, so the account has a
switch: ignore it (the record keeps its generated number) or refuse the write (UNVERIFIED wording).

Customers are numbered only where an administrator turns it on (Setup > Company > Auto-Generated
Numbers, Entities subtab: "you may enable auto-generated numbering for customer records",
section_N252198, bridgehead_N252528); the switch `customer_auto_numbering`, off by default. On,
"the customer number or code fills" the Customer ID (`entityId`, the real account schema) and a
sent entityId does not stick (`autoName`: "If you leave this box marked, NetSuite assigns a name
or number"); whether NetSuite ignores or refuses it is [U]: ignored here, and nue-ns never sends
one there. Off, the Customer ID is the sent `entityId`, else the company name (first and last
name for an individual), and it must be unique: NetSuite's UNIQUE_CUST_ID_REQD, "A customer
record with this ID already exists. You must enter a unique customer ID for each record you
create." (Error Status Codes, section_N3539978; StatusDetailCodeType in the platform faults XSD).
Whether REST answers it under that o:errorCode or as USER_ERROR is [U]: the switch
`duplicate_customer_id_code`.
"""

from __future__ import annotations

from typing import Any

TRANSACTION_TYPES = ("salesOrder", "invoice", "creditMemo", "customerPayment", "customerRefund", "deposit")
REFUSED = "The transaction number cannot be entered: Allow Override is off for this transaction type."
CUSTOMER_ID_TAKEN = (
    "A customer record with this ID already exists. You must enter a unique customer ID for each "
    "record you create."
)
CUSTOMER_ID_CODES = ("UNIQUE_CUST_ID_REQD", "USER_ERROR")


def settle(
    acct: Any, ns_type: str, old_body: dict[str, Any], request: dict[str, Any], body: dict[str, Any]
) -> None:
    """Keep a supplied tranId only where the type allows override; else ignore or refuse it. A
    customer's entityId is ignored where the account numbers customers."""
    from nue_ns.sandbox import state as errors  # state imports this module

    if ns_type == "customer" and acct.customer_auto_numbering and request.get("entityId") is not None:
        if old_body.get("entityId") is not None:
            body["entityId"] = old_body["entityId"]
        else:
            body.pop("entityId", None)
        return
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


def derived_name(body: dict[str, Any]) -> str:
    """The Customer ID NetSuite takes without auto-numbering and without a sent entityId: the
    company name, else an individual's first and last name (the real schema's entityId and
    companyName descriptions)."""
    return str(
        body.get("companyName") or " ".join(filter(None, (body.get("firstName"), body.get("lastName"))))
    )


def customer_id(acct: Any, body: dict[str, Any], existing: Any) -> str | None:
    """The Customer ID a customer about to be stored will have; None when NetSuite numbers it (a
    number of the account's sequence is never taken twice)."""
    if body.get("entityId"):
        return str(body["entityId"])
    if existing is not None and existing.auto_number is not None:
        return None
    if existing is None and acct.customer_auto_numbering:
        return None
    return derived_name(body)


def check_customer_id(acct: Any, rid: str | None, body: dict[str, Any]) -> None:
    """Refuse a Customer ID another customer has (compared without case or surrounding spaces [J])."""
    from nue_ns.sandbox import state as errors  # state imports this module

    existing = acct.records.get(rid) if rid else None
    wanted = customer_id(acct, body, existing)
    if not wanted:
        return
    key = wanted.strip().casefold()
    for rec in acct.records.values():
        if rec.type == "customer" and rec.id != rid and shown_id(rec).strip().casefold() == key:
            code = acct.duplicate_customer_id_code
            raise errors.business_error(code, CUSTOMER_ID_TAKEN)


def shown_id(rec: Any) -> str:
    return str(rec.body.get("entityId") or rec.derived.get("entityId") or "")


def fill_customer_id(acct: Any, rec: Any, created: bool) -> None:
    """The Customer ID a GET shows: the sent one, the account's next number (kept for good), or
    the name it follows."""
    rec.derived.pop("entityId", None)
    if rec.body.get("entityId"):
        return
    if created and acct.customer_auto_numbering:
        rec.auto_number = str(acct.next_customer_number)
        acct.next_customer_number += 1
    rec.derived["entityId"] = rec.auto_number or derived_name(rec.body)
