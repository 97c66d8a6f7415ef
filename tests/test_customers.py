"""Customers as NetSuite keeps them: a Customer ID no two customers share (the name, where the
account does not number customers), and a primary subsidiary and currency that stay once the
customer has transactions. The sandbox's rules in-process, the pure mapping, then the product
end to end against a sandbox process (real HTTP, real PostgreSQL)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from nue_ns import batches, mapping, records, sync
from nue_ns.config import reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.hub import dispatching
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import save_config
from nue_ns.hub.models import Attempt, Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.customer import CUSTOMER_ID_CHARS
from nue_ns.netsuite.errors import Kind, NetSuiteError, classify_response, customer_id_taken
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import state, switches
from nue_ns.sandbox.state import AccountData, NsError
from tests.api_support import ACCOUNT, sandbox_records, transfer_all

ACME = {"companyName": "Acme", "subsidiary": {"id": "1"}}
CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")


@pytest.fixture
def acct() -> AccountData:
    return AccountData("CUST1", "ck", "cs", "tk", "ts")  # switches live on the account: none leak


def _refused(acct: AccountData, eid: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(NsError) as err:
        state.upsert(acct, "customer", eid, body)
    return err.value.body()["o:errorDetails"][0]


def _customer_id(acct: AccountData, eid: str) -> str:
    return state.read(acct, "customer", f"eid:{eid}")["entityId"]


# -- the sandbox: NetSuite's rules ----------------------------------------------------------------


def test_without_auto_numbering_the_name_is_the_customer_id_and_must_be_unique(acct):
    assert switches.describe(acct)["customer_auto_numbering"] is False  # an administrator's choice
    state.upsert(acct, "customer", "nue-cust-1", ACME)
    state.upsert(acct, "customer", "nue-cust-1", ACME | {"email": "a@example.com"})  # re-sent: same record
    assert _customer_id(acct, "nue-cust-1") == "Acme"
    taken = _refused(acct, "nue-cust-2", ACME | {"companyName": "ACME "})
    assert taken["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    assert taken["detail"].endswith(
        "A customer record with this ID already exists. You must enter a unique customer ID for each "
        "record you create."
    )
    person = {"isPerson": True, "firstName": "Pat", "lastName": "Doe", "subsidiary": {"id": "1"}}
    state.upsert(acct, "customer", "nue-cust-3", person)
    assert _refused(acct, "nue-cust-4", person)["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    # A sent Customer ID is the ID: kept through updates that leave it out, and unique too.
    state.upsert(acct, "customer", "nue-cust-2", ACME | {"entityId": "Acme (2)"})
    state.upsert(acct, "customer", "nue-cust-2", ACME | {"phone": "555"})
    assert _customer_id(acct, "nue-cust-2") == "Acme (2)"
    other = {"companyName": "Other", "subsidiary": {"id": "1"}, "entityId": "acme (2)"}
    assert _refused(acct, "nue-cust-5", other)["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    # Renamed onto another customer's name: the name it follows is taken.
    state.upsert(acct, "customer", "nue-cust-6", ACME | {"companyName": "Beta"})
    assert _refused(acct, "nue-cust-6", ACME)["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    # Where REST answers it as USER_ERROR [U]: the switch.
    switches.apply(acct, {"duplicate_customer_id_code": "USER_ERROR"})
    assert _refused(acct, "nue-cust-7", ACME)["o:errorCode"] == "USER_ERROR"
    with pytest.raises(ValueError):
        switches.apply(acct, {"duplicate_customer_id_code": "DUP"})


def test_with_auto_numbering_customers_get_numbers_and_names_may_repeat(acct):
    state.upsert(acct, "customer", "nue-cust-0", ACME)  # named before numbering was turned on
    switches.apply(acct, {"customer_auto_numbering": True})
    for eid in ("nue-cust-1", "nue-cust-2"):
        state.upsert(acct, "customer", eid, ACME)
    state.upsert(acct, "customer", "nue-cust-3", ACME | {"entityId": "Mine"})  # NetSuite assigns it
    state.upsert(acct, "customer", "nue-cust-1", ACME | {"companyName": "Renamed"})
    ids = [_customer_id(acct, f"nue-cust-{n}") for n in range(4)]
    assert ids == ["Acme", "1", "2", "3"]  # numbered once, for good; the older one keeps its name


def test_a_customer_keeps_its_subsidiary_and_currency_once_it_has_transactions(acct):
    cust = state.upsert(acct, "customer", "nue-cust-1", ACME).record.id
    # Before any transaction both may change (currency 1 is the base one, which it had unset).
    state.upsert(acct, "customer", "nue-cust-1", ACME | {"subsidiary": {"id": "2"}, "currency": {"id": "1"}})
    state.upsert(acct, "customer", "nue-cust-1", ACME)  # subsidiary 1 again; currency left as it was
    item = state.upsert(acct, "serviceSaleItem", "nue-item-1", {"itemId": "I", "incomeAccount": {"id": "5"}})
    line = {"item": {"id": item.record.id}, "quantity": 1, "rate": 10.0}
    state.upsert(acct, "salesOrder", "nue-so-1", {"entity": {"id": cust}, "item": {"items": [line]}})
    same = ACME | {"currency": {"id": "1"}, "email": "new@example.com"}  # unchanged, re-sent: fine
    assert state.upsert(acct, "customer", "nue-cust-1", same).record.body["email"] == "new@example.com"
    moved = _refused(acct, "nue-cust-1", same | {"subsidiary": {"id": "2"}})
    assert moved["o:errorCode"] == "USER_ERROR" and moved["o:errorPath"] == "subsidiary"
    assert "primary subsidiary of a customer that has transactions" in moved["detail"]
    assert _refused(acct, "nue-cust-1", same | {"currency": {"id": "2"}})["o:errorPath"] == "currency"
    assert acct.records[cust].body["subsidiary"] == {"id": "1"}  # nothing of the refused write stored
    # What NetSuite answers is a person's to deal with, never retried in a loop.
    assert classify_response(400, json.dumps({"o:errorDetails": [moved]})).kind is Kind.NEEDS_PERSON


# -- the mapping: a unique Customer ID, and what changed -------------------------------------------


def test_a_unique_customer_id_is_the_name_and_the_nue_id_within_netsuites_length():
    acme = records.validate("customer", {"id": "C-2", "name": "Acme"})
    assert mapping.unique_customer_id(acme) == "Acme (C-2)"
    pat = records.validate(
        "customer", {"id": "C-3", "name": "x", "is_person": True, "first_name": "Pat", "last_name": "Doe"}
    )
    assert mapping.unique_customer_id(pat) == "Pat Doe (C-3)"
    long = records.validate("customer", {"id": "C" * 64, "name": "N" * 250})
    made = mapping.unique_customer_id(long)
    assert len(made) == CUSTOMER_ID_CHARS and made.endswith(f" ({'C' * 64})")
    request = mapping.build("customer", acme, CONFIG, {})
    assert "entityId" not in request.body  # never by default: where the account numbers customers
    assert mapping.with_customer_id(request, acme).body == request.body | {"entityId": "Acme (C-2)"}


def test_a_taken_customer_id_is_recognised_by_its_code_or_its_words():
    def err(code: str, detail: str, kind: Kind = Kind.NEEDS_PERSON) -> NetSuiteError:
        return NetSuiteError(kind, detail, status=400, code=code)

    assert customer_id_taken(err("UNIQUE_CUST_ID_REQD", "whatever"))
    assert customer_id_taken(err("USER_ERROR", "Error while accessing a resource. A customer record with "
                                 "this ID already exists. You must enter a unique customer ID"))  # fmt: skip
    assert customer_id_taken(err("DUP_ENTITY", "This entity already exists."))
    assert not customer_id_taken(err("USER_ERROR", "A record with this external ID already exists."))
    assert not customer_id_taken(err("UNIQUE_CUST_ID_REQD", "x", Kind.TRANSIENT))


def test_a_changed_primary_subsidiary_or_currency_is_named():
    before = records.validate("customer", {"id": "C-1", "name": "A", "currency": "USD"})
    now = records.validate("customer", {"id": "C-1", "name": "B", "currency": "EUR", "subsidiary_id": "2"})
    assert mapping.primary_changes(before, now, CONFIG) == [
        ("subsidiary_id", "1", "2"),
        ("currency", "USD", "EUR"),
    ]
    assert mapping.primary_changes(before, before.model_copy(update={"name": "B"}), CONFIG) == []
    unset = records.validate("customer", {"id": "C-1", "name": "B"})  # left out: NetSuite keeps it
    assert mapping.primary_changes(before, unset, CONFIG) == []


# -- end to end: the product against a sandbox process --------------------------------------------


def _switch(base: str, **values: Any) -> None:
    r = requests.post(f"{base}/_sandbox/switches", json={"account": ACCOUNT} | values, timeout=5)
    r.raise_for_status()


@pytest.fixture
def defaults(sandbox_base):
    """The account's switches as they start, again after the test (they outlive a reset)."""
    yield sandbox_base
    _switch(sandbox_base, customer_auto_numbering=False, duplicate_customer_id_code="UNIQUE_CUST_ID_REQD")


