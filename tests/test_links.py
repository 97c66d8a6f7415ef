"""Documents linked the way NetSuite links them: the sandbox's transforms (NetSuite's rules, run
in-process on an account) and the pure mapping that builds each transform (no I/O)."""

from __future__ import annotations

import pytest

from nue_ns import mapping, records
from nue_ns.account_profile import AccountProfile, RecordSchema, SublistSchema
from nue_ns.integration import SANDBOX_CURRENCIES, SANDBOX_GL, IntegrationConfig, InvoiceLink
from nue_ns.mapping import links
from nue_ns.sandbox import state, suiteql, switches, transforms
from nue_ns.sandbox.state import AccountData, NsError
from tests.test_mapping_documents import CREDIT_MEMO, INVOICE, LINES, ORDER, PAYMENT, RESOLVED

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", currency_ids=SANDBOX_CURRENCIES)


@pytest.fixture
def acct() -> AccountData:
    return AccountData("LINKS1", "ck", "cs", "tk", "ts")  # switches live on the account: none leak


def _order(acct: AccountData, quantities=(2, 1, 3), approval: object = "B") -> tuple[str, str]:
    cust = state.upsert(acct, "customer", "nue-cust-1", {"companyName": "A", "subsidiary": {"id": "1"}})
    item = state.upsert(
        acct, "nonInventorySaleItem", "nue-item-1", {"itemId": "I", "incomeAccount": {"id": "5"}}
    )
    lines = [
        {"item": {"id": item.record.id}, "quantity": q, "rate": 10.0, "custcol_nue_line_id": f"L-{n}"}
        for n, q in enumerate(quantities, 1)
    ]
    body = {"entity": {"id": cust.record.id}, "item": {"items": lines}}
    so = state.upsert(acct, "salesOrder", "nue-so-1", body | ({"orderStatus": approval} if approval else {}))
    return so.record.id, item.record.id


def _status(acct: AccountData, so: str) -> str:
    return acct.records[so].derived["status"]["id"]


def _pending_billing(acct: AccountData) -> list[str]:
    page = suiteql.run(
        acct, {"q": "SELECT externalid FROM transaction WHERE BUILTIN.CF(status) = 'SalesOrd:F'"}, 1000, 0
    )
    return [row["externalid"] for row in page["items"]]


# -- the sandbox: NetSuite's transform rules ------------------------------------------------------


def test_an_order_is_pending_billing_until_its_invoices_bill_or_close_every_line(acct):
    so, _ = _order(acct)
    assert _status(acct, so) == "F" and _pending_billing(acct) == ["nue-so-1"]
    lines = [
        {"orderLine": 1, "quantity": 2},
        {"orderLine": 2, "quantity": 0},
        {"orderLine": 3, "quantity": 1},
    ]
    inv = transforms.transform(
        acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1", "item": {"items": lines}}
    )
    body = acct.records[inv.record.id].body
    assert body["createdFrom"] == {"id": so} and body["entity"] == acct.records[so].body["entity"]
    assert [(x["orderLine"], x["quantity"]) for x in body["item"]["items"]] == [
        (1, 2),
        (3, 1),
    ]  # qty 0: left off
    assert _status(acct, so) == "F"  # line 2 open, line 3 partly billed
    # A second invoice bills what is still open: line 2 and the rest of line 3 (an empty body bills all).
    state.update(acct, "salesOrder", so, {"item": {"items": [{"line": 2, "isClosed": True}]}})
    second = transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-2"})
    assert [(x["orderLine"], x["quantity"]) for x in second.record.body["item"]["items"]] == [(3, 2.0)]
    assert _status(acct, so) == "G" and _pending_billing(acct) == []
    q = "SELECT id, isclosed, quantitybilled FROM transactionline "
    q += f"WHERE transaction = {int(so)} AND mainline = 'F' AND taxline = 'F' ORDER BY id"  # item lines
    billed = suiteql.run(acct, {"q": q}, 1000, 0)["items"]
    assert [(r["isclosed"], r["quantitybilled"]) for r in billed] == [("F", "2"), ("T", "0"), ("F", "3")]


