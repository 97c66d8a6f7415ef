"""A month of billing end to end: real PostgreSQL, Redis, worker processes and HTTP to the sandbox
NetSuite, in scheduled mode, enqueued in a shuffled order. Limits are time-scaled (100 calls/s).

Checked in the sandbox, not in the hub: every record exists once, invoice lines post to the income
account their product's type and category call for, payments and refunds sit on the clearing
account, and every applied amount is the Nue one.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select

from nue_ns import audit, sample
from nue_ns.context import get_context
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import create_integration, save_config, upsert_integration
from nue_ns.hub.models import Attempt, Batch, BatchState, Record, State
from nue_ns.integration import SANDBOX_GL, GlAccounts, IntegrationConfig, InvoiceLink, ListValue
from nue_ns.mapping.base import external_id
from nue_ns.netsuite.auth import Certificate, Credentials, OAuth2Credentials
from nue_ns.producer import InvalidBatch, enqueue_many
from nue_ns.records import validate
from nue_ns.sandbox import kinds
from nue_ns.sandbox import tax as sandbox_tax
from nue_ns.sandbox.kinds import DEFAULT_KIND
from tests.harness import ACCOUNT, System
from tests.oauth_support import (
    DEMO_CERT,
    DEMO_CLIENT,
    assert_one_token_per_lifetime,
    keypair,
    map_certificate,
    oauth2_env,
    token_log,
)

NS_TYPE = {
    "customer": "customer",
    "order": "salesOrder",
    "invoice": "invoice",
    "payment": "customerPayment",
    "refund": "customerRefund",
    "credit_memo": "creditMemo",
}
ITEM_TYPES = {
    "subscription": "nonInventorySaleItem",
    "entitlement": "serviceSaleItem",
    "asset": "inventoryItem",
}
INCOME = {"subscription": "5", "entitlement": "6", "asset": "7"}
CATEGORY_INCOME = {("Enterprise", "subscription"): "12", ("Training", "subscription"): "16"}
CLEARING = "4"
CENT = Decimal("0.01")
TAX_RATE = Decimal("8.25")
TOKEN_LIFETIME = 4.0  # seconds a sandbox access token lives in the OAuth 2.0 month
# Scheduled mode one record per call (batches: tests/test_batches.py): these tests count single writes.
CONFIG = IntegrationConfig(
    gl=SANDBOX_GL,
    subsidiary_id="1",
    scheduled_mode=True,
    batches=False,
    category_overrides={
        "Enterprise": GlAccounts(subscription_income="12", subscription_revenue="13"),
        "Training": GlAccounts(subscription_income="16", subscription_revenue="17"),
    },
)
SMALL = {
    "n_customers": 10,
    "n_products": 5,
    "n_orders": 10,
    "n_invoices": 15,
    "n_payments": 12,
    "n_refunds": 3,
    "n_credit_memos": 4,
}


def enqueue_shuffled(month: dict[str, list[dict]], seed: int = 7, integration: str = "default") -> list[int]:
    """Every record in a random order across types (consecutive same-type records in one call)."""
    items = [(rtype, rec) for rtype, recs in month.items() for rec in recs]
    random.Random(seed).shuffle(items)
    ids = []
    for rtype, run in itertools.groupby(items, key=lambda item: item[0]):
        ids += [a.id for a in enqueue_many(rtype, [rec for _, rec in run], integration=integration)]
    return ids


class Ledger:
    """The sandbox's records, by externalId and by internal id."""

    def __init__(self, system: System, account: str = ACCOUNT):
        self.records = system.sandbox_get("records", account=account)
        self.by_id = {r["id"]: r for r in self.records}
        self.by_eid: dict[str, dict] = {}
        counts = Counter(r["externalId"] for r in self.records if r["externalId"])
        assert max(counts.values()) == 1, f"exist twice: {[e for e, n in counts.items() if n > 1]}"
        for r in self.records:
            self.by_eid[r["externalId"]] = r

    def body(self, record_type: str, nue_id: str) -> dict[str, Any]:
        return self.by_eid[external_id(record_type, nue_id)]["body"]

    def eid_of(self, ref: dict) -> str:
        return self.by_id[ref["id"]]["externalId"]


def applied(lines: list[dict], ledger: Ledger) -> dict[str, Decimal]:
    return {
        ledger.eid_of(line["doc"]): Decimal(str(line["amount"])) for line in lines if line.get("apply", True)
    }


