"""The sandbox account's tax, numbering and payment-application rules (its state, in process)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from nue_ns.account_profile import record_schema
from nue_ns.sandbox import state, switches, transforms
from nue_ns.sandbox.state import NsError, SandboxState

_names = itertools.count()


def account(kind: str | None = None) -> state.AccountData:
    return SandboxState().register_account(f"TAX{next(_names)}", "ck", "cs", "ti", "ts", kind=kind)


@pytest.fixture
def acct() -> state.AccountData:
    return account()  # the default kind (`full`: every feature, SuiteTax's engine at 0%)


@pytest.fixture
def suitetax() -> state.AccountData:
    return account("suitetax")  # SuiteTax, its engine charging 10%


def customer(acct: state.AccountData) -> str:
    eid = f"c{next(_names)}"
    return state.upsert(acct, "customer", eid, {"companyName": eid, "subsidiary": {"id": "1"}}).record.id


def item(acct: state.AccountData, **extra: Any) -> str:
    eid = f"i{next(_names)}"
    body = {"itemId": eid, "incomeAccount": {"id": "5"}} | extra
    return state.upsert(acct, "nonInventorySaleItem", eid, body, strict=True).record.id


def invoice_body(cust: str, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"entity": {"id": cust}, "tranDate": "2025-03-01", "item": {"items": lines}} | extra


def write(acct: state.AccountData, ns_type: str, eid: str, body: dict[str, Any]) -> dict[str, Any]:
    return state.upsert(
        acct, ns_type, eid, body, strict=True, replace=frozenset({"item", "taxDetails"})
    ).record.view()


def line(itm: str, amount: float, **extra: Any) -> dict[str, Any]:
    return {"item": {"id": itm}, "quantity": 1.0, "rate": amount, "amount": amount} | extra


# -- SuiteTax ------------------------------------------------------------------------------------


def test_suitetax_engine_adds_its_own_tax_unless_the_override_is_set(suitetax) -> None:
    acct = suitetax
    assert switches.describe(acct)["engine_rate"] == "10"
    cust, itm = customer(acct), item(acct)
    lines = [line(itm, 100.0, taxDetailsReference="nue-L1"), line(itm, 1.5)]
    # Nue charged 8.25 on the first line and nothing on the second: total 109.75.
    detail = {"taxDetailsReference": {"id": "nue-L1"}, "taxCode": {"id": "21"}, "taxBasis": 100.0}
    detail |= {"taxRate": 8.25, "taxAmount": 8.25}
    without = write(acct, "invoice", "a", invoice_body(cust, lines, taxDetails={"items": [detail]}))
    assert (without["subtotal"], without["taxTotal"], without["total"]) == (101.5, 10.15, 111.65)
    overridden = write(
        acct,
        "invoice",
        "b",
        invoice_body(cust, lines, taxDetails={"items": [detail]}, taxDetailsOverride=True),
    )
    assert (overridden["subtotal"], overridden["taxTotal"], overridden["total"]) == (101.5, 8.25, 109.75)
    assert overridden["taxDetails"]["items"] == [detail]


def test_suitetax_override_details_must_tie_to_a_line_and_a_known_tax_code(suitetax) -> None:
    acct = suitetax
    cust, itm = customer(acct), item(acct)
    lines = [line(itm, 100.0, taxDetailsReference="nue-L1")]
    detail = {"taxDetailsReference": {"id": "nue-L9"}, "taxCode": {"id": "21"}, "taxAmount": 1.0}
    body = invoice_body(cust, lines, taxDetailsOverride=True, taxDetails={"items": [detail]})
    with pytest.raises(NsError) as err:
        write(acct, "invoice", "x", body)
    assert err.value.path == "taxDetails.items[0].taxDetailsReference"
    detail |= {"taxDetailsReference": {"id": "nue-L1"}, "taxCode": {"id": "999"}}
    with pytest.raises(NsError) as err:
        write(acct, "invoice", "x", body)
    assert err.value.path == "taxDetails.items[0].taxCode"
    assert acct.records == {k: v for k, v in acct.records.items() if v.type != "invoice"}  # nothing stored


def test_references_take_the_catalogs_shapes_a_string_on_item_lines_a_list_value_on_details(
    suitetax,
) -> None:
    # REST API Browser 2026.1: invoice-itemElement.taxDetailsReference is a string,
    # invoice-taxDetailsElement.taxDetailsReference an object {id, refName}.
    invoice = record_schema(suitetax.kind.document(["invoice"]), "invoice")
    assert invoice is not None
    assert invoice.sublists["item"].fields["taxDetailsReference"] == "string"
    assert invoice.sublists["taxDetails"].fields["taxDetailsReference"] == "object"
    detail_ref = suitetax.kind.schemas["invoice-taxDetailsElement"]["properties"]["taxDetailsReference"]
    assert set(detail_ref["properties"]) == {"id", "refName"}
    cust, itm = customer(suitetax), item(suitetax)
    detail = {"taxDetailsReference": "nue-L1", "taxCode": {"id": "21"}, "taxAmount": 1.0}
    for override in (True, False):  # the shape is checked whether or not the details are kept
        body = invoice_body(
            cust,
            [line(itm, 100.0, taxDetailsReference="nue-L1")],
            taxDetailsOverride=override,
            taxDetails={"items": [detail]},
        )
        with pytest.raises(NsError) as err:
            write(suitetax, "invoice", "shape", body)
        assert err.value.path == "taxDetails.items[0].taxDetailsReference"
    body = invoice_body(cust, [line(itm, 100.0, taxDetailsReference={"id": "nue-L1"})])
    with pytest.raises(NsError) as err:
        write(suitetax, "invoice", "shape", body)
    assert err.value.path == "item.items[0].taxDetailsReference"


def _taxed_invoice_and_memo_body(acct: state.AccountData) -> tuple[str, dict[str, Any]]:
    """An invoice of 100.00 + 8.25 tax (Nue's, overridden) and a credit memo body crediting all of
    it, tax included, applied to that invoice in full."""
    cust, itm = customer(acct), item(acct)
    detail = {"taxDetailsReference": {"id": "nue-L1"}, "taxCode": {"id": "21"}, "taxBasis": 100.0}
    detail |= {"taxRate": 8.25, "taxAmount": 8.25}
    taxed = {"taxDetailsOverride": True, "taxDetails": {"items": [detail]}}
    lines = [line(itm, 100.0, taxDetailsReference="nue-L1")]
    inv = write(acct, "invoice", f"ti{next(_names)}", invoice_body(cust, lines, **taxed))
    assert inv["total"] == 108.25
    memo = invoice_body(cust, lines, **taxed)
    memo["apply"] = {"items": [{"doc": {"id": inv["id"]}, "line": 0, "apply": True, "amount": 108.25}]}
    return inv["id"], memo


def test_a_suitetax_credit_memo_applies_its_whole_total_tax_included(suitetax) -> None:
    invoice, memo = _taxed_invoice_and_memo_body(suitetax)
    view = write(suitetax, "creditMemo", "cm-full", memo)
    assert (view["subtotal"], view["taxTotal"], view["total"]) == (100.0, 8.25, 108.25)
    assert (view["applied"], view["unapplied"], view["status"]["id"]) == (108.25, 0.0, "B")
    assert suitetax.records[invoice].derived["amountRemaining"] == 0.0
    memo["apply"]["items"][0]["amount"] = 108.26  # but no more than its total
    with pytest.raises(NsError) as err:
        write(suitetax, "creditMemo", "cm-over", memo)
    assert err.value.path.startswith("apply")


def test_a_credit_memo_made_by_transform_applies_up_to_its_total_tax_included(suitetax) -> None:
    invoice, memo = _taxed_invoice_and_memo_body(suitetax)
    body = {k: memo[k] for k in ("taxDetailsOverride", "taxDetails")} | {"externalId": "cm-t"}
    made = transforms.transform(suitetax, "invoice", invoice, "creditMemo", body).record
    assert made.derived["total"] == 108.25
    assert [a["amount"] for a in made.body["apply"]["items"]] == [108.25]  # the default application
    assert made.derived["unapplied"] == 0.0
    assert suitetax.records[invoice].derived["amountRemaining"] == 0.0


def test_without_suitetax_tax_details_are_unknown_fields_and_tax_item_lines_are_ordinary() -> None:
    acct = account("real-2025-09")
    cust, itm = customer(acct), item(acct)
    with pytest.raises(NsError) as err:
        write(acct, "invoice", "x", invoice_body(cust, [line(itm, 10.0)], taxDetailsOverride=True))
    assert err.value.code == "INVALID_CONTENT" and "taxDetailsOverride" in err.value.detail
    with pytest.raises(NsError):
        write(acct, "invoice", "x", invoice_body(cust, [line(itm, 10.0, taxDetailsReference="r")]))
    tax_item = switches.apply(acct, {"seed_tax_item": True})["tax_item_id"]
    view = write(acct, "invoice", "y", invoice_body(cust, [line(itm, 100.0), line(tax_item, 8.25)]))
    assert view["total"] == 108.25 and "taxTotal" not in view
    assert acct.records[tax_item].body["incomeAccount"] == {"id": "18"}
    assert acct.chart["18"].type == "OthCurrLiab"


def test_advanced_taxes_need_a_tax_schedule_on_items(acct) -> None:
    switches.apply(acct, {"tax_schedule_required": True})
    with pytest.raises(NsError) as err:
        item(acct)
    assert err.value.detail.endswith("Please enter value(s) for: Tax Schedule.")
    assert item(acct, taxSchedule={"id": "1"})
    with pytest.raises(NsError) as err:
        item(acct, taxSchedule={"id": "77"})
    assert err.value.path == "taxSchedule"


# -- numbering -----------------------------------------------------------------------------------


def test_netsuite_numbers_transactions_and_ignores_a_tran_id_without_allow_override(acct) -> None:
    cust, itm = customer(acct), item(acct)
    view = write(acct, "invoice", "n1", invoice_body(cust, [line(itm, 5.0)], tranId="INV-0001"))
    assert view["tranId"] == f"INV{view['id']}"
    again = write(acct, "invoice", "n1", invoice_body(cust, [line(itm, 6.0)], tranId="INV-0001"))
    assert again["tranId"] == view["tranId"]  # the generated number stays


def test_a_tran_id_is_refused_under_the_refusing_switch(acct) -> None:
    switches.apply(acct, {"tran_id_refused": True})
    cust, itm = customer(acct), item(acct)
    with pytest.raises(NsError) as err:
        write(acct, "invoice", "n2", invoice_body(cust, [line(itm, 5.0)], tranId="INV-0002"))
    assert err.value.path == "tranId"
    assert write(acct, "invoice", "n2", invoice_body(cust, [line(itm, 5.0)]))["tranId"].startswith("INV")


def test_allow_override_keeps_the_supplied_number(acct) -> None:
    switches.apply(acct, {"tran_id_override": ["invoice"], "tran_id_refused": True})
    cust, itm = customer(acct), item(acct)
    assert write(acct, "invoice", "n3", invoice_body(cust, [line(itm, 5.0)], tranId="INV-0003"))[
        "tranId"
    ] == ("INV-0003")
    with pytest.raises(ValueError, match="tran_id_override must list"):
        switches.apply(acct, {"tran_id_override": ["journal"]})
    with pytest.raises(ValueError, match="auto_apply_default must be true or false"):
        switches.apply(acct, {"auto_apply_default": "yes"})


# -- payments ------------------------------------------------------------------------------------


def _two_open_invoices(acct) -> tuple[str, str, str]:
    cust, itm = customer(acct), item(acct)
    newer = write(acct, "invoice", "new", invoice_body(cust, [line(itm, 50.0)], tranDate="2025-03-10"))["id"]
    older = write(acct, "invoice", "old", invoice_body(cust, [line(itm, 30.0)], tranDate="2025-03-01"))["id"]
    return cust, older, newer


def _payment(cust: str, amount: float, apply_to: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"customer": {"id": cust}, "payment": amount, "account": {"id": "4"}} | extra
    if apply_to:
        body["apply"] = {"items": [{"doc": {"id": apply_to}, "apply": True, "amount": amount}]}
    return body


def test_auto_apply_applies_to_open_invoices_oldest_first(acct) -> None:
    cust, older, newer = _two_open_invoices(acct)
    pay = state.upsert(acct, "customerPayment", "p1", _payment(cust, 40.0, newer, autoApply=True)).record
    assert [(a["doc"]["id"], a["amount"]) for a in pay.body["apply"]["items"]] == [
        (older, 30.0),
        (newer, 10.0),
    ]


def test_auto_apply_false_applies_only_to_the_documents_sent(acct) -> None:
    switches.apply(acct, {"auto_apply_default": True})
    cust, older, newer = _two_open_invoices(acct)
    pay = state.upsert(acct, "customerPayment", "p2", _payment(cust, 40.0, newer, autoApply=False)).record
    assert [(a["doc"]["id"], a["amount"]) for a in pay.body["apply"]["items"]] == [(newer, 40.0)]
    # Absent under the auto-applying default: NetSuite's choice, not Nue's.
    pay = state.upsert(acct, "customerPayment", "p3", _payment(cust, 5.0, newer)).record
    assert [a["doc"]["id"] for a in pay.body["apply"]["items"]] == [older]


def test_undeposited_funds_is_a_reference_never_a_boolean(acct) -> None:
    cust, older, _newer = _two_open_invoices(acct)
    with pytest.raises(NsError) as err:
        state.upsert(acct, "customerPayment", "p4", _payment(cust, 5.0, older, undepFunds=False))
    assert err.value.path == "undepFunds"
    pay = state.upsert(
        acct, "customerPayment", "p5", _payment(cust, 5.0, older, undepFunds={"id": "T"})
    ).record
    assert pay.derived["status"]["id"] == "B"  # not deposited: it sits in Undeposited Funds
    # Left out: the account's default, Undeposited Funds, even with an `account` (switchable: Oracle
    # says nothing of what an `account` does then); sent "F": deposited to its account.
    plain = state.upsert(acct, "customerPayment", "p6", _payment(cust, 5.0, older)).record
    assert plain.derived["status"]["id"] == "B" and plain.body["undepFunds"]["id"] == "T"
    off = state.upsert(
        acct, "customerPayment", "p7", _payment(cust, 5.0, older, undepFunds={"id": "F"})
    ).record
    assert off.derived["status"]["id"] == "C"
    switches.apply(acct, {"undep_funds_default": False})
    plain = state.upsert(acct, "customerPayment", "p8", _payment(cust, 5.0, older)).record
    assert plain.derived["status"]["id"] == "C"  # deposited to its account