@pytest.mark.parametrize("approval", ["B", {"id": "B"}])
def test_only_an_approved_order_is_billed_and_an_order_starts_pending_approval(acct, approval):
    so, _ = _order(acct, approval=None)  # sent without orderStatus: "A" (section_159795516182)
    assert acct.records[so].body["orderStatus"] == {"id": "A", "refName": "Pending Approval"}
    assert _status(acct, so) == "A" and _pending_billing(acct) == []
    with pytest.raises(NsError) as err:
        transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})
    assert (err.value.code, err.value.path) == ("USER_ERROR", "orderStatus")
    assert [r.type for r in acct.records.values()].count("invoice") == 0
    # Approved by a PATCH, in either shape Oracle shows (its example's letter, the Browser's object).
    state.update(acct, "salesOrder", so, {"orderStatus": approval})
    assert _status(acct, so) == "F"
    transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})
    assert acct.records[so].body["orderStatus"]["id"] == "B"  # an update without it keeps it


@pytest.mark.parametrize("bad", ["C", {"id": "b"}, True, {"refName": "Pending Fulfillment"}])
def test_an_order_status_outside_the_list_is_refused(acct, bad):
    with pytest.raises(NsError) as err:
        _order(acct, approval=bad)
    assert (err.value.code, err.value.path) == ("INVALID_CONTENT", "orderStatus")


def test_an_order_closed_unbilled_shows_closed(acct):
    so, _ = _order(acct, (1,))
    state.update(acct, "salesOrder", so, {"item": {"items": [{"line": 1, "isClosed": True}]}})
    assert _status(acct, so) == "H" and _pending_billing(acct) == []


def test_a_repeated_transform_fails_on_the_external_id_and_makes_nothing(acct):
    so, _ = _order(acct, (1, 1))
    transforms.transform(
        acct,
        "salesOrder",
        so,
        "invoice",
        {"externalId": "nue-inv-1", "item": {"items": [{"orderLine": 2, "quantity": 0}]}},
    )
    with pytest.raises(NsError, match="external ID already exists"):
        transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})
    assert sum(r.type == "invoice" for r in acct.records.values()) == 1
    assert _status(acct, so) == "F"  # the repeat billed nothing


@pytest.mark.parametrize("ref", ["eid:nue-so-1", "1e3", " 101", "101\n", "-101", ""])
def test_a_transform_names_its_source_by_internal_id_only(acct, ref):
    """NetSuite's OpenAPI types the transform path's `id` as an integer "Internal identifier": the
    sandbox answers any other source like a record that does not exist, and makes nothing."""
    so, _ = _order(acct)
    with pytest.raises(NsError) as err:
        transforms.transform(acct, "salesOrder", ref, "invoice", {"externalId": "nue-inv-1"})
    assert (err.value.status, err.value.code) == (404, "NONEXISTENT_ID")
    assert [r.type for r in acct.records.values()].count("invoice") == 0 and _status(acct, so) == "F"
    transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})  # by its id
    assert _status(acct, so) == "G"


def test_closed_or_billed_order_lines_cannot_be_billed(acct):
    so, _ = _order(acct, (1, 1))
    state.update(acct, "salesOrder", so, {"item": {"items": [{"line": 2, "isClosed": True}]}})
    with pytest.raises(NsError) as err:
        transforms.transform(
            acct, "salesOrder", so, "invoice", {"item": {"items": [{"orderLine": 2, "quantity": 1}]}}
        )
    assert err.value.path == "item.items[0].orderLine"
    with pytest.raises(NsError, match="not supported"):
        transforms.transform(acct, "salesOrder", so, "creditMemo", {})
    with pytest.raises(NsError) as missing:
        transforms.transform(acct, "salesOrder", "999", "invoice", {})
    assert missing.value.status == 404


