"""Inbound sync end to end: the sandbox NetSuite over HTTP, real PostgreSQL and Redis, and a local
webhook receiver that checks every signature. Payments recorded and credit memos voided by a
NetSuite user must reach Nue exactly once each, in order per record, whatever happens between."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import func, select

from nue_ns import inbound, webhook
from nue_ns.config import reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.hub.db import dispose_engines, session_scope
from nue_ns.hub.models import Attempt, Integration, NetSuiteLink, utcnow
from nue_ns.hub.models_inbound import EventState, InboundEvent, InboundWatermark
from nue_ns.integration import SANDBOX_GL, Collection, IntegrationConfig
from nue_ns.netsuite.auth import Credentials, tba_auth
from nue_ns.netsuite.client import lower_names
from nue_ns.sandbox import demo as sandbox_demo
from nue_ns.sandbox import state as ns_state
from nue_ns.sandbox import suiteql
from tests.harness import ACCOUNT, System

SECRET = "whsec-test-4f1c2a"
COLLECT_IN_NETSUITE = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", collection=Collection.netsuite)


# ---------------------------------------------------------------- Nue's side: a webhook receiver


class Receiver:
    """A stdlib HTTP server in a thread, standing in for Nue: verifies each signature, can be made to
    fail (an outage, or a refusal), and remembers what it accepted, in arrival order."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.accepted: list[dict] = []  # payloads answered 2xx
        self.requests: list[tuple[str, int]] = []  # (event id, status answered), every request
        self.bad_signatures = 0
        self.answer = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = self.headers.get(webhook.EVENT_ID_HEADER, "")
                header = self.headers.get(webhook.SIGNATURE_HEADER, "")
                signed = webhook.verify(body, receiver.secret, header, event_id)
                with receiver.lock:
                    status = receiver.answer if signed else 401
                    receiver.bad_signatures += not signed
                    receiver.requests.append((event_id, status))
                    if status == 200:
                        payload = json.loads(body)
                        assert payload["event_id"] == event_id
                        receiver.accepted.append(payload)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/nue/webhooks/netsuite"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        with self.lock:
            return [p["event_id"] for p in self.accepted]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def system(receiver, system):
    """The shared system (conftest.py), set up after the receiver and stopped before it: the
    receiver outlives the workers that post to it."""
    return system


def start(
    system: System, receiver: Receiver, config: IntegrationConfig = COLLECT_IN_NETSUITE, **env
) -> System:
    defaults = {
        "NUE_NS_WEBHOOK_URL": receiver.url,
        "NUE_NS_WEBHOOK_SECRET": SECRET,
        "NUE_NS_WEBHOOK_BACKOFF_BASE": "0.2",
        "NUE_NS_WEBHOOK_BACKOFF_MAX": "0.4",
        "NUE_NS_WEBHOOK_TIMEOUT": "3",
    }
    return system.start(rate_limit=env.pop("rate_limit", "100/1s"), config=config, **(defaults | env))


# ---------------------------------------------------------------- NetSuite's side


