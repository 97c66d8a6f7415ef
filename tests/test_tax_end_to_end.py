"""A month with taxed and untaxed lines end to end (real PostgreSQL, Redis, worker processes and
HTTP to the sandbox) in a SuiteTax account and in one without SuiteTax: every record Transferred,
every NetSuite total equal to Nue's to the cent, tax posted the account's way, NetSuite numbering
the documents, payments applied only where Nue applied them, one write per record."""

from __future__ import annotations

import copy
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from nue_ns import audit, sample
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import save_config
from nue_ns.hub.models import Record
from nue_ns.hub.queries import record_view
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import external_id
from nue_ns.records import validate
from nue_ns.sandbox import tax as sandbox_tax
from tests.harness import ACCOUNT, System
from tests.test_month_end_to_end import Ledger, add_tax, applied, enqueue_shuffled, nue_applied

CENT = Decimal("0.01")
RATE = Decimal("8.25")
SMALL = {"n_customers": 6, "n_products": 5, "n_orders": 6, "n_invoices": 10, "n_payments": 8}
SMALL |= {"n_refunds": 2, "n_credit_memos": 3}
DOCS = ("order", "invoice", "credit_memo")


def taxed_month() -> dict[str, list[dict[str, Any]]]:
    """The sample month with tax on every other line (the first of each document) and one usage
    line priced at $0.0015 a unit; totals grow by the tax, so every application stays valid."""
    month = copy.deepcopy(sample.month(**SMALL))
    first = month["invoice"][0]
    first["lines"].append(
        {"id": f"{first['id']}-U", "product_id": first["lines"][0]["product_id"]}
        | {"quantity": "1000", "unit_price": "0.0015", "amount": "1.50"}
    )
    first["total"] = str(Decimal(first["total"]) + Decimal("1.50"))
    return add_tax(month, RATE)


def run(system: System, kind: str, month: dict[str, list[dict[str, Any]]]) -> list[int]:
    """The month on a sandbox account of `kind`; nue-ns reads the account's profile itself."""
    system.start(rate_limit="100/1s", concurrency=5, kind=kind)
    switched = system.sandbox_post("switches", {"account": ACCOUNT, "seed_tax_item": True})
    config = IntegrationConfig(
        gl=SANDBOX_GL.model_copy(update={"tax_liability": sandbox_tax.TAX_LIABILITY_ACCOUNT}),
        subsidiary_id="1",
        tax_item_id=switched["tax_item_id"],
    )
    save_config(system.ctx.engine, "default", config)
    system.workers(2, concurrency=4)
    ids = enqueue_shuffled(month)
    system.wait(ids, timeout=240, what="the taxed month")
    return ids


def nue_total(doc_type: str, doc: dict[str, Any]) -> Decimal:
    return validate(doc_type, doc).total  # lines and their tax


def check(system: System, month: dict[str, list[dict[str, Any]]], suitetax: bool, tax_item: str) -> None:
    ledger = Ledger(system)
    taxed_lines = 0
    open_amount: dict[str, Decimal] = {}
    for doc_type in DOCS:
        for doc in month[doc_type]:
            rec = ledger.by_eid[external_id(doc_type, doc["id"])]
            body = rec["body"]
            total = nue_total(doc_type, doc)
            assert Decimal(str(body["total"])) == total, (doc["id"], body["total"], total)  # to the cent
            number = doc.get("order_number") or doc.get("invoice_number") or doc.get("credit_memo_number")
            assert body["memo"] == number and body["tranId"] != number  # NetSuite numbered it
            taxes = [Decimal(line["tax_amount"]) for line in doc["lines"] if "tax_amount" in line]
            taxed_lines += len(taxes)
            items = body["item"]["items"]
            if suitetax:
                assert body["taxDetailsOverride"] is True
                assert Decimal(str(body["taxTotal"])) == sum(taxes, Decimal(0))
                assert len(items) == len(doc["lines"])
            else:
                assert "taxDetails" not in body and "taxTotal" not in body
                tax_lines = [i for i in items if i["item"]["id"] == tax_item]
                assert [Decimal(str(i["amount"])) for i in tax_lines] == taxes
                assert len(items) == len(doc["lines"]) + len(taxes)
            if doc_type == "invoice":
                open_amount[rec["externalId"]] = total
    assert taxed_lines > 10
    usage = ledger.body("invoice", month["invoice"][0]["id"])["item"]["items"]
    assert any(line["rate"] == 0.0015 and line["amount"] == 1.5 for line in usage)
    for cm in month["credit_memo"]:
        for eid, amount in nue_applied(cm.get("applications") or []).items():
            open_amount[eid] -= amount
    for pay in month["payment"]:
        body = ledger.body("payment", pay["id"])
        assert body["autoApply"] is False and body["undepFunds"] == {"id": "F"}
        assert applied(body["apply"]["items"], ledger) == nue_applied(pay["applications"])
        for eid, amount in nue_applied(pay["applications"]).items():
            open_amount[eid] -= amount
    for eid, remaining in open_amount.items():
        assert Decimal(str(ledger.by_eid[eid]["body"]["amountRemaining"])) == remaining, eid


