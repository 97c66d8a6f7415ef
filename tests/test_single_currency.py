"""An account without Multiple Currencies: its records have no currency field, so nue-ns leaves
the field out where the record is in the account's one currency and refuses any other, naming the
feature; where its currency table cannot be read the one currency is configured (currency_ids), and
records wait for it with a reason that says so. End to end on the sandbox's `single-currency` kind
under both readings of its currency table (refused, or the base currency alone)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nue_ns import mapping, records, sample
from nue_ns.account_profile import AccountProfile, RecordSchema
from nue_ns.currencies import against_the_account
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Integration, Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import MappingIncomplete
from nue_ns.mapping.setup import judge
from nue_ns.producer import InvalidBatch, enqueue_many
from nue_ns.sandbox import kinds, state, suiteql
from nue_ns.sandbox.state import AccountData
from tests.harness import ACCOUNT

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")


def _single(currencies: dict[str, str], read: bool = True) -> AccountProfile:
    """A profile whose customers and invoices lack the currency fields."""
    lacking = kinds.kind("single-currency")
    fields = {t: dict.fromkeys(lacking.fields(t), "string") for t in ("customer", "invoice")}
    return AccountProfile(
        records={t: RecordSchema(fields=f) for t, f in fields.items()},
        currencies=currencies,
        currencies_read=read,
    )


def _customer(currency: str = "USD") -> records.Customer:
    customer = records.validate("customer", sample.customers(1)[0] | {"currency": currency})
    assert isinstance(customer, records.Customer)
    return customer


def test_the_sandbox_kind_lacks_the_fields_multiple_currencies_brings():
    single, full = kinds.kind("single-currency"), kinds.kind("full")
    assert not single.multiple_currencies and full.multiple_currencies
    for ns_type in ("customer", "salesOrder", "invoice", "creditMemo", "customerPayment", "customerRefund"):
        assert "currency" in full.fields(ns_type) and "currency" not in single.fields(ns_type)
    assert "currencyList" not in single.fields("customer") and "exchangeRate" not in single.fields("invoice")
    assert single.currencies == {"1": "USD"}


def test_the_sandbox_refuses_a_currency_field_and_queries_on_its_currency_table_by_its_switch():
    acct = AccountData("K1", "ck", "cs", "tid", "ts", kind=kinds.kind("single-currency"))
    with pytest.raises(state.NsError) as exc:
        state.upsert(acct, "customer", "c1", {"companyName": "A", "currency": {"id": "1"}}, strict=True)
    assert (exc.value.status, exc.value.code, exc.value.path) == (400, "INVALID_CONTENT", "currency")
    made = state.upsert(acct, "customer", "c1", {"companyName": "A", "subsidiary": {"id": "1"}}, strict=True)
    assert made.created
    with pytest.raises(state.NsError, match="no such table: currency"):
        suiteql.run(acct, {"q": "SELECT id, symbol FROM currency"}, 1000, 0)
    acct.currency_table = "base_only"
    acct.version += 1
    rows = suiteql.run(acct, {"q": "SELECT id, symbol FROM currency"}, 1000, 0)["items"]
    assert [(r["id"], r["symbol"]) for r in rows] == [("1", "USD")]


def test_the_currency_field_is_left_out_only_for_a_record_in_the_accounts_one_currency():
    body = mapping.build("customer", _customer(), CONFIG, {}, _single({"USD": "1"})).body
    assert "currency" not in body and body["email"] == "billing1@example.com"
    # Two currencies known but no currency field: which one a record is in cannot be said.
    with pytest.raises(
        MappingIncomplete, match="no field 'currency' on customer: the account has no Multiple"
    ):
        mapping.build("customer", _customer(), CONFIG, {}, _single({"USD": "1", "EUR": "2"}))
    # An account with the field gets it as always.
    fields = dict.fromkeys(("isPerson", "firstName", "lastName", "email", "subsidiary", "currency"), "string")
    full = AccountProfile(records={"customer": RecordSchema(fields=fields)}, currencies={"USD": "1"})
    assert mapping.build("customer", _customer(), CONFIG, {}, full).body["currency"] == {"id": "1"}


def test_currencies_that_could_not_be_read_come_from_currency_ids_and_validate_says_so():
    unread = _single({}, read=False)
    with pytest.raises(
        MappingIncomplete, match=r"needs its one currency in currency_ids: .*--currency-id USD=ID"
    ):
        mapping.build("customer", _customer(), CONFIG, {}, unread)
    configured = CONFIG.model_copy(update={"currency_ids": {"USD": "1"}})
    assert "currency" not in mapping.build("customer", _customer(), configured, {}, unread).body
    warned = judge(CONFIG, unread, hub_currencies=["USD"])
    assert any("set currency_ids to its one currency" in w for w in warned.warnings)
    assert not any("records in the hub" in p for p in warned.problems)  # nothing to judge them by
    assert any(p.startswith("customer: currency USD is not a currency") for p in warned.problems)
    told = judge(configured, unread, hub_currencies=["USD", "EUR"])
    assert any("nue-ns takes currency_ids as its currencies (USD)" in w for w in told.warnings)
    assert any(p.startswith("currency EUR: records in the hub are in EUR") for p in told.problems)


def test_enqueue_refuses_another_currency_only_once_the_accounts_currency_is_known():
    integ = Integration(name="default", account_id="123")
    eur = [_customer("EUR")]
    assert against_the_account("customer", eur, integ, CONFIG, _single({}, read=False)) == []
    configured = CONFIG.model_copy(update={"currency_ids": {"USD": "1"}})
    (refused,) = against_the_account("customer", eur, integ, configured, _single({}, read=False))
    assert refused.errors[0]["field"] == "currency" and "EUR is not a currency" in refused.errors[0]["reason"]
    assert against_the_account("customer", [_customer()], integ, configured, _single({}, read=False)) == []


@pytest.mark.parametrize("table", ["refused", "base_only"])
def test_a_month_on_an_account_without_multiple_currencies(system, table):
    system.start(rate_limit="100/1s", config=CONFIG, kind="single-currency")
    switched = system.sandbox_post("switches", {"account": ACCOUNT, "currency_table": table})
    assert switched["currency_table"] == table
    month = sample.month(
        n_customers=3, n_products=3, n_orders=2, n_invoices=4, n_payments=2, n_refunds=1, n_credit_memos=1
    )
    system.workers(1, concurrency=4)
    ids = {rtype: [a.id for a in enqueue_many(rtype, recs)] for rtype, recs in month.items()}
    everything = [i for group in ids.values() for i in group]
    if table == "refused":  # the currencies cannot be read: records wait, saying what to set
        system.wait(ids["customer"], states=(State.WAITING,), what="customers waiting for the currency")
        with session_scope(system.ctx.engine) as s:
            reason = s.scalars(select(Record.reason).where(Record.id == ids["customer"][0])).one()
        assert "needs its one currency in currency_ids" in reason and "--currency-id USD=ID" in reason
        out = system.cli("integration", "validate", "default")
        assert "set currency_ids to its one currency" in " ".join(out.stderr.split())
        system.cli_ok("integration", "set", "default", "--currency-id", "USD=1")
    system.wait(everything, timeout=90, what="a month without Multiple Currencies")
    sent = [c for c in system.log() if c["method"] in ("PUT", "POST") and c["type"] != "suiteql"]
    assert sent and all(c["status"] < 300 for c in sent)  # no field the account lacks was sent
    # Another currency is refused at enqueue, naming the field, once the account's one is known.
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("customer", [sample.customers(1, prefix="EUR")[0] | {"currency": "EUR"}])
    (error,) = exc.value.as_json()[0]["errors"]
    assert error["field"] == "currency" and "EUR is not a currency of NetSuite account" in error["reason"]
    assert "(it has USD)" in error["reason"]
