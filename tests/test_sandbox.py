"""The NetSuite REST emulator, driven over real HTTP by a real requests-oauthlib TBA client.

One sandbox process (`python -m nue_ns.sandbox`) serves the whole module; every test starts from
`POST /_sandbox/reset` (no records, no log, no faults) with the default limits restored.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from nue_ns.netsuite.auth import Credentials, tba_auth
from nue_ns.netsuite.client import NetSuiteClient
from nue_ns.netsuite.errors import Kind, classify_response
from nue_ns.sandbox import demo, field_types, state
from nue_ns.sandbox.account_schema import derived_document
from nue_ns.sandbox.kinds import kind
from nue_ns.sandbox.state import AccountData, SandboxState

pytestmark = pytest.mark.servers  # starts servers of its own: not in make test-unit

REPO = Path(__file__).resolve().parents[1]
ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"
INVALID_LOGIN = {
    "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    "title": "Unauthorized",
    "status": 401,
    "o:errorDetails": [
        {
            "detail": "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
            "at Setup > Users/Roles > User Management > View Login Audit Trail.",
            "o:errorCode": "INVALID_LOGIN",
        }
    ],
}
TOO_MANY = {
    "title": "Too Many Requests",
    "status": 429,
    "o:errorDetails": [
        {
            "detail": "Concurrent request limit exceeded. Request blocked. CONCURRENCY_LIMIT_EXCEEDED",
            "o:errorCode": "USER_ERROR",
        }
    ],
}
STRICT = {"X-NetSuite-PropertyNameValidation": "Error"}
DEMO = demo.demo_account()
COMPANY = {"companyName": "A", "subsidiary": {"id": "1"}}


def new_account(account_id: str) -> dict[str, str]:
    keys = ("consumer_key", "consumer_secret", "token_id", "token_secret")
    return {"account_id": account_id} | {key: secrets.token_hex(32) for key in keys}


def applying(doc: str, amount: float | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"doc": {"id": doc}, "apply": True}
    return {"items": [line | ({"amount": amount} if amount is not None else {})]}


ENV_ACCOUNT = new_account("1234567_SB1")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """A real sandbox process; the NETSUITE_* env account is registered besides the demo one."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSUITE_")}
    env |= {f"NETSUITE_{k.upper()}": v for k, v in ENV_ACCOUNT.items()}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nue_ns.sandbox", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "NetSuite sandbox ready on http://127.0.0.1:" in line, line
        assert "TSTDRV1234567" in line and "1234567_SB1" in line
        root = f"http://127.0.0.1:{port}"
        assert requests.get(f"{root}/_sandbox/health", timeout=5).status_code == 200
        yield root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> None:
    if "base" not in request.fixturenames:
        return
    root = request.getfixturevalue("base")
    deadline = time.monotonic() + 10
    while any(a["in_flight"] for a in requests.get(f"{root}/_sandbox/accounts", timeout=5).json()):
        assert time.monotonic() < deadline, "requests of the previous test still in flight"
        time.sleep(0.05)
    requests.post(f"{root}/_sandbox/reset", timeout=5).raise_for_status()
    requests.post(f"{root}/_sandbox/latency", json={"min_ms": 0, "max_ms": 0}, timeout=5).raise_for_status()
    for acct in (DEMO, ENV_ACCOUNT):
        body = {"account": acct["account_id"], "concurrency_limit": 5}
        requests.post(f"{root}/_sandbox/config", json=body, timeout=5).raise_for_status()


def tba(account: dict[str, Any] = DEMO, realm: str | None = None, **kwargs: Any) -> OAuth1:
    return OAuth1(
        account["consumer_key"],
        client_secret=account["consumer_secret"],
        resource_owner_key=account["token_id"],
        resource_owner_secret=account["token_secret"],
        realm=account["account_id"] if realm is None else realm,
        signature_method=kwargs.pop("signature_method", SIGNATURE_HMAC_SHA256),
        **kwargs,
    )


def call(base: str, method: str, path: str, auth: OAuth1 | None = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 10)
    return requests.request(method, f"{base}/services/rest{path}", auth=auth or tba(), **kwargs)


def put(base: str, ns_type: str, eid: str, body: dict[str, Any], replace: str | None = None, **kw: Any):
    query = f"?replace={replace}" if replace else ""
    return call(base, "PUT", f"/record/v1/{ns_type}/eid:{eid}{query}", json=body, headers=STRICT, **kw)


def get(base: str, ns_type: str, ref: str, **kw: Any) -> dict[str, Any]:
    r = call(base, "GET", f"/record/v1/{ns_type}/{ref}?expandSubResources=true", **kw)
    assert r.status_code == 200, r.text
    return r.json()


def suiteql(base: str, q: str, limit: int = 1000, offset: int = 0, **kw):
    headers = kw.pop("headers", {"Prefer": "transient"})
    body = kw.pop("body", None) or {"q": q}
    return call(base, "POST", f"/query/v1/suiteql?limit={limit}&offset={offset}", json=body, headers=headers)


def control(base: str, method: str, path: str, **kwargs: Any) -> Any:
    r = requests.request(method, f"{base}/_sandbox/{path}", timeout=10, **kwargs)
    assert r.ok, r.text
    return r.json()


def error_of(r: requests.Response) -> dict[str, Any]:
    assert r.headers["Content-Type"] == ERROR_TYPE
    return r.json()["o:errorDetails"][0]


def customer(base: str, eid: str = "nue-cust-1", **fields: Any) -> str:
    body = {"companyName": f"Company {eid}", "subsidiary": {"id": "1"}, "currency": {"id": "1"}} | fields
    r = put(base, "customer", eid, body)
    assert r.status_code == 204, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


def item(base: str, eid: str = "nue-item-1", ns_type: str = "nonInventorySaleItem", **fields: Any) -> str:
    body = {"itemId": eid, "incomeAccount": {"id": "5"}, "deferredRevenueAccount": {"id": "8"}} | fields
    r = put(base, ns_type, eid, body)
    assert r.status_code == 204, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


def sales_body(cust: str, itm: str, *amounts: float) -> dict[str, Any]:
    lines = [
        {"item": {"id": itm}, "quantity": 1, "rate": a, "custcol_nue_line_id": f"L{i}"}
        for i, a in enumerate(amounts)
    ]
    return {"entity": {"id": cust}, "tranDate": "2025-01-15", "item": {"items": lines}}


def invoice(base: str, cust: str, itm: str, eid: str = "nue-inv-1", amount: float = 100.0) -> str:
    r = put(base, "invoice", eid, sales_body(cust, itm, amount))
    assert r.status_code == 204, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


# -- authentication ----------------------------------------------------------------------------


