"""Each NetSuite account as it is: its profile read with governed calls, what it lacks named before
anything is sent, currencies refused at enqueue, and a changed account read again.

Unit tests judge profiles built from the sandbox kinds' metadata documents; the others run real
PostgreSQL, Redis, workers and HTTP to the sandbox.
"""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from nue_ns import sample
from nue_ns.account_profile import AccountProfile, record_schema
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping import setup
from nue_ns.producer import InvalidBatch, enqueue_many
from nue_ns.profile import record_types
from nue_ns.sandbox import demo, kinds
from tests.harness import System

CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")


def profile_of(kind: str, config: IntegrationConfig = CONFIG) -> AccountProfile:
    """The profile nue-ns reads from a sandbox account of this kind."""
    account = kinds.kind(kind)
    doc = account.document(record_types(config))
    return AccountProfile(
        records={t: s for t in record_types(config) if (s := record_schema(doc, t))},
        currencies={code: i for i, code in account.currencies.items()},
        subsidiaries={i: name for i, (name, _) in account.subsidiaries.items()},
        accounts={"4": "OthCurrAsset", "1": "Bank"},
    )


def test_the_real_account_lacks_the_column_and_arm_and_warns_of_the_clearing_type():
    found = setup.judge(CONFIG, profile_of("real-2025-09"))
    assert found.problems == []
    text = "\n".join(found.warnings)
    assert "no transaction-line custom field custcol_nue_line_id" in text
    assert "Advanced Revenue Management is off" in text
    assert "no deferredRevenueAccount" in text
    assert "clearing: account 4 is of type OthCurrAsset" in text and "Expand Account Lists" in text


def test_an_arm_account_with_the_column_and_a_bank_clearing_account_is_clean():
    # ... and a tax item for its tax (the account has no SuiteTax; docs/NETSUITE_SETUP.md "Tax").
    gl = SANDBOX_GL.model_copy(update={"clearing": "1", "tax_liability": "18"})
    config = CONFIG.model_copy(update={"gl": gl, "tax_item_id": "950"})
    found = setup.judge(config, profile_of("arm", config))
    assert found.problems == [] and found.warnings == []


def test_currencies_and_subsidiaries_the_account_lacks_are_problems():
    config = CONFIG.model_copy(
        update={"currency_ids": {"USD": "1", "JPY": "7"}, "item_subsidiaries": ["1", "9"]}
    )
    found = setup.judge(config, profile_of("arm"), hub_currencies=["USD", "CHF"], customer_subsidiaries=["2"])
    assert found.problems == [
        "currency_ids.JPY: the account has no currency JPY",
        "currency CHF: records in the hub are in CHF, which the account lacks (it has CAD, EUR, GBP, USD): "
        "enable the currency in NetSuite",
        "item_subsidiaries[1]: subsidiary 9 does not exist in the account",
        "item_subsidiaries: customers are in subsidiaries 2 where items are not sold (items: 1, 9): "
        "list them, or set item_include_children for their parent",
    ]
    children = config.model_copy(update={"item_include_children": True, "currency_ids": {}})
    found = setup.judge(children, profile_of("arm"), customer_subsidiaries=["2"])
    assert [p for p in found.problems if "customers are in" in p] == []


def test_a_currency_id_that_is_not_the_accounts_is_named():
    config = CONFIG.model_copy(update={"currency_ids": {"EUR": "2"}})  # the old default guess
    found = setup.judge(config, profile_of("real-2025-09"))  # there EUR is 3, GBP is 1
    assert found.problems == ["currency_ids.EUR: 2 is not the account's EUR (its id is 3)"]


def test_a_needed_field_the_account_lacks_is_named_by_the_dry_run():
    profile = profile_of("arm")
    profile.records["customer"].fields.pop("subsidiary")
    problems = setup.dry_run(CONFIG, profile)
    assert problems == [
        "customer: the NetSuite account has no field 'subsidiary' on customer: the account lists "
        "subsidiaries but its record has no subsidiary field: check the integration role's permissions "
        "(Lists: Subsidiaries)"
    ]


# -- against the sandbox ------------------------------------------------------------------------------


def writes(system: System) -> list[dict]:
    return [c for c in system.log() if c["method"] in ("PUT", "POST") and c["type"] not in ("suiteql",)]


def test_validate_names_each_problem_of_a_mis_set_account_before_anything_is_sent(system):
    config = CONFIG.model_copy(update={"scheduled_mode": True})
    system.start(rate_limit="50/1s", config=config, kind="real-2025-09")
    month = sample.month(
        n_customers=2, n_products=3, n_orders=0, n_invoices=2, n_payments=0, n_refunds=0, n_credit_memos=0
    )
    month["invoice"][0]["currency"] = "CHF"  # enqueued before the profile is known: not refused
    for rtype in ("customer", "product", "invoice"):
        enqueue_many(rtype, month[rtype])
    out = system.cli("integration", "validate")
    assert out.returncode == 1, out.stderr
    said = " ".join(out.stderr.split())
    assert "currency CHF: records in the hub are in CHF, which the account lacks" in said
    assert "no transaction-line custom field custcol_nue_line_id" in said
    assert "Advanced Revenue Management is off" in said
    assert "clearing: account 4 is of type OthCurrAsset" in said and "Expand Account Lists" in said
    assert writes(system) == []  # nothing was sent
    # The profile it read is stored with its age and cost, and shown.
    shown = json.loads(system.cli("integration", "show").stdout)["profile"]
    assert shown["currencies"] == {"USD": "1", "GBP": "2", "EUR": "3", "CAD": "4"}
    assert shown["features"] == {"suitetax": False, "arm": False, "multiple_currencies": True}
    assert shown["calls"] == 4 and shown["age_seconds"] >= 0  # catalog, currency, subsidiary, account
    with session_scope(system.ctx.engine) as s:
        outcomes = s.scalars(select(Attempt.outcome).where(Attempt.record_id.is_(None))).all()
    assert sorted(outcomes) == ["profile"] * 4 + ["validated"]
    catalog = [c for c in system.log() if "metadata-catalog" in c["path"]]
    assert len(catalog) == 1 and catalog[0]["status"] == 200


