"""Tax, numbering, rates and payment application rules of the mapping (pure: no I/O)."""

from __future__ import annotations

import copy

import pytest

from nue_ns import mapping, records
from nue_ns.account_profile import AccountProfile, SublistSchema, record_schema
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete
from nue_ns.refs import Ref
from nue_ns.sandbox.account_schema import openapi_document
from tests.openapi import check_body

GL = SANDBOX_GL.model_copy(update={"tax_liability": "18"})
CONFIG = IntegrationConfig(
    gl=GL, subsidiary_id="1", tax_item_id="950", tax_code_default="US-STANDARD", currency_ids={"USD": "1"}
)
RESOLVED = {
    Ref("customer", "C-1"): "201",
    Ref("product", "P-1"): "301",
    Ref("product", "P-2"): "302",
    Ref("invoice", "I-1"): "501",
}
TAXED = {"tax_amount": "8.25", "tax_rate": "8.25", "tax_code": "US-STANDARD"}
LINES = [
    {"id": "L-1", "product_id": "P-1", "quantity": "1", "unit_price": "100.00", "amount": "100.00"} | TAXED,
    {"id": "L-2", "product_id": "P-2", "quantity": "1000", "unit_price": "0.0015", "amount": "1.50"},
]
INVOICE = {
    "id": "I-1",
    "invoice_number": "INV-0001",
    "customer_id": "C-1",
    "status": "Active",
    "invoice_date": "2025-03-02",
    "currency": "USD",
    "total": "109.75",
    "lines": LINES,
}
CREDIT_MEMO = {
    "id": "CM-1",
    "credit_memo_number": "CM-0001",
    "customer_id": "C-1",
    "status": "Active",
    "credit_memo_date": "2025-03-20",
    "currency": "USD",
    "total": "108.25",
    "lines": [LINES[0]],
    "applications": [{"invoice_id": "I-1", "amount": "108.25"}],
}


def real_profile() -> AccountProfile:
    doc = openapi_document()
    return AccountProfile(records={t: record_schema(doc, t) for t in ("customer", "invoice", "creditMemo")})


def suitetax_profile() -> AccountProfile:
    """The real account with SuiteTax on: tax details on invoices and credit memos, its tax codes."""
    profile = real_profile()
    for ns_type in ("invoice", "creditMemo"):
        schema = profile.records[ns_type]
        schema.fields |= {"taxDetails": "sublist", "taxDetailsOverride": "boolean", "autoApply": "boolean"}
        schema.sublists["item"].fields["taxDetailsReference"] = "string"
        # The REST API Browser's `-taxDetailsElement`: the reference a list value {id, refName}.
        detail = {"taxDetailsReference": "object", "taxCode": "ref", "taxType": "string"}
        detail |= dict.fromkeys(("taxBasis", "taxRate", "taxAmount", "netAmount"), "number")
        schema.sublists["taxDetails"] = SublistSchema(fields=detail)
    profile.tax_codes = {"US-STANDARD": "901", "EXEMPT": "903"}
    return profile


def build(rtype, data, config=CONFIG, profile=None):
    return mapping.build(rtype, records.validate(rtype, data), config, RESOLVED, profile)


# -- the contract --------------------------------------------------------------------------------


def test_totals_include_tax_and_untaxed_documents_stay_valid() -> None:
    invoice = records.validate("invoice", INVOICE)
    assert [str(line.gross) for line in invoice.lines] == ["108.25", "1.50"] and str(
        invoice.total
    ) == "109.75"
    untaxed = INVOICE | {"lines": [LINES[1]], "total": "1.50"}
    assert records.validate("invoice", untaxed).lines[0].tax_amount is None
    with pytest.raises(records.InvalidRecord) as err:
        records.validate("invoice", INVOICE | {"total": "101.50"})  # without the tax
    assert err.value.errors == [
        {"field": "total", "reason": "total 101.50 does not equal the sum of lines and their tax 109.75"}
    ]
    order = {"id": "O-1", "order_number": "O", "customer_id": "C-1", "status": "Activated"}
    order |= {"activated_at": "2025-03-01T00:00:00Z", "currency": "USD", "lines": LINES}
    assert str(records.validate("order", order).total) == "109.75"