def test_replacing_billed_or_linked_lines_is_refused_unless_switched_off(acct):
    so, item = _order(acct, (1, 1))
    inv = transforms.transform(
        acct,
        "salesOrder",
        so,
        "invoice",
        {"externalId": "nue-inv-1", "item": {"items": [{"orderLine": 2, "quantity": 0}]}},
    )
    new_lines = {"item": {"items": [{"item": {"id": item}, "quantity": 1, "rate": 5.0}]}}
    for ns_type, eid in (("salesOrder", "nue-so-1"), ("invoice", "nue-inv-1")):
        with pytest.raises(NsError, match="cannot replace the lines"):
            state.upsert(acct, ns_type, eid, new_lines, replace=frozenset({"item"}))
        state.upsert(acct, ns_type, eid, {"memo": "header changes are fine"})
    assert acct.records[inv.record.id].body["memo"] == "header changes are fine"
    switches.apply(acct, {"linked_line_replace": "allow"})
    state.upsert(acct, "invoice", "nue-inv-1", new_lines, replace=frozenset({"item"}))
    with pytest.raises(ValueError, match="linked_line_replace must be one of refuse, allow"):
        switches.apply(acct, {"linked_line_replace": "maybe"})


def test_a_credit_memo_from_its_invoice_applies_to_it_and_replaces_lines_on_request(acct):
    so, item = _order(acct, (2,))
    inv = transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})
    assert inv.record.derived["amountRemaining"] == 20.0
    memo = transforms.transform(
        acct, "invoice", inv.record.id, "creditMemo",
        {"externalId": "nue-cm-1", "item": {"items": [{"item": {"id": item}, "quantity": 1, "rate": 5.0}]},
         "apply": {"items": [{"doc": {"id": inv.record.id}, "apply": True, "amount": 5.0}]}},
        replace=frozenset({"item", "apply"}),
    )  # fmt: skip
    assert memo.record.body["createdFrom"] == {"id": inv.record.id} and memo.record.derived["total"] == 5.0
    assert inv.record.derived["amountRemaining"] == 15.0
    with pytest.raises(NsError, match="external ID already exists"):
        transforms.transform(acct, "invoice", inv.record.id, "creditMemo", {"externalId": "nue-cm-1"})
    default = transforms.transform(acct, "invoice", inv.record.id, "creditMemo", {"externalId": "nue-cm-2"})
    assert default.record.derived["total"] == 20.0 and inv.record.derived["amountRemaining"] == 0.0


def test_a_credit_memo_from_its_invoice_stays_unapplied_when_its_apply_line_says_so(acct):
    so, item = _order(acct, (2,))
    inv = transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"})
    lines = {"items": [{"item": {"id": item}, "quantity": 1, "rate": 5.0}]}
    unapplied = {"items": [{"doc": {"id": inv.record.id}, "apply": False}]}
    memo = transforms.transform(
        acct, "invoice", inv.record.id, "creditMemo",
        {"externalId": "nue-cm-1", "item": lines, "apply": unapplied}, replace=frozenset({"item"}),
    )  # fmt: skip
    # The default application to the source invoice, updated by its key: not applied, all credit left.
    assert memo.record.derived["unapplied"] == 5.0 and inv.record.derived["amountRemaining"] == 20.0
    assert [line["apply"] for line in memo.record.body["apply"]["items"]] == [False]
    # Without an apply line the default stands: the memo is applied to its invoice.
    default = transforms.transform(
        acct, "invoice", inv.record.id, "creditMemo", {"externalId": "nue-cm-2", "item": lines},
        replace=frozenset({"item"}),
    )  # fmt: skip
    assert default.record.derived["unapplied"] == 0.0 and inv.record.derived["amountRemaining"] == 15.0