class NetSuite:
    """Records nue-ns wrote (upserted by externalId, with their ns_links), and what users do in the UI."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.ctx = system.ctx
        self.integration = self.ctx.integration("default")
        self.client = self.ctx.connection(self.integration.id).client
        creds = Credentials(
            sandbox_demo.DEMO_CONSUMER_KEY,
            sandbox_demo.DEMO_CONSUMER_SECRET,
            sandbox_demo.DEMO_TOKEN_ID,
            sandbox_demo.DEMO_TOKEN_SECRET,
        )
        self.auth = tba_auth(creds, ACCOUNT)

    def nue_wrote(
        self, record_type: str, nue_id: str, ns_type: str, external_id: str | None, body: dict
    ) -> str:
        """What a transfer does: the upsert, then the link that resolves and spots echoes."""
        if external_id:
            internal_id = self.client.upsert(ns_type, external_id, body).internal_id
        else:
            internal_id = self.client.create(ns_type, body).internal_id
        with session_scope(self.ctx.engine) as s:
            s.add(
                NetSuiteLink(
                    integration_id=self.integration.id, record_type=record_type, nue_id=nue_id,
                    ns_type=ns_type, external_id=external_id or "", ns_internal_id=internal_id,
                    record_id=0, transferred_at=utcnow(),
                )
            )  # fmt: skip
        return internal_id

    def customer(self, nue_id: str) -> str:
        body = {"companyName": f"Company {nue_id}", "subsidiary": {"id": "1"}}
        return self.nue_wrote("customer", nue_id, "customer", f"nue-cust-{nue_id}", body)

    def item(self) -> str:
        body = {"itemId": "SUB-1", "incomeAccount": {"id": "5"}}
        return self.nue_wrote("product", "P-1", "nonInventorySaleItem", "nue-item-P-1", body)

    def invoice(self, nue_id: str | None, customer: str, item: str, amount: int) -> str:
        body = {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": item}, "quantity": 1, "rate": amount}]},
        }
        if nue_id is None:  # made by a NetSuite user: Nue does not know it
            return self.client.create("invoice", body).internal_id
        return self.nue_wrote("invoice", nue_id, "invoice", f"nue-inv-{nue_id}", body)

    def credit_memo(self, nue_id: str, customer: str, item: str, amount: int) -> str:
        body = {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": item}, "quantity": 1, "rate": amount}]},
        }
        return self.nue_wrote("credit_memo", nue_id, "creditMemo", f"nue-cm-{nue_id}", body)

    def user_payment(self, invoices: list[tuple[str, str]], amount: str | None = None, **extra) -> str:
        body = {"account": ACCOUNT, "invoices": [{"id": i, "amount": a} for i, a in invoices]} | extra
        if amount is not None:
            body["amount"] = amount
        return str(self.system.sandbox_post("user/payment", body)["id"])

    def user_void(self, credit_memo_id: str, **extra) -> None:
        self.system.sandbox_post(
            "user/void", {"account": ACCOUNT, "type": "creditMemo", "id": credit_memo_id} | extra
        )

    def user_edits_payment(self, payment_id: str, invoices: list[tuple[str, str]]) -> None:
        """A user changes which invoices a payment pays (the apply sublist is replaced)."""
        url = f"{self.system.base}/services/rest/record/v1/customerPayment/{payment_id}?replace=apply"
        lines = [{"doc": {"id": i}, "apply": True, "amount": float(a)} for i, a in invoices]
        r = requests.patch(url, json={"apply": {"items": lines}}, auth=self.auth, timeout=10)
        assert r.status_code == 204, r.text


def suiteql_calls(system: System) -> list[dict]:
    return [c for c in system.log() if c["path"].endswith("/query/v1/suiteql")]


def events(ctx) -> list[InboundEvent]:
    with session_scope(ctx.engine) as s:
        return list(s.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def deliver_until_done(ctx, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        webhook.deliver_due(ctx)
        if all(e.state == EventState.DELIVERED for e in events(ctx)):
            return
        time.sleep(0.1)
    raise AssertionError(f"not delivered: {[inbound.inbound_view(e) for e in events(ctx)]}")


def fresh_context():
    """What a restarted process starts with: no cached settings, engines or connections."""
    reset_settings()
    reset_context()
    dispose_engines()
    return get_context()


# ---------------------------------------------------------------- tests

# The sandbox's switches for what Oracle leaves open in how SuiteQL shows inbound changes
# (sandbox/switches.py; docs/NETSUITE.md "Inbound SuiteQL").
SUITEQL_SWITCHES = {
    "void_shows": ("both", "status", "voided"),
    "status_cf_format": ("compact", "spaced"),
    "negative_credit_amounts": (False, True),
    "void_keeps_links": (False, True),
    "result_name_case": ("lower", "upper"),
}


def test_inbound_queries_read_changes_however_suiteql_shows_them():
    """The poller's own queries, run by the sandbox's SuiteQL in process under every combination
    of its switches: a voided credit memo is found by its status or its voided flag, a voided
    payment applies to nothing, amounts are unsigned, names are read whatever their case."""
    acct = ns_state.AccountData("INBOUND1", "ck", "cs", "tk", "ts")
    cust = ns_state.upsert(acct, "customer", "nue-cust-C-1", {"companyName": "A", "subsidiary": {"id": "1"}})
    item = ns_state.upsert(
        acct, "serviceSaleItem", "nue-item-P", {"itemId": "P", "incomeAccount": {"id": "6"}}
    )

    def sales(ns_type: str, eid: str, amount: float) -> str:
        line = {"item": {"id": item.record.id}, "quantity": 1, "rate": amount}
        body = {"entity": {"id": cust.record.id}, "item": {"items": [line]}}
        return ns_state.upsert(acct, ns_type, eid, body).record.id

    inv1, inv2 = sales("invoice", "nue-inv-1", 100.0), sales("invoice", "nue-inv-2", 50.0)
    voided_cm, kept_cm = sales("creditMemo", "nue-cm-CM-1", 30.0), sales("creditMemo", "nue-cm-CM-2", 20.0)
    paid = ns_state.user_payment(acct, [(inv1, 60)], 80).id
    void_paid = ns_state.user_payment(acct, [(inv2, 50)]).id
    ns_state.void_transaction(acct, "creditMemo", voided_cm)
    ns_state.void_transaction(acct, "customerPayment", void_paid)
    assert "l.linktype = 'Payment'" in inbound.applications_query([int(paid)])  # no other link kind
    start = (dt.datetime(2000, 1, 1), 0)

    def ask(q: str) -> list[dict]:
        return lower_names(suiteql.run(acct, {"q": q}, 1000, 0))["items"]  # as the client reads it

    for values in itertools.product(*SUITEQL_SWITCHES.values()):
        switches = dict(zip(SUITEQL_SWITCHES, values, strict=True))
        acct.__dict__.update(switches)
        acct.version += 1  # the sandbox rebuilds its tables
        changes = {c.id: c for c in map(inbound.Change.parse, ask(inbound.changes_query(True, start)))}
        assert sorted(changes) == sorted(int(i) for i in (voided_cm, paid, void_paid)), switches
        assert int(kept_cm) not in changes  # never voided
        assert [changes[int(i)].voided for i in (paid, void_paid)] == [False, True], switches
        applied: dict[str, list[tuple[str, str]]] = {}
        inbound.add_applications(applied, ask(inbound.applications_query([int(paid), int(void_paid)])))
        kept = {void_paid: [(inv2, "50" if not switches["negative_credit_amounts"] else "-50")]}
        assert applied == {paid: [(inv1, applied[paid][0][1])]} | (
            kept if switches["void_keeps_links"] else {}
        )
        assert abs(Decimal(applied[paid][0][1])) == 60, switches
        links, currencies = inbound.Links({}), {}
        content = inbound.payment_content(changes[int(paid)], applied[paid], links, currencies)["payment"]
        assert (content["amount"], content["voided"], content["unapplied"]) == ("80.00", False, "20.00"), (
            switches
        )
        assert [(a["invoice"]["netsuite_id"], a["amount"]) for a in content["applications"]] == [
            (inv1, "60.00")
        ]
        # NetSuite may still link the voided payment to what it paid: it reports nothing applied.
        still = applied.get(void_paid, [])
        content = inbound.payment_content(changes[int(void_paid)], still, links, currencies)["payment"]
        assert (content["amount"], content["voided"], content["applications"], content["unapplied"]) == (
            "0.00", True, [], "0.00",
        ), switches  # fmt: skip
        assert inbound.summary({"payment": content}).endswith(" voided")


def test_payments_and_voids_arrive_once_with_nue_ids_and_nothing_echoes(system, receiver):
    start(system, receiver)
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    inv1, inv2 = ns.invoice("INV-1", customer, item, 100), ns.invoice("INV-2", customer, item, 50)
    foreign = ns.invoice(None, customer, item, 40)
    cm1 = ns.credit_memo("CM-1", customer, item, 30)
    ns.credit_memo("CM-2", customer, item, 20)  # never voided
    # Payments nue-ns wrote itself: by externalId, and one whose externalId a user cleared since.
    apply2 = {"apply": {"items": [{"doc": {"id": inv2}, "apply": True, "amount": 20.0}]}}
    pay1 = ns.nue_wrote("payment", "PAY-1", "customerPayment", "nue-pay-PAY-1", {"customer": {"id": customer},
                 "payment": 20.0, "account": {"id": "1"}} | apply2)  # fmt: skip
    apply2["apply"]["items"][0]["amount"] = 5.0
    pay2 = ns.nue_wrote("payment", "PAY-2", "customerPayment", None, {"customer": {"id": customer},
                 "payment": 5.0, "account": {"id": "1"}} | apply2)  # fmt: skip
    # What NetSuite users do.
    paid = ns.user_payment([(inv1, "60.00"), (foreign, "10.00")], amount="80.00", tranDate="2025-03-04")
    ns.user_void(cm1)

    result = inbound.poll(system.ctx, ns.integration.id)
    assert (result.created, result.echoes, result.stopped) == (2, 1, None)
    webhook.deliver_due(system.ctx)
    assert receiver.bad_signatures == 0
    by_type = {p["type"]: p for p in receiver.accepted}
    assert len(receiver.accepted) == 2 and set(by_type) == {"payment_received", "credit_memo_voided"}
    payment = by_type["payment_received"]
    assert payment["netsuite"] | {"last_modified": None} == {
        "account_id": ACCOUNT, "type": "customerPayment", "internal_id": paid, "last_modified": None,
    }  # fmt: skip
    assert payment["payment"] == {
        "nue_id": None,  # NetSuite's own payment
        "amount": "80.00",
        "currency": "USD",
        "tran_date": "2025-03-04",
        "tran_id": f"PYMT{paid}",
        "customer": {"netsuite_id": customer, "nue_id": "C-1"},
        "voided": False,
        "applications": [
            {"invoice": {"netsuite_id": inv1, "nue_id": "INV-1", "known": True}, "amount": "60.00"},
            {"invoice": {"netsuite_id": foreign, "nue_id": None, "known": False}, "amount": "10.00"},
        ],
        "unapplied": "10.00",
    }
    voided = by_type["credit_memo_voided"]
    assert voided["credit_memo"] == {"nue_id": "CM-1", "netsuite_id": cm1, "external_id": "nue-cm-CM-1",
                                     "tran_id": f"CM{cm1}"}  # fmt: skip
    assert voided["sequence"] == payment["sequence"] == 1

    # Polling and delivering again finds nothing new and sends nothing twice.
    again = inbound.poll(system.ctx, ns.integration.id)
    assert (again.created, again.stopped) == (0, None)
    webhook.deliver_due(system.ctx)
    assert len(receiver.accepted) == 2 and len(receiver.requests) == 2
    assert {e.state for e in events(system.ctx)} == {EventState.DELIVERED}

    # A user voids the payments nue-ns wrote: no longer echoes; Nue hears each is void, by its id.
    time.sleep(1.1)  # a later lastmodifieddate (SuiteQL has second precision)
    ns.user_void(pay1, type="customerPayment")
    ns.user_void(pay2, type="customerPayment")
    assert inbound.poll(system.ctx, ns.integration.id).created == 2
    webhook.deliver_due(system.ctx)
    voided_payments = {p["payment"]["nue_id"]: p for p in receiver.accepted[2:]}
    assert set(voided_payments) == {"PAY-1", "PAY-2"}
    for p in voided_payments.values():
        assert p["type"] == "payment_voided" and p["payment"]["voided"] is True
        assert (p["payment"]["amount"], p["payment"]["applications"]) == ("0.00", [])


def test_voids_and_amounts_arrive_however_netsuite_shows_them(system, receiver):
    """Over HTTP: a void shown by its status alone, then by its voided flag alone, in a NetSuite
    that writes BUILTIN.CF with a space, signs payments negative, keeps a voided payment's links and
    answers upper-case names; and a NetSuite with reversing-journal voids, where a user cannot void
    a credit memo at all."""
    start(system, receiver)
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    inv = ns.invoice("INV-1", customer, item, 100)
    cm1, cm2, cm3 = (ns.credit_memo(f"CM-{n}", customer, item, 10) for n in (1, 2, 3))
    switches = {"status_cf_format": "spaced", "negative_credit_amounts": True, "void_keeps_links": True}
    switches |= {"result_name_case": "upper", "void_shows": "status"}
    system.sandbox_post("switches", {"account": ACCOUNT} | switches)
    ns.user_void(cm1)
    pay = ns.user_payment([(inv, "30.00")], amount="40.00")
    assert inbound.poll(system.ctx, ns.integration.id).created == 2

    time.sleep(1.1)  # a later lastmodifieddate (SuiteQL has second precision)
    system.sandbox_post("switches", {"account": ACCOUNT, "void_shows": "voided"})
    ns.user_void(cm2)
    ns.user_void(pay, type="customerPayment")
    assert inbound.poll(system.ctx, ns.integration.id).created == 2
    deliver_until_done(system.ctx)
    voids = [p["credit_memo"]["netsuite_id"] for p in receiver.accepted if p["type"] == "credit_memo_voided"]
    assert sorted(voids, key=int) == [cm1, cm2]
    payments = [p for p in receiver.accepted if p["type"] in ("payment_received", "payment_voided")]
    assert [(p["type"], p["sequence"]) for p in payments] == [("payment_received", 1), ("payment_voided", 2)]
    seen = [(p["payment"]["amount"], p["payment"]["voided"], p["payment"]["unapplied"]) for p in payments]
    assert seen == [("40.00", False, "10.00"), ("0.00", True, "0.00")]
    assert payments[0]["payment"]["applications"] == [
        {"invoice": {"netsuite_id": inv, "nue_id": "INV-1", "known": True}, "amount": "30.00"}
    ]
    assert payments[1]["payment"]["applications"] == []  # the void reopened the invoice

    system.sandbox_post("switches", {"account": ACCOUNT, "reversing_journal_voids": True})
    with pytest.raises(requests.HTTPError) as refused:
        ns.user_void(cm3)
    assert "Void Transactions Using Reversing Journals" in refused.value.response.text
    assert inbound.poll(system.ctx, ns.integration.id).created == 0


def test_same_second_changes_paging_a_restart_and_a_late_commit_miss_nothing(system, receiver):
    # Pages of 2 rows and 2 pages per poll: every poll stops part way, so the watermark carries it.
    start(system, receiver, NUE_NS_INBOUND_PAGE_SIZE="2", NUE_NS_INBOUND_MAX_PAGES="2")
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    invoices = [ns.invoice(f"INV-{n}", customer, item, 100) for n in range(7)]
    same_second = "2030-01-01T10:00:00.000Z"  # seven changes share one lastmodifieddate
    paid = [ns.user_payment([(inv, "25.00")], lastModifiedDate=same_second) for inv in invoices]

    first = inbound.poll(system.ctx, ns.integration.id)
    assert (first.created, first.more) == (4, True)
    with session_scope(system.ctx.engine) as s:
        wm = s.get(InboundWatermark, ns.integration.id)
        assert (wm.wm_time, wm.wm_id) == (dt.datetime(2030, 1, 1, 10, 0, 0), int(paid[3]))

    # A new process (the CLI) goes on from the stored watermark.
    assert json.loads(system.cli_ok("inbound", "poll", "--json"))[0]["created"] == 3

    # A payment that committed late, stamped before the watermark (within the look-back overlap).
    late = ns.user_payment([(invoices[0], "5.00")], lastModifiedDate="2030-01-01T09:59:30.000Z")
    ctx = fresh_context()
    while (r := inbound.poll(ctx, ns.integration.id)).more:
        pass
    assert r.stopped is None
    deliver_until_done(ctx)
    got = [p["netsuite"]["internal_id"] for p in receiver.accepted]
    assert sorted(got, key=int) == sorted(paid + [late], key=int)
    assert Counter(receiver.ids()).most_common(1)[0][1] == 1  # each exactly once


def test_changes_made_while_a_poll_runs_are_neither_missed_nor_doubled(system, receiver):
    start(system, receiver, NUE_NS_INBOUND_PAGE_SIZE="2")
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    invoices = [ns.invoice(f"INV-{n}", customer, item, 100) for n in range(7)]
    paid = [ns.user_payment([(inv, "10.00")]) for inv in invoices[:6]]
    system.sandbox_post("latency", {"min_ms": 400, "max_ms": 400})  # a slow poll: 3 pages, 6 calls
    polling = threading.Thread(target=inbound.poll, args=(system.ctx, ns.integration.id))
    polling.start()
    while not suiteql_calls(system):
        time.sleep(0.05)
    time.sleep(1.1)  # a later lastmodifieddate than the rows being read
    assert polling.is_alive()
    ns.user_edits_payment(paid[0], [(invoices[6], "10.00")])  # a row already read moves to the end
    late = ns.user_payment([(invoices[1], "5.00")])
    polling.join(30)
    system.sandbox_post("latency", {"min_ms": 0, "max_ms": 0})
    inbound.poll(system.ctx, ns.integration.id)
    deliver_until_done(system.ctx)
    seen = Counter((p["netsuite"]["internal_id"], p["sequence"]) for p in receiver.accepted)
    assert seen == Counter([(i, 1) for i in paid] + [(paid[0], 2), (late, 1)])
    edited = [p for p in receiver.accepted if p["netsuite"]["internal_id"] == paid[0]]
    assert [p["payment"]["applications"][0]["invoice"]["nue_id"] for p in edited] == ["INV-0", "INV-6"]


def test_receiver_outage_is_retried_until_it_recovers_in_order_per_record(system, receiver):
    start(system, receiver)
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    inv1, inv2 = ns.invoice("INV-1", customer, item, 100), ns.invoice("INV-2", customer, item, 100)
    cm = ns.credit_memo("CM-1", customer, item, 10)
    pay = ns.user_payment([(inv1, "30.00")])
    assert inbound.poll(system.ctx, ns.integration.id).created == 1

    receiver.answer = 500  # Nue is down
    for _ in range(3):
        webhook.deliver_due(system.ctx)
        time.sleep(0.5)
    # The user moves the payment to the other invoice, and voids the credit memo, during the outage.
    time.sleep(1.1)  # a later lastmodifieddate (SuiteQL has second precision)
    ns.user_edits_payment(pay, [(inv2, "30.00")])
    ns.user_void(cm)
    assert inbound.poll(system.ctx, ns.integration.id).created == 2
    for _ in range(3):
        webhook.deliver_due(system.ctx)
        time.sleep(0.5)
    by_record = {(e.ns_type, e.sequence): e for e in events(system.ctx)}
    first, second = by_record[("customerPayment", 1)], by_record[("customerPayment", 2)]
    void = by_record[("creditMemo", 1)]
    assert first.state == EventState.PENDING and first.attempts >= 3 and first.last_status == 500
    assert "500" in first.last_error
    tried = {event_id for event_id, _ in receiver.requests}
    assert second.idempotency_key not in tried  # never before the first is acknowledged
    assert void.idempotency_key in tried  # another record is not held back

    receiver.answer = 200  # Nue is back
    deliver_until_done(system.ctx)
    payments = [p for p in receiver.accepted if p["type"] == "payment_received"]
    assert [p["sequence"] for p in payments] == [1, 2]
    assert [a["invoice"]["nue_id"] for p in payments for a in p["payment"]["applications"]] == [
        "INV-1",
        "INV-2",
    ]
    assert sorted(receiver.ids()) == sorted(e.idempotency_key for e in (first, second, void))
    view = inbound.inbound_view(next(e for e in events(system.ctx) if e.id == first.id))
    assert view["status"] == "Delivered" and view["attempts"] >= 4 and view["last_error"] is None


def test_refused_event_needs_a_person_then_cli_retries_it(system, receiver):
    start(system, receiver)
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    ns.user_payment([(ns.invoice("INV-1", customer, item, 100), "30.00")])
    inbound.poll(system.ctx, ns.integration.id)
    receiver.answer = 422
    webhook.deliver_due(system.ctx)
    listed = json.loads(system.cli_ok("hub", "list", "--inbound", "--json"))
    assert [(v["state"], v["status"], v["last_status"]) for v in listed] == [("failed", "Not Delivered", 422)]
    assert "needs a person" in listed[0]["last_error"] and "INV-1" in listed[0]["summary"]
    assert len(receiver.requests) == 1  # not retried by itself
    table = system.cli_ok("hub", "list", "--inbound", COLUMNS="200")
    assert "payment_received" in table and "Not Delivered" in table and "422" in table
    receiver.answer = 200
    assert "1 delivered now" in system.cli_ok("inbound", "retry", "--all-failed")
    listed = json.loads(system.cli_ok("inbound", "list", "--state", "delivered", "--json"))
    assert len(listed) == 1 and listed[0]["delivered_at"] and len(receiver.accepted) == 1


def test_poller_calls_are_paid_with_governor_tokens(system, receiver):
    start(system, receiver, rate_limit="4/60s", NUE_NS_INBOUND_PAGE_SIZE="1")
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    invoices = [ns.invoice(f"INV-{n}", customer, item, 100) for n in range(3)]
    for inv in invoices:
        ns.user_payment([(inv, "10.00")])
    governor = system.ctx.connection(ns.integration.id).governor
    used_before = governor.state().calls_in_window  # the setup's writes
    calls_before = len(suiteql_calls(system))

    result = inbound.poll(system.ctx, ns.integration.id)
    spent = 4 - used_before
    # Each page costs a token (the changes page, then its applications), until none is left.
    assert result.queries == spent and "no NetSuite call slot (rate" in result.stopped
    assert len(suiteql_calls(system)) - calls_before == spent
    assert governor.state().calls_in_window == 4
    with session_scope(system.ctx.engine) as s:
        logged = s.scalar(
            select(func.count()).where(Attempt.outcome == "queried", Attempt.record_id.is_(None))
        )
    assert logged == spent
    # What was committed stays; a denied poll calls NetSuite not at all.
    assert inbound.poll(system.ctx, ns.integration.id).queries == 0
    assert len(suiteql_calls(system)) - calls_before == spent


def test_payments_are_not_reported_unless_the_integration_collects_in_netsuite(system, receiver):
    start(system, receiver, config=IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"))  # collects on Stripe
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    inv = ns.invoice("INV-1", customer, item, 100)
    ns.user_payment([(inv, "30.00")])
    ns.user_void(ns.credit_memo("CM-1", customer, item, 10))
    # A payment nue-ns wrote (collected on Stripe), voided in NetSuite: Nue hears of it in this mode too.
    paid = {"apply": {"items": [{"doc": {"id": inv}, "apply": True, "amount": 20.0}]}}
    body = {"customer": {"id": customer}, "payment": 20.0, "account": {"id": "1"}} | paid
    pay = ns.nue_wrote("payment", "PAY-1", "customerPayment", "nue-pay-PAY-1", body)
    ns.user_void(pay, type="customerPayment")
    assert inbound.poll(system.ctx, ns.integration.id).created == 2
    webhook.deliver_due(system.ctx)
    assert sorted(p["type"] for p in receiver.accepted) == ["credit_memo_voided", "payment_voided"]


def test_beat_and_a_worker_poll_and_deliver(system, receiver):
    start(system, receiver, NUE_NS_INBOUND_POLL_SECONDS="1", NUE_NS_WEBHOOK_DELIVER_SECONDS="1")
    ns = NetSuite(system)
    customer, item = ns.customer("C-1"), ns.item()
    inv = ns.invoice("INV-1", customer, item, 100)
    system.workers(1, concurrency=2)
    system.beat()
    ns.user_payment([(inv, "100.00")])
    deadline = time.monotonic() + 60
    while not receiver.accepted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.accepted, f"nothing delivered in 60 s; logs in {system.work_dir}"
    assert [a["invoice"]["nue_id"] for a in receiver.accepted[0]["payment"]["applications"]] == ["INV-1"]
    time.sleep(3)  # more polls and deliveries run: nothing is sent twice
    assert len(receiver.accepted) == 1 and receiver.bad_signatures == 0


def test_signature_and_webhook_url():
    body = webhook.body_of({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    header = webhook.sign(body, SECRET, "evt-1", timestamp=1_700_000_000)
    mac = hmac.new(SECRET.encode(), b"1700000000.evt-1." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"
    now = 1_700_000_000 + 10
    assert webhook.verify(body, SECRET, header, "evt-1", now=now)
    assert not webhook.verify(body + b" ", SECRET, header, "evt-1", now=now)
    assert not webhook.verify(body, "another-secret", header, "evt-1", now=now)
    assert not webhook.verify(body, SECRET, None, "evt-1", now=now)
    # A captured delivery replayed under a fresh event id, or after the window, is refused.
    assert not webhook.verify(body, SECRET, header, "evt-2", now=now)
    assert not webhook.verify(body, SECRET, header, "evt-1", now=now + webhook.REPLAY_WINDOW)
    assert not webhook.verify(body, SECRET, header.replace("t=1700000000", f"t={int(now)}"), "evt-1", now=now)
    from nue_ns.config import Settings

    settings = Settings(NUE_NS_WEBHOOK_URL="https://nue.example/hooks")
    assert webhook.webhook_url_for(Integration(settings={}), settings) == "https://nue.example/hooks"
    own = Integration(settings={"webhook_url": "https://tenant.example/hooks"})
    assert webhook.webhook_url_for(own, settings) == "https://tenant.example/hooks"
    assert SECRET not in repr(Settings(NUE_NS_WEBHOOK_SECRET=SECRET))


def test_the_receiver_sample_in_the_readme_verifies_and_refuses_replays():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = re.search(r"<!-- receiver-sample -->\n```python\n(.*?)```", readme, re.S).group(1)
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - our own README's sample
    verify = scope["verify_nue_ns"]
    body = webhook.body_of({"event_id": "evt-1", "kind": "payment_received"})
    headers = {
        webhook.SIGNATURE_HEADER: webhook.sign(body, SECRET, "evt-1"),
        webhook.EVENT_ID_HEADER: "evt-1",
    }
    assert verify(body, headers, SECRET)
    assert not verify(body + b" ", headers, SECRET)
    assert not verify(body, headers | {webhook.EVENT_ID_HEADER: "evt-2"}, SECRET)  # replayed, new id
    assert not verify(body, headers, "another-secret")
    stale = {**headers, webhook.SIGNATURE_HEADER: webhook.sign(body, SECRET, "evt-1", int(time.time()) - 301)}
    assert not verify(body, stale, SECRET)
    assert not verify(body, {webhook.EVENT_ID_HEADER: "evt-1"}, SECRET)
    assert not verify(body, headers | {webhook.SIGNATURE_HEADER: "sha256=00"}, SECRET)