def test_tax_fields_are_checked_by_name() -> None:
    bad = copy.deepcopy(INVOICE)
    bad["lines"][1] |= {"tax_rate": "5"}
    with pytest.raises(records.InvalidRecord) as err:
        records.validate("invoice", bad)
    assert err.value.errors[0]["field"] == "lines[1]"
    assert "tax_rate and tax_code need tax_amount" in err.value.errors[0]["reason"]
    bad = copy.deepcopy(INVOICE)
    bad["lines"][0]["tax_amount"] = "8.255"
    with pytest.raises(records.InvalidRecord) as err:
        records.validate("invoice", bad)
    assert err.value.errors[0] == {
        "field": "lines[0].tax_amount",
        "reason": "amount has more than 2 decimal places",
    }


def test_unit_prices_take_eight_decimals_amounts_stay_in_cents() -> None:
    line = records.validate("invoice", INVOICE).lines[1]
    assert str(line.unit_price) == "0.0015" and str(line.amount) == "1.50"
    bad = copy.deepcopy(INVOICE)
    bad["lines"][1]["unit_price"] = "0.000000015"
    with pytest.raises(records.InvalidRecord) as err:
        records.validate("invoice", bad)
    assert err.value.errors[0] == {
        "field": "lines[1].unit_price",
        "reason": "unit price has more than 8 decimal places",
    }
    bad["lines"][1]["unit_price"] = "12345678.12345678"  # 16 digits: more than a double keeps
    with pytest.raises(records.InvalidRecord) as err:
        records.validate("invoice", bad)
    assert err.value.errors[0]["reason"] == "unit price has more than 15 significant digits"


# -- tax in a SuiteTax account ------------------------------------------------------------------


def test_suitetax_sends_tax_details_with_the_override() -> None:
    req = build("invoice", INVOICE, profile=suitetax_profile())
    body = req.body
    assert body["taxDetailsOverride"] is True and "taxDetails" in req.replace
    assert body["taxDetails"] == {
        "items": [
            {
                "taxDetailsReference": {"id": "nue-L-1"},
                "taxCode": {"id": "901"},
                "taxBasis": 100.0,
                "taxRate": 8.25,
                "taxAmount": 8.25,
            }
        ]
    }
    items = body["item"]["items"]
    assert items[0]["taxDetailsReference"] == "nue-L-1" and "taxDetailsReference" not in items[1]
    assert len(items) == 2  # no tax item lines
    assert items[1]["rate"] == 0.0015 and items[1]["amount"] == 1.5


def test_a_detail_reference_is_sent_bare_where_the_account_types_it_as_a_string() -> None:
    profile = suitetax_profile()
    profile.records["invoice"].sublists["taxDetails"].fields["taxDetailsReference"] = "string"
    details = build("invoice", INVOICE, profile=profile).body["taxDetails"]["items"]
    assert [d["taxDetailsReference"] for d in details] == ["nue-L-1"]


def test_suitetax_untaxed_document_still_overrides_so_netsuite_adds_nothing() -> None:
    untaxed = INVOICE | {"lines": [LINES[1]], "total": "1.50"}
    body = build("invoice", untaxed, profile=suitetax_profile()).body
    assert body["taxDetailsOverride"] is True and body["taxDetails"] == {"items": []}


def test_suitetax_tax_code_comes_from_the_line_else_the_default_and_must_exist() -> None:
    data = copy.deepcopy(INVOICE)
    del data["lines"][0]["tax_code"]
    body = build("invoice", data, profile=suitetax_profile()).body
    assert body["taxDetails"]["items"][0]["taxCode"] == {"id": "901"}  # tax_code_default
    with pytest.raises(MappingIncomplete, match="line L-1 has tax but no tax code"):
        build(
            "invoice",
            data,
            config=CONFIG.model_copy(update={"tax_code_default": None}),
            profile=suitetax_profile(),
        )
    data["lines"][0]["tax_code"] = "GB-VAT"
    with pytest.raises(MappingIncomplete, match="tax code 'GB-VAT' \\(line L-1\\) is not a tax code"):
        build("invoice", data, profile=suitetax_profile())