def test_apply_lines_are_matched_by_doc_and_line(acct):
    so, _ = _order(acct, (2,))
    inv = transforms.transform(acct, "salesOrder", so, "invoice", {"externalId": "nue-inv-1"}).record
    cust = inv.body["entity"]
    pay = {"customer": cust, "payment": 20.0, "undepFunds": {"id": "F"}, "account": {"id": "1"}}
    first = {"items": [{"doc": {"id": inv.id}, "line": 0, "apply": True, "amount": 5.0}]}
    state.upsert(acct, "customerPayment", "nue-pay-1", pay | {"apply": first})
    # Same (doc, line): the line is updated, not added (Oracle's sample keys a document's line 0).
    again = {"items": [{"doc": {"id": inv.id}, "line": 0, "apply": True, "amount": 8.0}]}
    paid = state.upsert(acct, "customerPayment", "nue-pay-1", pay | {"apply": again}).record
    assert [(x["doc"]["id"], x["amount"]) for x in paid.body["apply"]["items"]] == [(inv.id, 8.0)]
    assert inv.derived["amountRemaining"] == 12.0
    # A line sent without `line` is the document's line 0 too.
    bare = {"items": [{"doc": {"id": inv.id}, "apply": True, "amount": 6.0}]}
    paid = state.upsert(acct, "customerPayment", "nue-pay-1", pay | {"apply": bare}).record
    assert len(paid.body["apply"]["items"]) == 1 and inv.derived["amountRemaining"] == 14.0


# -- the mapping: which transform, which lines -----------------------------------------------------

BILLING = INVOICE | {
    "currency": "USD",
    "total": "1220.00",
    "lines": [
        LINES[0] | {"id": "IL-1", "order_line_id": "L-1"},
        {"id": "IL-U", "product_id": "P-2", "quantity": "1", "unit_price": "20.00", "amount": "20.00"},
    ],
    "order_lines_billed_later": ["L-3"],
}
NS_ORDER = {
    "id": "401",
    "item": {
        "items": [
            {"line": 7, "quantity": 12.0, "custcol_nue_line_id": "L-1"},
            {"line": 8, "quantity": 1.5, "custcol_nue_line_id": "L-2"},
            {"line": 9, "quantity": 1.0, "custcol_nue_line_id": "L-3"},
        ]
    },
}


def _invoice_transform(data=BILLING, ns_order=NS_ORDER) -> links.TransformRequest:
    invoice = records.validate("invoice", data)
    request = mapping.build("invoice", invoice, CONFIG, RESOLVED)
    return links.invoice_from_order(request, invoice, records.validate("order", ORDER), ns_order, CONFIG)


def test_tax_item_lines_are_not_order_lines_and_each_invoice_brings_its_own():
    """Without SuiteTax, tax goes as lines of the tax item (mapping/tax.py), on the order as on the
    invoice: the order's are matched to no Nue line, never billed by the transform, and closed."""
    config = CONFIG.model_copy(
        update={"tax_item_id": "900", "gl": SANDBOX_GL.model_copy(update={"tax_liability": "18"})}
    )
    tax_line = {"line": 10, "quantity": 1.0, "item": {"id": "900"}, "custcol_nue_line_id": "L-1-tax"}
    untagged = {"id": "401", "item": {"items": [
        {k: v for k, v in line.items() if k != "custcol_nue_line_id"} for line in NS_ORDER["item"]["items"]
    ] + [{k: v for k, v in tax_line.items() if k != "custcol_nue_line_id"}]}}  # fmt: skip
    taxed = BILLING | {
        "total": "1319.00",
        "lines": [BILLING["lines"][0] | {"tax_amount": "99.00", "tax_rate": "8.25"}, BILLING["lines"][1]],
    }
    invoice, order = records.validate("invoice", taxed), records.validate("order", ORDER)
    request = mapping.build("invoice", invoice, config, RESOLVED)
    for ns_order in (NS_ORDER | {"item": {"items": [*NS_ORDER["item"]["items"], tax_line]}}, untagged):
        assert set(links.order_lines(order, ns_order, config)) == {
            "L-1",
            "L-2",
            "L-3",
        }  # by column, by position
        t = links.invoice_from_order(request, invoice, order, ns_order, config)
        lines = t.body["item"]["items"]
        assert lines[0]["orderLine"] == 7 and {"orderLine": 10, "quantity": 0} in lines  # order tax unbilled
        own = [line for line in lines if line.get("item") == {"id": "900"}]
        assert [line["amount"] for line in own] == [99.0]  # the invoice's own tax line
        assert t.close_lines == (8, 10)  # L-2 not billed, the order's tax line closed; L-3 billed later