def nue_applied(apps: list[dict]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for a in apps:
        if "invoice_id" in a:
            out[external_id("invoice", a["invoice_id"])] += Decimal(a["amount"])
        elif a.get("payment_id"):
            out[external_id("payment", a["payment_id"])] += Decimal(a["amount"])
        else:
            out[external_id("credit_memo", a["credit_memo_id"])] += Decimal(a["amount"])
    return dict(out)


def expected_income(product: dict) -> str:
    kind = product["product_type"]
    return CATEGORY_INCOME.get((product.get("category"), kind), INCOME[kind])


def check_billing(
    system: System,
    month: dict[str, list[dict]],
    ledger: Ledger,
    link: InvoiceLink,
    integration: str = "default",
) -> None:
    """Every order billed by exactly its invoices (transform), or closed (standalone): none left
    pending billing, as SuiteQL shows NetSuite's order statuses."""
    conn = system.ctx.connection(system.ctx.integration(integration).id)
    q = "SELECT externalid, status FROM transaction WHERE type = 'SalesOrd'"
    statuses = {r["externalid"]: r["status"] for r in conn.client.suiteql(q)[0]["items"]}
    assert len(statuses) == len(month["order"])
    assert set(statuses.values()) == ({"G"} if link is InvoiceLink.transform else {"H"}), Counter(
        statuses.values()
    )
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for inv in month["invoice"]:
        for line in inv["lines"]:
            if line.get("order_line_id"):
                billed[line["order_line_id"]] += Decimal(line["quantity"])
    taxes = tax_item(ledger)
    for order in month["order"]:
        ns_lines = ledger.body("order", order["id"])["item"]["items"]
        # The order's tax-item lines (no SuiteTax) are closed: each invoice brings its own tax.
        assert all(line.get("isClosed") for line in ns_lines if line["item"]["id"] == taxes), order["id"]
        items = [line for line in ns_lines if line["item"]["id"] != taxes]
        for nue, ns in zip(order["lines"], items, strict=True):
            if link is InvoiceLink.transform:
                assert Decimal(str(ns["quantityBilled"])) == billed[nue["id"]], (order["id"], nue["id"])
            assert ns.get("isClosed", False) is (billed[nue["id"]] == 0 or link is InvoiceLink.standalone)


def add_tax(month: dict[str, list[dict]], rate: Decimal = TAX_RATE) -> dict[str, list[dict]]:
    """Tax on every other line (the first of each) of orders, invoices and credit memos; totals grow
    by it, so every application stays within what is open."""
    for doc_type in ("order", "invoice", "credit_memo"):
        for doc in month[doc_type]:
            for line in doc["lines"][::2]:
                tax = (Decimal(line["amount"]) * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
                line |= {"tax_amount": str(tax), "tax_rate": str(rate), "tax_code": "S-GB"}
                if "total" in doc:
                    doc["total"] = str(Decimal(doc["total"]) + tax)
    return month


def tax_item(ledger: Ledger) -> str | None:
    """The tax item a NetSuite user made (no externalId): tax lines of accounts without SuiteTax."""
    made = [r["id"] for r in ledger.records if r["type"] == "nonInventorySaleItem" and not r["externalId"]]
    return made[0] if made else None


def check_month(
    system: System,
    month: dict[str, list[dict]],
    kind: str = DEFAULT_KIND,
    link: InvoiceLink = InvoiceLink.transform,
    integration: str = "default",
    account_id: str = ACCOUNT,
) -> Ledger:
    """Every record once, where and in the currency Nue says, totals equal to Nue's to the cent
    (tax included); on an account `kind` without the line-id column or ARM, lines carry neither
    (the sandbox refuses what its schema lacks). `integration` writes to the sandbox's `account_id`."""
    account = kinds.kind(kind)
    column, arm = "line_id_column" in account.features, "arm" in account.features
    ledger = Ledger(system, account_id)
    taxes = tax_item(ledger)
    for rtype in ("order", "invoice", "credit_memo", "payment", "refund"):
        for doc in month[rtype]:
            body = ledger.body(rtype, doc["id"])
            # Posted in its own currency: the account's id for the Nue code, never a guessed one.
            assert body["currency"]["id"] == account.currency_id(doc["currency"]), (rtype, doc["id"])
            for line in body.get("apply", {}).get("items", []):  # applied to same-currency documents
                assert ledger.by_id[line["doc"]["id"]]["body"]["currency"] == body["currency"], doc["id"]
            customer = ledger.body("customer", doc["customer_id"])
            listed = {line["currency"]["id"] for line in customer.get("currencyList", {}).get("items", [])}
            assert body["currency"]["id"] in listed | {customer["currency"]["id"]}, doc["id"]
    for rtype, recs in month.items():
        if rtype == "product":
            continue
        found = {r["externalId"] for r in ledger.records if r["type"] == NS_TYPE[rtype]}
        assert found == {external_id(rtype, rec["id"]) for rec in recs}, rtype
    products = {p["id"]: p for p in month["product"]}
    for p in products.values():
        item = ledger.by_eid[external_id("product", p["id"])]
        assert item["type"] == ITEM_TYPES[p["product_type"]]

    open_amount: dict[str, Decimal] = {}
    for doc_type in ("order", "invoice", "credit_memo"):
        for doc in month[doc_type]:
            body = ledger.body(doc_type, doc["id"])
            assert body["entity"]["id"] == ledger.by_eid[external_id("customer", doc["customer_id"])]["id"]
            lines = [line for line in body["item"]["items"] if line["item"]["id"] != taxes]
            line_ids = [line.get("custcol_nue_line_id") for line in lines]
            assert line_ids == ([line["id"] for line in doc["lines"]] if column else [None] * len(lines))
            for sent, line in zip(lines, doc["lines"], strict=True):
                assert Decimal(str(sent["amount"])) == Decimal(line["amount"])
                item = ledger.by_id[sent["item"]["id"]]
                product = products[line["product_id"]]
                assert item["externalId"] == external_id("product", product["id"])
                assert item["body"]["incomeAccount"]["id"] == expected_income(product), (doc["id"], product)
                assert sent.get("revRecStartDate") == (line.get("start_date") if arm else None)
            total = validate(doc_type, doc).total  # its lines and their tax
            assert Decimal(str(body["total"])) == total, (doc["id"], body["total"], total)
            tax = sum((Decimal(line.get("tax_amount") or 0) for line in doc["lines"]), Decimal(0))
            if "suitetax" in account.features:
                assert Decimal(str(body.get("taxTotal") or 0)) == tax, doc["id"]
            else:
                posted = [
                    Decimal(str(i["amount"])) for i in body["item"]["items"] if i["item"]["id"] == taxes
                ]
                assert sum(posted, Decimal(0)) == tax, doc["id"]
            if doc_type == "invoice":
                open_amount[external_id("invoice", doc["id"])] = total
                if doc.get("order_id") and link is InvoiceLink.transform:  # made from its order
                    assert ledger.eid_of(body["createdFrom"]) == external_id("order", doc["order_id"])
                elif doc.get("order_id"):
                    assert "createdFrom" not in body
            if doc_type == "credit_memo" and doc.get("invoice_id"):  # made from its invoice
                assert ledger.eid_of(body["createdFrom"]) == external_id("invoice", doc["invoice_id"])
    check_billing(system, month, ledger, link, integration)

    for cm in month["credit_memo"]:
        body = ledger.body("credit_memo", cm["id"])
        assert applied(body.get("apply", {}).get("items", []), ledger) == nue_applied(
            cm.get("applications") or []
        )
        for eid, amount in nue_applied(cm.get("applications") or []).items():
            open_amount[eid] -= amount
    for pay in month["payment"]:
        body = ledger.body("payment", pay["id"])
        assert (
            body["account"]["id"] == CLEARING
            and body["undepFunds"] == {"id": "F"}
            and body["autoApply"] is False
        )
        assert Decimal(str(body["payment"])) == Decimal(pay["amount"])
        assert applied(body["apply"]["items"], ledger) == nue_applied(pay["applications"])
        for eid, amount in nue_applied(pay["applications"]).items():
            open_amount[eid] -= amount
    for ref in month["refund"]:
        body = ledger.body("refund", ref["id"])
        assert body["account"]["id"] == CLEARING
        assert Decimal(str(body["total"])) == Decimal(ref["amount"])
        assert applied(body["apply"]["items"], ledger) == nue_applied(ref["applications"])
    # NetSuite's own balance of each invoice is what Nue's applications leave open.
    for eid, remaining in open_amount.items():
        assert Decimal(str(ledger.by_eid[eid]["body"]["amountRemaining"])) == remaining, eid
    return ledger


def report_calls(system: System, n_records: int) -> dict[str, Any]:
    stats = system.stats()
    per_record = stats["calls"] / n_records
    print(
        f"\n{n_records} records transferred with {stats['calls']} NetSuite calls "
        f"({per_record:.3f} per record; {stats['writes']} writes, by status {stats['by_status']})"
    )
    assert stats["duplicates"] == []
    return stats | {"per_record": per_record}


def run_month(
    system: System,
    month: dict[str, list[dict]],
    timeout: float,
    config: IntegrationConfig = CONFIG,
    kind: str | None = None,
    taxed: bool = False,
    link: InvoiceLink = InvoiceLink.transform,
    workers: int = 2,
    **env: str,
) -> list[int]:
    config = config.model_copy(update={"invoice_link": link})
    system.start(
        rate_limit="100/1s", concurrency=5, config=config, kind=kind, NUE_NS_BATCH_SWEEP_SECONDS="2", **env
    )
    if taxed:  # the tax item a NetSuite user set up, and its liability account, in the mapping
        made = system.sandbox_post("switches", {"account": ACCOUNT, "seed_tax_item": True})["tax_item_id"]
        gl = config.gl.model_copy(update={"tax_liability": sandbox_tax.TAX_LIABILITY_ACCOUNT})
        save_config(system.ctx.engine, "default", config.model_copy(update={"gl": gl, "tax_item_id": made}))
    if env.get("NETSUITE_AUTH_METHOD") == "oauth2":  # map the certificate, as an administrator does
        map_certificate(system.base, ACCOUNT, DEMO_CLIENT, env["NETSUITE_CERTIFICATE_ID"], keypair()[1])
        system.sandbox_post("oauth/config", {"token_lifetime_s": TOKEN_LIFETIME})
    system.workers(workers, concurrency=4)
    ids = enqueue_shuffled(month)
    n = sum(len(recs) for recs in month.values())
    assert system.counts(ids) == {State.PARKED: n}  # scheduled: nothing leaves before the batch sweep
    started = time.monotonic()
    system.beat()
    system.wait(ids, timeout=timeout, what="the month")
    print(f"\nthe month ({n} records) took {time.monotonic() - started:.1f}s after the first batch sweep")
    return ids


def expected_calls(
    month: dict[str, list[dict]], link: InvoiceLink, tax_lines: bool = False
) -> tuple[int, int]:
    """(writes, reads) a month costs when nothing fails: one write per record; in transform mode
    one read of the order per invoice of an order and one PATCH where it closes order lines (lines
    it does not bill, or, where tax goes as tax-item lines, the order's tax lines)."""
    n = sum(len(recs) for recs in month.values())
    if link is InvoiceLink.standalone:
        return n, 0
    orders = {o["id"]: o for o in month["order"]}
    linked = [i for i in month["invoice"] if i.get("order_id")]
    closing = 0
    for inv in linked:
        billed = {line.get("order_line_id") for line in inv["lines"]} | set(
            inv.get("order_lines_billed_later") or ()
        )
        lines = orders[inv["order_id"]]["lines"]
        taxed = tax_lines and any(line.get("tax_amount") for line in lines)
        closing += taxed or any(line["id"] not in billed for line in lines)
    return n + closing, len(linked)


@pytest.mark.parametrize(
    "link",
    [InvoiceLink.transform, pytest.param(InvoiceLink.standalone, marks=pytest.mark.slow)],  # 15 s: make chaos
)
def test_a_month_in_scheduled_mode(system, link):
    month = sample.month()
    assert {k: len(v) for k, v in month.items()} == {
        "customer": 50,
        "product": 20,
        "order": 100,
        "invoice": 150,
        "credit_memo": 15,
        "payment": 120,
        "refund": 10,
    }
    assert {p["product_type"] for p in month["product"]} == set(ITEM_TYPES)
    assert {p.get("category") for p in month["product"]} == {None, "Enterprise", "SMB", "Training"}
    ids = run_month(system, month, timeout=300, link=link)
    stats = report_calls(system, len(ids))  # before check_month's own SuiteQL query
    check_month(system, month, link=link)
    # The writes and reads each record needs and the account profile's read (which checks the GL
    # accounts too): no retries, nothing doubled (the order a closing invoice comes from is
    # written twice: created, closed).
    writes, reads = expected_calls(month, link)
    assert stats["writes"] == writes
    assert stats["calls"] == writes + reads + profile_calls(system)


def profile_calls(system: System) -> int:
    """What reading the account profile cost (it is read once, by the first transfer)."""
    stored = system.ctx.integration("default").profile
    assert stored is not None and stored["read_at"]
    return stored["calls"]


# Each kind of account with the subsidiaries its customers use and how items reach them.
KINDS = {
    "real-2025-09": ((), {}),
    "arm": (("2", "3"), {"item_subsidiaries": ["1"], "item_include_children": True}),
    "suitetax": (("1", "2"), {"item_subsidiaries": ["1", "2"]}),
}
CURRENCIES = ("USD", "EUR", "GBP")


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_month_in_several_currencies_on_each_kind_of_account(system, kind):
    subsidiaries, items = KINDS[kind]
    month = add_tax(sample.month(
        n_customers=15, n_products=9, n_orders=25, n_invoices=40, n_payments=30, n_refunds=6,
        n_credit_memos=8, currencies=CURRENCIES, subsidiaries=subsidiaries,
    ))  # fmt: skip
    config = CONFIG.model_copy(update=items)
    ids = run_month(system, month, timeout=240, config=config, kind=kind, taxed=True)
    stats = report_calls(system, len(ids))  # before check_month's own SuiteQL query
    ledger = check_month(system, month, kind)
    # A customer transacting in a currency besides its primary one was sent once more, with it
    # on its currency list, before those transactions; nothing else was sent twice.
    extra = {
        c["id"]: {
            d["currency"] for t in NS_TYPE if t != "customer" for d in month[t] if d["customer_id"] == c["id"]
        }
        - {c["currency"]}
        for c in month["customer"]
    }
    assert sum(map(len, extra.values())) > 0
    for c in month["customer"]:
        listed = ledger.body("customer", c["id"]).get("currencyList", {}).get("items", [])
        codes = {kinds.kind(kind).currencies[line["currency"]["id"]] for line in listed}
        assert codes == extra[c["id"]], c["id"]
    resent = {
        e: n
        for e, n in stats["writes_by_external_id"].items()
        if n > 1 and not e.startswith(external_id("order", ""))  # an order written, then its lines closed
    }
    assert set(resent) <= {external_id("customer", c) for c, more in extra.items() if more}
    tax_lines = "suitetax" not in kinds.kind(kind).features
    writes, reads = expected_calls(month, InvoiceLink.transform, tax_lines)
    assert stats["writes"] == writes + sum(n - 1 for n in resent.values())
    assert stats["by_status"].keys() <= {"200", "204"}  # nothing refused: no field the account lacks
    assert stats["calls"] == stats["writes"] + reads + profile_calls(system)


# Every behaviour the sandbox has a switch for, at the value that is harder on nue-ns (each one's
# source or [U] in docs/NETSUITE.md). Per account: POST /_sandbox/switches.
HARD_SWITCHES: dict[str, Any] = {
    "tax_schedule_required": True,  # Advanced Taxes: an item without a tax schedule is refused
    "engine_rate": "20",  # SuiteTax's engine disagrees with Nue's rate: only the details sent count
    "tran_id_override": [],  # Allow Override off for every type, and a tranId sent ...
    "tran_id_refused": True,  # ... refused rather than ignored
    "auto_apply_default": True,  # a payment sent without autoApply applies itself, oldest first
    "catalog_ignores_unknown_types": True,  # a type the account lacks silently left out (not a 400)
    "items_everywhere_without_list": False,  # an item without a subsidiary list: the parent only
    "linked_line_replace": "refuse",  # a billed order's lines, or its invoice's, are never replaced
    "tax_code_column": "name",  # SuiteQL salestaxitem has no itemid: only the fallback query reads it
    "undep_funds_default": True,  # a payment without undepFunds goes to Undeposited Funds
    "tax_and_cogs_lines": True,  # transactionline holds tax and COGS lines beside the item lines
    "result_name_case": "upper",  # SuiteQL's result names in upper case: every reader still reads them
    "currency_precision_column": "none",  # SuiteQL's currency has no precision: the profile falls back
    "departments_mandatory": True,  # Make Departments / Classes / Locations Mandatory: on the header
    "classes_mandatory": True,  # and every item line of each transaction (the mapping sets them)
    "locations_mandatory": True,
    # Custom fields the account makes mandatory (the real account's own fields), given in field_values.
    "mandatory_fields": {
        "customer": {"custentity_bb1_market": "Market"},
        "invoice": {"custbody_transaction_region": "Region", "item.custcol_bb1_labour_type": "Labour Type"},
    },
}
# The account's own departments, classes and locations (sandbox/classifications.py SEEDED), set in
# the mapping as an administrator does where the account makes them mandatory.
CLASSIFIED = {"department_id": "12", "class_id": "21", "location_id": "32"}
FIELD_VALUES = {  # as the mapping holds them (model_copy does not validate)
    "customer": {"custentity_bb1_market": ListValue(id="7")},
    "invoice": {
        "custbody_transaction_region": ListValue(id="3"),
        "item.custcol_bb1_labour_type": ListValue(id="4"),
    },
}
# Where two values are both plausible and neither is harder, the kinds share them out so that the
# test covers each: who gives the Customer ID (and the code of a taken one), and how the account
# answers batches (refused with a 400 that reads like a record's refusal; per-record or one-task
# results; a repeated idempotency key refused with 409, or forgotten so the job runs again).
PER_KIND: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "real-2025-09": (
        {"customer_auto_numbering": False, "duplicate_customer_id_code": "USER_ERROR"},
        {"batches": "400"},
    ),
    "arm": (
        {"customer_auto_numbering": True},  # names may repeat; a sent entityId would not stick
        {"result_shape": "task_per_record", "duplicate_key": "new_job", "lost_job_probability": 0.3},
    ),
    "suitetax": (
        {"customer_auto_numbering": False, "duplicate_customer_id_code": "UNIQUE_CUST_ID_REQD"},
        {"result_shape": "one_task", "duplicate_key": "409", "lost_job_probability": 0.3},
    ),
}
# OAuth 2.0 (sandbox-wide): no clock leeway, a bad assertion answered invalid_grant, tokens dying
# with their certificate, token requests taking one of the account's concurrent slots.
HARD_OAUTH = {
    "clock_skew_s": 0,
    "assertion_error": "invalid_grant",
    "revoke_kills_tokens": True,
    "token_requests_use_concurrency": True,
}
BATCHING = {
    "NUE_NS_RETRY_SWEEP_SECONDS": "0.5",
    "NUE_NS_BATCH_POLL_FIRST": "0.3",
    "NUE_NS_BATCH_POLL_MAX": "1",
    "NUE_NS_BATCH_SIZE": "20",
}


# The three accounts, side by side in one sandbox (switches are per account): kind -> (account,
# integration). The default integration's account takes the kind the sandbox starts with.
HARD_ACCOUNTS = {
    "real-2025-09": (ACCOUNT, "default"),
    "arm": ("TSTDRVHARD2", "hard-arm"),
    "suitetax": ("TSTDRVHARD3", "hard-suitetax"),
}


def _connect(system: System, kind: str, seq: int) -> None:
    """The account of `kind` as its administrator sets it up: registered with its OAuth 2.0 client
    (the default one from NETSUITE_* variables), its tax item and liability account in the mapping,
    and every switch at its harder value; the integration to it."""
    account, name = HARD_ACCOUNTS[kind]
    if name == "default":
        map_certificate(system.base, account, DEMO_CLIENT, DEMO_CERT, keypair()[1])
    else:
        tba = {n: "unused" for n in ("consumer_key", "consumer_secret", "token_id", "token_secret")}
        system.sandbox_post("accounts", {"account_id": account, "kind": kind, "concurrency_limit": 5} | tba)
        client, cert = f"{name}-client", f"{name}-cert"
        map_certificate(system.base, account, client, cert, keypair("ec", seq)[1])
        key = Certificate(cert, private_key_pem=keypair("ec", seq)[0])
        create_integration(
            system.ctx.engine, system.ctx.settings, name, account_id=account,
            credentials=OAuth2Credentials(client, (key,), cert), rest_url=f"{system.base}/services/rest",
            rate_limit="100/1s", concurrency=5,
        )  # fmt: skip
    numbering, batches = PER_KIND[kind]
    switched = system.sandbox_post(
        "switches", {"account": account, "seed_tax_item": True} | HARD_SWITCHES | numbering
    )
    assert switched["kind"] == kind and {k: switched[k] for k in HARD_SWITCHES} == HARD_SWITCHES
    system.sandbox_post("async", {"account": account, "seed": 5} | batches)
    if "batches" not in batches:  # a submit's answer lost: the same idempotency key again
        lost = {"account": account, "kind": "lost_after_commit", "type": "batch", "count": 1, "delay_s": 3.5}
        system.sandbox_post("faults", lost)
    # A second A/R account (sandbox/chart.py), so payments find their invoices only by naming it.
    gl = SANDBOX_GL.model_copy(
        update={"tax_liability": sandbox_tax.TAX_LIABILITY_ACCOUNT, "receivables": "19"}
    )
    config = CONFIG.model_copy(
        update=KINDS[kind][1]
        | {"gl": gl, "tax_item_id": switched["tax_item_id"], "batches": True, "tax_schedule_id": "1"}
        | CLASSIFIED
        | {"field_values": FIELD_VALUES}
    )
    save_config(system.ctx.engine, name, config)


def _hard_month(kind: str) -> dict[str, list[dict]]:
    month = add_tax(sample.month(
        n_customers=6, n_products=4, n_orders=4, n_invoices=7, n_payments=5, n_refunds=2,
        n_credit_memos=3, currencies=CURRENCIES, subsidiaries=KINDS[kind][0], seed=11,
    ))  # fmt: skip
    # Two customers of one name: where NetSuite does not number customers, the second is refused.
    first, twin = [c for c in month["customer"] if not c.get("is_person")][:2]
    twin["name"] = first["name"]
    return month


def test_a_month_on_each_kind_of_account_with_every_switch_at_its_harder_value(system):
    """Three accounts (real-2025-09, arm, suitetax) in one sandbox, each with every switch at the
    value harder on nue-ns, each with its own month in several currencies with tax, run at once by
    the same workers: every record once, right, in each."""
    system.start(
        rate_limit="100/1s", concurrency=5, kind="real-2025-09", NUE_NS_BATCH_SWEEP_SECONDS="2",
        **BATCHING, **oauth2_env(system.work_dir),
    )  # fmt: skip
    system.sandbox_post("oauth/config", HARD_OAUTH | {"token_lifetime_s": TOKEN_LIFETIME})
    for seq, kind in enumerate(HARD_ACCOUNTS):
        _connect(system, kind, seq)
    system.workers(2, concurrency=4)
    months = {kind: _hard_month(kind) for kind in HARD_ACCOUNTS}
    ids = {kind: enqueue_shuffled(months[kind], integration=HARD_ACCOUNTS[kind][1]) for kind in HARD_ACCOUNTS}
    started = time.monotonic()
    system.beat()
    system.wait([i for of_kind in ids.values() for i in of_kind], timeout=120, what="the three months")
    # A day later one customer changes (a batch of one update, whose answer only its task's result
    # gives: under one_task the result still lists it).
    edited = {kind: months[kind]["customer"][-1] | {"email": "new-ap@example.com"} for kind in HARD_ACCOUNTS}
    again = {
        kind: enqueue_many("customer", [c], integration=HARD_ACCOUNTS[kind][1])[0].id
        for kind, c in edited.items()
    }
    system.wait(again.values(), timeout=30, what="the changed customers")
    print(f"\nthree months ({sum(map(len, ids.values()))} records) took {time.monotonic() - started:.1f}s")

    for kind, (account, name) in HARD_ACCOUNTS.items():
        month = months[kind]
        stats = system.sandbox_get("stats", account=account)
        assert stats["duplicates"] == [], kind  # no record made twice
        ledger = check_month(system, month, kind, integration=name, account_id=account)
        for product in month["product"]:  # the account's tax schedule on every item
            assert ledger.body("product", product["id"])["taxSchedule"] == {"id": "1"}, kind
        first, twin = [c for c in month["customer"] if not c.get("is_person")][:2]
        shown = {c: ledger.body("customer", c)["entityId"] for c in (first["id"], twin["id"])}
        if PER_KIND[kind][0]["customer_auto_numbering"]:  # numbered by NetSuite: the name never refused
            assert all(n.isdigit() for n in shown.values()) and len(set(shown.values())) == 2, shown
        else:  # one keeps the name; the other was sent once more under a unique Customer ID
            assert sorted(shown.values()) in (
                sorted([first["name"], f"{first['name']} ({c})"]) for c in shown
            ), shown
        assert ledger.body("customer", edited[kind]["id"])["email"] == "new-ap@example.com", kind
        assert all(
            ledger.body("customer", c["id"])["custentity_bb1_market"] == {"id": "7"}
            for c in month["customer"]
        )
        for pay in month["payment"]:  # applied to invoices of the second A/R account: named on it too
            assert ledger.body("payment", pay["id"])["arAcct"] == {"id": "19"}, kind
        for inv in month["invoice"]:  # NetSuite numbered each invoice; Nue's number is in the memo
            body = ledger.body("invoice", inv["id"])
            assert body["tranId"] != inv["invoice_number"] and inv["invoice_number"] in body["memo"]
            assert body["account"] == {"id": "19"}, kind  # the integration's A/R account
            # The mandatory custom fields, on the body and on every line.
            assert body["custbody_transaction_region"] == {"id": "3"}, kind
            assert all(line["custcol_bb1_labour_type"] == {"id": "4"} for line in body["item"]["items"]), kind
            # The mandatory classifications on the header and every line (tax lines included).
            for part in (body, *body["item"]["items"]):
                assert {f: part.get(f) for f in ("department", "class", "location")} == {
                    "department": {"id": "12"},
                    "class": {"id": "21"},
                    "location": {"id": "32"},
                }, (kind, inv["id"])
        # The profile fell back to the currencies' usual places where SuiteQL had no precision column.
        assert system.ctx.integration(name).profile["currency_precision"] == {}, kind
        # The audit's SuiteQL (transactionline with tax and COGS lines) finds every record as sent.
        report = audit.verify(system.ctx, name)
        assert report.ok and report.checked == len(ids[kind]), report.as_json()
        if kind == "suitetax":  # the tax codes, read by their `name` column
            assert system.ctx.integration(name).profile["tax_codes"]["S-GB"] == "21"
        statuses = [c["status"] for c in system.sandbox_get("log", account=account) if c["type"] == "batch"]
        lost_jobs = [
            c
            for c in system.sandbox_get("log", account=account)
            if c["type"] == "async" and c["status"] == 404
        ]
        integration = system.ctx.integration(name)
        with session_scope(system.ctx.engine) as s:
            formed = [
                (b.state, b.succeeded, [item["record_id"] for item in b.items], b.submits)
                for b in s.scalars(select(Batch).where(Batch.integration_id == integration.id))
            ]
        if "batches" in PER_KIND[kind][1]:  # refused (once per batch formed by then), then one by one
            assert statuses and set(statuses) == {400}, kind
            assert integration.settings["batches_unsupported"]
            assert {state for state, *_ in formed} == {BatchState.ABANDONED}
            continue
        assert {state for state, *_ in formed} == {BatchState.DONE}, kind
        assert sum(n for _, n, _, _ in formed) > len(ids[kind]) / 2, kind  # most records in batches
        assert (BatchState.DONE, 1, [again[kind]], 1) in formed, kind  # the batch of one, read as done
        assert lost_jobs, kind  # a job NetSuite lost was resolved by SuiteQL
        # The submit whose answer was lost went again with its key: refused with 409 naming the job,
        # or (the key forgotten) run again as a new job; one batch either way.
        assert [n for *_, n in formed if n > 1] == [2], kind
        assert statuses.count(409) == (1 if PER_KIND[kind][1]["duplicate_key"] == "409" else 0), kind
    tokens = requests.get(f"{system.base}/_sandbox/oauth/tokens", timeout=10).json()["log"]
    assert {e["account"] for e in tokens} == {a for a, _ in HARD_ACCOUNTS.values()}
    assert [e for e in tokens if e["status"] != 200] == []  # no assertion refused, without clock skew
    with session_scope(system.ctx.engine) as s:  # not one call refused for its token
        assert s.scalars(select(Attempt.id).where(Attempt.status == 401)).all() == []


def test_a_month_with_oauth2_and_one_shared_token_per_lifetime(system):
    """As above with OAuth 2.0 client credentials and three worker processes; the sandbox's tokens
    live TOKEN_LIFETIME seconds, so the month needs several, each asked for exactly once."""
    month = sample.month()
    started = time.time()
    ids = run_month(system, month, timeout=300, workers=3, **oauth2_env(system.work_dir))
    stats = report_calls(system, len(ids))  # before check_month's own SuiteQL query
    check_month(system, month, link=InvoiceLink.transform)
    writes, reads = expected_calls(month, InvoiceLink.transform)  # as with TBA: nothing doubled
    assert stats["writes"] == writes and stats["calls"] == writes + reads + profile_calls(system)
    log = token_log(system.base)
    assert [e["status"] for e in log if e["status"] != 200] == []
    issued = assert_one_token_per_lifetime(log, TOKEN_LIFETIME, time.time() - started)
    assert len(issued) >= 2  # the month outlived a token: it was renewed
    print(f"{len(issued)} OAuth 2.0 token requests for the month")
    with session_scope(system.ctx.engine) as s:  # not one call was refused for its token
        assert s.scalars(select(Attempt.id).where(Attempt.status == 401)).all() == []


def _versions(system: System, record_type: str, nue_id: str) -> list[str]:
    with session_scope(system.ctx.engine) as s:
        return list(
            s.scalars(
                select(Record.state)
                .where(Record.record_type == record_type, Record.nue_id == nue_id)
                .order_by(Record.id)
            )
        )


def test_changed_records_are_upserted_again_without_doubling_lines(system):
    month = sample.month(**SMALL)
    run_month(system, month, timeout=120)
    paid = {a["invoice_id"] for p in month["payment"] for a in p["applications"]}
    paid |= {a["invoice_id"] for c in month["credit_memo"] for a in c.get("applications") or []}
    # An invoice of its own (no order): its lines are replaced. One made from its order: see below.
    invoice = next(i for i in month["invoice"] if i["id"] not in paid and not i.get("order_id"))
    customer, product = month["customer"][0], month["product"][0]
    first = invoice["lines"][0]
    extra = first | {"id": f"{invoice['id']}-L9", "quantity": "1", "amount": first["unit_price"]}
    changed_invoice = invoice | {
        "lines": [*invoice["lines"], extra],
        "total": str(Decimal(invoice["total"]) + Decimal(first["unit_price"])),
    }
    ids = [a.id for a in enqueue_many("customer", [customer | {"email": "new-ap@example.com"}])]
    ids += [a.id for a in enqueue_many("product", [product | {"name": "Renamed product"}])]
    ids += [a.id for a in enqueue_many("invoice", [changed_invoice])]
    system.wait(ids, timeout=60, what="the changed records")

    ledger = Ledger(system)  # asserts that nothing exists twice
    assert ledger.body("customer", customer["id"])["email"] == "new-ap@example.com"
    assert ledger.body("product", product["id"])["displayName"] == "Renamed product"
    lines = ledger.body("invoice", invoice["id"])["item"]["items"]
    assert [line["custcol_nue_line_id"] for line in lines] == [
        line["id"] for line in changed_invoice["lines"]
    ]
    assert Decimal(str(ledger.body("invoice", invoice["id"])["total"])) == Decimal(changed_invoice["total"])
    puts = [c for c in system.log() if c.get("external_id") == external_id("invoice", invoice["id"])]
    # Both sends replace the lines (and, in this SuiteTax account, the tax details): never doubled.
    assert [c["replace"] for c in puts] == [["item", "taxDetails"]] * 2
    # A billed order and an invoice made from it: lines are NetSuite's history now. Only the header
    # changes; the line changes are named for a person, and nothing is doubled or dropped.
    linked = next(i for i in month["invoice"] if i.get("order_id") and i["id"] not in paid)
    order = next(o for o in month["order"] if o["id"] == linked["order_id"])
    before = Ledger(system)
    ns_lines = before.body("invoice", linked["id"])["item"]["items"]
    new_order = order | {"order_number": order["order_number"] + "-R", "lines": order["lines"][:1]}
    new_invoice = linked | {
        "due_date": "2025-05-30",
        "lines": linked["lines"][:1],
        "total": linked["lines"][0]["amount"],
    }
    if len(linked["lines"]) == 1:
        new_invoice["lines"] = [linked["lines"][0] | {"description": "renamed"}]
    ids = [a.id for a in enqueue_many("order", [new_order])] + [
        a.id for a in enqueue_many("invoice", [new_invoice])
    ]
    system.wait(ids, states=[State.FAILED], timeout=60, what="the linked documents")
    after = Ledger(system)
    assert after.body("invoice", linked["id"])["dueDate"] == "2025-05-30"
    assert after.body("invoice", linked["id"])["item"]["items"] == ns_lines
    assert after.body("order", order["id"])["memo"] == new_order["order_number"]
    assert len(after.body("order", order["id"])["item"]["items"]) == len(order["lines"])
    assert "lines are linked in NetSuite, only its header was updated" in _reason(system, ids[1])
    assert f"line {linked['lines'][-1]['id']}" in _reason(system, ids[1])
    # The hub keeps both versions and the outcome of each.
    for rtype, nue_id in (
        ("customer", customer["id"]),
        ("product", product["id"]),
        ("invoice", invoice["id"]),
    ):
        assert _versions(system, rtype, nue_id) == [State.TRANSFERRED, State.TRANSFERRED]


def test_misconfigured_accounts_block_sending_until_the_mapping_is_fixed(system):
    bad = IntegrationConfig(
        gl=SANDBOX_GL.model_copy(update={"subscription_income": "15", "clearing": "999"}),
        subsidiary_id="1",
        category_overrides={"Enterprise": GlAccounts(entitlement_income="14")},
    )
    system.start(rate_limit="50/1s", config=bad)
    system.workers(1)
    month = sample.month(
        n_customers=3, n_products=6, n_orders=0, n_invoices=3, n_payments=2, n_refunds=0, n_credit_memos=0
    )
    products = month["product"] + [
        {
            "id": "PROD-ENT",
            "sku": "ENT-1",
            "name": "Enterprise support",
            "product_type": "entitlement",
            "category": "Enterprise",
        }
    ]
    month["product"] = products
    ids = enqueue_shuffled(month)
    gated = [a for a in ids if _type_of(system, a) == "product"]
    # Payments wait for their invoices, which wait for their items, which wait for the mapping.
    waiting = [a for a in ids if _type_of(system, a) in ("product", "invoice", "payment")]
    system.wait(waiting, states=[State.WAITING], timeout=30, what="products, invoices and payments")
    reasons = {_reason(system, a) for a in gated}
    assert len(reasons) == 1
    reason = reasons.pop()
    assert reason.startswith("waiting for the integration mapping: ")
    assert (
        "subscription_income: account 15 (6000 Office Expense) is of type Expense (expected Income)" in reason
    )
    assert (
        "clearing: account 999 does not exist in NetSuite (expected an active Bank or OthCurrAsset" in reason
    )
    assert "Enterprise.entitlement_income: account 14 (4900 Old Income (inactive)) is inactive" in reason
    # Customers do not depend on GL accounts; nothing else reached NetSuite.
    assert {r["type"] for r in system.ns_records()} == {"customer"}
    suiteql = [c for c in system.log() if c["path"].endswith("/suiteql")]
    # The account profile's queries (one of them the GL check) once per mapping, not per record.
    assert len(suiteql) == profile_calls(system) - 1

    out = system.cli("integration", "validate")
    assert out.returncode == 1 and "account 15 (6000 Office Expense)" in out.stderr
    refused = system.cli("integration", "set", "--gl", "subscription_income=14")
    assert refused.returncode == 1 and "nothing saved" in refused.stderr
    assert "subscription_income: account 14 (4900 Old Income (inactive)) is inactive" in refused.stderr
    shown = json.loads(system.cli("integration", "show").stdout)
    assert shown["config"]["gl"]["subscription_income"] == "15"  # unchanged

    fixed = system.cli(
        "integration",
        "set",
        "--gl",
        "subscription_income=5",
        "--gl",
        "clearing=4",
        "--override",
        "Enterprise.entitlement_income=16",
    )
    assert fixed.returncode == 0, fixed.stderr
    view = json.loads(fixed.stdout)
    assert view["config"]["validation"]["valid"] is True and view["records_released"] == len(gated)
    system.wait(ids, timeout=60)
    ledger = Ledger(system)
    assert ledger.body("product", "PROD-ENT")["incomeAccount"] == {"id": "16"}
    for pay in month["payment"]:
        assert ledger.body("payment", pay["id"])["account"] == {"id": CLEARING}
    with session_scope(system.ctx.engine) as s:  # the CLI's checks are in the audit log, on no record
        cli_checks = s.scalars(select(Attempt.outcome).where(Attempt.record_id.is_(None))).all()
    assert sorted(cli_checks) == ["validated", "validated", "validated"]


def _type_of(system: System, record_id: int) -> str:
    with session_scope(system.ctx.engine) as s:
        return s.get(Record, record_id).record_type


def _reason(system: System, record_id: int) -> str:
    with session_scope(system.ctx.engine) as s:
        return s.get(Record, record_id).reason


def test_drafts_are_refused_at_enqueue_naming_the_status(env):
    ctx = get_context()
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "default",
        account_id="TEST1",
        credentials=Credentials("ck", "cs", "tid", "ts"),
        rest_url="http://127.0.0.1:9/x",
    )
    month = sample.month(**SMALL)
    draft = month["invoice"][0] | {"status": "Draft"}
    with pytest.raises(InvalidBatch) as exc:
        enqueue_many("invoice", [month["invoice"][1], draft], ctx=ctx, dispatch_now=False)
    assert exc.value.as_json() == [
        {
            "index": 1,
            "type": "invoice",
            "errors": [
                {
                    "field": "status",
                    "reason": "is 'Draft': the invoice goes to NetSuite only once it is active or "
                    "activated or posted; enqueue it again then",
                }
            ],
        }
    ]
    unactivated = {k: v for k, v in month["order"][0].items() if k != "activated_at"}
    with pytest.raises(InvalidBatch, match="activated_at"):
        enqueue_many("order", [unactivated], ctx=ctx, dispatch_now=False)
    with session_scope(ctx.engine) as s:
        assert s.scalars(select(Record.id)).all() == []  # all or nothing


