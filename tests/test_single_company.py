"""An account without OneWorld: one company, so its records have no subsidiary field and SuiteQL no
subsidiary table. nue-ns names no subsidiary there, whatever the mapping or Nue's customers say,
and `validate` says the setting is not sent; end to end on the sandbox's `single-company` kind."""

from __future__ import annotations

import pytest

from nue_ns import mapping, records, sample
from nue_ns.account_profile import AccountProfile, RecordSchema
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete
from nue_ns.mapping.setup import judge
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import kinds, state, suiteql
from nue_ns.sandbox.state import AccountData

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")


def _customer() -> records.Customer:
    customer = records.validate("customer", sample.customers(1)[0] | {"subsidiary_id": "2"})
    assert isinstance(customer, records.Customer)
    return customer


def _profile(subsidiaries: dict[str, str], currencies: dict[str, str] | None = None) -> AccountProfile:
    fields = dict.fromkeys(kinds.kind("single-company").fields("customer"), "string")
    return AccountProfile(
        records={"customer": RecordSchema(fields=fields)},
        currencies=currencies or {"USD": "1"},
        subsidiaries=subsidiaries,
    )


def test_the_sandbox_kind_has_no_subsidiary_anywhere_and_sells_every_item_to_every_customer():
    one, full = kinds.kind("single-company"), kinds.kind("full")
    assert not one.oneworld and full.oneworld
    for ns_type in (
        "customer",
        "salesOrder",
        "invoice",
        "creditMemo",
        "customerPayment",
        "nonInventorySaleItem",
    ):
        assert "subsidiary" in full.fields(ns_type) and "subsidiary" not in one.fields(ns_type)
    acct = AccountData("K1", "ck", "cs", "tid", "ts", kind=one)
    with pytest.raises(state.NsError) as exc:
        state.upsert(acct, "customer", "c1", {"companyName": "A", "subsidiary": {"id": "1"}}, strict=True)
    assert (exc.value.code, exc.value.path) == ("INVALID_CONTENT", "subsidiary")
    assert state.upsert(acct, "customer", "c1", {"companyName": "A"}, strict=True).created
    with pytest.raises(state.NsError, match="no such table: subsidiary"):
        suiteql.run(acct, {"q": "SELECT id FROM subsidiary"}, 1000, 0)


def test_no_subsidiary_is_named_where_the_account_has_none():
    body = mapping.build("customer", _customer(), CONFIG, {}, _profile({})).body
    assert "subsidiary" not in body and body["email"]
    # An account that lists subsidiaries but whose record lacks the field: refused, naming why.
    with pytest.raises(
        MappingIncomplete, match="no field 'subsidiary' on customer: the account lists subsidiaries"
    ):
        mapping.build("customer", _customer(), CONFIG, {}, _profile({"1": "Parent", "2": "EMEA"}))
    found = judge(CONFIG, _profile({}), customer_subsidiaries=["2"])
    assert any(
        w.startswith("subsidiary_id, item_subsidiaries: the account lists no subsidiaries")
        for w in found.warnings
    )
    assert not any("subsidiar" in p for p in found.problems)


def test_a_month_on_an_account_without_oneworld(system):
    system.start(rate_limit="100/1s", config=CONFIG, kind="single-company")
    month = sample.month(
        n_customers=4, n_products=3, n_orders=3, n_invoices=5, n_payments=3, n_refunds=1, n_credit_memos=1,
        currencies=("USD", "EUR"), subsidiaries=("2",),
    )  # fmt: skip
    system.workers(1, concurrency=4)
    ids = [a.id for rtype, recs in month.items() for a in enqueue_many(rtype, recs)]
    system.wait(ids, timeout=90, what="a month without OneWorld")
    sent = [c for c in system.log() if c["method"] in ("PUT", "POST") and c["type"] != "suiteql"]
    assert sent and all(c["status"] < 300 for c in sent)  # no subsidiary sent: the account has none
    out = system.cli("integration", "validate", "default")
    assert "the account lists no subsidiaries (not OneWorld): they are not sent" in " ".join(
        out.stdout.split() + out.stderr.split()
    )