def test_good_signature_reads_the_chart(base: str) -> None:
    acct = get(base, "account", "5")
    assert acct["acctNumber"] == "4000" and acct["acctType"]["id"] == "Income"
    assert get(base, "account", "14")["isInactive"] is True
    # The env account (NETSUITE_*) was registered at start and signs with its own keys.
    assert get(base, "account", "8", auth=tba(ENV_ACCOUNT))["acctType"]["id"] == "DeferRevenue"


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(tba(DEMO | {"consumer_secret": "0" * 64}), id="bad-signature"),
        pytest.param(tba(DEMO | {"token_id": ENV_ACCOUNT["token_id"]}), id="wrong-token"),
        pytest.param(tba(DEMO | {"consumer_key": ENV_ACCOUNT["consumer_key"]}), id="wrong-consumer-key"),
        pytest.param(tba(realm=DEMO["account_id"].lower()), id="lower-case-realm"),
        pytest.param(tba(realm="TSTDRV7654321"), id="unknown-realm"),
        pytest.param(tba(ENV_ACCOUNT, realm=DEMO["account_id"]), id="other-accounts-keys"),
        pytest.param(tba(timestamp=str(int(time.time()) - 3600)), id="stale-timestamp"),
        pytest.param(tba(signature_method=SIGNATURE_HMAC_SHA1), id="hmac-sha1"),
        pytest.param(requests.auth.HTTPBasicAuth("user", "password"), id="not-oauth"),
    ],
)
def test_auth_failures_answer_invalid_login(base: str, auth: Any) -> None:
    r = call(base, "GET", "/record/v1/account/5", auth=auth)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == ERROR_TYPE
    assert r.json() == INVALID_LOGIN
    assert control(base, "GET", "log")[-1]["status"] == 401


def test_clock_skew_within_five_minutes_is_accepted(base: str) -> None:
    assert call(base, "GET", "/record/v1/account/5", auth=tba(timestamp=str(int(time.time()) - 240))).ok
    r = call(base, "GET", "/record/v1/account/5", auth=tba(timestamp=str(int(time.time()) + 330)))
    assert r.status_code == 401


def test_replayed_nonce_is_refused(base: str) -> None:
    nonce = secrets.token_hex(10)
    assert call(base, "GET", "/record/v1/account/5", auth=tba(nonce=nonce)).status_code == 200
    r = call(base, "GET", "/record/v1/account/5", auth=tba(nonce=nonce))
    assert r.status_code == 401 and r.json() == INVALID_LOGIN
    # The same nonce in another account is that account's business.
    assert call(base, "GET", "/record/v1/account/5", auth=tba(ENV_ACCOUNT, nonce=nonce)).status_code == 200


def test_signature_covers_query_and_host(base: str) -> None:
    signed = requests.Request("POST", f"{base}/services/rest/query/v1/suiteql?limit=5&offset=0", auth=tba())
    signed = signed.prepare()
    signed.headers["Prefer"] = "transient"
    signed.prepare_body(data=None, files=None, json={"q": "SELECT id FROM account"})
    tampered = signed.copy()
    tampered.url = tampered.url.replace("limit=5", "limit=10")
    with requests.Session() as session:
        assert session.send(tampered, timeout=10).status_code == 401
        assert session.send(signed, timeout=10).json()["count"] == 5
    # Addressed as localhost: signed over that host, and the Location names it too.
    port = base.rsplit(":", 1)[1]
    r = put(
        f"http://localhost:{port}", "customer", "nue-cust-9", {"companyName": "X", "subsidiary": {"id": "1"}}
    )
    assert r.status_code == 204
    assert r.headers["Location"].startswith(f"http://localhost:{port}/services/rest/record/v1/customer/")


def test_registered_account_is_isolated(base: str) -> None:
    extra = {
        k: secrets.token_hex(32) for k in ("consumer_key", "consumer_secret", "token_id", "token_secret")
    }
    extra["account_id"] = "9876543-sb2"
    answer = control(base, "POST", "accounts", json=extra | {"concurrency_limit": 3})
    assert answer == {"account_id": "9876543_SB2", "concurrency_limit": 3, "kind": "full"}
    assert call(base, "GET", "/record/v1/account/1", auth=tba(extra, realm="9876543_SB2")).ok
    assert call(base, "GET", "/record/v1/account/1", auth=tba(extra, realm="9876543-sb2")).status_code == 401
    customer(base)
    assert get(base, "customer", "eid:nue-cust-1")["companyName"] == "Company nue-cust-1"
    r = call(base, "GET", "/record/v1/customer/eid:nue-cust-1", auth=tba(extra, realm="9876543_SB2"))
    assert r.status_code == 404 and error_of(r)["o:errorCode"] == "NONEXISTENT_ID"
    limits = call(base, "GET", "/system/v1/governanceLimits", auth=tba(extra, realm="9876543_SB2")).json()
    assert limits["accountConcurrencyLimit"] == 3


# -- record API --------------------------------------------------------------------------------