@pytest.mark.parametrize("kind", ["suitetax", "real-2025-09"])
def test_a_taxed_month_posts_nue_totals_to_the_cent(system, kind):
    suitetax = kind == "suitetax"
    month = taxed_month()
    ids = run(system, kind, month)
    tax_item = [r for r in system.ns_records("nonInventorySaleItem") if r["externalId"] is None][0]["id"]
    check(system, month, suitetax, tax_item)
    stats = system.stats()
    # One write per record: tax and numbering cost no call. Without SuiteTax an invoice made from a
    # taxed order also closes the order's tax-item lines (one PATCH: each invoice brings its own tax).
    closings = [c for c in system.log() if c["method"] == "PATCH" and c.get("type") == "salesOrder"]
    taxed_orders = {i["order_id"] for i in month["invoice"] if i.get("order_id")} & {
        o["id"] for o in month["order"] if any(line.get("tax_amount") for line in o["lines"])
    }
    assert len(closings) >= (0 if suitetax else len(taxed_orders))
    assert stats["writes"] == len(ids) + len(closings)
    by_eid = stats["writes_by_external_id"]
    assert {n for e, n in by_eid.items() if not e.startswith(external_id("order", ""))} == {1}
    # The audit agrees (tax in totals, tax-item lines counted) and reads NetSuite's numbers back.
    report = audit.verify(system.ctx, "default")
    assert report.ok, report.as_json()
    ledger = Ledger(system)
    with session_scope(system.ctx.engine) as s:
        invoices = s.scalars(select(Record).where(Record.id.in_(ids), Record.record_type == "invoice")).all()
        views = [record_view(r) for r in invoices]
    assert len(views) == len(month["invoice"])
    for view in views:
        in_netsuite = ledger.by_eid[view["netsuite"]["external_id"]]["body"]["tranId"]
        assert view["netsuite"]["tran_id"] == in_netsuite and view["number"].startswith("INV-")


def test_validate_names_the_tax_setup_and_taxed_documents_wait_for_it(system):
    system.start(rate_limit="50/1s", kind="real-2025-09")
    config = IntegrationConfig(gl=SANDBOX_GL.model_copy(update={"tax_liability": "5"}), subsidiary_id="1")
    save_config(system.ctx.engine, "default", config)
    out = system.cli("integration", "validate")
    assert out.returncode == 1, out.stderr
    assert "tax_liability: account 5 (4000 Subscription Income) is of type Income (expected OthCurrLiab)" in (
        " ".join(out.stderr.split())
    )
    assert "tax_item_id: not configured and the account has no SuiteTax" in " ".join(out.stderr.split())
    # With a valid mapping but still no tax item, a taxed invoice waits naming it; untaxed ones go.
    save_config(system.ctx.engine, "default", config.model_copy(update={"gl": SANDBOX_GL}))
    system.workers(1)
    month = taxed_month()
    invoices = [i for i in month["invoice"] if not i.get("order_id")]
    taxed = next(i for i in invoices if any("tax_amount" in line for line in i["lines"]))
    deps = {"customer": month["customer"], "product": month["product"], "invoice": [taxed]}
    ids = enqueue_shuffled(deps)
    with session_scope(system.ctx.engine) as s:
        rec_id = s.scalars(select(Record.id).where(Record.id.in_(ids), Record.record_type == "invoice")).one()
    system.wait([i for i in ids if i != rec_id], timeout=60)
    reason = None
    deadline = time.monotonic() + 20
    while reason is None and time.monotonic() < deadline:
        with session_scope(system.ctx.engine) as s:
            reason = s.get(Record, rec_id).reason
        time.sleep(0.2)
    assert reason is not None and "configure tax_item_id" in reason, reason
    assert system.ns_records("invoice") == []
