"""Malformed and hostile records a producer might send, each with the field its refusal must name.

Each case is one record of one type that the contracts (nue_ns.records) must refuse at the door.
`field` is a substring of the field path the refusal must carry (e.g. "lines[0].amount").
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

# Valid records of every type; each case below breaks one of them in one way.
CUSTOMER: dict[str, Any] = {
    "id": "C-1",
    "name": "Acme Ltd",
    "email": "billing@acme.example",
    "currency": "USD",
}
PRODUCT: dict[str, Any] = {"id": "P-1", "sku": "PLAT-M", "name": "Platform", "product_type": "subscription"}
LINE: dict[str, Any] = {
    "id": "L1",
    "product_id": "P-1",
    "quantity": "2",
    "unit_price": "10.00",
    "amount": "20.00",
}
ORDER: dict[str, Any] = {
    "id": "O-1",
    "order_number": "SO-1",
    "customer_id": "C-1",
    "status": "Activated",
    "activated_at": "2025-03-01T09:00:00+00:00",
    "currency": "USD",
    "lines": [LINE],
}
INVOICE: dict[str, Any] = {
    "id": "I-1",
    "invoice_number": "INV-1",
    "customer_id": "C-1",
    "status": "Active",
    "invoice_date": "2025-03-02",
    "currency": "USD",
    "total": "20.00",
    "lines": [LINE],
}
PAYMENT: dict[str, Any] = {
    "id": "PAY-1",
    "customer_id": "C-1",
    "amount": "20.00",
    "currency": "USD",
    "payment_date": "2025-03-05",
    "collected_via": "stripe",
    "applications": [{"invoice_id": "I-1", "amount": "20.00"}],
}
REFUND: dict[str, Any] = {
    "id": "REF-1",
    "customer_id": "C-1",
    "amount": "5.00",
    "currency": "USD",
    "refund_date": "2025-03-06",
    "refunded_via": "stripe",
    "applications": [{"payment_id": "PAY-1", "amount": "5.00"}],
}
CREDIT_MEMO: dict[str, Any] = {
    "id": "CM-1",
    "credit_memo_number": "CM-1",
    "customer_id": "C-1",
    "invoice_id": "I-1",
    "status": "Active",
    "credit_memo_date": "2025-03-04",
    "currency": "USD",
    "total": "20.00",
    "lines": [LINE],
}

VALID: dict[str, dict[str, Any]] = {
    "customer": CUSTOMER,
    "product": PRODUCT,
    "order": ORDER,
    "invoice": INVOICE,
    "payment": PAYMENT,
    "refund": REFUND,
    "credit_memo": CREDIT_MEMO,
}

SQL_INJECTION = "x'); DROP TABLE hub_records; --"
HTML_INJECTION = "<script>alert('pwned')</script>"
BIG_TEXT = "A" * (5 * 1024 * 1024)  # 5 MB in one field
FAR_AHEAD = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()

# Edge cases that must still be ACCEPTED (the rules above must not over-reach).
ACCEPTED: list[tuple[str, str, dict[str, Any]]] = []


@dataclass(frozen=True)
class Case:
    name: str
    record_type: str
    data: Any
    field: str  # the refusal must name this field (substring of the field path)

    def __repr__(self) -> str:  # pytest ids and failure messages stay short with 5 MB payloads
        return f"Case({self.name})"


def _with(record_type: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID[record_type])
    for key, value in changes.items():
        data[key] = value
    return data


def _without(record_type: str, key: str) -> dict[str, Any]:
    data = copy.deepcopy(VALID[record_type])
    del data[key]
    return data


def _line(record_type: str = "invoice", **changes: Any) -> dict[str, Any]:
    """A document whose only line has `changes`; the total follows the line amount if it is valid."""
    line = LINE | changes
    data = _with(record_type, lines=[line])
    if "total" in data and isinstance(line.get("amount"), str):
        data["total"] = line["amount"]
    return data


def _many_lines(n: int) -> dict[str, Any]:
    lines = [LINE | {"id": f"L{i}"} for i in range(n)]
    return _with("invoice", lines=lines, total=str(20 * n) + ".00")


CASES: list[Case] = [
    # -- not a record at all ------------------------------------------------------------------
    Case("unknown record type", "salesorder", dict(ORDER), "type"),
    Case("record type with SQL", "customer; DROP TABLE hub_records", dict(CUSTOMER), "type"),
    Case("record is a list", "customer", [CUSTOMER], "(record)"),
    Case("record is a string", "customer", "C-1", "(record)"),
    Case("record is null", "customer", None, "(record)"),
    Case("unknown field (typo)", "customer", _with("customer", emial="x@example.com"), "emial"),
    # -- missing fields ----------------------------------------------------------------------
    Case("customer without id", "customer", _without("customer", "id"), "id"),
    Case("customer without name", "customer", _without("customer", "name"), "name"),
    Case("product without type", "product", _without("product", "product_type"), "product_type"),
    Case("invoice without lines", "invoice", _without("invoice", "lines"), "lines"),
    Case("invoice with no lines", "invoice", _with("invoice", lines=[], total="0.00"), "lines"),
    Case("invoice without customer", "invoice", _without("invoice", "customer_id"), "customer_id"),
    Case("payment without applications", "payment", _without("payment", "applications"), "applications"),
    Case("refund without date", "refund", _without("refund", "refund_date"), "refund_date"),
    Case("credit memo without total", "credit_memo", _without("credit_memo", "total"), "total"),
    Case("line without product", "invoice", _line(product_id=None), "lines[0].product_id"),
    Case("person without names", "customer", _with("customer", is_person=True), "first_name"),
    # -- wrong types -------------------------------------------------------------------------
    Case("id is a number", "customer", _with("customer", id=12345), "id"),
    Case("name is an object", "customer", _with("customer", name={"first": "A"}), "name"),
    Case("lines is an object", "invoice", _with("invoice", lines={"0": LINE}), "lines"),
    Case("is_person is a string", "customer", _with("customer", is_person="maybe"), "is_person"),
    Case("date is not a date", "invoice", _with("invoice", invoice_date="yesterday"), "invoice_date"),
    Case("date is impossible", "payment", _with("payment", payment_date="2025-02-30"), "payment_date"),
    Case("currency lower case", "invoice", _with("invoice", currency="usd"), "currency"),
    Case("currency too long", "order", _with("order", currency="DOLLARS"), "currency"),
    Case("email is not an email", "customer", _with("customer", email="not-an-email"), "email"),
    Case("amount is a boolean", "payment", _with("payment", amount=True), "amount"),
    # -- amounts -----------------------------------------------------------------------------
    Case("amount is a float", "invoice", _line(amount=20.0, unit_price="10.00"), "lines[0].amount"),
    Case("total is a float", "invoice", _with("invoice", total=20.0), "total"),
    Case("amount not numeric", "invoice", _line(amount="twenty"), "lines[0].amount"),
    Case("amount NaN", "invoice", _line(amount="NaN"), "lines[0].amount"),
    Case("amount Infinity", "payment", _with("payment", amount="Infinity"), "amount"),
    Case("amount sub-cent", "invoice", _line(amount="20.001"), "lines[0].amount"),
    Case("amount too large", "invoice", _line(amount="1" + "0" * 20), "lines[0].amount"),
    Case("negative payment", "payment", _with("payment", amount="-20.00"), "amount"),
    Case("zero payment", "payment", _with("payment", amount="0"), "amount"),
    Case(
        "negative application",
        "payment",
        _with("payment", applications=[{"invoice_id": "I-1", "amount": "-5.00"}]),
        "applications[0].amount",
    ),
    Case("negative refund", "refund", _with("refund", amount="-5.00"), "amount"),
    Case("zero quantity", "invoice", _line(quantity="0"), "lines[0].quantity"),
    Case("negative quantity", "order", _line("order", quantity="-1"), "lines[0].quantity"),
    Case("quantity is a float", "order", _line("order", quantity=2.0), "lines[0].quantity"),
    # -- totals that do not add up -----------------------------------------------------------
    Case("invoice total off by a cent", "invoice", _with("invoice", total="20.01"), "total"),
    Case("credit memo total off", "credit_memo", _with("credit_memo", total="19.99"), "total"),
    Case(
        "payment applies more than paid",
        "payment",
        _with("payment", applications=[{"invoice_id": "I-1", "amount": "20.01"}]),
        "applications",
    ),
    Case(
        "payment applies one invoice twice",
        "payment",
        _with("payment", amount="20.00", applications=[{"invoice_id": "I-1", "amount": "10.00"}] * 2),
        "(record)",
    ),
    Case("refund applications short", "refund", _with("refund", amount="6.00"), "applications"),
    Case(
        "refund from payment and memo",
        "refund",
        _with("refund", applications=[{"payment_id": "PAY-1", "credit_memo_id": "CM-1", "amount": "5.00"}]),
        "applications[0]",
    ),
    Case(
        "credit memo applies more than its total",
        "credit_memo",
        _with("credit_memo", applications=[{"invoice_id": "I-1", "amount": "25.00"}]),
        "applications",
    ),
    Case(
        "duplicate line ids",
        "invoice",
        _with("invoice", lines=[LINE, LINE], total="40.00"),
        "(record)",
    ),
    Case("due before invoice date", "invoice", _with("invoice", due_date="2025-01-01"), "due_date"),
    Case(
        "service period ends before it starts",
        "invoice",
        _line(start_date="2025-03-01", end_date="2025-02-01"),
        "lines[0]",
    ),
    # -- enumerations and statuses -----------------------------------------------------------
    Case("unknown product type", "product", _with("product", product_type="hardware"), "product_type"),
    Case("product type with HTML", "product", _with("product", product_type=HTML_INJECTION), "product_type"),
    Case("unknown collection method", "payment", _with("payment", collected_via="cash"), "collected_via"),
    Case("draft invoice", "invoice", _with("invoice", status="Draft"), "status"),
    Case("order not activated", "order", _with("order", activated_at=None), "activated_at"),
    # -- ids NetSuite externalIds cannot hold --------------------------------------------------
    Case("id with a space", "customer", _with("customer", id="C 1"), "id"),
    Case("id with a slash", "customer", _with("customer", id="C/1"), "id"),
    Case("id with a colon", "product", _with("product", id="eid:P-1"), "id"),
    Case("id with a dot", "product", _with("product", id="P.1"), "id"),
    Case("id non-ASCII", "customer", _with("customer", id="Ünïcode"), "id"),
    Case("id is SQL", "customer", _with("customer", id=SQL_INJECTION), "id"),
    Case("id is HTML", "customer", _with("customer", id=HTML_INJECTION), "id"),
    Case("id too long", "customer", _with("customer", id="C" * 65), "id"),
    Case("id empty", "customer", _with("customer", id=""), "id"),
    Case("customer ref with a quote", "invoice", _with("invoice", customer_id="C-1'--"), "customer_id"),
    Case("line id path traversal", "invoice", _line(id="../../etc/passwd"), "lines[0].id"),
    # -- hostile text --------------------------------------------------------------------------
    Case("NUL in a name", "customer", _with("customer", name="Acme\x00Ltd"), "name"),
    Case("lone surrogate in a name", "customer", _with("customer", name="Acme \ud800 Ltd"), "name"),
    Case("lone surrogate in a line text", "invoice", _line(description="bad \udfff text"), "description"),
    Case("5 MB name", "customer", _with("customer", name=BIG_TEXT), "name"),
    Case("5 MB line description", "invoice", _line(description=BIG_TEXT), "lines[0].description"),
    Case("phone with HTML", "customer", _with("customer", phone=HTML_INJECTION), "phone"),
    Case("subsidiary with SQL", "customer", _with("customer", subsidiary_id="1 OR 1=1"), "subsidiary_id"),
    Case("100k lines", "invoice", _many_lines(100_000), "lines"),
    # -- negative documents (a credit is a credit memo; discount lines may be negative) ------------
    Case("negative invoice", "invoice", _line(amount="-100.00", unit_price="-50.00"), "total"),
    Case(
        "negative credit memo",
        "credit_memo",
        _line("credit_memo", amount="-20.00", unit_price="-10.00"),
        "total",
    ),
    Case("zero credit memo", "credit_memo", _line("credit_memo", amount="0.00", unit_price="0.00"), "total"),
    Case("negative order", "order", _line("order", amount="-20.00", unit_price="-10.00"), "lines"),
    Case(
        "discount larger than the invoice",
        "invoice",
        _with(
            "invoice",
            lines=[LINE, LINE | {"id": "L2", "quantity": "1", "unit_price": "-30.00", "amount": "-30.00"}],
            total="-10.00",
        ),
        "total",
    ),
    # -- dates outside any plausible ledger ------------------------------------------------------
    Case("invoice in year 1", "invoice", _with("invoice", invoice_date="0001-01-01"), "invoice_date"),
    Case("invoice in year 9999", "invoice", _with("invoice", invoice_date="9999-12-31"), "invoice_date"),
    Case("due in year 9999", "invoice", _with("invoice", due_date="9999-12-31"), "due_date"),
    Case("service end in 9999", "invoice", _line(end_date="9999-12-31"), "lines[0].end_date"),
    Case("service start in year 1", "order", _line("order", start_date="0001-01-01"), "lines[0].start_date"),
    Case("payment before 1900", "payment", _with("payment", payment_date="1899-12-31"), "payment_date"),
    Case("refund after 2199", "refund", _with("refund", refund_date="2200-01-01"), "refund_date"),
    Case(
        "credit memo in 9999",
        "credit_memo",
        _with("credit_memo", credit_memo_date="9999-01-01"),
        "credit_memo_date",
    ),
    Case(
        "order activated in year 1",
        "order",
        _with("order", activated_at="0001-01-01T00:00:00Z"),
        "activated_at",
    ),
    # -- updated_at ahead of the clock: would make every later correction "stale" ----------------
    Case(
        "updated_at in 9999", "customer", _with("customer", updated_at="9999-12-31T00:00:00Z"), "updated_at"
    ),
    Case("updated_at next week", "invoice", _with("invoice", updated_at=FAR_AHEAD), "updated_at"),
    Case(
        "updated_at in year 1", "product", _with("product", updated_at="0001-01-01T00:00:00Z"), "updated_at"
    ),
    Case(
        "naive updated_at in 2150",
        "payment",
        _with("payment", updated_at="2150-01-01T00:00:00"),
        "updated_at",
    ),
    # -- text nobody can see, or that takes over a terminal or reorders what a reader sees --------
    Case("name only zero-width", "customer", _with("customer", name="\u200b\u200b"), "name"),
    Case("name only zero-width joiners", "product", _with("product", name="\u200d\u2060\ufeff"), "name"),
    Case("name only hangul filler", "customer", _with("customer", name="\u3164"), "name"),
    Case("name only braille blank", "customer", _with("customer", name="\u2800 \u2800"), "name"),
    Case("name only no-break spaces", "customer", _with("customer", name="\u00a0\u2007\u202f"), "name"),
    Case("name with bidi override", "customer", _with("customer", name="Acme \u202eLtd"), "name"),
    Case("name with bidi isolate", "product", _with("product", name="Plan \u2066x\u2069"), "name"),
    Case("name with terminal escape", "customer", _with("customer", name="Acme\x1b[2J Ltd"), "name"),
    Case("name with a bell", "customer", _with("customer", name="Acme\x07"), "name"),
    Case("name with DEL", "product", _with("product", name="Plan\x7f"), "name"),
    Case("sku only zero-width", "product", _with("product", sku="\u200b"), "sku"),
    Case(
        "invoice number only zero-width",
        "invoice",
        _with("invoice", invoice_number="\u200c"),
        "invoice_number",
    ),
    Case("line text with C1 control", "invoice", _line(description="note \x9b31m"), "lines[0].description"),
    Case("refund via zero-width", "refund", _with("refund", refunded_via="\u2063"), "refunded_via"),
    Case("order status bidi mark", "order", _with("order", status="\u200f"), "status"),
    # -- currencies no ledger holds --------------------------------------------------------------
    Case("currency XYZ", "invoice", _with("invoice", currency="XYZ"), "currency"),
    Case("currency AAA on a payment", "payment", _with("payment", currency="AAA"), "currency"),
    Case("customer currency QQQ", "customer", _with("customer", currency="QQQ"), "currency"),
]

# Hostile strings that are valid text: they must be stored and shown verbatim (escaped), never run.
HOSTILE_NAMES = [SQL_INJECTION, HTML_INJECTION, '"><img src=x onerror=alert(1)>', "{{7*7}} ${7*7}"]

ACCEPTED += [
    (
        "discount line on an invoice",
        "invoice",
        {
            **INVOICE,
            "total": "15.00",
            "lines": [LINE, LINE | {"id": "L2", "quantity": "1", "unit_price": "-5.00", "amount": "-5.00"}],
        },
    ),
    (
        "zero-total invoice (fully discounted)",
        "invoice",
        {
            **INVOICE,
            "total": "0.00",
            "lines": [LINE, LINE | {"id": "L2", "quantity": "1", "unit_price": "-20.00", "amount": "-20.00"}],
        },
    ),
    (
        "name with a zero-width joiner inside",
        "customer",
        {**CUSTOMER, "name": "Ma\u200dria \U0001f469\u200d\U0001f4bb"},
    ),
    (
        "line text with newlines and tabs",
        "invoice",
        {**INVOICE, "lines": [LINE | {"description": "line 1\n\tline 2"}]},
    ),
    ("right-to-left name", "customer", {**CUSTOMER, "name": "\u05e9\u05dc\u05d5\u05dd Ltd"}),
    (
        "updated_at an hour ahead (clock skew)",
        "customer",
        {**CUSTOMER, "updated_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()},
    ),
    (
        "dates at the window's edges",
        "invoice",
        {**INVOICE, "invoice_date": "1900-01-01", "due_date": "2199-12-31"},
    ),
]

# Bodies that are JSON only to a lenient parser: (name, record type, raw text, field named).
# Python's json keeps the last of two equal keys; these must be refused, never "last one wins".
RAW_BODIES: list[tuple[str, str, str, str]] = [
    ("duplicate id", "customer", '{"id": "C-1", "name": "Acme", "id": "C-2"}', "id"),
    (
        "duplicate total",
        "invoice",
        '{"id": "I-1", "invoice_number": "INV-1", "customer_id": "C-1", "status": "Active", '
        '"invoice_date": "2025-03-02", "currency": "USD", "total": "20.00", "total": "2000.00", '
        '"lines": [{"id": "L1", "product_id": "P-1", "quantity": "2", "unit_price": "10.00", '
        '"amount": "20.00"}]}',
        "total",
    ),
    (
        "duplicate key inside a line",
        "invoice",
        '{"id": "I-1", "lines": [{"id": "L1", "amount": "1.00", "amount": "9.00"}]}',
        "lines[0].amount",
    ),
    (
        "duplicate key in the second record",
        "customer",
        '[{"id": "C-1"}, {"id": "C-2", "name": "a", "name": "b"}]',
        "[1].name",
    ),
    (
        "duplicate key differently escaped",
        "customer",
        '{"id": "C-1", "name": "a", "n\\u0061me": "b"}',
        "name",
    ),
    ("nested 10,000 levels (arrays)", "customer", "[" * 10_000 + "]" * 10_000, "(body)"),
    ("nested 10,000 levels (objects)", "customer", '{"a":' * 10_000 + "1" + "}" * 10_000, "(body)"),
    ("nested 100,000 levels, unclosed", "customer", "[" * 100_000, "(body)"),
]
