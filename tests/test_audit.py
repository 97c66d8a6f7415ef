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
from nue_ns.sandbox import state, suiteql, switches, tax
from nue_ns.sandbox.state import SandboxState
from tests.api_support import ACCOUNT, transfer_all

CUSTOMERS = [{"id": f"C-{i}", "name": f"Customer {i}", "currency": "USD"} for i in (1, 2, 3)]
PRODUCTS = [
    {"id": "P-1", "sku": "PLAT", "name": "Platform", "product_type": "subscription"},
    {"id": "P-2", "sku": "ONB", "name": "Onboarding", "product_type": "entitlement"},
    {"id": "P-3", "sku": "GEAR", "name": "Gear", "product_type": "asset"},  # an inventory item
]


def _invoice(n: int, customer: str, amounts: list[str], tax: str | None = None) -> dict:
    lines = [
        {"id": f"I{n}-L{k}", "product_id": f"P-{k}", "quantity": "1", "unit_price": a, "amount": a}
        for k, a in enumerate(amounts, 1)
    ]
    if tax:  # on the first line, in the account's SuiteTax (the sandbox's `full` kind)
        lines[0] |= {"tax_amount": tax, "tax_code": "S-GB"}
    total = f"{sum(float(a) for a in amounts) + float(tax or 0):.2f}"
    return {"id": f"I-{n}", "invoice_number": f"INV-{n}", "customer_id": customer, "status": "Active",
            "invoice_date": "2025-03-01", "currency": "USD", "total": total, "lines": lines}  # fmt: skip