def test_a_failed_account_check_is_retried_and_then_the_records_go(system):
    system.start(rate_limit="50/1s", config=CONFIG.model_copy(update={"scheduled_mode": False}))
    system.sandbox_post("faults", {"kind": "500", "method": "POST", "type": "suiteql", "count": 1})
    system.workers(1)
    system.beat()
    products = sample.products(3)
    ids = [a.id for a in enqueue_many("product", products)]
    system.wait(ids, timeout=60)
    checks = [c["status"] for c in system.log() if c["path"].endswith("/suiteql")]
    # NetSuite's fault on the account profile's first query was asked again at once, within the
    # one read of the profile (the GL check among its queries) that served all: its calls are the
    # catalog, the failed query and the queries answered.
    queries = profile_calls(system) - 2
    assert checks == [500] + [200] * queries
    with session_scope(system.ctx.engine) as s:
        outcomes = s.scalars(select(Attempt.outcome).where(Attempt.url.like("%/suiteql%"))).all()
    assert sorted(outcomes) == ["profile"] * queries + ["transient"]


def _lost_transforms(system: System, invoices: int, credit_memos: int) -> None:
    """Transforms NetSuite commits but whose answer never arrives (the client times out at 3 s)."""
    for ns_type, count in (("invoice", invoices), ("creditMemo", credit_memos)):
        fault = {
            "kind": "lost_after_commit",
            "method": "POST",
            "type": ns_type,
            "count": count,
            "delay_s": 3.5,
        }
        system.sandbox_post("faults", fault)


