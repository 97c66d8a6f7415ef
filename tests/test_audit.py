"""`hub verify`: Transferred records cross-checked against the sandbox NetSuite with governed, batched
SuiteQL; records changed or removed in NetSuite after the transfer are reported."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select, update
from typer.testing import CliRunner

from nue_ns import audit
from nue_ns.cli import app as cli
from nue_ns.context import get_context, reset_context
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, Integration, Record
from nue_ns.hub.models import utcnow as now
from nue_ns.producer import enqueue_many
from tests.api_support import ACCOUNT, transfer_all

CUSTOMERS = [{"id": f"C-{i}", "name": f"Customer {i}", "currency": "USD"} for i in (1, 2, 3)]
PRODUCTS = [
    {"id": "P-1", "sku": "PLAT", "name": "Platform", "product_type": "subscription"},
    {"id": "P-2", "sku": "ONB", "name": "Onboarding", "product_type": "entitlement"},
]


def _invoice(n: int, customer: str, amounts: list[str]) -> dict:
    lines = [
        {"id": f"I{n}-L{k}", "product_id": f"P-{k}", "quantity": "1", "unit_price": a, "amount": a}
        for k, a in enumerate(amounts, 1)
    ]
    total = f"{sum(float(a) for a in amounts):.2f}"
    return {"id": f"I-{n}", "invoice_number": f"INV-{n}", "customer_id": customer, "status": "Active",
            "invoice_date": "2025-03-01", "currency": "USD", "total": total, "lines": lines}  # fmt: skip


@pytest.fixture
def transferred(netsuite):
    """Customers, products and invoices really transferred to the sandbox through sync."""
    for rtype, items in [
        ("customer", CUSTOMERS),
        ("product", PRODUCTS),
        ("invoice", [_invoice(1, "C-1", ["100.00", "25.50"]), _invoice(2, "C-2", ["40.00"])]),
    ]:
        enqueue_many(rtype, items, ctx=netsuite, dispatch_now=False)
    transfer_all(netsuite)
    with session_scope(netsuite.engine) as s:
        states = set(s.scalars(select(Record.state)))
    assert states == {"transferred"}
    return netsuite


def _audit_calls(ctx) -> list[Attempt]:
    with session_scope(ctx.engine) as s:
        return list(s.scalars(select(Attempt).where(Attempt.outcome == "audit").order_by(Attempt.id)))


def test_all_in_step(transferred):
    progress = []
    report = audit.verify(transferred, "default", batch=2, progress=lambda d, t: progress.append((d, t)))
    assert report.ok and report.checked == 7
    # customers 3 -> 2 queries, items 2 -> 1, invoices 2 -> 1: batched by 2
    assert report.queries == 4
    assert progress[0] == (0, 7) and progress[-1] == (7, 7)
    calls = _audit_calls(transferred)
    assert len(calls) == 4 and all(c.url.endswith("/query/v1/suiteql?limit=1000&offset=0") for c in calls)
    assert all("externalid IN" in c.request_body["q"] for c in calls)
    assert all(c.response_body == {"count": c.response_body["count"]} for c in calls)  # rows not kept


def test_reports_missing_and_differing(transferred, sandbox_base):
    ctx = transferred
    client = ctx.connection(ctx.integration("default").id).client
    # An accountant edits invoice I-1 in NetSuite: another customer, one line at another amount.
    links = {r.nue_id: r.ns_internal_id for r in _rows(ctx, "customer")}
    items = {r.nue_id: r.ns_internal_id for r in _rows(ctx, "product")}
    line = {"item": {"id": items["P-1"]}, "quantity": 1, "rate": 90.0, "amount": 90.0}
    edited = {"entity": {"id": links["C-3"]}, "item": {"items": [line]}}
    client.upsert("invoice", "nue-inv-I-1", edited, ["item"])
    # ... and deletes invoice I-2.
    client.delete("invoice", "eid:nue-inv-I-2")

    report = audit.verify(ctx, "default")
    assert report.checked == 7 and not report.ok
    [missing] = report.missing
    assert (missing.record_type, missing.nue_id, missing.external_id) == ("invoice", "I-2", "nue-inv-I-2")
    [differs] = report.differing
    assert differs.nue_id == "I-1" and differs.problem == "differs"
    text = "; ".join(differs.details)
    assert "amount in NetSuite 90" in text and "in the hub 125.50" in text
    assert f"customer in NetSuite is {links['C-3']}, expected {links['C-1']}" in text
    assert "1 line(s) in NetSuite, 2 in the hub" in text


def _rows(ctx, record_type: str) -> list[Record]:
    with session_scope(ctx.engine) as s:
        return list(s.scalars(select(Record).where(Record.record_type == record_type)))


def test_since_limits_the_check(transferred):
    report = audit.verify(transferred, "default", since=now())
    assert report.checked == 0 and report.queries == 0 and report.ok


def test_queries_are_governed_and_survive_a_429(transferred, sandbox_base):
    ctx = transferred
    with session_scope(ctx.engine) as s:
        s.execute(update(Integration).where(Integration.name == "default").values(rate_limit="2/1s"))
    reset_context()
    ctx = get_context()
    ctx.settings.pause_on_429 = 0.5
    since = len(requests.get(f"{sandbox_base}/_sandbox/log", params={"account": ACCOUNT}, timeout=10).json())
    fault = {"kind": "429", "account": ACCOUNT, "type": "suiteql", "count": 1}
    requests.post(f"{sandbox_base}/_sandbox/faults", json=fault, timeout=10).raise_for_status()

    report = audit.verify(ctx, "default", batch=1)
    assert report.ok and report.checked == 7 and report.queries == 7

    params = {"account": ACCOUNT, "since": since}
    log = requests.get(f"{sandbox_base}/_sandbox/log", params=params, timeout=10)
    calls = [e for e in log.json() if e["type"] == "suiteql"]
    assert [e["status"] for e in calls].count(429) == 1 and len(
        calls
    ) == 8  # the throttled one was asked again
    starts = sorted(e["t_start"] for e in calls)
    busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    assert busiest <= 2  # never more than the account's 2 calls in any second


def test_cli_verify_json_and_exit_code(transferred):
    runner = CliRunner()
    ok = runner.invoke(cli, ["hub", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    client = transferred.connection(transferred.integration("default").id).client
    client.delete("invoice", "eid:nue-inv-I-2")
    bad = runner.invoke(cli, ["hub", "verify", "--integration", "default", "--since", "2020-01-01"])
    assert bad.exit_code == 1
    assert "nue-inv-I-2" in bad.stdout and "1 missing, 0 different" in bad.stdout
    wrong = runner.invoke(cli, ["hub", "verify", "--since", "last week"])
    assert wrong.exit_code == 2
