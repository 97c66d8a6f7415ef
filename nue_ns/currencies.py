"""Currencies across records: what is refused at enqueue, and a customer's currency list.

NetSuite posts a transaction in the currency whose internal id it is sent; ids belong to each
account, so they come from the account profile by ISO code, never from a guess. Two rules follow
NetSuite's:
- an applying record (payment, refund, credit memo) is applied only to documents of its own
  currency (NetSuite lists only those on its apply sublist, docs/NETSUITE.md "Payments");
- a customer transacts in its primary currency and those on its currency list. A transaction in
  a currency the customer's NetSuite record does not have yet waits for a new version of the
  customer with that currency on its list, which nue-ns enqueues itself (`request_currency`).
And one of the account's: an amount has no more decimal places than its currency's precision there
(`too_fine`): NetSuite supports 0 or 2 (section_N1397831), and what it does with a finer amount is
on no Oracle page [U: docs/NETSUITE.md "Currency precision"], so nue-ns never sends one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
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


def against_the_account(
    record_type: str,
    valid: list[records._Record],
    integ: Integration,
    config: IntegrationConfig,
    profile: AccountProfile | None,
) -> list[records.InvalidRecord]:
    """Records naming a currency the account does not have, or with an amount finer than its
    currency's precision there (too_fine); only once the account's profile is read."""
    if profile is None:
        return []
    if not profile.currencies_read and not config.currency_ids:
        return []  # the account's currencies are not known: its records wait for currency_ids
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
        if getattr(rec, "currency", None) in known:
            errors += too_fine(rec, profile, integ.account_id)
        if errors:
            problems.append(records.InvalidRecord(record_type, errors, i))
    return problems


def amounts(rec: records._Record) -> list[tuple[str, Decimal]]:
    """(field, amount) of every amount a record posts in its currency: line amounts and their tax,
    totals, payment and refund amounts, applications. Not unit prices: a rate may be finer than the
    currency (usage pricing, records.PRICE_STEP); the line amount Nue bills is what posts."""
    out = [(name, v) for name in ("total", "amount") if isinstance(v := getattr(rec, name, None), Decimal)]
    for i, line in enumerate(getattr(rec, "lines", None) or []):
        out.append((f"lines[{i}].amount", line.amount))
        if line.tax_amount is not None:
            out.append((f"lines[{i}].tax_amount", line.tax_amount))
    out += [
        (f"applications[{j}].amount", a.amount)
        for j, a in enumerate(getattr(rec, "applications", None) or [])
    ]
    return out


# Every Nue amount is held to cents (records._cents): a currency of that many places or more takes them all.
CENT_PLACES = records.MONEY_PLACES
_POSTING = frozenset({"order", "invoice", "payment", "refund", "credit_memo"})  # the types with amounts
_UNREAD = "assumed: the account's currency precision could not be read"


def too_fine(rec: records._Record, profile: AccountProfile, account_id: str) -> list[dict[str, str]]:
    """The one precision rule: {field, reason} for each amount finer than its currency's precision
    in the account (its currency record's, else the fallback: AccountProfile.places)."""
    code = getattr(rec, "currency", None)
    if not code:
        return []
    places = profile.places(code)
    if places >= CENT_PLACES:
        return []
    step = Decimal(1).scaleb(-places)
    whence = "its currency precision" if code in profile.currency_precision else _UNREAD
    way = f"in whole {code}" if places == 0 else f"to {places} decimal place(s)"
    return [
        {
            "field": field,
            "reason": f"{value} has more decimal places than {code} has in NetSuite account {account_id} "
            f"({places}, {whence}): NetSuite cannot hold it as sent; Nue must send it {way}",
        }
        for field, value in amounts(rec)
        if value != value.quantize(step)
    ]


def too_precise(
    record_type: str, payload: dict[str, Any], profile: AccountProfile, account_id: str
) -> str | None:
    """Why a record in the hub may not go to this account (too_fine, as one reason), or None. Most
    records are in a currency of 2 places and are not validated again."""
    code = payload.get("currency")
    if record_type not in _POSTING or not isinstance(code, str) or profile.places(code) >= CENT_PLACES:
        return None
    try:
        errors = too_fine(records.validate(record_type, payload), profile, account_id)
    except records.InvalidRecord:  # sync fails a payload that no longer validates before this
        return None
    shown = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
    return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "") if errors else None


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