def test_an_invoice_is_made_from_its_order_line_by_line():
    t = _invoice_transform()
    assert (t.source_type, t.source_id, t.ns_type, t.external_id) == (
        "salesOrder",
        "401",
        "invoice",
        "nue-inv-I-1",
    )
    assert t.body["externalId"] == "nue-inv-I-1" and "createdFrom" not in t.body
    assert "entity" not in t.body and "currency" not in t.body  # the order's: sourced by the transform
    lines = t.body["item"]["items"]
    assert lines[0]["orderLine"] == 7 and "item" not in lines[0] and lines[0]["amount"] == 1200.0
    assert lines[1]["item"] == {"id": "302"} and "orderLine" not in lines[1]  # usage: added
    assert lines[2:] == [{"orderLine": 8, "quantity": 0}, {"orderLine": 9, "quantity": 0}]
    assert t.close_lines == (8,)  # L-3 is billed later: it stays open
    assert links.close_lines_body(t.close_lines, CONFIG) == {
        "item": {"items": [{"line": 8, "isClosed": True}]}
    }
    flagged = CONFIG.model_copy(update={"order_line_no_revenue_field": "custcol_no_rev"})
    assert links.close_lines_body((8,), flagged)["item"]["items"][0]["custcol_no_rev"] is True


def test_order_lines_are_matched_by_position_without_the_line_column():
    bare = {"id": "401", "item": {"items": [{"line": n, "quantity": 1.0} for n in (3, 4, 5)]}}
    assert _invoice_transform(ns_order=bare).body["item"]["items"][0]["orderLine"] == 3
    with pytest.raises(links.LinkRefused, match="2 lines in NetSuite and 3 in Nue"):
        _invoice_transform(ns_order={"id": "401", "item": {"items": bare["item"]["items"][:2]}})


def test_billing_a_closed_or_unknown_order_line_needs_a_person():
    closed = {"id": "401", "item": {"items": [dict(NS_ORDER["item"]["items"][0], isClosed=True)]}}
    with pytest.raises(links.LinkRefused, match="closed or billed in full"):
        _invoice_transform(ns_order=closed)
    billed = {"id": "401", "item": {"items": [dict(NS_ORDER["item"]["items"][0], quantityBilled=12.0)]}}
    with pytest.raises(links.LinkRefused, match="closed or billed in full"):
        _invoice_transform(ns_order=billed)
    with pytest.raises(links.LinkRefused, match="which order O-1 does not have"):
        _invoice_transform(BILLING | {"lines": [LINES[0] | {"order_line_id": "L-9"}], "total": "1200.00"})


def test_a_credit_memo_transform_replaces_the_copied_lines_and_says_which_invoices_it_applies_to():
    memo = records.validate("credit_memo", {k: v for k, v in CREDIT_MEMO.items() if k != "applications"})
    t = links.credit_memo_from_invoice(mapping.build("credit_memo", memo, CONFIG, RESOLVED), memo, "501")
    assert (t.source_type, t.source_id, t.ns_type, t.replace) == ("invoice", "501", "creditMemo", ("item",))
    # Not applied by Nue: the source invoice's default application is undone explicitly.
    assert t.body["apply"]["items"] == [{"doc": {"id": "501"}, "line": 0, "apply": False}]
    assert t.body["externalId"] == "nue-cm-CM-1" and "entity" not in t.body and "currency" not in t.body
    elsewhere = records.validate(
        "credit_memo", CREDIT_MEMO | {"applications": [{"invoice_id": "I-2", "amount": "9.99"}]}
    )
    t = links.credit_memo_from_invoice(
        mapping.build("credit_memo", elsewhere, CONFIG, RESOLVED), elsewhere, "501"
    )
    assert [(x["doc"]["id"], x["apply"], x.get("amount")) for x in t.body["apply"]["items"]] == [
        ("501", False, None),
        ("502", True, 9.99),
    ]
    there = records.validate("credit_memo", CREDIT_MEMO)  # applied to its own invoice (and another)
    t = links.credit_memo_from_invoice(mapping.build("credit_memo", there, CONFIG, RESOLVED), there, "501")
    assert [(x["doc"]["id"], x["apply"]) for x in t.body["apply"]["items"]] == [("501", True), ("502", True)]