def test_upsert_creates_then_updates_the_same_record(base: str) -> None:
    r = put(
        base, "customer", "nue-cust-1", {"companyName": "Acme", "subsidiary": {"id": "1"}, "email": "a@x.io"}
    )
    assert r.status_code == 204 and r.content == b""
    location = r.headers["Location"]
    assert re.fullmatch(rf"{base}/services/rest/record/v1/customer/\d+", location)
    r2 = put(base, "customer", "nue-cust-1", {"companyName": "Acme Inc", "email": None})
    assert r2.status_code == 204 and r2.headers["Location"] == location
    cust = get(base, "customer", "eid:nue-cust-1")
    assert cust["id"] == location.rsplit("/", 1)[1] and cust["externalId"] == "nue-cust-1"
    assert cust["companyName"] == "Acme Inc" and "email" not in cust  # merged; null cleared
    assert cust["subsidiary"] == {"id": "1"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", cust["lastModifiedDate"])
    stored = control(base, "GET", "records", params={"account": "TSTDRV1234567", "type": "customer"})
    assert len(stored) == 1 and stored[0]["createdBy"] == "integration"
    log = control(base, "GET", "log", params={"account": "TSTDRV1234567"})
    assert [(e["method"], e["type"], e["external_id"], e["status"]) for e in log[:2]] == [
        ("PUT", "customer", "nue-cust-1", 204),
        ("PUT", "customer", "nue-cust-1", 204),
    ]
    assert log[0]["internal_id"] == cust["id"] and log[0]["t_end"] >= log[0]["t_start"]


def test_resend_without_replace_doubles_lines_and_replace_does_not(base: str) -> None:
    cust, itm = customer(base), item(base)
    body = sales_body(cust, itm, 100.0, 50.0)
    assert put(base, "invoice", "nue-inv-1", body).status_code == 204
    assert put(base, "invoice", "nue-inv-1", body).status_code == 204
    doubled = get(base, "invoice", "eid:nue-inv-1")
    assert len(doubled["item"]["items"]) == 4 and doubled["total"] == 300.0
    assert put(base, "invoice", "nue-inv-1", body, replace="item,apply").status_code == 204
    replaced = get(base, "invoice", "eid:nue-inv-1")
    assert [line["amount"] for line in replaced["item"]["items"]] == [100.0, 50.0]
    assert replaced["total"] == 150.0 and replaced["amountRemaining"] == 150.0
    assert replaced["status"] == {"id": "A", "refName": "Open"}
    # A line sent with its `line` key updates that line instead of adding one.
    first = replaced["item"]["items"][0]["line"]
    patch = {"item": {"items": [{"line": first, "rate": 120.0, "amount": None}]}}
    r = call(base, "PATCH", f"/record/v1/invoice/{replaced['id']}", json=patch, headers=STRICT)
    assert r.status_code == 204
    assert get(base, "invoice", replaced["id"])["total"] == 170.0
    replaced_calls = [e for e in control(base, "GET", "log") if e["replace"]]
    assert [(e["method"], e["replace"]) for e in replaced_calls] == [("PUT", ["item", "apply"])]


def test_create_post_and_delete(base: str) -> None:
    cust, itm = customer(base), item(base)
    r = call(base, "POST", "/record/v1/salesOrder", json=sales_body(cust, itm, 10.0), headers=STRICT)
    assert r.status_code == 204 and r.content == b""
    so_id = r.headers["Location"].rsplit("/", 1)[1]
    again = call(base, "POST", "/record/v1/salesOrder", json=sales_body(cust, itm, 10.0), headers=STRICT)
    assert again.headers["Location"].rsplit("/", 1)[1] != so_id  # POST is not idempotent
    inv = put(base, "invoice", "nue-inv-1", sales_body(cust, itm, 10.0) | {"createdFrom": {"id": so_id}})
    assert inv.status_code == 204
    blocked = call(base, "DELETE", "/record/v1/customer/eid:nue-cust-1")
    assert blocked.status_code == 400 and "dependent" in error_of(blocked)["detail"]
    assert call(base, "DELETE", "/record/v1/invoice/eid:nue-inv-1").status_code == 204
    assert call(base, "GET", "/record/v1/invoice/eid:nue-inv-1").status_code == 404
    assert put(base, "invoice", "nue-inv-1", sales_body(cust, itm, 10.0)).status_code == 204  # eid free again


def test_unknown_field_with_and_without_validation_header(base: str) -> None:
    body = {"companyName": "Acme", "subsidiary": {"id": "1"}, "companyNmae": "typo"}
    r = put(base, "customer", "nue-cust-1", body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["o:errorCode"] == "INVALID_CONTENT" and err["o:errorPath"] == "companyNmae"
    cust, itm = customer(base), item(base)
    bad_line = sales_body(cust, itm, 10.0)
    bad_line["item"]["items"][0]["bogus"] = 1
    assert error_of(put(base, "invoice", "nue-inv-1", bad_line))["o:errorPath"] == "item.items[0].bogus"
    lenient = call(base, "PUT", "/record/v1/customer/eid:nue-cust-2", json=body)
    assert lenient.status_code == 204
    assert "companyNmae" in lenient.headers["X-NetSuite-PropertyValidation"]
    assert "companyNmae" not in get(base, "customer", "eid:nue-cust-2")
    # The header is an enum, Error | Warning | Ignore, in that case (NetSuite's OpenAPI document).
    warned = call(
        base,
        "PUT",
        "/record/v1/customer/eid:nue-cust-3",
        json=body | {"companyName": "Acme 3"},  # a Customer ID of its own
        headers={"X-NetSuite-PropertyNameValidation": "Warning"},
    )
    assert warned.status_code == 204
    for wrong in ("error", "ERROR", "strict"):
        r = call(
            base,
            "PUT",
            "/record/v1/customer/eid:nue-cust-4",
            json=body,
            headers={"X-NetSuite-PropertyNameValidation": wrong},
        )
        err = error_of(r)
        assert (r.status_code, err["o:errorCode"]) == (400, "INVALID_PARAMETER")
        # Named where NetSuite's error schema names a header: o:errorHeader, not o:errorPath.
        assert err["o:errorHeader"] == "X-NetSuite-PropertyNameValidation" and "o:errorPath" not in err


def test_a_value_of_the_wrong_type_is_refused_unless_value_validation_is_relaxed(base: str) -> None:
    body = {"companyName": "Acme", "subsidiary": {"id": "1"}, "isPerson": "false"}
    for headers in ({}, {"X-NetSuite-PropertyValueValidation": "Error"}):  # Error is the default
        r = call(base, "PUT", "/record/v1/customer/eid:nue-cust-1", json=body, headers=headers)
        err = error_of(r)
        assert (r.status_code, err["o:errorCode"], err["o:errorPath"]) == (400, "INVALID_CONTENT", "isPerson")
        assert err["detail"].endswith("Invalid Field Value false for the following field: isPerson")
    assert control(base, "GET", "records") == []
    relaxed = {"X-NetSuite-PropertyValueValidation": "Warning"}
    r = call(base, "PUT", "/record/v1/customer/eid:nue-cust-1", json=body, headers=relaxed)
    assert r.status_code == 204 and "isPerson" in r.headers["X-NetSuite-PropertyValidation"]
    assert "isPerson" not in get(base, "customer", "eid:nue-cust-1")
    wrong = {"X-NetSuite-PropertyValueValidation": "warn"}
    err = error_of(call(base, "PUT", "/record/v1/customer/eid:nue-cust-2", json=body, headers=wrong))
    assert err["o:errorHeader"] == "X-NetSuite-PropertyValueValidation"


def test_openapi_field_names_are_accepted() -> None:
    schemas = derived_document()["schemas"]

    def standard(name: str) -> set[str]:
        return {k for k in schemas[name]["properties"] if k != "links" and not k.startswith(("cust", "cseg"))}

    real = kind("real-2025-09")
    for ns_type in ("customer", "invoice", "creditMemo"):
        assert set(schemas[ns_type]["properties"]) == real.fields(ns_type), ns_type
    assert standard("invoice-itemElement") <= real.sublists("invoice")["item"]
    assert standard("creditMemo-itemElement") <= real.sublists("creditMemo")["item"]
    assert standard("creditMemo-applyElement") <= real.sublists("creditMemo")["apply"]
    readme_keys = {"entityId", "companyName", "isPerson", "firstName", "lastName", "email", "phone"}
    assert readme_keys | {"subsidiary", "currency", "terms", "externalId"} <= standard("customer")
    sales_keys = {"entity", "tranDate", "tranId", "externalId", "subsidiary", "currency", "account", "memo"}
    assert sales_keys | {"dueDate", "createdFrom", "otherRefNum", "item"} <= standard("invoice")


@pytest.mark.parametrize(
    ("ns_type", "body", "path"),
    [
        ("customer", {"companyName": "A", "subsidiary": {"id": "9"}}, "subsidiary"),
        ("customer", {"companyName": "A", "subsidiary": {"id": "1"}, "currency": {"id": "7"}}, "currency"),
        ("customer", {"companyName": "A", "subsidiary": "1"}, "subsidiary"),
        ("nonInventorySaleItem", {"itemId": "X", "incomeAccount": {"id": "8"}}, "incomeAccount"),
        ("nonInventorySaleItem", {"itemId": "X", "incomeAccount": {"id": "14"}}, "incomeAccount"),
        ("nonInventorySaleItem", {"itemId": "X", "incomeAccount": {"id": "99"}}, "incomeAccount"),
        (
            "serviceSaleItem",
            {"itemId": "X", "incomeAccount": {"id": "6"}, "deferredRevenueAccount": {"id": "6"}},
            "deferredRevenueAccount",
        ),
        (
            "inventoryItem",
            {
                "itemId": "X",
                "incomeAccount": {"id": "7"},
                "assetAccount": {"id": "5"},
                "cogsAccount": {"id": "11"},
            },
            "assetAccount",
        ),
        (
            "inventoryItem",
            {
                "itemId": "X",
                "incomeAccount": {"id": "7"},
                "assetAccount": {"id": "3"},
                "cogsAccount": {"id": "15"},
            },
            "cogsAccount",
        ),
    ],
)
def test_invalid_references_name_the_field(base: str, ns_type: str, body: dict, path: str) -> None:
    r = put(base, ns_type, "nue-x-1", body)
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["o:errorCode"] == "INVALID_CONTENT" and err["o:errorPath"] == path
    assert "Invalid Field Value" in err["detail"] and err["detail"].endswith(f"following field: {path}")
    assert control(base, "GET", "records") == []


def test_transaction_references(base: str) -> None:
    cust, itm = customer(base), item(base)
    r = put(base, "invoice", "nue-inv-1", sales_body("999", itm, 1.0))
    assert error_of(r)["o:errorPath"] == "entity"
    r = put(base, "invoice", "nue-inv-1", sales_body(cust, "999", 1.0, 2.0))
    err = error_of(r)
    assert err["o:errorPath"] == "item.items[0].item"
    assert err["detail"].endswith("Invalid Field Value 999 for the following field: item")
    r = put(base, "invoice", "nue-inv-1", sales_body(cust, itm, 1.0) | {"createdFrom": {"id": cust}})
    assert error_of(r)["o:errorPath"] == "createdFrom"
    inv = invoice(base, cust, itm)
    pay = {"customer": {"id": cust}, "payment": 10.0, "account": {"id": "5"}}
    assert error_of(put(base, "customerPayment", "nue-pay-1", pay))["o:errorPath"] == "account"
    pay |= {
        "account": {"id": "4"},
        "apply": {"items": [{"doc": {"id": cust}, "apply": True, "amount": 10.0}]},
    }
    assert error_of(put(base, "customerPayment", "nue-pay-1", pay))["o:errorPath"] == "apply.items[0].doc"
    other = customer(base, "nue-cust-2")
    pay |= {
        "customer": {"id": other},
        "apply": {"items": [{"doc": {"id": inv}, "apply": True, "amount": 10.0}]},
    }
    assert error_of(put(base, "customerPayment", "nue-pay-1", pay))["o:errorPath"] == "apply.items[0].doc"
    refund = {"customer": {"id": cust}, "account": {"id": "1"}, "apply": applying(inv)}
    assert error_of(put(base, "customerRefund", "nue-ref-1", refund))["o:errorPath"] == "apply.items[0].doc"
    missing = put(base, "invoice", "nue-inv-2", {"entity": {"id": cust}})
    assert missing.status_code == 400 and error_of(missing)["o:errorCode"] == "USER_ERROR"


def test_external_ids_are_unique_per_record_group(base: str) -> None:
    cust, itm = customer(base, "shared-1"), item(base, "nue-item-1")
    assert put(base, "invoice", "shared-1", sales_body(cust, itm, 5.0)).status_code == 204  # other group
    r = put(base, "creditMemo", "shared-1", sales_body(cust, itm, 5.0))
    assert r.status_code == 400
    err = error_of(r)
    assert err["o:errorCode"] == "USER_ERROR" and "external ID already exists" in err["detail"]
    r = put(base, "serviceSaleItem", "nue-item-1", {"itemId": "other", "incomeAccount": {"id": "6"}})
    assert r.status_code == 400 and "external ID already exists" in error_of(r)["detail"]
    r = call(
        base,
        "POST",
        "/record/v1/customer",
        json={"companyName": "B", "subsidiary": {"id": "1"}} | {"externalId": "shared-1"},
    )
    assert r.status_code == 400
    assert put(base, "customer", "bad.id", COMPANY).status_code == 400
    assert control(base, "GET", "stats")["duplicates"] == []


def test_customer_ids_and_item_names_are_unique(base: str) -> None:
    for eid in ("nue-cust-1", "nue-cust-1"):  # re-sent: the same record
        assert put(base, "customer", eid, COMPANY).status_code == 204
    assert get(base, "customer", "eid:nue-cust-1")["entityId"] == "A"  # no auto-numbering: the name
    taken = error_of(put(base, "customer", "nue-cust-2", COMPANY | {"companyName": " a "}))
    assert taken["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    assert "A customer record with this ID already exists." in taken["detail"]
    assert put(base, "customer", "nue-cust-3", COMPANY | {"entityId": "C-3"}).status_code == 204
    taken = error_of(put(base, "customer", "nue-cust-4", COMPANY | {"companyName": "B", "entityId": "C-3"}))
    assert taken["o:errorCode"] == "UNIQUE_CUST_ID_REQD"
    item(base, "nue-item-1", itemId="SKU-1")
    r = put(base, "serviceSaleItem", "nue-item-2", {"itemId": "SKU-1", "incomeAccount": {"id": "6"}})
    assert r.status_code == 400 and error_of(r)["o:errorCode"] == "USER_ERROR"


def test_payments_credit_memos_and_refunds_keep_balances(base: str) -> None:
    cust, itm = customer(base), item(base)
    inv = invoice(base, cust, itm, amount=100.0)
    pay = {"customer": {"id": cust}, "payment": 80.0, "account": {"id": "4"}, "apply": applying(inv, 60.0)}
    assert put(base, "customerPayment", "nue-pay-1", pay).status_code == 204
    assert put(base, "customerPayment", "nue-pay-1", pay).status_code == 204  # apply is keyed by doc
    after = get(base, "invoice", inv)
    assert after["amountRemaining"] == 40.0 and after["amountPaid"] == 60.0
    assert get(base, "customerPayment", "eid:nue-pay-1")["unapplied"] == 20.0
    over_due = pay | {"payment": 200.0, "apply": applying(inv, 110.0)}  # invoice has 100 open
    assert (
        error_of(put(base, "customerPayment", "nue-pay-1", over_due))["o:errorPath"]
        == "apply.items[0].amount"
    )
    over_payment = pay | {"apply": applying(inv, 90.0)}  # more than the 80 paid
    err = error_of(put(base, "customerPayment", "nue-pay-1", over_payment))
    assert (err["o:errorCode"], err["o:errorPath"]) == ("USER_ERROR", "apply")
    assert get(base, "invoice", inv)["amountRemaining"] == 40.0  # refused writes changed nothing
    cm = sales_body(cust, itm, 40.0) | {
        "apply": {"items": [{"doc": {"id": inv}, "apply": True, "amount": 40.0}]}
    }
    assert put(base, "creditMemo", "nue-cm-1", cm).status_code == 204
    paid = get(base, "invoice", inv)
    assert paid["amountRemaining"] == 0.0 and paid["status"] == {"id": "B", "refName": "Paid In Full"}
    credit = get(base, "creditMemo", "eid:nue-cm-1")
    assert credit["status"]["id"] == "B" and credit["unapplied"] == 0.0
    refund = {"customer": {"id": cust}, "account": {"id": "1"}}
    refund |= {
        "apply": {
            "items": [{"doc": {"id": get(base, "customerPayment", "eid:nue-pay-1")["id"]}, "apply": True}]
        }
    }
    assert put(base, "customerRefund", "nue-ref-1", refund).status_code == 204
    assert get(base, "customerRefund", "eid:nue-ref-1")["total"] == 20.0
    assert get(base, "customerPayment", "eid:nue-pay-1")["unapplied"] == 0.0


def test_user_actions_share_the_mutation_path() -> None:
    acct = AccountData("TEST1", "ck", "secret-cs", "tk", "secret-ts")  # not substrings of field names
    assert "secret-cs" not in repr(acct) and "secret-ts" not in repr(acct)
    cust = state.upsert(acct, "customer", "c1", COMPANY).record
    itm = state.upsert(acct, "serviceSaleItem", "i1", {"itemId": "I", "incomeAccount": {"id": "6"}}).record
    inv = state.upsert(acct, "invoice", "inv1", sales_body(cust.id, itm.id, 100.0)).record
    cm_body = sales_body(cust.id, itm.id, 30.0) | {
        "apply": {"items": [{"doc": {"id": inv.id}, "amount": 30.0}]}
    }
    cm = state.upsert(acct, "creditMemo", "cm1", cm_body).record
    assert inv.derived["amountRemaining"] == 70.0 and cm.derived["status"]["id"] == "B"
    pay = state.record_user_payment(acct, inv.id)
    assert pay.created_by == "user" and pay.body["payment"] == 70.0
    assert inv.derived["status"]["refName"] == "Paid In Full"
    state.void_transaction(acct, "creditMemo", cm.id)
    assert cm.derived["status"] == {"id": "V", "refName": "Voided"} and cm.voided
    assert inv.derived["amountRemaining"] == 30.0 and inv.derived["status"]["id"] == "A"


# -- governance and faults ---------------------------------------------------------------------


def test_concurrency_limit_answers_429(base: str) -> None:
    control(base, "POST", "config", json={"account": "TSTDRV1234567", "concurrency_limit": 2})
    control(base, "POST", "latency", json={"min_ms": 600, "max_ms": 600, "account": "TSTDRV1234567"})
    barrier = threading.Barrier(6)

    def one(_: int) -> requests.Response:
        barrier.wait()
        return call(base, "GET", "/record/v1/account/1")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(one, range(6)))
    control(base, "POST", "latency", json={"min_ms": 0, "max_ms": 0, "account": "TSTDRV1234567"})
    assert Counter(r.status_code for r in answers) == {200: 2, 429: 4}
    limited = next(r for r in answers if r.status_code == 429)
    assert limited.headers["Content-Type"] == ERROR_TYPE
    assert {k: v for k, v in limited.json().items() if k != "type"} == TOO_MANY
    assert classify_response(429, limited.text).kind is Kind.THROTTLED
    assert control(base, "GET", "stats", params={"account": "TSTDRV1234567"})["max_in_flight"] == 2
    # Another account has its own limit.
    assert call(base, "GET", "/record/v1/account/1", auth=tba(ENV_ACCOUNT)).status_code == 200


def test_a_transform_whose_client_leaves_before_its_body_gives_its_slot_back(base: str) -> None:
    """A client gone while its body is read (a worker killed, a timeout) never keeps a slot: one
    kept would answer 429 to every later call, harder than NetSuite."""
    path = "/services/rest/record/v1/salesOrder/1/!transform/invoice"
    json_type = {"Content-Type": "application/json"}
    prepared = requests.Request("POST", f"{base}{path}", json_type, data=b"{}", auth=tba()).prepare()
    host, port = base.removeprefix("http://").split(":")
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    signed = prepared.headers["Authorization"]  # bytes, as requests-oauthlib sets it
    head += [f"Authorization: {signed.decode() if isinstance(signed, bytes) else signed}"]
    head += ["Content-Length: 1000", "", ""]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall("\r\n".join(head).encode() + b'{"extern')  # and leaves, 992 bytes short
        deadline = time.monotonic() + 5
        while not _in_flight(base):  # admitted: its slot taken while the body is awaited
            assert time.monotonic() < deadline, "the request was never admitted"
            time.sleep(0.02)
    deadline = time.monotonic() + 5
    while _in_flight(base):
        assert time.monotonic() < deadline, "the slot of a client that left was kept"
        time.sleep(0.05)


def _in_flight(base: str) -> int:
    return sum(a["in_flight"] for a in control(base, "GET", "accounts"))


@pytest.mark.parametrize(
    ("kind", "status", "code", "transient"),
    [
        ("429", 429, "USER_ERROR", Kind.THROTTLED),
        ("500", 500, "UNEXPECTED_ERROR", Kind.TRANSIENT),
        ("503", 503, "UNEXPECTED_ERROR", Kind.TRANSIENT),
        ("locked", 400, "USER_ERROR", Kind.TRANSIENT),
        ("invalid_login", 401, "INVALID_LOGIN", Kind.AUTH),
    ],
)
def test_count_limited_faults_fail_without_writing(
    base: str, kind: str, status: int, code: str, transient: Kind
) -> None:
    control(base, "POST", "faults", json={"kind": kind, "count": 1, "method": "PUT", "type": "customer"})
    assert call(base, "GET", "/record/v1/account/1").status_code == 200  # GET does not match
    r = put(base, "customer", "nue-cust-1", COMPANY)
    assert r.status_code == status and error_of(r)["o:errorCode"] == code
    assert classify_response(status, r.text).kind is transient
    assert control(base, "GET", "records") == []
    assert (
        put(base, "customer", "nue-cust-1", {"companyName": "A", "subsidiary": {"id": "1"}}).status_code
        == 204
    )
    assert control(base, "GET", "log")[-2]["fault"] == kind


def test_timeout_fault_is_not_applied(base: str) -> None:
    control(base, "POST", "faults", json={"kind": "timeout", "count": 1, "delay_s": 1.0})
    with pytest.raises(requests.Timeout):
        put(base, "customer", "nue-cust-1", {"companyName": "A", "subsidiary": {"id": "1"}}, timeout=0.3)
    time.sleep(1.0)
    assert control(base, "GET", "records") == []
    entry = control(base, "GET", "log")[-1]
    assert (entry["status"], entry["fault"]) == (500, "timeout") and entry["t_end"] - entry["t_start"] >= 1.0


def test_lost_after_commit_then_retry_makes_no_duplicate(base: str) -> None:
    control(base, "POST", "faults", json={"kind": "lost_after_commit", "count": 1, "delay_s": 1.0})
    body = {"companyName": "A", "subsidiary": {"id": "1"}}
    with pytest.raises(requests.Timeout):
        put(base, "customer", "nue-cust-1", body, timeout=0.3)
    stored = control(base, "GET", "records")
    assert [r["externalId"] for r in stored] == ["nue-cust-1"]  # committed although unanswered
    r = put(base, "customer", "nue-cust-1", body)
    assert r.headers["Location"].endswith(f"/customer/{stored[0]['id']}")
    assert len(control(base, "GET", "records")) == 1
    assert control(base, "GET", "stats")["duplicates"] == []


def test_probabilistic_faults_repeat_with_the_same_seed(base: str) -> None:
    def pattern() -> list[int]:
        control(base, "DELETE", "faults")
        control(
            base, "POST", "faults", json={"kind": "500", "probability": 0.5, "seed": 7, "type": "account"}
        )
        return [call(base, "GET", "/record/v1/account/1").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 500}
    control(base, "DELETE", "faults")
    assert call(base, "GET", "/record/v1/account/1").status_code == 200


# -- SuiteQL -----------------------------------------------------------------------------------


def test_suiteql_rules_and_paging(base: str) -> None:
    q = "SELECT id, acctnumber, accttype, isinactive FROM account ORDER BY id"
    r = suiteql(base, q, headers={})
    assert r.status_code == 400 and "transient" in error_of(r)["detail"]
    assert error_of(r)["o:errorHeader"] == "Prefer"
    for limit, offset, param in ((1001, 0, "limit"), (5, 3, "offset"), (0, 0, "limit")):
        r = suiteql(base, q, limit=limit, offset=offset)
        assert r.status_code == 400 and error_of(r)["o:errorQueryParam"] == param
    page = suiteql(base, q, limit=5, offset=0).json()
    assert (page["count"], page["hasMore"], page["offset"], page["totalResults"]) == (5, True, 0, 19)
    # Pages link to the others as Oracle's "Collection Paging" shows (section_156414087576).
    url = f"{base}/services/rest/query/v1/suiteql"
    assert page["links"] == [
        {"rel": "next", "href": f"{url}?limit=5&offset=5"},
        {"rel": "last", "href": f"{url}?limit=5&offset=15"},
        {"rel": "self", "href": f"{url}?limit=5&offset=0"},
    ]
    middle = suiteql(base, q, limit=5, offset=5).json()
    assert [(x["rel"], x["href"].rsplit("?", 1)[1]) for x in middle["links"]] == [
        ("first", "limit=5&offset=0"),
        ("prev", "limit=5&offset=0"),
        ("next", "limit=5&offset=10"),
        ("last", "limit=5&offset=15"),
        ("self", "limit=5&offset=5"),
    ]
    assert page["items"][0] == {
        "id": "1",
        "acctnumber": "1000",
        "accttype": "Bank",
        "isinactive": "F",
        "links": [],
    }
    last = suiteql(base, q, limit=5, offset=15).json()
    assert (last["count"], last["hasMore"], [i["id"] for i in last["items"]]) == (
        4,
        False,
        ["16", "17", "18", "19"],
    )
    assert [x["rel"] for x in last["links"]] == ["first", "prev", "last", "self"]
    accounts = call(base, "GET", "/record/v1/account?limit=10&offset=10").json()  # a record list
    assert accounts["count"] == 9 and accounts["links"][-1] == {
        "rel": "self",
        "href": f"{base}/services/rest/record/v1/account?limit=10&offset=10",
    }
    assert [x["rel"] for x in accounts["links"]] == ["first", "prev", "last", "self"]
    bad = call(base, "GET", "/record/v1/account?limit=x")
    assert bad.status_code == 400 and error_of(bad)["o:errorQueryParam"] == "limit"
    income = suiteql(
        base, "SELECT id FROM account WHERE accttype = 'Income' AND isinactive = 'F' ORDER BY id"
    )
    assert [i["id"] for i in income.json()["items"]] == ["5", "6", "7", "12", "16"]
    # Only `q` is a REST SuiteQL body parameter (section_157909186990): bind parameters are refused,
    # and so is a `?` placeholder that would need them.
    marked = "SELECT id FROM account WHERE accttype = ?"
    refused = suiteql(base, marked, body={"q": marked, "params": ["Income"]})
    assert refused.status_code == 400 and error_of(refused)["o:errorPath"] == "params"
    assert suiteql(base, marked).status_code == 400
    bad = suiteql(base, "SELECT nope FROM account")
    assert bad.status_code == 400 and error_of(bad)["o:errorCode"] == "INVALID_PARAMETER"
    assert suiteql(base, "DELETE FROM account").status_code == 400


def test_suiteql_on_transactions(base: str) -> None:
    cust, itm = customer(base), item(base)
    inv = invoice(base, cust, itm, amount=100.0)
    pay = {"customer": {"id": cust}, "payment": 100.0, "undepFunds": {"id": "T"}, "memo": None}
    pay |= {"apply": {"items": [{"doc": {"id": inv}, "apply": True, "amount": 100.0}]}}
    assert put(base, "customerPayment", "nue-pay-1", pay).status_code == 204
    q = (
        "SELECT t.id, t.type, t.status, t.voided, t.externalid, t.entity, t.foreigntotal, t.trandate, "
        "t.memo, t.createdby, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified "
        "FROM transaction t WHERE t.lastmodifieddate >= TO_TIMESTAMP('2000-01-01 00:00:00', "
        "'YYYY-MM-DD HH24:MI:SS') AND t.type = 'CustInvc'"
    )
    rows = suiteql(base, q).json()["items"]
    assert len(rows) == 1
    row = rows[0]
    keys = ("id", "type", "status", "voided", "externalid", "entity", "foreigntotal")
    assert {k: row[k] for k in keys} == {
        "id": inv, "type": "CustInvc", "status": "B", "voided": "F", "externalid": "nue-inv-1",
        "entity": cust, "foreigntotal": "100",
    }  # fmt: skip
    assert row["trandate"] == "1/15/2025" and "memo" not in row and row["createdby"] == "integration"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["modified"])
    q = f"SELECT * FROM transactionline WHERE transaction = {int(inv)} ORDER BY id"
    lines = suiteql(base, q).json()["items"]
    assert [(x["item"], x["foreignamount"], x["custcol_nue_line_id"], x["account"]) for x in lines[1:2]] == [
        (itm, "100", "L0", "5")
    ]
    # NetSuite's main line first (no item), then the item line, then the SuiteTax engine's tax line.
    flags = [(x["mainline"], x["taxline"], x["iscogs"], x.get("item")) for x in lines]
    assert flags[:2] == [("T", "F", "F", None), ("F", "F", "F", itm)] and flags[2][:3] == ("F", "T", "F")
    applied = suiteql(
        base,
        "SELECT l.previousdoc, l.foreignamount, t.type FROM nexttransactionlinelink l "
        "JOIN transaction t ON t.id = l.nextdoc WHERE l.linktype = 'Payment'",
    )
    assert applied.json()["items"] == [
        {"previousdoc": inv, "foreignamount": "100", "type": "CustPymt", "links": []}
    ]
    assert suiteql(base, "SELECT doc FROM paymentapply").status_code == 400  # no such NetSuite table
    # transaction.status is composite (article_1029114514): the letter when selected, the type and
    # letter pair through BUILTIN.CF, and a condition on the bare letter finds nothing.
    by_status = "SELECT t.id, BUILTIN.CF(t.status) AS cf FROM transaction t WHERE "
    assert suiteql(base, by_status + "BUILTIN.CF(t.status) = 'CustInvc:B'").json()["items"] == [
        {"id": inv, "cf": "CustInvc:B", "links": []}
    ]
    assert suiteql(base, by_status + "t.status = 'B'").json()["items"] == []


def test_netsuite_client_works_against_the_sandbox(base: str) -> None:
    creds = Credentials(DEMO["consumer_key"], DEMO["consumer_secret"], DEMO["token_id"], DEMO["token_secret"])
    client = NetSuiteClient(
        DEMO["account_id"], tba_auth(creds, DEMO["account_id"]), rest_url=f"{base}/services/rest"
    )
    try:
        first = client.upsert("customer", "nue-cust-1", COMPANY)
        second = client.upsert("customer", "nue-cust-1", {"companyName": "B"}, replace=("item",))
        assert first.internal_id == second.internal_id
        page, _ = client.suiteql("SELECT companyname FROM customer WHERE externalid = 'nue-cust-1'", limit=10)
        assert page["items"][0]["companyname"] == "B"
        assert client.governance_limits()[0]["accountConcurrencyLimit"] == 5
    finally:
        client.close()


# -- stats and load ------------------------------------------------------------------------------


def test_stats_busiest_window(base: str) -> None:
    for burst in range(2):
        for _ in range(3):
            assert call(base, "GET", "/record/v1/account/1").ok
        if burst == 0:
            time.sleep(1.2)
    short = control(base, "GET", "stats", params={"account": "TSTDRV1234567", "period": 1.0, "limit": 2})
    assert short["calls"] == 6 and short["busiest_window_calls"] == 3
    assert short["windows_over_limit"] == 2  # the windows opened by each burst's first call
    long = control(base, "GET", "stats", params={"account": "TSTDRV1234567", "period": 60, "limit": 6})
    assert long["busiest_window_calls"] == 6 and long["windows_over_limit"] == 0
    assert control(base, "GET", "stats", params={"account": "1234567_SB1"})["calls"] == 0


def test_sustains_a_hundred_concurrent_requests(base: str) -> None:
    accounts = []
    for i in range(100):
        spec = {
            k: secrets.token_hex(32) for k in ("consumer_key", "consumer_secret", "token_id", "token_secret")
        }
        accounts.append(spec | {"account_id": f"LOAD{i}"})
        control(base, "POST", "accounts", json=accounts[-1])
    control(base, "POST", "latency", json={"min_ms": 50, "max_ms": 150})
    local = threading.local()

    def one(n: int) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        acct = accounts[n % 100]
        body = {"companyName": f"C{n}", "subsidiary": {"id": "1"}}
        url = f"{base}/services/rest/record/v1/customer/eid:c-{n}"
        return session.put(url, json=body, auth=tba(acct), timeout=30).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(100) as pool:
        statuses = Counter(pool.map(one, range(1000)))
    rate = 1000 / (time.monotonic() - started)
    assert statuses == {204: 1000}
    assert rate >= 100, f"only {rate:.0f} requests/s"
    assert control(base, "GET", "stats")["max_in_flight"] <= 5


def test_state_registers_and_resets() -> None:
    sandbox = SandboxState()
    acct = sandbox.register_account("tstdrv1", "ck", "cs", "tk", "ts")
    assert sandbox.account("TSTDRV1") is acct and sandbox.account("tstdrv1") is None
    state.upsert(acct, "customer", "c1", COMPANY)
    sandbox.reset()
    assert acct.records == {} and sandbox.account("TSTDRV1") is acct
    with pytest.raises(ValueError):
        sandbox.add_fault("meltdown")


# -- kinds of account: schema, metadata catalog, currencies, subsidiaries -----------------------------


def _kind_account(kind_name: str) -> AccountData:
    return AccountData("K1", "ck", "cs", "tid", "ts", kind=kind(kind_name))


def _invoice(acct: AccountData, line: dict[str, Any], currency: str = "1") -> state.WriteOutcome:
    cust = state.upsert(acct, "customer", "c1", {"companyName": "A", "subsidiary": {"id": "1"}}, strict=True)
    itm = state.upsert(acct, "nonInventorySaleItem", "i1", {"itemId": "I1", "incomeAccount": {"id": "5"}})
    body = {"entity": {"id": cust.record.id}, "currency": {"id": currency}}
    body["item"] = {"items": [{"item": {"id": itm.record.id}, "quantity": 1, "rate": 10.0} | line]}
    return state.upsert(acct, "invoice", "inv1", body, strict=True)


@pytest.mark.parametrize(
    ("kind_name", "accepted"),
    [("real-2025-09", False), ("arm", True), ("suitetax", True), ("full", True)],
)
def test_the_line_id_column_exists_only_where_the_kind_has_it(kind_name: str, accepted: bool) -> None:
    acct = _kind_account(kind_name)
    if accepted:
        assert _invoice(acct, {"custcol_nue_line_id": "L1"}).record.body["item"]["items"][0][
            "custcol_nue_line_id"
        ]
        return
    with pytest.raises(state.NsError) as exc:
        _invoice(acct, {"custcol_nue_line_id": "L1"})
    assert (exc.value.status, exc.value.code, exc.value.path) == (
        400,
        "INVALID_CONTENT",
        "item.items[0].custcol_nue_line_id",
    )


def test_arm_fields_are_refused_without_arm_and_the_accounts_own_custom_columns_are_accepted() -> None:
    with pytest.raises(state.NsError, match="revRecStartDate"):
        _invoice(_kind_account("suitetax"), {"revRecStartDate": "2025-01-01"})
    assert _invoice(_kind_account("arm"), {"revRecStartDate": "2025-01-01"}).created
    assert _invoice(_kind_account("real-2025-09"), {"custcol3": "x"}).created  # that account's column


LINE = {"item": {"id": "1"}, "quantity": 1, "rate": 10.0}


@pytest.mark.parametrize(
    ("ns_type", "body", "path"),
    [
        ("invoice", {"memo": {}}, "memo"),
        ("invoice", {"tranId": 5}, "tranId"),
        ("invoice", {"tranDate": "2025-02-30"}, "tranDate"),
        ("invoice", {"tranDate": "15/01/2025"}, "tranDate"),
        ("invoice", {"entity": "101"}, "entity"),  # a bare id is not a reference
        ("invoice", {"currency": {"refName": "USD"}}, "currency"),  # neither id nor externalId
        ("invoice", {"entity": {"id": 1.5}}, "entity"),
        ("invoice", {"item": [LINE]}, "item"),  # a sublist is {"items": [...]}
        ("invoice", {"item": {"items": ["x"]}}, "item.items[0]"),
        ("invoice", {"item": {"items": [LINE | {"quantity": "10"}]}}, "item.items[0].quantity"),
        ("invoice", {"item": {"items": [LINE, LINE | {"rate": True}]}}, "item.items[1].rate"),
        ("invoice", {"item": {"items": [LINE | {"line": 1.5}]}}, "item.items[0].line"),
        ("invoice", {"billingAddress": {"city": 7}}, "billingAddress.city"),  # a subrecord's field
        ("customer", {"isPerson": "T"}, "isPerson"),
        ("customer", {"email": ["a@example.com"]}, "email"),
        ("customer", {"currencyList": {"items": [{"currency": "2"}]}}, "currencyList.items[0].currency"),
        ("nonInventorySaleItem", {"subsidiary": {"id": "1"}}, "subsidiary"),  # a list of subsidiaries
        ("nonInventorySaleItem", {"subsidiary": {"items": ["1"]}}, "subsidiary.items[0]"),
        ("nonInventorySaleItem", {"isInactive": 0}, "isInactive"),
        ("salesOrder", {"orderStatus": {"id": "C"}}, "orderStatus"),
        ("salesOrder", {"item": {"items": [LINE | {"isClosed": "F"}]}}, "item.items[0].isClosed"),
        ("customerPayment", {"undepFunds": True}, "undepFunds"),
        ("customerPayment", {"payment": "10.00"}, "payment"),
        (
            "customerPayment",
            {"apply": {"items": [{"doc": {"id": "1"}, "apply": "true"}]}},
            "apply.items[0].apply",
        ),
        (
            "customerRefund",
            {"apply": {"items": [{"doc": {"id": "1"}, "amount": "5"}]}},
            "apply.items[0].amount",
        ),
        ("deposit", {"payment": {"items": [{"id": "1", "deposit": 1}]}}, "payment.items[0].deposit"),
        ("creditMemo", {"taxDetailsOverride": "true"}, "taxDetailsOverride"),
        ("creditMemo", {"externalId": "has space"}, "externalId"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_its_path(ns_type: str, body: dict, path: str) -> None:
    acct = _kind_account("full")
    with pytest.raises(state.NsError) as exc:
        state.upsert(acct, ns_type, "x1", body, strict=True)
    assert (exc.value.status, exc.value.code, exc.value.path) == (400, "INVALID_CONTENT", path)
    assert "Invalid Field Value" in exc.value.detail and acct.records == {}


def test_values_of_their_schema_type_pass_the_type_check() -> None:
    schemas = kind("full").schemas
    line = LINE | {"item": {"id": 7}, "line": 2, "isClosed": None, "revRecStartDate": "2025-01-01"}
    body = {
        "entity": {"id": 107},  # a number, as in Oracle's own example (section_156570709583)
        "currency": {"externalId": "USD"},
        "memo": None,  # null clears
        "tranDate": "2025-01-15",
        "lastModifiedDate": "2025-01-15T10:00:00Z",
        "orderStatus": "B",  # the bare letter of Oracle's example (section_159795516182)
        "item": {"items": [line]},
    }
    assert field_types.invalid_values(schemas, "salesOrder", body) == []
    item = {"subsidiary": {"items": [{"id": "1"}]}, "includeChildren": True, "itemId": "X"}
    assert field_types.invalid_values(schemas, "nonInventorySaleItem", item) == []


def test_a_customer_transacts_only_in_its_currencies_and_applies_only_same_currency_documents() -> None:
    acct = _kind_account("full")
    with pytest.raises(state.NsError) as exc:
        _invoice(acct, {}, currency="2")  # EUR; the customer is in USD (the base currency)
    assert exc.value.path == "currency"
    listed = {"currencyList": {"items": [{"currency": {"id": "2"}}]}}
    state.upsert(acct, "customer", "c1", listed, strict=True)
    state.upsert(acct, "customer", "c1", listed, strict=True)  # keyed by currency: never doubled
    assert len(acct.find("customer", "eid:c1").body["currencyList"]["items"]) == 1
    eur = _invoice(acct, {}, currency="2").record
    cust = acct.find("customer", "eid:c1").id
    payment = {"customer": {"id": cust}, "payment": 10.0, "account": {"id": "4"}, "apply": applying(eur.id)}
    with pytest.raises(state.NsError) as exc:
        state.upsert(acct, "customerPayment", "p1", payment | {"currency": {"id": "1"}}, strict=True)
    assert exc.value.path == "apply.items[0].doc"
    assert state.upsert(
        acct, "customerPayment", "p1", payment | {"currency": {"id": "2"}}, strict=True
    ).created


def test_items_are_sold_only_in_their_subsidiaries_or_their_children() -> None:
    acct = _kind_account("arm")  # 1 Parent, 2 EMEA and 3 Americas under it
    cust = state.upsert(acct, "customer", "c2", {"companyName": "B", "subsidiary": {"id": "2"}}, strict=True)
    only_parent = {"itemId": "I2", "incomeAccount": {"id": "5"}, "subsidiary": {"items": [{"id": "1"}]}}
    itm = state.upsert(acct, "nonInventorySaleItem", "i2", only_parent, strict=True).record
    body = {"entity": {"id": cust.record.id}, "item": {"items": [{"item": {"id": itm.id}, "rate": 1.0}]}}
    with pytest.raises(state.NsError) as exc:
        state.upsert(acct, "invoice", "inv2", body, strict=True)
    assert exc.value.path == "item.items[0].item"
    state.upsert(acct, "nonInventorySaleItem", "i2", only_parent | {"includeChildren": True}, strict=True)
    assert state.upsert(acct, "invoice", "inv2", body, strict=True).created
    assert len(acct.find("nonInventorySaleItem", "eid:i2").body["subsidiary"]["items"]) == 1


def test_the_metadata_catalog_serves_the_accounts_schema(base: str) -> None:
    swagger = {"Accept": "application/swagger+json"}
    r = call(base, "GET", "/record/v1/metadata-catalog?select=invoice,salesorder", headers=swagger)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"] == "3.0.1" and set(doc["paths"]) == {"/invoice", "/salesOrder"}
    schemas = doc["components"]["schemas"]
    assert "custcol_nue_line_id" in schemas["invoice-itemElement"]["properties"]  # the default kind: full
    assert schemas["salesOrder-itemElement"]["x-ns-sublistkey"]["value"]["new"] == ["line"]
    assert "vendorBill" not in schemas and "creditMemo" not in schemas  # only what they refer to
    listed = call(base, "GET", "/record/v1/metadata-catalog?select=customer").json()
    assert [i["name"] for i in listed["items"]] == ["customer"]
    bad = call(base, "GET", "/record/v1/metadata-catalog?select=nosuchtype", headers=swagger)
    assert bad.status_code == 400 and error_of(bad)["o:errorCode"] == "INVALID_PARAMETER"
    assert error_of(bad)["o:errorQueryParam"] == "select"
    currencies = suiteql(base, "SELECT id, symbol FROM currency ORDER BY id").json()["items"]
    assert [(c["id"], c["symbol"]) for c in currencies] == [
        ("1", "USD"),
        ("2", "EUR"),
        ("3", "GBP"),
        ("4", "CAD"),
        ("5", "JPY"),
    ]


def test_switches_where_oracle_is_silent_on_items_without_subsidiaries() -> None:
    acct = _kind_account("arm")
    cust = state.upsert(acct, "customer", "c3", {"companyName": "C", "subsidiary": {"id": "3"}}, strict=True)
    bare = state.upsert(acct, "nonInventorySaleItem", "i3", {"itemId": "I3", "incomeAccount": {"id": "5"}})
    body = {
        "entity": {"id": cust.record.id},
        "item": {"items": [{"item": {"id": bare.record.id}, "rate": 1.0}]},
    }
    with pytest.raises(state.NsError):  # default: a bare item is sold in the parent only
        state.upsert(acct, "invoice", "inv3", body, strict=True)
    acct.items_everywhere_without_list = True
    assert state.upsert(acct, "invoice", "inv3", body, strict=True).created


def test_switch_where_oracle_is_silent_on_a_catalog_select_naming_an_unknown_type(base: str) -> None:
    swagger = {"Accept": "application/swagger+json"}
    path = "/record/v1/metadata-catalog?select=customer,nosuchtype"
    assert call(base, "GET", path, headers=swagger).status_code == 400
    control(
        base, "POST", "switches", json={"account": DEMO["account_id"], "catalog_ignores_unknown_types": True}
    )
    try:
        doc = call(base, "GET", path, headers=swagger).json()
        assert set(doc["paths"]) == {"/customer"}
    finally:
        control(
            base,
            "POST",
            "switches",
            json={"account": DEMO["account_id"], "catalog_ignores_unknown_types": False},
        )


def test_one_switch_route_sets_linked_line_replace_and_names_a_bad_value(base: str) -> None:
    """Every account switch goes through /_sandbox/switches (the old /_sandbox/rules is gone)."""
    account = DEMO["account_id"]
    try:
        on = control(base, "POST", "switches", json={"account": account, "linked_line_replace": "allow"})
        assert on["linked_line_replace"] == "allow"
        bad = requests.post(
            f"{base}/_sandbox/switches", json={"account": account, "linked_line_replace": "maybe"}, timeout=5
        )
        assert bad.status_code == 400 and "linked_line_replace must be one of refuse, allow" in bad.text
        gone = requests.post(f"{base}/_sandbox/rules", json={"account": account}, timeout=5)
        assert gone.status_code in (404, 405)
    finally:
        control(base, "POST", "switches", json={"account": account, "linked_line_replace": "refuse"})
