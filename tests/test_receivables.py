"""The integration's A/R account (gl.receivables): on invoices and credit memos as `account`, on
payments as `arAcct`, on refunds where the account's record has the field; one for all, so a
payment finds its invoices (the sandbox lists only the applier's A/R account's documents). Unit,
sandbox, and a month end to end on a second A/R account."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nue_ns import sample
from nue_ns.account_profile import AccountProfile, RecordSchema
from nue_ns.integration import SANDBOX_GL, GlAccounts, IntegrationConfig
from nue_ns.mapping.base import NsRequest, external_id
from nue_ns.mapping.fit import fit
from nue_ns.mapping.receivables import with_receivables
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import kinds, state
from nue_ns.sandbox.state import AccountData

SECOND_AR = "19"  # sandbox/chart.py: 1110 Accounts Receivable - Subscriptions
CONFIG = IntegrationConfig(gl=SANDBOX_GL.model_copy(update={"receivables": SECOND_AR}), subsidiary_id="1")


@pytest.mark.parametrize(
    ("ns_type", "field"),
    [
        ("invoice", "account"),
        ("creditMemo", "account"),
        ("customerPayment", "arAcct"),
        ("customerRefund", "arAcct"),
    ],
)
def test_each_document_names_the_ar_account_in_its_own_field(ns_type, field):
    request = with_receivables(NsRequest(ns_type, "nue-x-1", {"memo": "m"}), CONFIG)
    assert request.body == {"memo": "m", field: {"id": SECOND_AR}}
    assert with_receivables(NsRequest(ns_type, "nue-x-1", {}), IntegrationConfig()).body == {}


def test_orders_and_customers_name_none_and_refunds_only_where_the_account_has_the_field():
    for ns_type in ("salesOrder", "customer"):
        assert with_receivables(NsRequest(ns_type, "nue-x-1", {"memo": "m"}), CONFIG).body == {"memo": "m"}
    refund = with_receivables(NsRequest("customerRefund", "nue-ref-1", {"memo": "m"}), CONFIG)
    without = AccountProfile(records={"customerRefund": RecordSchema(fields={"memo": "string"})})
    assert fit(refund, without).body == {"memo": "m"}
    with_field = AccountProfile(
        records={"customerRefund": RecordSchema(fields={"memo": "string", "arAcct": "ref"})}
    )
    assert fit(refund, with_field).body["arAcct"] == {"id": SECOND_AR}


def test_the_ar_account_is_the_documents_never_a_product_categorys():
    with pytest.raises(
        ValidationError, match="category_overrides.Enterprise.receivables: the receivables account"
    ):
        IntegrationConfig(category_overrides={"Enterprise": GlAccounts(receivables="19")})


def test_the_sandbox_lists_only_the_appliers_ar_accounts_documents():
    acct = AccountData("K1", "ck", "cs", "tid", "ts", kind=kinds.kind("full"))
    cust = state.upsert(acct, "customer", "c1", {"companyName": "A", "subsidiary": {"id": "1"}}, strict=True)
    item = state.upsert(acct, "nonInventorySaleItem", "i1", {"itemId": "I1", "incomeAccount": {"id": "5"}})
    line = {"item": {"id": item.record.id}, "quantity": 1, "rate": 10.0}
    body = {"entity": {"id": cust.record.id}, "currency": {"id": "1"}, "item": {"items": [line]}}
    inv = state.upsert(acct, "invoice", "inv1", body | {"account": {"id": SECOND_AR}}, strict=True)
    payment = {
        "customer": {"id": cust.record.id},
        "payment": 10.0,
        "account": {"id": "4"},
        "undepFunds": {"id": "F"},
    }
    payment |= {
        "currency": {"id": "1"},
        "apply": {"items": [{"doc": {"id": inv.record.id}, "apply": True, "amount": 10.0}]},
    }
    with pytest.raises(state.NsError) as exc:  # the default A/R account's list: the invoice is not on it
        state.upsert(acct, "customerPayment", "p1", payment, strict=True)
    assert (exc.value.code, exc.value.path) == ("INVALID_CONTENT", "apply.items[0].doc")
    paid = state.upsert(acct, "customerPayment", "p1", payment | {"arAcct": {"id": SECOND_AR}}, strict=True)
    assert paid.created


def test_a_month_on_a_second_ar_account(system):
    system.start(rate_limit="100/1s", config=CONFIG, kind="real-2025-09")
    month = sample.month(
        n_customers=3, n_products=3, n_orders=2, n_invoices=4, n_payments=3, n_refunds=1, n_credit_memos=2
    )
    system.workers(1, concurrency=4)
    ids = [a.id for rtype, recs in month.items() for a in enqueue_many(rtype, recs)]
    system.wait(ids, timeout=90, what="a month on the second A/R account")
    ns = {r["externalId"]: r["body"] for r in system.ns_records() if r["externalId"]}
    for rtype, field in (("invoice", "account"), ("credit_memo", "account"), ("payment", "arAcct")):
        for doc in month[rtype]:
            assert ns[external_id(rtype, doc["id"])][field] == {"id": SECOND_AR}, (rtype, doc["id"])


def test_the_gl_check_wants_an_accounts_receivable_account():
    from nue_ns.mapping.accounts import problems

    config = IntegrationConfig(gl=GlAccounts(receivables="5"))
    found = problems(config, [{"id": "5", "accttype": "Income", "isinactive": "F", "acctnumber": "4000"}])
    assert found == ["receivables: account 5 (4000) is of type Income (expected AcctRec)"]
    assert problems(config, [{"id": "5", "accttype": "AcctRec", "isinactive": "F"}]) == []