def _rows(ctx, nue_ids: list[str] | None = None) -> list[Record]:
    with session_scope(ctx.engine) as s:
        q = select(Record).order_by(Record.id)
        if nue_ids is not None:
            q = q.where(Record.nue_id.in_(nue_ids))
        rows = list(s.scalars(q))
        s.expunge_all()
        return rows


def _sent_bodies(ctx) -> list[dict[str, Any]]:
    with session_scope(ctx.engine) as s:
        return [
            a.request_body
            for a in s.scalars(
                select(Attempt).where(Attempt.url.contains("/record/v1/customer")).order_by(Attempt.id)
            )
        ]


def _entity_ids(base: str) -> dict[str, str]:
    return {r["externalId"]: r["body"]["entityId"] for r in sandbox_records(base, "customer")}


TWO_ACMES = [
    {"id": "C-1", "name": "Acme", "currency": "USD"},
    {"id": "C-2", "name": "Acme", "currency": "USD"},
]


@pytest.mark.parametrize("code", ["UNIQUE_CUST_ID_REQD", "USER_ERROR"])
def test_two_nue_customers_of_one_name_both_land_where_the_account_does_not_number_customers(
    netsuite, defaults, code
):
    _switch(defaults, duplicate_customer_id_code=code)
    enqueue_many("customer", TWO_ACMES, ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    assert {r.nue_id: r.state for r in _rows(netsuite)} == {
        "C-1": State.TRANSFERRED,
        "C-2": State.TRANSFERRED,
    }
    assert _entity_ids(defaults) == {"nue-cust-C-1": "Acme", "nue-cust-C-2": "Acme (C-2)"}
    # The second went twice: refused under its name, then under a unique Customer ID.
    sent = _sent_bodies(netsuite)
    assert [b.get("entityId") for b in sent] == [None, None, "Acme (C-2)"]
    # A later version of it keeps that ID (nothing sent for it), and lands in one call.
    enqueue_many("customer", [TWO_ACMES[1] | {"email": "ap@acme.example"}], ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    assert _entity_ids(defaults)["nue-cust-C-2"] == "Acme (C-2)" and len(_sent_bodies(netsuite)) == 4


def test_where_the_account_numbers_customers_no_customer_id_is_ever_sent(netsuite, defaults):
    _switch(defaults, customer_auto_numbering=True)
    enqueue_many("customer", TWO_ACMES, ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    assert {r.state for r in _rows(netsuite)} == {State.TRANSFERRED}
    numbers = list(_entity_ids(defaults).values())
    assert len(set(numbers)) == 2 and all(n.isdigit() for n in numbers)
    sent = _sent_bodies(netsuite)
    assert len(sent) == 2 and not [b for b in sent if "entityId" in b]


def test_a_unique_customer_id_taken_too_needs_a_person_with_what_to_do(netsuite, defaults):
    _write_by_hand(defaults)  # someone made a customer under the ID nue-ns would choose
    enqueue_many("customer", TWO_ACMES, ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    rows = {r.nue_id: r for r in _rows(netsuite)}
    assert rows["C-1"].state == State.TRANSFERRED and rows["C-2"].state == State.FAILED
    reason = rows["C-2"].reason
    assert reason.startswith("needs a person: ")
    assert "the name 'Acme'" in reason and "the Customer ID nue-ns then sent, 'Acme (C-2)'" in reason
    assert "turn on Auto-Generated Numbers for customers" in reason
    assert len(_sent_bodies(netsuite)) == 3  # once under the name, once under the unique ID: no loop


def _write_by_hand(base: str) -> None:
    from nue_ns.netsuite.auth import Credentials, tba_auth
    from nue_ns.sandbox import demo

    account = demo.demo_account()
    creds = Credentials(account["consumer_key"], account["consumer_secret"], account["token_id"],
                        account["token_secret"])  # fmt: skip
    r = requests.put(
        f"{base}/services/rest/record/v1/customer/eid:made-by-hand",
        json={"companyName": "Someone", "entityId": "Acme (C-2)", "subsidiary": {"id": "1"}},
        auth=tba_auth(creds, account["account_id"]),
        timeout=5,
    )
    assert r.status_code == 204, r.text


def test_in_a_batch_a_customer_whose_name_is_taken_goes_alone_and_lands(netsuite, defaults, monkeypatch):
    monkeypatch.setenv("NUE_NS_BATCH_POLL_FIRST", "0.05")
    reset_settings()
    reset_context()
    ctx = get_context()
    save_config(ctx.engine, "default", CONFIG.model_copy(update={"scheduled_mode": True}))
    enqueue_many("customer", TWO_ACMES, ctx=ctx, dispatch_now=False)
    integration_id = ctx.integration("default").id
    dispatching.release_batch(ctx.engine)  # the batch sweep's release
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batches.work(ctx, integration_id)
        for row in _rows(ctx):  # what a worker does with the records handed to go alone
            if row.state == State.QUEUED:
                sync.transfer(ctx, row.id)
        if {r.state for r in _rows(ctx)} <= {State.TRANSFERRED, State.FAILED}:
            break
        time.sleep(0.1)
    rows = {r.nue_id: r for r in _rows(ctx)}
    assert {n: r.state for n, r in rows.items()} == {"C-1": State.TRANSFERRED, "C-2": State.TRANSFERRED}
    assert rows["C-2"].batch_id is not None  # it was in the batch, then went alone
    assert _entity_ids(defaults) == {"nue-cust-C-1": "Acme", "nue-cust-C-2": "Acme (C-2)"}


def test_a_changed_subsidiary_or_currency_after_transactions_needs_a_person_and_loses_nothing(
    netsuite, sandbox_base
):
    customer = {"id": "C-1", "name": "Acme", "currency": "USD", "email": "a@acme.example"}
    product = {"id": "P-1", "sku": "S-1", "name": "Seats", "product_type": "subscription"}
    invoice = {"id": "I-1", "invoice_number": "INV-1", "customer_id": "C-1", "status": "Active",
               "invoice_date": "2025-03-01", "currency": "USD", "total": "10.00",
               "lines": [{"id": "L-1", "product_id": "P-1", "quantity": "1", "unit_price": "10.00",
                          "amount": "10.00"}]}  # fmt: skip
    for rtype, data in (("customer", customer), ("product", product), ("invoice", invoice)):
        enqueue_many(rtype, [data], ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    assert {r.state for r in _rows(netsuite)} == {State.TRANSFERRED}
    # Currency and email changed: NetSuite refuses the currency, so the version needs a person.
    moved = customer | {"currency": "EUR", "email": "b@acme.example"}
    [v2] = enqueue_many("customer", [moved], ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    failed = next(r for r in _rows(netsuite) if r.id == v2.id)
    assert failed.state == State.FAILED and failed.attempts == 1 and failed.error_kind == "needs_person"
    assert "currency changed from USD to EUR" in failed.reason
    assert "set it back in Nue" in failed.reason and failed.error_path == "currency"
    # Nothing else lost: the customer stays linked, its next invoice goes; a version with the
    # currency as it was carries the new email.
    invoice2 = invoice | {"id": "I-2", "invoice_number": "INV-2"}
    enqueue_many("invoice", [invoice2], ctx=netsuite, dispatch_now=False)
    [v3] = enqueue_many("customer", [moved | {"currency": "USD"}], ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    states = {r.id: r.state for r in _rows(netsuite)}
    assert states[v3.id] == State.TRANSFERRED
    assert [r.state for r in _rows(netsuite, ["I-2"])] == [State.TRANSFERRED]
    [ns_customer] = sandbox_records(sandbox_base, "customer")
    assert ns_customer["body"]["email"] == "b@acme.example"
    assert ns_customer["body"]["currency"]["id"] == "1"  # USD in the demo account, as before
