"""The hub UI's server side through HTTP (TestClient): login and sessions, CSRF, escaping, redirects,
bad input on the settings page. The browser journey itself is tests/test_ui_browser.py."""

from __future__ import annotations

import re

from nue_ns.api.auth import SESSION_COOKIE
from nue_ns.hub import attempts, dispatching
from nue_ns.hub.api_keys import create_key, revoke
from nue_ns.hub.models import utcnow
from nue_ns.netsuite.errors import Exchange
from nue_ns.producer import enqueue_many
from tests.api_support import key, set_record

EVIL = '<script>alert("x")</script>'


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, api_key: str, next_url: str = "/ui/"):
    page = client.get("/ui/login")
    return client.post(
        "/ui/login",
        data={"api_key": api_key, "csrf": _csrf(page.text), "next": next_url},
        follow_redirects=False,
    )


def test_pages_need_a_login_and_redirect_back(client, hub):
    for path in ("/ui/", "/ui/records/1", "/ui/integrations/", "/ui/integrations/default", "/ui/jobs/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/ui/login?next={path}", path
    r = client.post("/ui/retry", data={"mode": "all"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_login_rules_and_cookie_flags(client, hub):
    assert _login(client, "nns_wrong").status_code == 401
    r = _login(client, key("producer"))
    assert r.status_code == 401 and "producer key" in r.text
    r = client.post("/ui/login", data={"api_key": key("operator"), "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 401 and "expired" in r.text

    r = _login(client, key("operator", "Dana"), next_url="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/ui/"  # never off-site
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "nns_" not in cookie  # the session names the key, it does not carry it
    page = client.get("/ui/")
    assert page.status_code == 200 and "Log out (Dana)" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_tampered_or_revoked_sessions_end(client, hub):
    operator, row = create_key(hub.engine, "Sam", "operator")
    _login(client, operator)
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    value = client.cookies.get(SESSION_COOKIE)
    body, mac = value.split(".")
    client.cookies.set(SESSION_COOKIE, body + "." + mac[::-1])
    assert client.get("/ui/", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    revoke(hub.engine, row.id)
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_every_form_needs_the_csrf_token(client, hub):
    [acc] = enqueue_many("customer", [{"id": "C-1", "name": "Acme"}], ctx=hub, dispatch_now=False)
    set_record(acc.id, state="failed")
    _login(client, key("operator"))
    csrf = _csrf(client.get("/ui/").text)
    for path, data in [
        ("/ui/retry", {"ids": str(acc.id)}),
        ("/ui/retry", {"mode": "all"}),
        (f"/ui/records/{acc.id}/retry", {}),
        ("/ui/integrations/default", {"action": "save"}),
        ("/ui/verify", {"integration": "default"}),
        ("/ui/logout", {}),
    ]:
        for token in (None, "wrong"):
            r = client.post(path, data=data | ({"csrf": token} if token else {}), follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, (path, token)
    assert client.get(f"/v1/records/{acc.id}").status_code == 401  # the session is no API key
    r = client.post("/ui/retry", data={"ids": str(acc.id), "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "notice=retried&n=1" in r.headers["location"]


def test_record_data_and_netsuite_answers_are_escaped(client, hub):
    [acc] = enqueue_many("customer", [{"id": "C-1", "name": f"Acme {EVIL}"}], ctx=hub, dispatch_now=False)
    set_record(acc.id, state="failed", error_kind="needs_person", error_detail=EVIL, error_path=EVIL)
    integ = hub.integration("default")
    ex = Exchange("PUT", "https://x/", {"companyName": EVIL}, 400, {"title": EVIL})
    with_record = type("R", (), {"id": acc.id})()
    attempts.log_attempt(
        hub.engine, with_record, integ.id, integ.account_id, ex, "needs_person", utcnow(), "w"
    )
    _login(client, key("operator"))
    for page in (client.get("/ui/"), client.get(f"/ui/records/{acc.id}")):
        assert page.status_code == 200
        assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_retry_pages_and_notices(client, hub):
    accepted = enqueue_many(
        "customer", [{"id": f"C-{i}", "name": "x"} for i in range(3)], ctx=hub, dispatch_now=False
    )
    for a in accepted[:2]:
        set_record(a.id, state="failed", error_code="INVALID_CONTENT")
    set_record(accepted[2].id, state="transferred")
    _login(client, key("operator"))
    csrf = _csrf(client.get("/ui/").text)
    r = client.post("/ui/retry", data={"csrf": csrf, "type": "customer"}, follow_redirects=False)
    assert "notice=none-selected" in r.headers["location"]
    r = client.post(f"/ui/records/{accepted[2].id}/retry", data={"csrf": csrf}, follow_redirects=False)
    assert r.headers["location"].endswith("notice=not-retryable")
    assert "Nothing to retry" in client.get(r.headers["location"]).text
    r = client.post(
        "/ui/retry", data={"csrf": csrf, "mode": "all", "state": "failed"}, follow_redirects=False
    )
    job_url = r.headers["location"]
    assert re.fullmatch(r"/ui/jobs/\d+", job_url)
    page = client.get(job_url)
    assert page.status_code == 200 and "of 2 retried" in page.text
    r = client.post("/ui/retry", data={"csrf": csrf, "mode": "all", "state": "sideways"})
    assert r.status_code == 422 and "expected one of" in r.text
    assert client.get("/ui/?since=notadate").status_code == 200  # the page names the bad field
    assert "expected a date" in client.get("/ui/?since=notadate").text
    assert client.get("/ui/records/999999").status_code == 404


def test_settings_page_names_bad_fields_and_saves_nothing(client, hub):
    _login(client, key("operator"))
    page = client.get("/ui/integrations/default")
    assert page.status_code == 200 and "Process in scheduled mode" in page.text
    form = {
        "csrf": _csrf(page.text), "action": "save", "gl.subscription_income": "abc", "collection": "stripe",
        "item_type.subscription": "nonInventorySaleItem", "item_type.entitlement": "serviceSaleItem",
        "item_type.asset": "inventoryItem", "override_rows": "1", "override.0.category": "",
        "override.0.role": "clearing", "override.0.account": "4", "currency_rows": "1",
        "currency.0.code": "eur", "currency.0.id": "2",
    }  # fmt: skip
    r = client.post("/ui/integrations/default", data=form)
    assert r.status_code == 422
    assert "must be a NetSuite internal id (digits only)" in r.text
    assert "3-letter upper-case currency code" in r.text
    assert "at least 1 character" in r.text  # the override row without a category
    assert hub.integration("default").settings == {}  # nothing saved
    assert client.get("/ui/integrations/nowhere").status_code == 404


def test_dashboard_warns_of_throttling(client, hub):
    integ = hub.integration("default")
    ex = Exchange("PUT", "https://x/", None, 429, None)
    for _ in range(6):
        attempts.log_attempt(hub.engine, None, integ.id, integ.account_id, ex, "throttled", utcnow(), "w")
    _login(client, key("operator"))
    page = client.get("/ui/").text
    assert "NetSuite refused 6 calls" in page and "Process in scheduled mode" in page
    assert "NetSuite refused 6 calls" in client.get("/ui/integrations/default").text
    assert "NetSuite refused 6 calls" in client.get("/ui/governor").text


def test_batches_page_and_record_page_show_each_batch_and_job(client, hub):
    from nue_ns import sample
    from nue_ns.hub import batch_store
    from nue_ns.hub.models import BatchState
    from nue_ns.producer import enqueue_many

    integ = hub.integration("default")
    ids = [a.id for a in enqueue_many("customer", sample.customers(2), dispatch_now=False)]
    dispatching.release_batch(hub.engine)
    taken = batch_store.take(hub.engine, integ.id, "t", 60)
    batch = batch_store.create(
        hub.engine, integ.id, "customer", "customer", "t",
        [(r.id, f"nue-cust-{r.nue_id}", {"companyName": "<b>x</b>"}, True) for r in taken],
    )  # fmt: skip
    batch_store.set_state(
        hub.engine, batch.id, state=BatchState.SUBMITTED, job_id="4711", progress="inProgress"
    )
    _login(client, key("operator"))
    page = client.get("/ui/batches").text
    assert f'id="batch-{batch.id}"' in page and "4711" in page and "inProgress" in page
    record = client.get(f"/ui/records/{ids[0]}").text
    assert f"batch {batch.id}" in record and "4711" in record
    assert (
        client.get("/v1/batches", headers={"Authorization": f"Bearer {key('operator')}"}).json()["batches"][
            0
        ]["job_id"]
        == "4711"
    )
