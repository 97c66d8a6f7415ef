"""Money never drifts: whatever the amounts, lines, totals and applications keep every cent from
the Nue record through the NetSuite request body and its JSON encoding (hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from nue_ns import mapping, records
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.lines import apply_sublist, money, number
from nue_ns.refs import Ref
from tests.test_tax_numbering import CONFIG as TAX_CONFIG
from tests.test_tax_numbering import real_profile, suitetax_profile

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", currency_ids=SANDBOX_CURRENCIES)
CENTS = st.integers(min_value=1, max_value=10**12 - 1)  # up to 9,999,999,999.99 in cents


def _dec(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _wire(value: float) -> Decimal:
    """What NetSuite reads: the JSON number as text, exactly."""
    return Decimal(json.dumps(json.loads(json.dumps(value))))


def _resolved(n_products: int, n_invoices: int = 0) -> dict[Ref, str]:
    refs = {Ref("customer", "C-1"): "101"}
    refs |= {Ref("product", f"P-{i}"): str(200 + i) for i in range(n_products)}
    refs |= {Ref("invoice", f"I-{i}"): str(500 + i) for i in range(n_invoices)}
    return refs


@st.composite
def lines(draw) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 40))):
        quantity = draw(st.sampled_from(["1", "2", "3", "7", "12", "0.5", "1.25", "0.333"]))
        price = draw(st.integers(1, 10**8))  # cents
        amount = (Decimal(quantity) * _dec(price)).quantize(Decimal("0.01"))
        if amount <= 0:
            amount = Decimal("0.01")
        line = {"id": f"L{i}", "product_id": f"P-{i % 5}", "quantity": quantity}
        out.append(line | {"unit_price": str(_dec(price)), "amount": str(amount)})
    return out


@given(CENTS)
def test_a_cent_amount_survives_the_json_number(cents):
    assert _wire(money(_dec(cents))) == _dec(cents)


@settings(max_examples=200, deadline=None)
@given(lines())
def test_invoice_lines_add_up_to_the_total_in_netsuite(ls):
    total = sum((Decimal(x["amount"]) for x in ls), Decimal("0.00"))
    invoice = records.validate(
        "invoice",
        {
            "id": "I-1",
            "invoice_number": "INV-1",
            "customer_id": "C-1",
            "status": "Active",
            "invoice_date": "2025-03-01",
            "currency": "USD",
            "total": str(total),
            "lines": ls,
        },
    )
    body = mapping.build("invoice", invoice, CONFIG, _resolved(5)).body
    sent = [_wire(item["amount"]) for item in body["item"]["items"]]
    assert sent == [Decimal(x["amount"]) for x in ls]  # line by line, no rounding
    assert sum(sent, Decimal("0.00")) == invoice.total == total


@settings(max_examples=200, deadline=None)
@given(st.lists(CENTS, min_size=1, max_size=30), st.integers(0, 10**6))
def test_payment_applications_keep_every_cent(applied_cents, unapplied_cents):
    apps = [{"invoice_id": f"I-{i}", "amount": str(_dec(c))} for i, c in enumerate(applied_cents)]
    amount = _dec(sum(applied_cents) + unapplied_cents)
    payment = records.validate(
        "payment",
        {
            "id": "PAY-1",
            "customer_id": "C-1",
            "amount": str(amount),
            "currency": "USD",
            "payment_date": "2025-03-05",
            "collected_via": "stripe",
            "applications": apps,
        },
    )
    body = mapping.build("payment", payment, CONFIG, _resolved(0, len(apps))).body
    assert _wire(body["payment"]) == amount
    sent = [_wire(line["amount"]) for line in body["apply"]["items"]]
    assert sent == [_dec(c) for c in applied_cents]
    assert amount - sum(sent, Decimal("0.00")) == _dec(unapplied_cents)  # what stays unapplied


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), CENTS), min_size=1, max_size=30))
def test_applications_to_one_document_merge_without_drift(applications):
    """Two applications to one invoice become one apply line holding their exact sum."""
    merged = apply_sublist((str(doc), _dec(cents)) for doc, cents in applications)["items"]
    expected: dict[str, Decimal] = {}
    for doc, cents in applications:
        expected[str(doc)] = expected.get(str(doc), Decimal("0")) + _dec(cents)
    assert {line["doc"]["id"]: _wire(line["amount"]) for line in merged} == expected


@settings(max_examples=100, deadline=None)
@given(lines(), st.integers(0, 100))
def test_credit_memo_total_and_application_keep_every_cent(ls, percent_applied):
    total = sum((Decimal(x["amount"]) for x in ls), Decimal("0.00"))
    applied = (total * percent_applied / 100).quantize(Decimal("0.01"))
    memo = {
        "id": "CM-1",
        "credit_memo_number": "CM-1",
        "customer_id": "C-1",
        "status": "Active",
        "credit_memo_date": "2025-03-04",
        "currency": "USD",
        "total": str(total),
        "lines": ls,
    }
    if applied > 0:
        memo["applications"] = [{"invoice_id": "I-0", "amount": str(applied)}]
    body = mapping.build("credit_memo", records.validate("credit_memo", memo), CONFIG, _resolved(5, 1)).body
    assert sum((_wire(i["amount"]) for i in body["item"]["items"]), Decimal("0.00")) == total
    if applied > 0:
        assert [_wire(line["amount"]) for line in body["apply"]["items"]] == [applied]


# -- unit prices to 8 decimals, tax in the totals --------------------------------------------------

PRICES = st.builds(
    lambda digits, exp: Decimal(digits).scaleb(-exp),
    st.integers(min_value=1, max_value=10**15 - 1),
    st.integers(min_value=0, max_value=8),
).filter(lambda p: abs(p) < Decimal("1e13"))


@given(PRICES)
def test_a_unit_price_to_eight_decimals_survives_the_json_number(price):
    line = records.Line(id="L", product_id="P", quantity="1", unit_price=str(price), amount="0.01")
    assert _wire(number(line.unit_price)) == price


@st.composite
def taxed_lines(draw) -> list[dict]:
    out = draw(lines())
    for line in out:
        if draw(st.booleans()):
            rate = draw(st.sampled_from(["0", "5", "7.25", "8.875", "20"]))
            tax = (Decimal(line["amount"]) * Decimal(rate) / 100).quantize(Decimal("0.01"))
            line |= {"tax_amount": str(tax), "tax_rate": rate, "tax_code": "US-STANDARD"}
    return out


@settings(max_examples=150, deadline=None)
@given(taxed_lines(), st.booleans())
def test_taxed_invoice_totals_reach_netsuite_to_the_cent(ls, suitetax):
    total = sum((Decimal(x["amount"]) + Decimal(x.get("tax_amount", "0")) for x in ls), Decimal("0.00"))
    data = {"id": "I-1", "invoice_number": "INV-1", "customer_id": "C-1", "status": "Active"}
    data |= {"invoice_date": "2025-03-01", "currency": "USD", "total": str(total), "lines": ls}
    invoice = records.validate("invoice", data)
    profile = suitetax_profile() if suitetax else real_profile()
    body = mapping.build("invoice", invoice, TAX_CONFIG, _resolved(5), profile).body
    sent = sum((_wire(item["amount"]) for item in body["item"]["items"]), Decimal("0.00"))
    details = body.get("taxDetails", {"items": []})["items"]
    sent += sum((_wire(d["taxAmount"]) for d in details), Decimal("0.00"))
    assert sent == invoice.total == total
    assert bool(details) == (suitetax and any("tax_amount" in x for x in ls))
