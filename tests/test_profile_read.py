"""The profile read (profile.read) against a sandbox account in-process: the governed calls are
replaced by the sandbox's own answers (no server)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from nue_ns import profile
from nue_ns.integration import IntegrationConfig
from nue_ns.netsuite.client import lower_names
from nue_ns.netsuite.errors import Kind, NetSuiteError, classify_response
from nue_ns.sandbox import kinds, suiteql, switches
from nue_ns.sandbox.state import AccountData, NsError


def _read(monkeypatch, acct: AccountData, page_size: int = 1000, short_pages: bool = False, wrap=None):
    """profile.read on `acct`; returns (profile, [(query, offset)] asked)."""
    asked: list[tuple[str, int]] = []

    def call(ctx, conn, method, url, body, fn, **kw):  # the metadata catalog
        return acct.kind.document(profile.record_types(conn.config))

    def ask(ctx, conn, query, *, limit=1000, offset=0, **kw):
        asked.append((query, offset))
        try:
            page = suiteql.run(acct, {"q": query}, min(limit, page_size), offset)
        except NsError as err:
            raise classify_response(err.status, json.dumps(err.body())) from None
        if short_pages and page["hasMore"]:  # NetSuite may answer a page shorter than its limit
            page["items"] = page["items"][:1]
        return lower_names(page)  # as NetSuiteClient.suiteql hands every page on

    monkeypatch.setattr(profile.gateway, "call", call)
    monkeypatch.setattr(profile.gateway, "suiteql", wrap(ask) if wrap else ask)
    conn = SimpleNamespace(config=IntegrationConfig(), client=SimpleNamespace(base_url="http://ns"))
    ctx = SimpleNamespace(connection=lambda _id: conn, settings=SimpleNamespace(governor_max_wait=1.0))
    return profile.read(ctx, 1), asked  # type: ignore[arg-type]


def _suitetax() -> AccountData:
    return AccountData("PROF1", "ck", "cs", "tk", "ts", kind=kinds.kind("suitetax"))


def test_tax_codes_are_read_by_itemid(monkeypatch):
    read, asked = _read(monkeypatch, _suitetax())
    assert read.tax_codes == {name: i for i, name in kinds.TAX_CODES.items()}
    assert [q for q, _ in asked if "salestaxitem" in q] == [profile.TAX_CODE_QUERY]


def test_result_names_in_upper_case_read_the_same_profile(monkeypatch):
    # NetSuite's casing of result names can change (section_156257796125; sandbox switch).
    lower, _ = _read(monkeypatch, _suitetax())
    acct = _suitetax()
    switches.apply(acct, {"result_name_case": "upper"})
    upper, _ = _read(monkeypatch, acct)
    assert upper.tax_codes == lower.tax_codes and upper.tax_codes
    assert upper.currencies == lower.currencies and upper.currencies
    assert upper.subsidiaries == lower.subsidiaries


def test_an_account_that_names_the_column_name_is_read_by_name(monkeypatch):
    acct = _suitetax()
    switches.apply(acct, {"tax_code_column": "name"})
    read, asked = _read(monkeypatch, acct)
    assert read.tax_codes["S-GB"] == "21"
    assert [q for q, _ in asked if "salestaxitem" in q] == [
        profile.TAX_CODE_QUERY,
        profile.TAX_CODE_QUERY_BY_NAME,
    ]
    assert read.calls == len(asked) + 1  # the catalog, and every query, the refused one too


def _failing_tax_codes(error: NetSuiteError):
    def wrap(ask):
        def answer(ctx, conn, query, **kw):
            if "salestaxitem" in query:
                raise error
            return ask(ctx, conn, query, **kw)

        return answer

    return wrap


def test_a_refused_tax_code_query_leaves_no_codes_but_the_rest_of_the_profile(monkeypatch):
    refused = classify_response(400, json.dumps(suiteql.bad_query("Unknown identifier").body()))
    read, _ = _read(monkeypatch, _suitetax(), wrap=_failing_tax_codes(refused))
    assert read.tax_codes == {} and read.suitetax and read.currencies["EUR"] == "1"


def test_a_throttled_tax_code_query_still_fails_the_read(monkeypatch):
    throttled = NetSuiteError(Kind.THROTTLED, "CONCURRENCY_LIMIT_EXCEEDED", status=429)
    with pytest.raises(NetSuiteError):
        _read(monkeypatch, _suitetax(), wrap=_failing_tax_codes(throttled))


def test_pages_advance_by_the_limit_even_when_a_page_is_short(monkeypatch):
    monkeypatch.setattr(profile, "PAGE", 2)
    read, asked = _read(monkeypatch, _suitetax(), short_pages=True)  # 3 currencies: pages of 1
    assert [o for q, o in asked if "FROM currency" in q] == [0, 2]  # 1 would be refused by NetSuite
    assert read.currencies  # and the read goes on


def test_a_query_that_failed_transiently_is_asked_again_and_counted(monkeypatch):
    failures = {"currency": 2, "subsidiary": 0}

    def wrap(ask):
        def answer(ctx, conn, query, **kw):
            table = next((t for t in failures if f"FROM {t}" in query), None)
            if table and failures[table] > 0:
                failures[table] -= 1
                raise NetSuiteError(Kind.TRANSIENT, "UNEXPECTED_ERROR", status=500)
            return ask(ctx, conn, query, **kw)

        return answer

    # Twice for the currencies, then an answer: the read goes on, three calls counted for them.
    read, _ = _read(monkeypatch, _suitetax(), wrap=wrap)
    assert read.currencies["EUR"] == "1" and failures["currency"] == 0
    plain, _ = _read(monkeypatch, _suitetax())
    assert read.calls == plain.calls + 2
    # READ_TRIES failures in a row: the read fails.
    failures.update(currency=0, subsidiary=profile.READ_TRIES)
    with pytest.raises(NetSuiteError):
        _read(monkeypatch, _suitetax(), wrap=wrap)
    assert failures["subsidiary"] == 0


def test_each_currencys_precision_is_read_by_the_currency_query_itself(monkeypatch):
    acct = AccountData("PROF2", "ck", "cs", "tk", "ts", kind=kinds.kind("full"))
    read, asked = _read(monkeypatch, acct)
    assert read.currency_precision == {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "JPY": 0}
    assert [q for q, _ in asked if "FROM currency" in q] == [profile.CURRENCY_QUERY]  # no call more
    assert read.places("JPY") == 0 and read.places("EUR") == 2


def test_an_account_without_the_precision_column_is_read_without_it_and_held_to_the_fallback(monkeypatch):
    # Whether SuiteQL's currency table names the column currencyprecision is on no Oracle page [U].
    acct = AccountData("PROF3", "ck", "cs", "tk", "ts", kind=kinds.kind("full"))
    switches.apply(acct, {"currency_precision_column": "none"})
    read, asked = _read(monkeypatch, acct)
    assert [q for q, _ in asked if "FROM currency" in q] == [
        profile.CURRENCY_QUERY,
        profile.CURRENCY_QUERY_WITHOUT_PRECISION,
    ]
    assert read.currencies["JPY"] == "5" and read.currency_precision == {}
    assert (read.places("JPY"), read.places("USD")) == (0, 2)  # NetSuite's integer currencies: 0
    assert read.calls == len(asked) + 1  # the catalog, and every query, the refused one too
