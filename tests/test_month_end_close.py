"""Month-end close: NetSuite refuses transactions dated in a closed or A/R-locked accounting period,
and any change to one posted there; or, under its preferences, posts them in the next open period.
NetSuite's refusal classified and explained (pure), the sandbox's rules in-process, then the product
end to end: worker processes, real PostgreSQL and Redis, HTTP to a sandbox process."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from nue_ns import audit, sample, services
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import NetSuiteLink, Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.mapping.base import external_id
from nue_ns.netsuite import periods
from nue_ns.netsuite.errors import Kind, NetSuiteError, classify_response
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import periods as ns_periods
from nue_ns.sandbox import state, switches
from nue_ns.sandbox.state import AccountData, NsError
from tests.harness import ACCOUNT, System

# -- the product: NetSuite's refusal classified and explained ------------------------------------------


def _answer(code: str, words: str, status: int = 400) -> str:
    detail = f"Error while accessing a resource. {words}"
    return json.dumps({"status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]})


# Oracle's codes and words (Error Status Codes, section_N3539978), the integrations' wording of the
# mismatch (Fyle's and Expensify's NetSuite connectors), each also under USER_ERROR (REST's code [U]).
REPORTED = "The transaction date you specified is not within the date range of your accounting period."
MISMATCH = "Your transaction date does not fall between the start and end dates of your accounting period."
CHANGED = "The G/L impact of a transaction in a closed period cannot be changed."
MOVED = "You cannot move a transaction to or from a closed period."
REFUSALS = [
    ("CLOSED_TRAN_PRD", CHANGED, "changed"),
    ("CLOSED_TRAN_PRD", MOVED, "changed"),
    ("USER_ERROR", CHANGED, "changed"),
    ("USER_ERROR", MOVED, "changed"),
    ("CLOSED_TRAN_PRD", "Invalid transaction.", "changed"),  # known by its code alone
    ("DATE_PRD_MISMATCH", MISMATCH, "dated"),
    ("USER_ERROR", MISMATCH, "dated"),
    ("USER_ERROR", REPORTED, "dated"),  # as integrations report it
    ("ACCTNG_PRD_REQD", "Missing next accounting period", "no_period"),
    ("USER_ERROR", "Missing next accounting period", "no_period"),
    # A lock's words are on no public page: "locked" must not make it a transient to retry.
    ("USER_ERROR", "The accounting period for this date is locked.", "dated"),
    ("USER_ERROR", "You cannot post to a locked period.", "dated"),
]


@pytest.mark.parametrize(("code", "words", "which"), REFUSALS)
def test_a_period_refusal_needs_a_person_and_says_what_to_do(code: str, words: str, which: str) -> None:
    err = classify_response(400, _answer(code, words))
    assert err.kind is Kind.NEEDS_PERSON and err.code == code and periods.refused(err)
    assert periods.refusal(err.code, err.detail) == which
    assert err.detail.startswith(periods.MARK) and err.detail.endswith(f"NetSuite said: {_words(words)}")
    if which == "no_period":
        assert "sets up the next periods" in err.detail
        return
    assert "Reopen Period" in err.detail and "Lock A/R, Unlock" in err.detail
    assert "retry this record" in err.detail
    preference = "Default Posting Period When Transaction Date in Closed Period"
    if which == "changed":  # the preferences do not move a posted transaction: not offered
        assert "the hub's link to it, are unchanged" in err.detail and preference not in err.detail
    else:
        assert preference in err.detail and "Allow Transaction Date Outside of Posting Period" in err.detail


def _words(words: str) -> str:
    return f"Error while accessing a resource. {words}"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("USER_ERROR", "This record is locked by another user. Try again later."),  # transient, as before
        ("USER_ERROR", "Record has been changed since you retrieved it."),
    ],
)
def test_other_locks_stay_transient(code: str, words: str) -> None:
    err = classify_response(400, _answer(code, words))
    assert err.kind is Kind.TRANSIENT and not periods.refused(err)
    assert err.detail == _words(words)


def test_other_refusals_are_left_as_netsuite_worded_them() -> None:
    words = "You have entered an Invalid Field Value 99 for the following field: entity"
    err = classify_response(400, _answer("USER_ERROR", words))
    assert err.kind is Kind.NEEDS_PERSON and err.detail == _words(words) and not periods.refused(err)
    assert periods.explained("USER_ERROR", err.detail) == err.detail


def test_an_explanation_is_given_once_and_names_the_records_date() -> None:
    err = classify_response(400, _answer("DATE_PRD_MISMATCH", "Your transaction date does not fall ..."))
    assert periods.explained(err.code, err.detail) == err.detail  # already explained
    dated = periods.dated(err, "2026-10-15")
    assert dated.detail == err.detail.replace(periods.MARK, f"{periods.MARK} (its date: 2026-10-15)", 1)
    assert dated.detail.endswith("NetSuite said: " + _words("Your transaction date does not fall ..."))
    assert periods.dated(err, None) is err
    other = NetSuiteError(Kind.NEEDS_PERSON, "Invalid Field Value", code="USER_ERROR")
    assert periods.dated(other, "2026-10-15") is other


# -- the sandbox: NetSuite's rules, in-process ---------------------------------------------------------


@pytest.fixture
def acct() -> AccountData:
    return AccountData("PRD1", "ck", "cs", "tk", "ts")  # switches live on the account: none leak


def _refs(acct: AccountData) -> tuple[str, str]:
    cust = state.upsert(acct, "customer", "c1", {"companyName": "A", "subsidiary": {"id": "1"}}).record
    itm = state.upsert(acct, "serviceSaleItem", "i1", {"itemId": "I", "incomeAccount": {"id": "6"}}).record
    return cust.id, itm.id


def _sale(refs: tuple[str, str], day: str, rate: float = 10.0, **extra: Any) -> dict[str, Any]:
    lines = [{"item": {"id": refs[1]}, "quantity": 1, "rate": rate}]
    return {"entity": {"id": refs[0]}, "tranDate": day, "item": {"items": lines}} | extra


LINES = frozenset({"item"})  # ?replace=item: the lines sent replace the old ones


def _refused(write: Any) -> dict[str, Any]:
    with pytest.raises(NsError) as err:
        write()
    return err.value.body()["o:errorDetails"][0]


def test_a_transaction_dated_in_a_closed_period_is_refused_and_nothing_is_stored(acct) -> None:
    refs = _refs(acct)
    assert switches.apply(acct, {"closed_periods": ["2026-10"]})["closed_period_posting"] == "refuse"
    before = dict(acct.records)
    refused = _refused(lambda: state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-31")))
    assert refused["o:errorCode"] == "USER_ERROR" and refused["o:errorPath"] == "tranDate"
    assert refused["detail"].endswith(ns_periods.DATE_MISMATCH)
    assert acct.records == before
    # The product takes the sandbox's answer as NetSuite's: needs a person, explained.
    err = classify_response(400, json.dumps({"o:errorDetails": [refused]}))
    assert err.kind is Kind.NEEDS_PERSON and periods.refusal(err.code, err.detail) == "dated"
    # The next month is open; a sales order posts nothing and is never refused.
    inv = state.upsert(acct, "invoice", "inv2", _sale(refs, "2026-11-01")).record
    assert state.read(acct, "invoice", inv.id)["postingPeriod"] == {"id": "202611", "refName": "Nov 2026"}
    order = state.upsert(acct, "salesOrder", "so1", _sale(refs, "2026-10-05")).record
    assert "postingPeriod" not in state.read(acct, "salesOrder", order.id)


def test_locked_ar_refuses_ar_transactions_but_not_a_deposit(acct) -> None:
    refs = _refs(acct)
    switches.apply(acct, {"ar_locked_periods": ["2026-10"]})
    refused = _refused(lambda: state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05")))
    assert refused["detail"].endswith(ns_periods.DATE_MISMATCH)
    body = {"customer": {"id": refs[0]}, "payment": 5.0, "tranDate": "2026-10-05"}
    assert _refused(lambda: state.upsert(acct, "customerPayment", "p1", body))["o:errorPath"] == "tranDate"
    deposit = {"account": {"id": "1"}, "tranDate": "2026-10-05"}
    deposit["other"] = {"items": [{"account": {"id": "6"}, "amount": 5.0}]}
    made = state.upsert(acct, "deposit", "d1", deposit).record  # Lock A/R: A/R transactions only
    assert made.derived["postingPeriod"]["id"] == "202610"


def test_under_next_open_it_posts_in_the_first_open_period_with_its_date_kept(acct) -> None:
    refs = _refs(acct)
    shut = {"closed_periods": ["2026-10"], "ar_locked_periods": ["2026-11"]}
    switches.apply(acct, shut | {"closed_period_posting": "next_open"})
    inv = state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05")).record
    view = state.read(acct, "invoice", inv.id)
    assert view["tranDate"] == "2026-10-05"
    assert view["postingPeriod"] == {"id": "202612", "refName": "Dec 2026"}
    again = state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05", rate=12.0), replace=LINES)
    assert again.record is inv and not again.created and inv.derived["total"] == 12.0
    # The period a transaction posts in was open: the Dec transaction is kept when Dec closes.
    switches.apply(acct, {"closed_periods": ["2026-10", "2026-12"]})
    changed = _refused(
        lambda: state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05", rate=20.0), replace=LINES)
    )
    assert changed["detail"].endswith(ns_periods.CHANGE_IN_CLOSED) and inv.derived["total"] == 12.0
    err = classify_response(400, json.dumps({"o:errorDetails": [changed]}))
    assert periods.refusal(err.code, err.detail) == "changed"


def test_a_transaction_posted_in_a_period_that_closed_is_kept_as_it_is(acct) -> None:
    refs = _refs(acct)
    inv = state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05")).record
    switches.apply(acct, {"closed_periods": ["2026-10"]})
    refused = _refused(lambda: state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05", rate=20.0)))
    assert refused["detail"].endswith(ns_periods.CHANGE_IN_CLOSED) and "o:errorPath" not in refused
    assert _refused(lambda: state.update(acct, "invoice", inv.id, {"memo": "x"}))["detail"].endswith(
        ns_periods.CHANGE_IN_CLOSED
    )
    assert inv.derived["total"] == 10.0 and "memo" not in inv.body
    # Reopened, the change goes through.
    switches.apply(acct, {"closed_periods": []})
    reopened = state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-10-05", rate=20.0), replace=LINES)
    assert reopened.record.derived["total"] == 20.0
    # An open transaction is not moved into a closed period, nor into or out of one by its postingPeriod.
    switches.apply(acct, {"closed_periods": ["2026-09"]})
    moved = _refused(lambda: state.upsert(acct, "invoice", "inv1", _sale(refs, "2026-09-30")))
    assert moved["detail"].endswith(ns_periods.MOVE_CLOSED) and moved["o:errorPath"] == "tranDate"
    into = _sale(refs, "2026-10-05", postingPeriod={"id": "202609"})
    assert _refused(lambda: state.upsert(acct, "invoice", "inv1", into))["o:errorPath"] == "postingPeriod"


def test_a_posting_period_sent_must_be_open_and_under_disallow_hold_the_date(acct) -> None:
    refs = _refs(acct)
    later = _sale(refs, "2026-10-05", postingPeriod={"id": "202611"})
    assert _refused(lambda: state.upsert(acct, "invoice", "inv1", later))["detail"].endswith(
        ns_periods.DATE_MISMATCH
    )
    switches.apply(acct, {"closed_period_posting": "next_open"})  # Warn or Allow: a mismatch is saved
    inv = state.upsert(acct, "invoice", "inv1", later).record
    assert inv.derived["postingPeriod"]["id"] == "202611" and "postingPeriod" not in inv.body
    bad = _sale(refs, "2026-10-05", postingPeriod={"id": "Oct 2026"})
    assert _refused(lambda: state.upsert(acct, "invoice", "inv2", bad))["o:errorCode"] == "INVALID_CONTENT"


@pytest.mark.parametrize(
    ("switch", "message"),
    [
        ({"closed_periods": "2026-10"}, "closed_periods must list months as YYYY-MM"),
        ({"ar_locked_periods": ["2026-13"]}, "ar_locked_periods must list months as YYYY-MM"),
        ({"closed_period_posting": "current"}, "closed_period_posting must be one of refuse, next_open"),
    ],
)
def test_period_switches_are_checked(acct, switch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        switches.apply(acct, switch)
    assert switches.describe(acct)["closed_periods"] == []


# -- the product end to end ----------------------------------------------------------------------------


def _state(system: System, ids: list[int]) -> list[Record]:
    with session_scope(system.ctx.engine) as s:
        rows = s.scalars(select(Record).where(Record.id.in_(ids)).order_by(Record.id)).all()
        s.expunge_all()
        return list(rows)


def _puts(system: System, invoice_id: str) -> list[int]:
    eid = external_id("invoice", invoice_id)
    return [c["status"] for c in system.log() if c["method"] == "PUT" and c.get("external_id") == eid]


def _ns_invoice(system: System, invoice_id: str) -> dict[str, Any]:
    found = [r for r in system.ns_records("invoice") if r["externalId"] == external_id("invoice", invoice_id)]
    assert len(found) == 1, found  # never twice
    return found[0]["body"]


def _link(system: System, invoice_id: str) -> tuple[str, int]:
    with session_scope(system.ctx.engine) as s:
        link = s.get(NetSuiteLink, (system.ctx.integration("default").id, "invoice", invoice_id))
        assert link is not None
        return link.ns_internal_id, link.record_id


def _renamed(invoice: dict[str, Any], tag: str) -> dict[str, Any]:
    lines = [line | {"id": f"{line['id']}-{tag}"} for line in invoice["lines"]]
    number = f"{invoice['invoice_number']}-{tag}"
    return invoice | {"id": f"{invoice['id']}-{tag}", "invoice_number": number, "lines": lines}


def test_month_end_close_refused_then_retried_updates_kept_and_next_open_posting(system) -> None:
    system.start(rate_limit="50/1s", config=IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"))
    system.sandbox_post("switches", {"account": ACCOUNT, "closed_periods": ["2025-03"]})  # refuse: default
    system.workers(1)
    month = sample.month(
        n_customers=2, n_products=5, n_orders=0, n_invoices=4, n_payments=0, n_refunds=0, n_credit_memos=0
    )
    march, april = month["invoice"][:2], month["invoice"][2:]
    for inv in april:
        inv |= {"invoice_date": "2025-04-10", "due_date": "2025-05-10"}
    assert all(inv["invoice_date"].startswith("2025-03") for inv in march)
    ids = [a.id for rtype in ("customer", "product") for a in enqueue_many(rtype, month[rtype])]
    march_ids = [a.id for a in enqueue_many("invoice", march)]
    april_ids = [a.id for a in enqueue_many("invoice", april)]

    # Dated in the closed March: refused once each, needing a person, explained; April goes.
    system.wait(march_ids, states=[State.FAILED], timeout=30, what="the March invoices")
    system.wait(ids + april_ids, timeout=30, what="customers, products, April invoices")
    for rec in _state(system, march_ids):
        assert rec.error_kind == "needs_person" and rec.attempts == 1 and rec.error_code == "USER_ERROR"
        # The record's date named (sync._explained calls periods.dated).
        day = rec.payload["invoice_date"]
        head = f"needs a person: 400 USER_ERROR: {periods.MARK} \\(its date: {day}\\): "
        assert re.match(head + "the period of its date is closed, or its A/R is locked", rec.reason)
        assert "Reopen Period" in rec.reason and "Default Posting Period When Transaction Date" in rec.reason
        assert rec.reason.endswith(ns_periods.DATE_MISMATCH + " (field tranDate)")
        assert _puts(system, rec.nue_id) == [400]
    assert not [r for r in system.ns_records("invoice") if r["body"]["tranDate"].startswith("2025-03")]

    # The period reopened, an operator's retry transfers each once.
    system.sandbox_post("switches", {"account": ACCOUNT, "closed_periods": []})
    assert sorted(services.retry(system.ctx, march_ids).ids) == march_ids
    system.wait(march_ids, timeout=30, what="the retried March invoices")
    for inv in march:
        assert _puts(system, inv["id"]) == [400, 204]
        assert _ns_invoice(system, inv["id"])["postingPeriod"]["id"] == "202503"

    # April's A/R locked: a later version of a transferred April invoice is refused and kept for a
    # person; NetSuite's invoice and the hub's link to it are unchanged.
    system.sandbox_post("switches", {"account": ACCOUNT, "ar_locked_periods": ["2025-04"]})
    first = april[0]
    ns_id, linked = _link(system, first["id"])
    [update] = [a.id for a in enqueue_many("invoice", [first | {"due_date": "2025-05-20"}])]
    system.wait([update], states=[State.FAILED], timeout=30, what="the April update")
    [rec] = _state(system, [update])
    assert rec.error_kind == "needs_person" and rec.attempts == 1
    assert "NetSuite keeps a transaction posted in a closed period, or in one whose A/R is locked" in (
        rec.reason
    )
    assert rec.reason.endswith(ns_periods.CHANGE_IN_CLOSED)
    assert _link(system, first["id"]) == (ns_id, linked)
    assert [r.state for r in _state(system, [linked])] == [State.TRANSFERRED]
    assert _ns_invoice(system, first["id"])["dueDate"] == "2025-05-10"

    # Under the preferences' next-open posting, new March invoices go once each, posting in May (March
    # closed, April's A/R locked), their date kept; the audit finds nothing amiss.
    system.sandbox_post(
        "switches", {"account": ACCOUNT, "closed_periods": ["2025-03"], "closed_period_posting": "next_open"}
    )
    late = [_renamed(inv, "L") for inv in march]
    late_ids = [a.id for a in enqueue_many("invoice", late)]
    system.wait(late_ids, timeout=30, what="the late March invoices")
    for inv in late:
        body = _ns_invoice(system, inv["id"])
        assert body["tranDate"] == inv["invoice_date"] and body["postingPeriod"]["id"] == "202505"
        assert _puts(system, inv["id"]) == [204]

    # A/R unlocked, the operator retries the update: applied, once.
    system.sandbox_post("switches", {"account": ACCOUNT, "ar_locked_periods": []})
    services.retry(system.ctx, [update])
    system.wait([update], timeout=30, what="the retried April update")
    assert _ns_invoice(system, first["id"])["dueDate"] == "2025-05-20"
    assert _link(system, first["id"]) == (ns_id, update)
    report = audit.verify(system.ctx, timeout=30)
    assert report.ok and report.checked == len(ids) + 6, report.as_json()