def test_suitetax_rate_is_implied_by_the_amounts_when_nue_gives_none() -> None:
    data = copy.deepcopy(INVOICE)
    data["lines"][0] |= {"tax_rate": None, "tax_amount": "7.00"}
    data["total"] = "108.50"
    detail = build("invoice", data, profile=suitetax_profile()).body["taxDetails"]["items"][0]
    assert detail["taxRate"] == 7.0 and detail["taxAmount"] == 7.0


# -- tax in an account without SuiteTax --------------------------------------------------------


def test_without_suitetax_tax_posts_as_tax_item_lines() -> None:
    req = build("invoice", INVOICE, profile=real_profile())
    items = req.body["item"]["items"]
    assert "taxDetails" not in req.body and "taxDetailsOverride" not in req.body
    assert items[2] == {
        "item": {"id": "950"},
        "quantity": 1.0,
        "rate": 8.25,
        "amount": 8.25,
        "description": "Tax US-STANDARD 8.25% on line L-1",
    }  # custcol_nue_line_id left out: the real account lacks the column
    assert sum(i["amount"] for i in items) == pytest.approx(109.75)
    check_body("invoice", req.body)  # the real account's schema takes it


def test_without_a_profile_tax_lines_keep_the_line_id_column() -> None:
    items = build("invoice", INVOICE).body["item"]["items"]
    assert [i.get("custcol_nue_line_id") for i in items] == ["L-1", "L-2", "L-1-tax"]


def test_without_suitetax_a_taxed_document_needs_the_tax_item_and_liability_account() -> None:
    with pytest.raises(MappingIncomplete, match="configure tax_item_id"):
        build("invoice", INVOICE, config=CONFIG.model_copy(update={"tax_item_id": None}))
    no_liability = CONFIG.model_copy(update={"gl": SANDBOX_GL})
    with pytest.raises(MappingIncomplete, match="'tax_liability' is not configured"):
        build("invoice", INVOICE, config=no_liability)
    untaxed = INVOICE | {"lines": [LINES[1]], "total": "1.50"}
    bare = IntegrationConfig(gl=SANDBOX_GL, currency_ids={"USD": "1"})
    assert len(build("invoice", untaxed, config=bare).body["item"]["items"]) == 1


def test_the_tax_liability_account_must_be_a_liability() -> None:
    from nue_ns.mapping import accounts

    rows = [{"id": "18", "accttype": "Income", "isinactive": "F"}]
    problems = accounts.problems(IntegrationConfig(gl={"tax_liability": "18"}), rows)
    assert problems == ["tax_liability: account 18 is of type Income (expected OthCurrLiab)"]


def test_credit_memo_tax_follows_the_account_too() -> None:
    suite = build("credit_memo", CREDIT_MEMO, profile=suitetax_profile()).body
    assert suite["taxDetailsOverride"] is True and len(suite["taxDetails"]["items"]) == 1
    legacy = build("credit_memo", CREDIT_MEMO, profile=real_profile()).body
    assert [i["item"]["id"] for i in legacy["item"]["items"]] == ["301", "950"]


def test_items_carry_the_configured_tax_schedule() -> None:
    product = {"id": "P-1", "sku": "PLAT", "name": "Platform", "product_type": "subscription"}
    assert "taxSchedule" not in build("product", product).body
    body = build("product", product, config=CONFIG.model_copy(update={"tax_schedule_id": "1"})).body
    assert body["taxSchedule"] == {"id": "1"}


# -- numbering ---------------------------------------------------------------------------------


def test_netsuite_numbers_the_document_and_the_nue_number_goes_to_memo() -> None:
    body = build("invoice", INVOICE).body
    assert "tranId" not in body and body["memo"] == "INV-0001"


def test_tran_id_is_sent_only_where_the_account_allows_override() -> None:
    config = CONFIG.model_copy(update={"tran_id_override": {"invoice"}})
    body = build("invoice", INVOICE, config=config).body
    assert body["tranId"] == "INV-0001" and "memo" not in body
    assert "tranId" not in build("credit_memo", CREDIT_MEMO, config=config).body


