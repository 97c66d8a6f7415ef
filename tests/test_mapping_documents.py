"""Order, invoice, payment, refund and credit memo mappings on plain data (pure: no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from nue_ns import mapping, records
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, Collection, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete
from nue_ns.refs import Ref
from tests.openapi import check_body

# A transaction needs its customer with the transaction's currency in NetSuite (primary or listed).
CUSTOMER_USD = Ref("customer:USD", "C-1")
CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", currency_ids=SANDBOX_CURRENCIES)
RESOLVED = {
    Ref("customer", "C-1"): "201",
    Ref("product", "P-1"): "301",
    Ref("product", "P-2"): "302",
    Ref("order", "O-1"): "401",
    Ref("invoice", "I-1"): "501",
    Ref("invoice", "I-2"): "502",
    Ref("payment", "PAY-1"): "601",
    Ref("credit_memo", "CM-1"): "701",
}
# Fields this project's NetSuite account has that the account which emitted the shared OpenAPI
# document lacks: our custom line field, and the line revenue dates of Advanced Revenue
# Management (a feature: the metadata catalog lists only the fields of enabled features).
ACCOUNT_SPECIFIC_LINE_FIELDS = {"custcol_nue_line_id", "revRecStartDate", "revRecEndDate"}

LINES = [
    {
        "id": "L-1",
        "product_id": "P-1",
        "quantity": "12",
        "unit_price": "100.00",
        "amount": "1200.00",
        "start_date": "2025-03-01",
        "end_date": "2026-02-28",
        "description": "Platform, annual",
    },
    {"id": "L-2", "product_id": "P-2", "quantity": "1.5", "unit_price": "19.99", "amount": "29.99"},
    {"id": "L-3", "product_id": "P-1", "quantity": "1", "unit_price": "0.10", "amount": "0.10"},
]
BODY_LINES = [
    {
        "item": {"id": "301"},
        "quantity": 12.0,
        "rate": 100.0,
        "amount": 1200.0,
        "custcol_nue_line_id": "L-1",
        "description": "Platform, annual",
        "revRecStartDate": "2025-03-01",
        "revRecEndDate": "2026-02-28",
    },
    {"item": {"id": "302"}, "quantity": 1.5, "rate": 19.99, "amount": 29.99, "custcol_nue_line_id": "L-2"},
    {"item": {"id": "301"}, "quantity": 1.0, "rate": 0.1, "amount": 0.1, "custcol_nue_line_id": "L-3"},
]
ORDER = {
    "id": "O-1",
    "order_number": "ORD-0001",
    "customer_id": "C-1",
    "status": "Activated",
    "activated_at": "2025-03-01T09:30:00+01:00",
    "currency": "USD",
    "lines": LINES,
}
INVOICE = {
    "id": "I-1",
    "invoice_number": "INV-0001",
    "customer_id": "C-1",
    "order_id": "O-1",
    "status": "Active",
    "invoice_date": "2025-03-02",
    "due_date": "2025-04-01",
    "currency": "EUR",
    "total": "1230.09",
    "lines": LINES,
}
CREDIT_MEMO = {
    "id": "CM-1",
    "credit_memo_number": "CM-0001",
    "customer_id": "C-1",
    "invoice_id": "I-1",
    "status": "Active",
    "credit_memo_date": "2025-03-20",
    "currency": "USD",
    "total": "29.99",
    "lines": [LINES[1]],
    "applications": [{"invoice_id": "I-1", "amount": "20.00"}, {"invoice_id": "I-2", "amount": "9.99"}],
}
PAYMENT = {
    "id": "PAY-1",
    "customer_id": "C-1",
    "amount": "1250.00",
    "currency": "USD",
    "payment_date": "2025-03-05",
    "collected_via": "stripe",
    "reference": "ch_3Ox",
    "applications": [{"invoice_id": "I-1", "amount": "1210.09"}, {"invoice_id": "I-2", "amount": "0.01"}],
}
REFUND = {
    "id": "R-1",
    "customer_id": "C-1",
    "amount": "49.90",
    "currency": "USD",
    "refund_date": "2025-03-25",
    "refunded_via": "stripe",
    "reference": "re_9",
    "applications": [
        {"payment_id": "PAY-1", "amount": "39.90"},
        {"credit_memo_id": "CM-1", "amount": "10.00"},
    ],
}


def _record(rtype, data):
    return records.validate(rtype, data)


def _build(rtype, data, config=CONFIG, resolved=RESOLVED):
    return mapping.build(rtype, _record(rtype, data), config, resolved)


def _check_netsuite_body(ns_type, body):
    """check_body on the body without the account-specific line fields (and only those)."""
    stripped = dict(body)
    stripped["item"] = {
        "items": [
            {k: v for k, v in line.items() if k not in ACCOUNT_SPECIFIC_LINE_FIELDS}
            for line in body["item"]["items"]
        ]
    }
    check_body(ns_type, stripped)


def test_sales_order_references_customer_and_items_by_netsuite_id():
    req = _build("order", ORDER)
    assert (req.ns_type, req.external_id, req.replace) == ("salesOrder", "nue-so-O-1", ("item",))
    assert req.body == {
        "entity": {"id": "201"},
        "memo": "ORD-0001",  # NetSuite numbers the order (no Allow Override configured)
        "tranDate": "2025-03-01",
        "currency": {"id": "1"},
        "orderStatus": {"id": "B"},  # approved, so its invoices can be made from it
        "item": {"items": BODY_LINES},
    }
    assert mapping.requirements("order", _record("order", ORDER)) == [
        Ref("customer", "C-1"),
        Ref("product", "P-1"),
        Ref("product", "P-2"),
        CUSTOMER_USD,
    ]


def test_invoice_body_is_valid_netsuite_and_waits_for_its_order():
    req = _build("invoice", INVOICE)
    assert (req.ns_type, req.external_id, req.replace) == ("invoice", "nue-inv-I-1", ("item",))
    # No body createdFrom: the order is linked by the transform (tests/test_links.py).
    assert req.body == {
        "entity": {"id": "201"},
        "memo": "INV-0001",
        "tranDate": "2025-03-02",
        "currency": {"id": "2"},
        "dueDate": "2025-04-01",
        "item": {"items": BODY_LINES},
    }
    _check_netsuite_body("invoice", req.body)
    assert mapping.requirements("invoice", _record("invoice", INVOICE)) == [
        Ref("customer", "C-1"),
        Ref("product", "P-1"),
        Ref("product", "P-2"),
        Ref("order", "O-1"),
        Ref("customer:EUR", "C-1"),  # an invoice in EUR needs EUR on the customer
    ]


def test_invoice_without_order_needs_no_order():
    data = {k: v for k, v in INVOICE.items() if k not in ("order_id", "due_date")}
    req = _build("invoice", data)
    assert "createdFrom" not in req.body and "dueDate" not in req.body
    assert Ref("order", "O-1") not in mapping.requirements("invoice", _record("invoice", data))


def test_credit_memo_body_is_valid_netsuite_and_applied_to_its_invoices():
    req = _build("credit_memo", CREDIT_MEMO)
    assert (req.ns_type, req.external_id) == ("creditMemo", "nue-cm-CM-1")
    assert req.replace == ("item", "apply")  # a re-send replaces both, never doubles them
    assert "createdFrom" not in req.body and req.body["memo"] == "CM-0001"  # linked by the transform
    assert "autoApply" not in req.body  # sent only where the profile shows the account has it
    assert req.body["item"] == {"items": [BODY_LINES[1]]}
    assert req.body["apply"] == {
        "items": [
            {"doc": {"id": "501"}, "line": 0, "apply": True, "amount": 20.0},
            {"doc": {"id": "502"}, "line": 0, "apply": True, "amount": 9.99},
        ]
    }
    _check_netsuite_body("creditMemo", req.body)
    assert mapping.requirements("credit_memo", _record("credit_memo", CREDIT_MEMO)) == [
        Ref("customer", "C-1"),
        Ref("product", "P-2"),
        Ref("invoice", "I-1"),
        Ref("invoice", "I-2"),
        CUSTOMER_USD,
    ]


def test_a_credit_memo_of_an_invoice_that_nue_does_not_apply_says_so():
    data = {k: v for k, v in CREDIT_MEMO.items() if k != "applications"}
    req = _build("credit_memo", data)
    assert req.body["apply"] == {"items": [{"doc": {"id": "501"}, "line": 0, "apply": False}]}
    assert req.replace == ("item",)
    _check_netsuite_body("creditMemo", req.body)


def test_unapplied_credit_memo_replaces_only_its_lines():
    data = {k: v for k, v in CREDIT_MEMO.items() if k not in ("invoice_id", "applications")}
    req = _build("credit_memo", data)
    assert "apply" not in req.body and "createdFrom" not in req.body and req.replace == ("item",)
    _check_netsuite_body("creditMemo", req.body)
    assert mapping.requirements("credit_memo", _record("credit_memo", data)) == [
        Ref("customer", "C-1"),
        Ref("product", "P-2"),
        CUSTOMER_USD,
    ]


def test_payment_posts_to_the_clearing_account_applied_to_its_invoices():
    req = _build("payment", PAYMENT)
    assert (req.ns_type, req.external_id, req.replace) == ("customerPayment", "nue-pay-PAY-1", ("apply",))
    assert req.body == {
        "customer": {"id": "201"},
        "payment": 1250.0,
        "tranDate": "2025-03-05",
        "currency": {"id": "1"},
        "undepFunds": {"id": "F"},  # off, so the payment sits in `account`, the clearing account
        "account": {"id": "4"},
        "autoApply": False,
        "memo": "stripe: ch_3Ox",
        "apply": {
            "items": [
                {"doc": {"id": "501"}, "line": 0, "apply": True, "amount": 1210.09},
                {"doc": {"id": "502"}, "line": 0, "apply": True, "amount": 0.01},
            ]
        },
    }
    assert mapping.requirements("payment", _record("payment", PAYMENT)) == [
        Ref("customer", "C-1"),
        Ref("invoice", "I-1"),
        Ref("invoice", "I-2"),
        CUSTOMER_USD,
    ]


@pytest.mark.parametrize("scenario", ["stripe", "nue_payment_link", "third_party"])
def test_every_processor_scenario_uses_the_clearing_account(scenario):
    config = CONFIG.model_copy(update={"collection": Collection(scenario)})
    data = PAYMENT | {"collected_via": scenario, "reference": None}
    req = _build("payment", data, config)
    assert req.body["account"] == {"id": "4"} and req.body["memo"] == scenario


def test_payment_is_not_pushed_when_collecting_in_netsuite():
    config = CONFIG.model_copy(update={"collection": Collection.netsuite})
    with pytest.raises(MappingIncomplete, match="collects payments in NetSuite"):
        _build("payment", PAYMENT, config)


def test_payment_and_refund_without_clearing_account_name_it():
    config = IntegrationConfig(
        gl=SANDBOX_GL.model_copy(update={"clearing": None}), currency_ids=SANDBOX_CURRENCIES
    )
    for rtype, data in (("payment", PAYMENT), ("refund", REFUND)):
        with pytest.raises(MappingIncomplete, match="'clearing' is not configured"):
            _build(rtype, data, config)


def test_refund_pays_out_of_clearing_applied_to_payment_and_credit_memo():
    req = _build("refund", REFUND)
    assert (req.ns_type, req.external_id, req.replace) == ("customerRefund", "nue-ref-R-1", ("apply",))
    assert req.body == {
        "customer": {"id": "201"},
        "total": 49.9,
        "tranDate": "2025-03-25",
        "currency": {"id": "1"},
        "account": {"id": "4"},
        "memo": "stripe: re_9",
        "apply": {
            "items": [
                {"doc": {"id": "601"}, "line": 0, "apply": True, "amount": 39.9},
                {"doc": {"id": "701"}, "line": 0, "apply": True, "amount": 10.0},
            ]
        },
    }
    assert mapping.requirements("refund", _record("refund", REFUND)) == [
        Ref("customer", "C-1"),
        Ref("payment", "PAY-1"),
        Ref("credit_memo", "CM-1"),
        CUSTOMER_USD,
    ]


def test_two_applications_to_one_document_make_one_apply_line():
    data = REFUND | {
        "applications": [
            {"payment_id": "PAY-1", "amount": "40.00"},
            {"payment_id": "PAY-1", "amount": "9.90"},
        ]
    }
    req = _build("refund", data)
    assert req.body["apply"] == {"items": [{"doc": {"id": "601"}, "line": 0, "apply": True, "amount": 49.9}]}
    assert mapping.requirements("refund", _record("refund", data)) == [
        Ref("customer", "C-1"),
        Ref("payment", "PAY-1"),
        CUSTOMER_USD,
    ]


def test_unknown_currency_is_a_mapping_gap():
    config = CONFIG.model_copy(update={"currency_ids": {"USD": "1"}})
    with pytest.raises(MappingIncomplete, match="EUR"):
        _build("invoice", INVOICE, config)


def test_unresolved_prerequisite_is_never_sent_as_a_guess():
    resolved = {k: v for k, v in RESOLVED.items() if k != Ref("product", "P-2")}
    with pytest.raises(LookupError, match="product P-2"):
        _build("invoice", INVOICE, resolved=resolved)


def test_same_record_maps_to_the_same_request():
    assert _build("credit_memo", CREDIT_MEMO) == _build("credit_memo", dict(CREDIT_MEMO))


@pytest.mark.parametrize(
    ("rtype", "data", "field"),
    [
        ("invoice", INVOICE | {"status": "Draft"}, "status"),
        ("order", ORDER | {"status": "Draft"}, "status"),
        ("order", {k: v for k, v in ORDER.items() if k != "activated_at"}, "activated_at"),
    ],
)
def test_documents_not_yet_final_are_not_ready(rtype, data, field):
    reason = mapping.not_ready(rtype, _record(rtype, data))
    assert reason is not None and reason["field"] == field


def test_final_documents_and_other_records_are_ready():
    for rtype, data in (
        ("invoice", INVOICE),
        ("order", ORDER),
        ("payment", PAYMENT),
        ("credit_memo", CREDIT_MEMO),
        ("invoice", INVOICE | {"status": "ACTIVE"}),
    ):
        assert mapping.not_ready(rtype, _record(rtype, data)) is None


cents = st.integers(min_value=-(10**9), max_value=10**11).map(lambda n: Decimal(n).scaleb(-2))
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)


@given(st.lists(st.tuples(cents, cents, quantities), min_size=1, max_size=40))
def test_body_amounts_keep_the_exact_cents_and_total(values):
    lines = [
        {
            "id": f"L{i}",
            "product_id": "P-1",
            "quantity": str(q),
            "unit_price": str(price),
            "amount": str(amount),
        }
        for i, (amount, price, q) in enumerate(values)
    ]
    total = sum((amount for amount, _, _ in values), Decimal("0.00"))
    assume(total >= 0)  # an invoice's total may not be negative (discount lines may)
    data = INVOICE | {"lines": lines, "total": str(total)}
    body = _build("invoice", data).body
    sent = body["item"]["items"]
    for line, (amount, price, q) in zip(sent, values, strict=True):
        # What json.dumps writes (repr) reads back as exactly the Nue cents: no float drift.
        assert Decimal(repr(line["amount"])) == amount
        assert Decimal(repr(line["rate"])) == price
        assert Decimal(repr(line["quantity"])) == q
    assert sum((Decimal(repr(line["amount"])) for line in sent), Decimal("0.00")) == total


def test_netsuite_body_check_still_catches_bad_references_and_names():
    body = _build("invoice", INVOICE).body
    with pytest.raises(AssertionError, match="does not validate"):
        _check_netsuite_body("invoice", body | {"entity": "201"})
    with pytest.raises(AssertionError, match="tranid"):
        _check_netsuite_body("invoice", body | {"tranid": "X"})