@pytest.fixture
def transferred(netsuite):
    """Customers, products and invoices really transferred to the sandbox through sync."""
    for rtype, items in [
        ("customer", CUSTOMERS),
        ("product", PRODUCTS),
        # I-3 sells the inventory item, taxed: NetSuite adds tax and COGS lines the audit must not count.
        (
            "invoice",
            [_invoice(1, "C-1", ["100.00", "25.50"]), _invoice(2, "C-2", ["40.00"])]
            + [_invoice(3, "C-3", ["10.00", "20.00", "30.00"], tax="0.83")],
        ),
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
    assert report.ok and report.checked == 9, report.as_json()
    # customers 3 -> 2 queries, items 3 -> 2, invoices 3 -> 2: batched by 2
    assert report.queries == 6
    assert progress[0] == (0, 9) and progress[-1] == (9, 9)
    calls = _audit_calls(transferred)
    assert len(calls) == 6 and all(c.url.endswith("/query/v1/suiteql?limit=1000&offset=0") for c in calls)
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
    assert report.checked == 9 and not report.ok
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
    assert report.ok and report.checked == 9 and report.queries == 9

    params = {"account": ACCOUNT, "since": since}
    log = requests.get(f"{sandbox_base}/_sandbox/log", params=params, timeout=10)
    calls = [e for e in log.json() if e["type"] == "suiteql"]
    assert [e["status"] for e in calls].count(429) == 1 and len(
        calls
    ) == 10  # the throttled one was asked again
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


# -- the line count against NetSuite's transactionline rows (in process, no server) --------------

# The query the audit ran before: it counted every transactionline row with an item.
_UNFILTERED = (
    "SELECT COUNT(tl.item) AS linecount FROM transaction t LEFT JOIN transactionline tl "
    "ON tl.transaction = t.id WHERE t.externalid = 'nue-inv-I-9' GROUP BY t.id"
)


def _sandbox_invoice(kind: str, extra_lines: bool) -> tuple[state.AccountData, Record]:
    """A Nue invoice with a taxed subscription line and an untaxed asset (inventory) line, and the
    NetSuite invoice nue-ns makes of it in an account of `kind` (the tax-item line without SuiteTax)."""
    acct = SandboxState().register_account(
        f"AUDIT{kind.upper()}{extra_lines}", "ck", "cs", "ti", "ts", kind=kind
    )
    switches.apply(acct, {"tax_and_cogs_lines": extra_lines})
    cust = state.upsert(acct, "customer", "nue-cust-C-1", {"companyName": "C", "subsidiary": {"id": "1"}})
    plat = state.upsert(
        acct, "nonInventorySaleItem", "nue-item-P-1", {"itemId": "PLAT", "incomeAccount": {"id": "5"}}
    )
    gear = {
        "itemId": "GEAR",
        "incomeAccount": {"id": "7"},
        "assetAccount": {"id": "3"},
        "cogsAccount": {"id": "11"},
    }
    box = state.upsert(acct, "inventoryItem", "nue-item-P-2", gear)
    lines = [
        {"item": {"id": plat.record.id}, "quantity": 1.0, "rate": 100.0, "amount": 100.0},
        {"item": {"id": box.record.id}, "quantity": 1.0, "rate": 40.0, "amount": 40.0},
    ]
    if kind == "real-2025-09":  # no SuiteTax: the tax is a line of the tax item
        tax_item = switches.apply(acct, {"seed_tax_item": True})["tax_item_id"]
        lines.append({"item": {"id": tax_item}, "quantity": 1.0, "rate": 8.25, "amount": 8.25})
    body = {"entity": {"id": cust.record.id}, "tranDate": "2025-03-01", "item": {"items": lines}}
    if tax.suitetax(acct):
        lines[0]["taxDetailsReference"] = "nue-L1"
        detail = {"taxDetailsReference": {"id": "nue-L1"}, "taxCode": {"id": next(iter(acct.kind.tax_codes))}}
        body |= {"taxDetailsOverride": True, "taxDetails": {"items": [detail | {"taxAmount": 8.25}]}}
    state.upsert(acct, "invoice", "nue-inv-I-9", body, strict=True)
    payload = {"id": "I-9", "customer_id": "C-1", "currency": "USD", "total": "148.25", "lines": [
        {"id": "L1", "product_id": "P-1", "quantity": "1", "amount": "100.00", "tax_amount": "8.25"},
        {"id": "L2", "product_id": "P-2", "quantity": "1", "amount": "40.00"},
    ]}  # fmt: skip
    return acct, Record(id=9, record_type="invoice", nue_id="I-9", payload=payload, external_id="nue-inv-I-9")


@pytest.mark.parametrize("extra_lines", [True, False], ids=["tax-and-cogs-lines", "item-lines-only"])
@pytest.mark.parametrize("kind", ["real-2025-09", "suitetax"])
def test_the_line_count_is_of_item_lines_only(kind, extra_lines):
    acct, rec = _sandbox_invoice(kind, extra_lines)
    query = audit._QUERIES["transaction"].format(ids="'nue-inv-I-9'")
    [row] = suiteql.run(acct, {"q": query}, 1000, 0)["items"]
    exp = audit.expected(rec, tax_lines=not tax.suitetax(acct))
    item_lines = 3 if kind == "real-2025-09" else 2  # + the tax-item line without SuiteTax
    assert exp.lines == item_lines and row["linecount"] == str(item_lines)
    assert audit.compare(exp, row, row["entity"]) is None  # the audit agrees
    rows = suiteql.run(
        acct, {"q": "SELECT mainline, taxline, iscogs, item FROM transactionline ORDER BY id"}, 1000, 0
    )["items"]
    flags = [(r["mainline"], r["taxline"], r["iscogs"], "item" in r) for r in rows]
    assert flags[0] == ("T", "F", "F", False)  # the main line, line 0
    assert flags[1 : 1 + item_lines] == [("F", "F", "F", True)] * item_lines
    extra = [("F", "T", "F", True)] + [("F", "F", "T", True)] * 2  # a tax line, the inventory line's COGS
    assert flags[1 + item_lines :] == (extra if extra_lines else [])
    [unfiltered] = suiteql.run(acct, {"q": _UNFILTERED}, 1000, 0)["items"]
    assert unfiltered["linecount"] == str(item_lines + (3 if extra_lines else 0))  # what it miscounted
