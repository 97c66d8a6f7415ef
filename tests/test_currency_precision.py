"""Amounts within each NetSuite account's currency precision (docs/NETSUITE.md "Currency precision"):
a finer one is refused at enqueue once the account's profile is read, a record already in the hub
fails needing a person before anything is sent, unit prices keep their own rule; the sandbox refuses
or rounds a finer amount (switch excess_decimals), and the product is right under both.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from nue_ns import currencies, records
from nue_ns.account_profile import AccountProfile
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import save_profile
from nue_ns.hub.models import Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.producer import InvalidBatch, enqueue_many
from nue_ns.sandbox import state, suiteql, switches
from nue_ns.sandbox.kinds import kind
from nue_ns.sandbox.state import AccountData
from tests.harness import ACCOUNT

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")
# As the full sandbox kind has them: JPY of precision 0 (section_N1397831), the others 2.
PROFILE = AccountProfile(
    currencies={"USD": "1", "EUR": "2", "JPY": "5"}, currency_precision={"USD": 2, "EUR": 2, "JPY": 0}
)


def invoice(nue_id: str, amounts: tuple[str, ...], currency: str = "JPY", **line: str) -> dict:
    lines = [
        {"id": f"{nue_id}-L{i}", "product_id": "PROD-0001", "quantity": "3", "unit_price": "333.3333"}
        | {"amount": amount}
        | line
        for i, amount in enumerate(amounts)
    ]
    total = sum((Decimal(a) + Decimal(line.get("tax_amount", "0")) for a in amounts), Decimal(0))
    return {
        "id": nue_id,
        "invoice_number": nue_id,
        "customer_id": "CUST-JPY",
        "status": "active",
        "invoice_date": "2025-03-10",
        "currency": currency,
        "total": str(total),
        "lines": lines,
    }


def payment(nue_id: str, amount: str, invoice_id: str) -> dict:
    return {
        "id": nue_id,
        "customer_id": "CUST-JPY",
        "amount": amount,
        "currency": "JPY",
        "payment_date": "2025-03-14",
        "collected_via": "stripe",
        "applications": [{"invoice_id": invoice_id, "amount": amount}],
    }


# -- the rule ------------------------------------------------------------------------------------


def test_a_yen_amount_with_decimals_is_named_with_its_field_currency_and_precision():
    rec = records.validate("invoice", invoice("INV-1", ("1000.50", "2000")))
    errors = currencies.too_fine(rec, PROFILE, "TSTDRV1")
    assert [e["field"] for e in errors] == ["total", "lines[0].amount"]
    assert errors[1]["reason"] == (
        "1000.50 has more decimal places than JPY has in NetSuite account TSTDRV1 (0, its currency "
        "precision): NetSuite cannot hold it as sent; Nue must send it in whole JPY"
    )
    taxed = records.validate("invoice", invoice("INV-2", ("1000",), tax_amount="80.40"))
    assert [e["field"] for e in currencies.too_fine(taxed, PROFILE, "A")] == ["total", "lines[0].tax_amount"]
    paid = records.validate("payment", payment("PAY-1", "0.50", "INV-1"))
    assert [e["field"] for e in currencies.too_fine(paid, PROFILE, "A")] == [
        "amount",
        "applications[0].amount",
    ]


def test_unit_prices_finer_than_the_currency_and_whole_yen_amounts_pass():
    # A rate may be finer than the currency (usage pricing, records.PRICE_STEP): the amount posts.
    whole = records.validate("invoice", invoice("INV-3", ("1000", "25"), unit_price="0.0015"))
    assert currencies.too_fine(whole, PROFILE, "A") == []
    cents = records.validate("invoice", invoice("INV-4", ("1000.55",), currency="USD"))
    assert currencies.too_fine(cents, PROFILE, "A") == []


def test_an_account_whose_precision_was_not_read_is_held_to_netsuites_integer_currencies():
    unread = AccountProfile(currencies=PROFILE.currencies)  # no currencyprecision column [U]
    assert (unread.places("JPY"), unread.places("KRW"), unread.places("USD"), unread.places("KWD")) == (
        0,
        0,
        2,
        2,
    )
    rec = records.validate("invoice", invoice("INV-5", ("10.5",)))
    (reason, *_) = [e["reason"] for e in currencies.too_fine(rec, unread, "A")]
    assert "(0, assumed: the account's currency precision could not be read)" in reason


def test_a_hub_record_is_judged_again_only_in_a_currency_finer_than_cents(monkeypatch):
    payload = records.validate("invoice", invoice("INV-6", ("1000.50",))).model_dump(mode="json")
    reason = currencies.too_precise("invoice", payload, PROFILE, "A")
    assert reason is not None and reason.startswith("total: 1000.50 has more decimal places than JPY")
    assert "; lines[0].amount: 1000.50 has" in reason

    def never(*_a, **_k):
        raise AssertionError("a record in a currency of 2 places is not validated again")

    monkeypatch.setattr(currencies.records, "validate", never)
    assert currencies.too_precise("invoice", payload | {"currency": "USD"}, PROFILE, "A") is None


def test_enqueue_checks_only_currencies_the_account_has():
    integ = SimpleNamespace(account_id="A")
    valid = [records.validate("invoice", invoice("INV-7", ("1.5",), currency="CLP"))]  # not in the account
    [problem] = currencies.against_the_account("invoice", valid, integ, CONFIG, PROFILE)
    assert [e["field"] for e in problem.errors] == ["currency"]  # named unknown, not judged for places
    assert "CLP is not a currency of NetSuite account A" in str(problem)
    assert currencies.against_the_account("invoice", valid, integ, CONFIG, None) == []  # no profile yet


# -- at enqueue, with the hub ------------------------------------------------------------------------


def test_enqueue_refuses_a_finer_amount_once_the_profile_is_read_and_stores_nothing(hub_ctx):
    ctx = hub_ctx
    fine = invoice("INV-8", ("1000.50",))
    assert enqueue_many("invoice", [fine], ctx=ctx, dispatch_now=False)  # no profile yet: the gate judges
    save_profile(ctx.engine, ctx.integration("default").id, PROFILE)
    again = invoice("INV-9", ("1000.50",))
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("invoice", [invoice("INV-10", ("1000",)), again], ctx=ctx, dispatch_now=False)
    (problem,) = exc.value.as_json()
    assert problem["index"] == 1 and [e["field"] for e in problem["errors"]] == ["total", "lines[0].amount"]
    assert "JPY has in NetSuite account TEST1 (0, its currency precision)" in problem["errors"][1]["reason"]
    with session_scope(ctx.engine) as s:
        stored = s.scalars(select(Record.nue_id).where(Record.record_type == "invoice")).all()
    assert stored == ["INV-8"]  # the batch stored nothing
    assert enqueue_many("invoice", [invoice("INV-10", ("1000",))], ctx=ctx, dispatch_now=False)


# -- the sandbox ---------------------------------------------------------------------------------


def _yen_invoice(acct: AccountData, eid: str, amount: float) -> state.WriteOutcome:
    yen = {"companyName": "Y", "subsidiary": {"id": "1"}, "currency": {"id": "5"}}
    cust = state.upsert(acct, "customer", "cj", yen, strict=True)
    itm = state.upsert(acct, "nonInventorySaleItem", "ij", {"itemId": "IJ", "incomeAccount": {"id": "5"}})
    line = {"item": {"id": itm.record.id}, "quantity": 3, "rate": 333.3333, "amount": amount}
    body = {"entity": {"id": cust.record.id}, "currency": {"id": "5"}, "item": {"items": [line]}}
    return state.upsert(acct, "invoice", eid, body, strict=True)


def test_the_sandbox_refuses_or_rounds_a_yen_amount_with_decimals_by_its_switch():
    acct = AccountData("K1", "ck", "cs", "tid", "ts", kind=kind("full"))
    with pytest.raises(state.NsError) as exc:
        _yen_invoice(acct, "i1", 1000.5)
    assert (exc.value.code, exc.value.path) == ("INVALID_CONTENT", "item.items[0].amount")
    stored = _yen_invoice(acct, "i2", 1000.0).record  # a rate finer than the yen is a unit price: taken
    assert stored.view()["total"] == 1000.0 and stored.body["item"]["items"][0]["rate"] == 333.3333
    assert switches.apply(acct, {"excess_decimals": "round"})["excess_decimals"] == "round"
    rounded = _yen_invoice(acct, "i3", 1000.5).record
    assert rounded.body["item"]["items"][0]["amount"] == 1001.0 and rounded.view()["total"] == 1001.0
    with pytest.raises(ValueError, match="excess_decimals must be one of refuse, round"):
        switches.apply(acct, {"excess_decimals": "truncate"})


def test_the_sandbox_shows_each_currencys_precision_or_no_column_by_its_switch():
    acct = AccountData("K1", "ck", "cs", "tid", "ts", kind=kind("full"))
    rows = suiteql.run(acct, {"q": "SELECT symbol, currencyprecision FROM currency"}, 1000, 0)["items"]
    assert {r["symbol"]: r["currencyprecision"] for r in rows} == {
        "USD": "2",
        "EUR": "2",
        "GBP": "2",
        "CAD": "2",
        "JPY": "0",
    }
    assert state.read(acct, "currency", "5")["currencyPrecision"] == 0  # REST's currencyPrecision
    switches.apply(acct, {"currency_precision_column": "none"})
    with pytest.raises(state.NsError) as exc:
        suiteql.run(acct, {"q": "SELECT symbol, currencyprecision FROM currency"}, 1000, 0)
    assert exc.value.code == "INVALID_PARAMETER"


# -- end to end, over HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize("excess", ["refuse", "round"])
def test_yen_amounts_finer_than_the_yen_never_reach_netsuite_and_whole_ones_land_to_the_yen(system, excess):
    system.start(rate_limit="50/1s", config=CONFIG, kind="full")  # JPY: id 5, precision 0
    system.sandbox_post("switches", {"account": ACCOUNT, "excess_decimals": excess})
    customer = {"id": "CUST-JPY", "name": "Yen Customer KK", "currency": "JPY"}
    product = {"id": "PROD-0001", "sku": "SKU-1", "name": "Usage", "product_type": "subscription"}
    early = invoice("INV-EARLY", ("1000.50", "2000"))  # enqueued before the profile is read: accepted
    ids = [a.id for t, r in (("customer", customer), ("product", product)) for a in enqueue_many(t, [r])]
    (early_id,) = [a.id for a in enqueue_many("invoice", [early])]
    system.workers(1)
    system.wait(ids, timeout=60)
    system.wait([early_id], states=[State.FAILED], timeout=60)
    with session_scope(system.ctx.engine) as s:
        reason = s.get(Record, early_id).reason
    account = system.ctx.integration("default").account_id
    assert reason.startswith(
        f"needs a person: total: 3000.50 has more decimal places than JPY has in NetSuite account {account} "
        "(0, its currency precision)"
    )
    assert "lines[0].amount: 1000.50" in reason
    assert system.ns_records("invoice") == []  # nothing of it was sent
    # The profile is read: the same mistake is refused at enqueue, naming field, currency, precision.
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("invoice", [invoice("INV-LATE", ("1000.50",))])
    error = exc.value.as_json()[0]["errors"][1]
    assert error["field"] == "lines[0].amount" and "JPY has in NetSuite account" in error["reason"]
    assert "(0, its currency precision)" in error["reason"]
    whole = invoice("INV-WHOLE", ("1000", "2001"))  # unit prices finer than the yen, as usage prices are
    (whole_id,) = [a.id for a in enqueue_many("invoice", [whole])]
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("payment", [payment("PAY-HALF", "3000.50", "INV-WHOLE")])
    assert [e["field"] for e in exc.value.as_json()[0]["errors"]] == ["amount", "applications[0].amount"]
    (paid_id,) = [a.id for a in enqueue_many("payment", [payment("PAY-WHOLE", "3001", "INV-WHOLE")])]
    system.wait([whole_id, paid_id], timeout=60)
    (sent,) = system.ns_records("invoice")
    assert sent["externalId"].endswith("INV-WHOLE")
    assert Decimal(str(sent["body"]["total"])) == Decimal(whole["total"]) == Decimal("3001")
    assert [line["amount"] for line in sent["body"]["item"]["items"]] == [1000.0, 2001.0]
    assert sent["body"]["amountRemaining"] == 0.0  # paid to the yen