def test_currencies_the_account_lacks_and_cross_currency_applications_are_refused_at_enqueue(system):
    system.start(rate_limit="50/1s", config=CONFIG, kind="suitetax")  # EUR, USD, GBP
    month = sample.month(
        n_customers=2, n_products=3, n_orders=0, n_invoices=2, n_payments=1, n_refunds=0, n_credit_memos=0
    )
    assert system.cli("integration", "discover").returncode == 0
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("customer", [month["customer"][0] | {"currency": "CAD"}], dispatch_now=False)
    assert exc.value.as_json()[0]["errors"][0]["field"] == "currency"
    assert "CAD is not a currency of NetSuite account" in exc.value.as_json()[0]["errors"][0]["reason"]
    enqueue_many("invoice", [month["invoice"][0] | {"currency": "EUR"}], dispatch_now=False)
    payment = month["payment"][0]
    payment = payment | {
        "applications": [{"invoice_id": month["invoice"][0]["id"], "amount": payment["amount"]}]
    }
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("payment", [payment], dispatch_now=False)  # in USD, the invoice in EUR
    error = exc.value.as_json()[0]["errors"][0]
    assert error["field"] == "applications[0].invoice_id"
    assert error["reason"].startswith(
        f"invoice {month['invoice'][0]['id']} is in EUR: a payment in USD applies only"
    )


def test_a_currency_added_in_netsuite_releases_the_records_that_waited_for_it(system):
    system.start(rate_limit="50/1s", config=CONFIG, kind="suitetax")  # no CAD
    month = sample.month(
        n_customers=1, n_products=3, n_orders=0, n_invoices=1, n_payments=0, n_refunds=0, n_credit_memos=0
    )
    invoice = month["invoice"][0] | {"currency": "CAD"}  # enqueued while no profile is stored
    ids = [a.id for rtype in ("customer", "product") for a in enqueue_many(rtype, month[rtype])]
    ids += [a.id for a in enqueue_many("invoice", [invoice])]
    system.workers(1)
    # Beat as in production: the customer's version with CAD may arrive while the first is in flight,
    # and is then deferred for 2 s; the retry sweep sends it when due (no later task may).
    system.beat()
    system.wait(ids[:-1], timeout=60)
    system.wait(ids[-1:], states=[State.WAITING], timeout=30)
    with session_scope(system.ctx.engine) as s:
        customer = s.scalars(
            select(Record).where(Record.record_type == "customer").order_by(Record.id.desc())
        ).first()
        assert customer.payload["currencies"] == ["CAD"]  # a new version of the customer, with CAD
    system.wait([customer.id], states=[State.WAITING], timeout=30)  # (a re-check may re-queue it once)
    with session_scope(system.ctx.engine) as s:
        reason = s.get(Record, customer.id).reason
    assert "currency CAD is not a currency of the NetSuite account" in reason
    # An administrator enables CAD (the account becomes one that has it) and the profile is read again.
    account = demo.demo_account() | {"kind": "full"}
    requests.post(f"{system.base}/_sandbox/accounts", json=account, timeout=10).raise_for_status()
    assert system.cli("integration", "discover").returncode == 0
    system.wait(ids, timeout=60)
    body = next(r for r in system.ns_records("invoice"))["body"]
    assert body["currency"] == {"id": "4"}  # CAD in the full account


def test_a_field_the_account_no_longer_has_makes_the_profile_read_again(system):
    system.start(rate_limit="50/1s", config=CONFIG, kind="full")
    system.workers(1)
    month = sample.month(
        n_customers=1, n_products=3, n_orders=0, n_invoices=2, n_payments=0, n_refunds=0, n_credit_memos=0
    )
    ids = [a.id for rtype in ("customer", "product") for a in enqueue_many(rtype, month[rtype])]
    ids += [a.id for a in enqueue_many("invoice", month["invoice"][:1])]
    system.wait(ids, timeout=60)
    first = system.ctx.integration("default").profile
    assert first is not None
    # The custom column is deleted in NetSuite: the account is now like the real one.
    account = demo.demo_account() | {"kind": "real-2025-09"}
    requests.post(f"{system.base}/_sandbox/accounts", json=account, timeout=10).raise_for_status()
    ids += [a.id for a in enqueue_many("invoice", month["invoice"][1:])]
    system.wait(ids, timeout=60)
    refused = [c for c in system.log() if c["status"] == 400]
    assert len(refused) == 1  # once, then read again and sent without it
    second = system.ctx.integration("default").profile
    assert second["read_at"] > first["read_at"]
    lines = system.ns_records("invoice")[-1]["body"]["item"]["items"]
    assert all("custcol_nue_line_id" not in line for line in lines)