def test_the_nue_number_goes_to_a_configured_custom_field_the_account_must_have() -> None:
    config = CONFIG.model_copy(update={"number_field": "custbody_nue_number"})
    body = build("invoice", INVOICE, config=config).body
    assert body["custbody_nue_number"] == "INV-0001" and "memo" not in body
    with pytest.raises(MappingIncomplete, match="create the custom field custbody_nue_number"):
        build("invoice", INVOICE, config=config, profile=real_profile())
    with pytest.raises(ValueError):
        IntegrationConfig(number_field="memo")  # a custom body field's script id only


# -- payments and credit memos ------------------------------------------------------------------


def test_payment_never_auto_applies_and_turns_undeposited_funds_off() -> None:
    payment = {"id": "PAY-1", "customer_id": "C-1", "amount": "109.75", "currency": "USD"}
    payment |= {"payment_date": "2025-03-05", "collected_via": "stripe"}
    payment |= {"applications": [{"invoice_id": "I-1", "amount": "109.75"}]}
    body = build("payment", payment).body
    assert body["autoApply"] is False and body["undepFunds"] == {"id": "F"}  # so `account` counts
    assert body["account"] == {"id": "4"}  # the clearing account
    assert body["apply"]["items"] == [{"doc": {"id": "501"}, "line": 0, "apply": True, "amount": 109.75}]


def test_credit_memo_sends_auto_apply_only_where_the_account_has_it() -> None:
    assert "autoApply" not in build("credit_memo", CREDIT_MEMO).body  # nothing known
    assert "autoApply" not in build("credit_memo", CREDIT_MEMO, profile=real_profile()).body
    assert build("credit_memo", CREDIT_MEMO, profile=suitetax_profile()).body["autoApply"] is False


def test_apply_lines_use_the_sublist_key_of_the_account() -> None:
    key = real_profile().records["creditMemo"].sublists["apply"].key
    assert key == ["doc", "line"]
    line = build("credit_memo", CREDIT_MEMO).body["apply"]["items"][0]
    assert set(key) - {"line"} <= set(line)  # doc (line is the doc's line, for journal lines only)


# -- what validate names before anything is sent -------------------------------------------------


def test_validate_names_the_missing_tax_setup() -> None:
    from nue_ns.mapping import tax

    bare = IntegrationConfig(gl=SANDBOX_GL)
    assert tax.problems(bare, None) == []  # nothing known of the account
    assert tax.problems(bare, real_profile()) == [
        "tax_item_id: not configured and the account has no SuiteTax: taxed documents will wait "
        "(create an item posting to the tax liability account, or enable SuiteTax)"
    ]
    assert tax.problems(CONFIG, real_profile()) == []
    assert tax.problems(CONFIG.model_copy(update={"gl": SANDBOX_GL}), None) == [
        "tax_liability: not configured (the tax item's account, checked to be a liability)"
    ]
    assert tax.problems(bare, suitetax_profile()) == []
    wrong_code = bare.model_copy(update={"tax_code_default": "GB-VAT"})
    assert tax.problems(wrong_code, suitetax_profile()) == [
        "tax_code_default: 'GB-VAT' is not a tax code of the NetSuite account"
    ]


def test_tax_details_follow_item_lines_by_line_id_whatever_their_order() -> None:
    from dataclasses import replace

    from nue_ns.mapping.invoice import map_invoice
    from nue_ns.mapping.tax import add_tax

    invoice = records.validate("invoice", INVOICE)
    plain = map_invoice(invoice, CONFIG, RESOLVED)  # before tax
    plain = replace(plain, body=plain.body | {"item": {"items": plain.body["item"]["items"][::-1]}})
    body = add_tax(plain, invoice.lines, CONFIG, suitetax_profile()).body
    assert [i.get("taxDetailsReference") for i in body["item"]["items"]] == [None, "nue-L-1"]


def test_validate_names_a_number_field_the_account_lacks() -> None:
    from nue_ns.mapping import setup

    numbered = CONFIG.model_copy(update={"number_field": "custbody_nue_number"})
    found = setup.judge(numbered, real_profile())
    assert any("create the custom field custbody_nue_number" in p for p in found.problems), found.problems
    assert not any("custbody" in p for p in setup.judge(CONFIG, real_profile()).problems)