def test_linked_documents_change_only_their_header_and_name_line_changes():
    request = mapping.build("invoice", records.validate("invoice", BILLING), CONFIG, RESOLVED)
    header = links.header_only(request)
    assert "item" not in header.body and header.replace == () and header.body["memo"] == "INV-0001"
    changed = [BILLING["lines"][0] | {"description": "x"}, LINES[2] | {"id": "IL-N"}]
    before = records.validate("invoice", BILLING)
    after = records.validate("invoice", BILLING | {"lines": changed, "total": "1200.10"})
    assert links.line_changes(before, after) == ["line IL-U removed", "line IL-N added", "line IL-1 changed"]


def test_orders_are_sent_approved_in_the_account_shape_until_billed():
    order = records.validate("order", ORDER)
    request = mapping.build("order", order, CONFIG, RESOLVED)
    assert request.body["orderStatus"] == {"id": "B"}  # no profile: the Browser's object
    assert "orderStatus" not in links.header_only(request).body  # once billed: never again

    def profile(kind: str | None) -> AccountProfile:  # the fields the order is sent with, and orderStatus
        fields = {k: "string" for k in request.body if k != "orderStatus"} | (
            {"orderStatus": kind} if kind else {}
        )
        item = SublistSchema(fields={k: "string" for line in request.body["item"]["items"] for k in line})
        return AccountProfile(records={"salesOrder": RecordSchema(fields=fields, sublists={"item": item})})

    sent = {kind: mapping.build("order", order, CONFIG, RESOLVED, profile(kind)).body for kind in
            ("object", "ref", "string", None)}  # fmt: skip
    assert sent["object"]["orderStatus"] == sent["ref"]["orderStatus"] == {"id": "B"}
    assert sent["string"]["orderStatus"] == "B"  # Oracle's example's shape where the account says so
    assert "orderStatus" not in sent[None]  # an account without the field: left out, not refused


@pytest.mark.parametrize(
    ("kind", "sent"), [("object", {"id": "F"}), ("ref", {"id": "F"}), ("boolean", False), ("string", "F")]
)
def test_payments_turn_undeposited_funds_off_in_the_account_shape(kind, sent):
    payment = records.validate("payment", PAYMENT)
    request = mapping.build("payment", payment, CONFIG, RESOLVED)
    assert request.body["undepFunds"] == {"id": "F"}  # no profile: the Browser's object
    fields = {k: "string" for k in request.body if k != "undepFunds"} | {"undepFunds": kind}
    apply = SublistSchema(fields={k: "string" for line in request.body["apply"]["items"] for k in line})
    profile = AccountProfile(
        records={"customerPayment": RecordSchema(fields=fields, sublists={"apply": apply})}
    )
    assert mapping.build("payment", payment, CONFIG, RESOLVED, profile).body["undepFunds"] == sent


def test_standalone_orders_are_sent_with_closed_lines():
    standalone = CONFIG.model_copy(update={"invoice_link": InvoiceLink.standalone})
    body = mapping.build("order", records.validate("order", ORDER), standalone, RESOLVED).body
    assert all(line["isClosed"] is True for line in body["item"]["items"])
    linked = mapping.build("order", records.validate("order", ORDER), CONFIG, RESOLVED).body
    assert not any("isClosed" in line for line in linked["item"]["items"])
    assert IntegrationConfig().invoice_link is InvoiceLink.transform  # the default


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (BILLING | {"order_id": None}, "order_id"),
        (BILLING | {"order_lines_billed_later": ["L-1"]}, "order_lines_billed_later"),
        (ORDER | {"lines": [LINES[0] | {"order_line_id": "L-1"}]}, "lines"),
    ],
)
def test_order_line_references_are_checked_at_the_door(data, field):
    rtype = "order" if "order_number" in data else "invoice"
    with pytest.raises(records.InvalidRecord) as err:
        records.validate(rtype, data)
    assert field in str(err.value)
