"""An account that makes departments, classes and locations mandatory, end to end (real PostgreSQL,
Redis, a worker process and HTTP to the sandbox with its three switches on): without the mapping's
ids every transaction is refused and its reason names what to set; `validate` names an inactive
id; with the ids set and the records retried, everything transfers and NetSuite's records carry
the ids on the header and on every item line."""

from __future__ import annotations

from sqlalchemy import select

from nue_ns import sample
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record, State
from nue_ns.mapping.base import external_id
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import classifications
from tests.harness import ACCOUNT

MONTH = {"n_customers": 2, "n_products": 3, "n_orders": 2, "n_invoices": 3, "n_payments": 2}
MONTH |= {"n_refunds": 1, "n_credit_memos": 1}
TRANSACTIONS = ("order", "invoice", "credit_memo", "payment", "refund")
IDS = {"department": "12", "class": "22", "location": "32"}  # seeded in every sandbox account


def test_mandatory_classifications_refuse_until_set_then_every_record_carries_them(system):
    month = sample.month(**MONTH)
    system.start(rate_limit="100/1s", concurrency=5)
    switched = system.sandbox_post(
        "switches", {"account": ACCOUNT} | dict.fromkeys(classifications.SWITCHES, True)
    )
    assert all(IDS[f] in switched["classifications"][f] for f in IDS)
    system.workers(1, concurrency=4)
    ids = {rtype: [a.id for a in enqueue_many(rtype, recs)] for rtype, recs in month.items()}
    everything = [i for group in ids.values() for i in group]

    # Without the ids: customers and items go, the orders and the invoice of no order are refused.
    standalone = [
        i for i, inv in zip(ids["invoice"], month["invoice"], strict=True) if not inv.get("order_id")
    ]
    system.wait(ids["customer"] + ids["product"], what="customers and items")
    system.wait(ids["order"] + standalone, states=(State.FAILED,), what="the refused transactions")
    with session_scope(system.ctx.engine) as s:
        failed = s.scalars(select(Record.reason).where(Record.state == State.FAILED)).all()
    assert len(failed) == len(ids["order"]) + len(standalone)
    for reason in failed:
        assert "requires Department, Class, Location on this record" in reason, reason
        assert "set department_id, class_id, location_id" in reason
        assert "--department ID --class ID --location ID" in reason
        assert reason.endswith("Please enter value(s) for: Department, Class, Location.")

    # An inactive department is named by validate (its row read into the account profile).
    system.cli_ok("integration", "set", "default", "--department", "13", "--class", "22", "--location", "32")
    out = system.cli("integration", "validate", "default")
    assert out.returncode == 1
    assert "department_id: 13 is not an active department" in " ".join(out.stderr.split())
    system.cli_ok("integration", "set", "default", "--department", "12")
    system.cli_ok("integration", "validate", "default")  # exits 0: nothing lacking
    system.cli_ok("hub", "retry", "--all-failed")
    system.wait(everything, timeout=60, what="the month with classifications")

    ns_types = {"order": "salesOrder", "invoice": "invoice", "credit_memo": "creditMemo"}
    ns_types |= {"payment": "customerPayment", "refund": "customerRefund"}
    records = {r["externalId"]: r for r in system.ns_records() if r["externalId"]}
    expected = {field: {"id": value} for field, value in IDS.items()}
    for rtype in TRANSACTIONS:
        for doc in month[rtype]:
            rec = records[external_id(rtype, doc["id"])]
            assert rec["type"] == ns_types[rtype]
            body = rec["body"]
            assert {f: body.get(f) for f in IDS} == expected, (rtype, doc["id"])
            for line in body.get("item", {}).get("items", []):
                assert {f: line.get(f) for f in IDS} == expected, (rtype, doc["id"], line)
    item_lines = [
        line
        for rtype in ("order", "invoice", "credit_memo")
        for doc in month[rtype]
        for line in records[external_id(rtype, doc["id"])]["body"]["item"]["items"]
    ]
    assert len(item_lines) >= sum(len(month[t]) for t in ("order", "invoice", "credit_memo"))
