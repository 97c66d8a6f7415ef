"""SuiteQL values inlined as validated literals (REST SuiteQL takes only `q`, section_157909186990),
and the inbound poll's queries built with them, run against the sandbox's SuiteQL (no server)."""

from __future__ import annotations

import datetime as dt

import pytest

from nue_ns import inbound
from nue_ns.mapping import accounts
from nue_ns.netsuite import literals
from nue_ns.sandbox import state, suiteql
from nue_ns.sandbox.state import AccountData, NsError


def test_integers_and_times_become_literals_that_cannot_carry_sql():
    assert literals.integers([5, "12", 7]) == "5, 12, 7"
    assert literals.timestamp(dt.datetime(2026, 12, 2, 13, 0, 5, 999)) == (
        "TO_DATE('2026-12-02 13:00:05', 'YYYY-MM-DD HH24:MI:SS')"
    )
    for bad in ("1) OR (1=1", "1.5", True, None, 2.0):
        with pytest.raises(ValueError):
            literals.integer(bad)
    with pytest.raises(ValueError):
        literals.integers([])
    with pytest.raises(ValueError):
        literals.timestamp("2026-12-02 13:00:00")  # type: ignore[arg-type]
    assert accounts.query(["4", "10"]).endswith("WHERE id IN (4, 10)")  # the GL check shares them


def test_the_inbound_queries_carry_their_values_and_no_placeholder():
    key = (dt.datetime(2026, 12, 2, 13, 0, 0), 42)
    changes = inbound.changes_query(True, key)
    assert "?" not in changes and changes.count("TO_DATE('2026-12-02 13:00:00'") == 2
    assert "t.id > 42" in changes
    apps = inbound.applications_query([7, 9])
    assert "?" not in apps and "IN (7, 9)" in apps


def test_the_sandbox_answers_the_inbound_queries_with_the_query_alone():
    acct = AccountData("LIT1", "ck", "cs", "tk", "ts")
    cust = state.upsert(acct, "customer", "c-1", {"companyName": "A", "subsidiary": {"id": "1"}}).record.id
    pay = {"customer": {"id": cust}, "payment": 10.0, "account": {"id": "1"}}
    paid = state.upsert(acct, "customerPayment", "ns-pay-1", pay).record.id
    page = suiteql.run(acct, {"q": inbound.changes_query(True, (dt.datetime(2000, 1, 1), 0))}, 1000, 0)
    assert [row["id"] for row in page["items"]] == [paid]
    after = suiteql.run(acct, {"q": inbound.changes_query(True, (dt.datetime(2999, 1, 1), 0))}, 1000, 0)
    assert after["items"] == []
    assert suiteql.run(acct, {"q": inbound.applications_query([int(paid)])}, 1000, 0)["items"] == []
    with pytest.raises(NsError) as err:
        suiteql.run(acct, {"q": "SELECT id FROM account WHERE id = ?", "params": [1]}, 1000, 0)
    assert (err.value.status, err.value.path) == (400, "params")
