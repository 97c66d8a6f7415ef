"""Deterministic sample billing data for the demo, the tests and the benchmarks."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PRODUCT_TYPES = ("subscription", "entitlement", "asset")
CATEGORIES = ("Enterprise", "SMB", "Training")


def customers(n: int, seed: int = 1, prefix: str = "CUST") -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        person = rnd.random() < 0.2
        c: dict[str, Any] = {
            "id": f"{prefix}-{i:05d}",
            # Unique per prefix: where NetSuite does not number customers the name is the Customer ID.
            "name": f"Customer {prefix}-{i:05d} {'Ltd' if not person else ''}".strip(),
            "email": f"billing{i}@example.com",
            "currency": "USD",
        }
        if person:
            c |= {"is_person": True, "first_name": f"Pat{i}", "last_name": f"Doe-{prefix}"}
        out.append(c)
    return out


def products(n: int, seed: int = 2, prefix: str = "PROD") -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        ptype = PRODUCT_TYPES[(i - 1) % 3]
        p: dict[str, Any] = {
            "id": f"{prefix}-{i:04d}",
            "sku": f"SKU-{i:04d}",
            "name": f"{ptype.title()} product {i}",
            "product_type": ptype,
        }
        if rnd.random() < 0.5:
            p["category"] = rnd.choice(CATEGORIES)
        out.append(p)
    return out


# -- a month of billing ------------------------------------------------------------------------

CENT = Decimal("0.01")


@dataclass
class _Doc:
    """An invoice or credit memo being generated, with what is still open on it."""

    data: dict[str, Any]
    day: int
    open: Decimal


def _day(year: int, month: int, day: int) -> str:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1])).isoformat()


def _lines(
    rnd: random.Random, doc_id: str, prods: list[dict[str, Any]], prices: dict[str, Decimal], start: dt.date
) -> list[dict[str, Any]]:
    out = []
    for n, p in enumerate(rnd.sample(prods, rnd.randint(1, 3)), 1):
        quantity = Decimal(rnd.choice((1, 1, 2, 5, 10, 12))) if rnd.random() < 0.9 else Decimal("1.5")
        price = prices[p["id"]]
        line: dict[str, Any] = {
            "id": f"{doc_id}-L{n}",
            "product_id": p["id"],
            "quantity": str(quantity),
            "unit_price": str(price),
            "amount": str((quantity * price).quantize(CENT)),
        }
        if p["product_type"] == "subscription":  # a service period, recognised over time
            line |= {
                "start_date": start.isoformat(),
                "end_date": (start + dt.timedelta(days=364)).isoformat(),
            }
        out.append(line)
    return out


def _same_payer(a: _Doc, b: _Doc) -> bool:
    """Two invoices one payment may settle: one customer, one currency."""
    return a.data["customer_id"] == b.data["customer_id"] and a.data["currency"] == b.data["currency"]


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))


def month(
    n_customers: int = 50,
    n_products: int = 20,
    n_orders: int = 100,
    n_invoices: int = 150,
    n_payments: int = 120,
    n_refunds: int = 10,
    n_credit_memos: int = 15,
    seed: int = 3,
    year: int = 2025,
    month_no: int = 3,
    currencies: tuple[str, ...] = ("USD",),
    subsidiaries: tuple[str, ...] = (),
) -> dict[str, list[dict[str, Any]]]:
    """A consistent month: activated orders, their invoices plus one-off ones, credit memos on
    invoices, payments of invoices (some partial, some over-paid), refunds of over-payments and of
    unapplied credit. Nothing is ever applied beyond what is open, as NetSuite requires, and
    nothing is applied across currencies.

    With several `currencies`, each customer has a primary one and about one document in six is
    in another of them (the customer's NetSuite currency list must have it); credit memos,
    payments and refunds are in the currency of what they apply to. With `subsidiaries`, customers
    are spread over them. Returns {record type: records}; enqueue customers and products first.
    """
    rnd = random.Random(seed)
    crnd = random.Random(seed + 1000)  # its own draws: one currency leaves the month unchanged
    custs, prods = customers(n_customers), products(n_products)
    primary = {c["id"]: currencies[0] for c in custs}
    for c in custs:
        if len(currencies) > 1:
            primary[c["id"]] = c["currency"] = crnd.choice(currencies)
        if subsidiaries:
            c["subsidiary_id"] = crnd.choice(subsidiaries)

    def doc_currency(customer_id: str) -> str:
        if len(currencies) > 1 and crnd.random() < 1 / 6:
            return crnd.choice([c for c in currencies if c != primary[customer_id]])
        return primary[customer_id]

    prices = {p["id"]: Decimal(rnd.randint(500, 200_000)).scaleb(-2) for p in prods}
    out: dict[str, list[dict[str, Any]]] = {"customer": custs, "product": prods}

    orders = []
    for k in range(1, n_orders + 1):
        oid, day = f"ORD-{k:05d}", rnd.randint(1, 10)
        customer_id = rnd.choice(custs)["id"]
        orders.append(
            {
                "id": oid,
                "order_number": f"SO-{year}{month_no:02d}-{k:04d}",
                "customer_id": customer_id,
                "status": "Activated",
                "activated_at": f"{_day(year, month_no, day)}T09:00:00+00:00",
                "currency": doc_currency(customer_id),
                "lines": _lines(rnd, oid, prods, prices, dt.date(year, month_no, day)),
            }
        )
    out["order"] = orders

    invoices: list[_Doc] = []
    for k in range(1, n_invoices + 1):
        iid = f"INV-{k:05d}"
        order = orders[k - 1] if k <= len(orders) else None
        day = (int(order["activated_at"][8:10]) if order else rnd.randint(1, 15)) + rnd.randint(0, 3)
        if order:
            # Each line bills its order line; some invoices bill only the first line (the order's
            # other lines are closed), some add a usage line that is not on the order.
            billed = order["lines"][:1] if k % 7 == 0 else order["lines"]
            lines = [
                line | {"id": f"{iid}-L{n}", "order_line_id": line["id"]} for n, line in enumerate(billed, 1)
            ]
            if k % 10 == 0:
                usage = {"product_id": billed[0]["product_id"], "quantity": "1", "unit_price": "10.00"}
                lines.append(usage | {"id": f"{iid}-U1", "amount": "10.00", "description": "Usage"})
        else:
            lines = _lines(rnd, iid, prods, prices, dt.date(year, month_no, min(day, 28)))
        customer_id = order["customer_id"] if order else rnd.choice(custs)["id"]
        data = {
            "id": iid,
            "invoice_number": f"INV-{year}{month_no:02d}-{k:04d}",
            "customer_id": customer_id,
            "status": "Active",
            "invoice_date": _day(year, month_no, day),
            "due_date": (
                dt.date.fromisoformat(_day(year, month_no, day)) + dt.timedelta(days=30)
            ).isoformat(),
            "currency": order["currency"] if order else doc_currency(customer_id),
            "total": str(_total(lines)),
            "lines": lines,
        }
        if order:
            data["order_id"] = order["id"]
        invoices.append(_Doc(data, day, _total(lines)))
    out["invoice"] = [inv.data for inv in invoices]

    # Credit memos: part of one invoice line credited; some left unapplied (refunded below).
    n_cm_refunds = min(n_credit_memos // 3, n_refunds // 2)
    memos: list[_Doc] = []
    for k, inv in enumerate(rnd.sample(invoices, n_credit_memos), 1):
        cid, day = f"CM-{k:05d}", inv.day + rnd.randint(1, 5)
        line = rnd.choice(inv.data["lines"])
        amount = (Decimal(line["amount"]) * Decimal(rnd.randint(10, 50)) / 100).quantize(CENT)
        data = {
            "id": cid,
            "credit_memo_number": f"CM-{year}{month_no:02d}-{k:04d}",
            "customer_id": inv.data["customer_id"],
            "invoice_id": inv.data["id"],
            "status": "Active",
            "credit_memo_date": _day(year, month_no, day),
            "currency": inv.data["currency"],
            "total": str(amount),
            "lines": [
                {
                    "id": f"{cid}-L1",
                    "product_id": line["product_id"],
                    "quantity": "1",
                    "unit_price": str(amount),
                    "amount": str(amount),
                    "description": f"Credit on {inv.data['invoice_number']}",
                }
            ],
        }
        unapplied = Decimal(0)
        if k > n_cm_refunds:  # applied to its invoice in full
            data["applications"] = [{"invoice_id": inv.data["id"], "amount": str(amount)}]
            inv.open -= amount
        else:
            unapplied = amount
        memos.append(_Doc(data, day, unapplied))
    out["credit_memo"] = [m.data for m in memos]

    # Payments: the open invoices, one (sometimes two of the same customer) per payment.
    n_pay_refunds = n_refunds - n_cm_refunds
    by_customer: dict[str, list[_Doc]] = {}
    for inv in rnd.sample(invoices, len(invoices)):
        if inv.open > 0:
            by_customer.setdefault(inv.data["customer_id"], []).append(inv)
    queue = [inv for invs in by_customer.values() for inv in invs]
    payments: list[_Doc] = []
    while queue and len(payments) < n_payments:
        first = queue.pop(0)
        paid = [first]
        if rnd.random() < 0.2:
            second = next((i for i in queue if _same_payer(i, first)), None)
            if second is not None:
                queue.remove(second)
                paid.append(second)
        k = len(payments) + 1
        partial = rnd.random() < 0.1 and len(paid) == 1
        apps = []
        for inv in paid:
            amount = (inv.open / 2).quantize(CENT) if partial else inv.open
            inv.open -= amount
            apps.append({"invoice_id": inv.data["id"], "amount": str(amount)})
        applied = sum((Decimal(a["amount"]) for a in apps), Decimal(0))
        extra = Decimal(rnd.randint(500, 5000)).scaleb(-2) if k <= n_pay_refunds else Decimal(0)
        day = max(inv.day for inv in paid) + rnd.randint(1, 7)
        via = rnd.choice(("stripe", "stripe", "nue_payment_link", "third_party"))
        data = {
            "id": f"PAY-{k:05d}",
            "customer_id": first.data["customer_id"],
            "amount": str(applied + extra),
            "currency": first.data["currency"],
            "payment_date": _day(year, month_no, day),
            "collected_via": via,
            "reference": f"{'ch' if via == 'stripe' else 'tx'}_{rnd.getrandbits(48):012x}",
            "applications": apps,
        }
        payments.append(_Doc(data, day, extra))
    out["payment"] = [p.data for p in payments]

    # Refunds: of an over-payment's unapplied cash, or of a credit memo's unapplied credit.
    sources = [("payment_id", p) for p in payments if p.open > 0][:n_pay_refunds]
    sources += [("credit_memo_id", m) for m in memos if m.open > 0][:n_cm_refunds]
    refunds = []
    for k, (key, src) in enumerate(sources, 1):
        amount = src.open if rnd.random() < 0.7 else (src.open / 2).quantize(CENT)
        day = src.day + rnd.randint(1, 3)
        refunds.append(
            {
                "id": f"REF-{k:05d}",
                "customer_id": src.data["customer_id"],
                "amount": str(amount),
                "currency": src.data["currency"],
                "refund_date": _day(year, month_no, day),
                "refunded_via": "stripe",
                "reference": f"re_{rnd.getrandbits(48):012x}",
                "applications": [{key: src.data["id"], "amount": str(amount)}],
            }
        )
    out["refund"] = refunds
    return out