def _check_exactly_once(system: System, month: dict[str, list[dict]], lost: int) -> None:
    stats = report_calls(system, sum(len(recs) for recs in month.values()))  # no duplicates
    assert sum(1 for c in system.log() if c["fault"] == "lost_after_commit") == lost
    check_month(system, month)  # every document once, linked to its source, totals Nue's
    found = [c for c in system.log() if c["method"] == "GET" and "/eid:" in c["path"] and c["status"] == 200]
    assert len(found) >= lost  # each lost answer was resolved by reading the document
    assert stats["duplicates"] == []


def test_transforms_whose_answer_was_lost_make_each_document_once(system):
    month = sample.month(**SMALL)
    system.start(rate_limit="100/1s", concurrency=5, config=CONFIG, NUE_NS_BATCH_SWEEP_SECONDS="2")
    _lost_transforms(system, invoices=6, credit_memos=3)
    system.workers(2, concurrency=4)
    ids = enqueue_shuffled(month)
    system.beat()
    system.wait(ids, timeout=180, what="the month with lost answers")
    _check_exactly_once(system, month, lost=9)


@pytest.mark.slow
def test_fifty_lost_transform_answers_in_a_month_make_no_duplicates(system):
    month = sample.month()
    system.start(rate_limit="100/1s", concurrency=5, config=CONFIG, NUE_NS_BATCH_SWEEP_SECONDS="2")
    _lost_transforms(system, invoices=40, credit_memos=10)
    system.workers(2, concurrency=4)
    ids = enqueue_shuffled(month)
    system.beat()
    system.wait(ids, timeout=600, what="the month with 50 lost answers")
    _check_exactly_once(system, month, lost=50)
