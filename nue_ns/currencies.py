"""Currencies across records: what is refused at enqueue, and a customer's currency list.

NetSuite posts a transaction in the currency whose internal id it is sent; ids belong to each
account, so they come from the account profile by ISO code, never from a guess. Two rules follow
NetSuite's:
- an applying record (payment, refund, credit memo) is applied only to documents of its own
  currency (NetSuite lists only those on its apply sublist, docs/NETSUITE.md "Payments");
- a customer transacts in its primary currency and those on its currency list. A transaction in
  a currency the customer's NetSuite record does not have yet waits for a new version of the
  customer with that currency on its list, which nue-ns enqueues itself (`request_currency`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from nue_ns import mapping, records
from nue_ns.account_profile import AccountProfile
from nue_ns.context import Context
from nue_ns.hub import intake, prerequisites, transfers
from nue_ns.hub.models import Integration, Record
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping.lines import currency_ids
from nue_ns.refs import Ref

# What each applying type applies to: (applications key, Nue type of the document).
_APPLIED = {
    "payment": (("invoice_id", "invoice"),),
    "credit_memo": (("invoice_id", "invoice"),),
    "refund": (("payment_id", "payment"), ("credit_memo_id", "credit_memo")),
}
_LABEL = {"payment": "payment", "credit_memo": "credit memo", "refund": "refund"}


def _codes(record_type: str, rec: records._Record) -> list[tuple[str, str]]:
    """(field, ISO code) of every currency the record names."""
    out = [("currency", rec.currency)] if getattr(rec, "currency", None) else []
    if record_type == "customer":
        out += [(f"currencies[{i}]", code) for i, code in enumerate(rec.currencies)]
    return out


def unknown_currencies(
    record_type: str,
    valid: list[records._Record],
    integ: Integration,
    config: IntegrationConfig,
    profile: AccountProfile | None,
) -> list[records.InvalidRecord]:
    """Records naming a currency the account does not have (only once its profile is read)."""
    if profile is None:
        return []
    known = currency_ids(config, profile)
    problems = []
    for i, rec in enumerate(valid):
        errors = [
            {
                "field": field,
                "reason": f"{code} is not a currency of NetSuite account {integ.account_id} "
                f"(it has {', '.join(sorted(known)) or 'none'}): enable it there, then "
                "`nue-ns integration discover`",
            }
            for field, code in _codes(record_type, rec)
            if code not in known
        ]
        if errors:
            problems.append(records.InvalidRecord(record_type, errors, i))
    return problems


def cross_currency(
    ctx: Context, integ: Integration, record_type: str, valid: list[records._Record]
) -> list[records.InvalidRecord]:
    """Payments, refunds and credit memos applied to a document (as the hub holds it) in another
    currency. A document the hub does not hold yet is judged when it arrives: the record waits."""
    keys = _APPLIED.get(record_type)
    if not keys:
        return []
    wanted = {
        Ref(doc_type, doc_id)
        for rec in valid
        for a in rec.applications or []
        for key, doc_type in keys
        if (doc_id := getattr(a, key, None))
    }
    docs = prerequisites.latest_payloads(ctx.engine, integ.id, list(wanted))
    problems = []
    for i, rec in enumerate(valid):
        errors = []
        for j, a in enumerate(rec.applications or []):
            for key, doc_type in keys:
                doc: dict[str, Any] | None = docs.get(Ref(doc_type, getattr(a, key, None) or ""))
                if doc is not None and doc.get("currency") != rec.currency:
                    errors.append(
                        {
                            "field": f"applications[{j}].{key}",
                            "reason": f"{doc_type.replace('_', ' ')} {getattr(a, key)} is in "
                            f"{doc.get('currency')}: a {_LABEL[record_type]} in {rec.currency} applies "
                            f"only to documents in {rec.currency} (NetSuite lists no other on its "
                            "apply sublist)",
                        }
                    )
        if errors:
            problems.append(records.InvalidRecord(record_type, errors, i))
    return problems


def request_currency(ctx: Context, integration_id: int, customer_id: str, code: str) -> bool:
    """Enqueue a new version of the customer with `code` on its currency list, unless the hub's
    latest version has it already. Returns whether a version was added."""
    lock = ctx.redis.lock(
        f"nue_ns:customer-currency:{integration_id}:{customer_id}", timeout=30, blocking_timeout=10
    )
    if not lock.acquire():
        return False
    try:
        ref = Ref("customer", customer_id)
        latest = prerequisites.latest_payloads(ctx.engine, integration_id, [ref]).get(ref)
        if latest is None:  # the customer is not in the hub: the transaction waits for it anyway
            return False
        listed = list(latest.get("currencies") or [])
        if _lists(latest, code):
            return False
        customer = records.validate("customer", latest | {"currencies": [*listed, code]})
        intake.accept(ctx.engine, ctx.integration(integration_id), "customer", [customer])
        prerequisites.hurry(ctx.engine, integration_id, [ref])  # scheduled mode: not held for the batch
        return True
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile
            pass


def request_currencies(ctx: Context, integration_id: int, wanted: Sequence[tuple[str, str]]) -> int:
    """request_currency for many (customer id, code): the customers' latest versions are read in one
    query, and only one lacking the code goes on to take its lock. Returns how many were added."""
    latest = prerequisites.latest_payloads(
        ctx.engine, integration_id, [Ref("customer", c) for c, _ in wanted]
    )
    added = 0
    for customer_id, code in dict.fromkeys(wanted):
        payload = latest.get(Ref("customer", customer_id))
        if payload is not None and not _lists(payload, code):
            added += request_currency(ctx, integration_id, customer_id, code)
    return added


def _lists(customer: dict[str, Any], code: str) -> bool:
    """Does this customer payload have `code` as its currency or on its currency list?"""
    return code == customer.get("currency") or code in (customer.get("currencies") or [])


def link_listed(
    engine: Engine, rec: Record, ns_type: str, external_id: str, internal_id: str, contract: Any = None
) -> None:
    """A customer just transferred (one call or a batch) has its currencies on its NetSuite record:
    link them, so the transactions waiting for them go."""
    refs = listed(rec, contract)
    if refs:
        transfers.link_also(engine, rec, refs, ns_type, external_id, internal_id)


def listed(rec: Record, contract: Any = None) -> list[Ref]:
    """The currency prerequisites a transferred customer version satisfies (none for other types)."""
    if rec.record_type != "customer":
        return []
    customer = contract if contract is not None else records.validate("customer", rec.payload)
    return mapping.customer_currencies(customer)
