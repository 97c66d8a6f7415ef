"""Nobody let in, nothing leaked: the NetSuite secrets appear nowhere the system writes (Redis
messages, worker/beat/sandbox logs, hub rows, the attempt log, Flower, error texts); every API
route wants a key and every UI form a CSRF token; hostile strings are shown escaped; the sandbox
refuses forged and replayed requests."""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from nue_ns import sample
from nue_ns.api import create_app
from nue_ns.api.auth import SESSION_COOKIE
from nue_ns.config import get_settings
from nue_ns.context import get_context
from nue_ns.hub.integrations import create_integration
from nue_ns.hub.models import State
from nue_ns.netsuite.auth import Certificate, Credentials, OAuth2Credentials, tba_auth
from nue_ns.processes import Child, free_port, nue_ns_argv
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import demo
from tests.api_support import key
from tests.bad_input_corpus import HOSTILE_NAMES
from tests.harness import System
from tests.oauth_support import (
    DEMO_CERT,
    DEMO_CLIENT,
    keypair,
    map_certificate,
    oauth2_env,
    oauth_secrets,
    secret_leaks,
)

SECRETS = {"consumer secret": demo.DEMO_CONSUMER_SECRET, "token secret": demo.DEMO_TOKEN_SECRET}
FLOWER_AUTH = ("ops", "flower-pass")


def leaks(where: str, blob: str) -> list[str]:
    """Which secret (or a 20-character piece of one: a truncated copy leaks too) the text holds."""
    found = []
    for name, secret in SECRETS.items():
        pieces = {secret[i : i + 20] for i in range(len(secret) - 19)}
        if any(p in blob for p in pieces):
            found.append(f"{name} in {where}")
    return found


# ---------------------------------------------------------------- secrets nowhere


def _queued_tasks(redis_url: str) -> list[dict]:
    """The transfer tasks waiting in Redis, decoded: headers and [args, kwargs, embed]."""
    raw = redis.Redis.from_url(redis_url).lrange("nue_ns", 0, -1)
    tasks = []
    for message in raw:
        envelope = json.loads(message)
        body = base64.b64decode(envelope["body"]).decode()
        tasks.append({"raw": message.decode(), "headers": envelope["headers"], "body": json.loads(body)})
    return tasks


def _start_flower(system: System) -> tuple[Child, str]:
    port = free_port()
    argv = [sys.executable, "-m", "celery", "-A", "nue_ns.tasks", "flower", f"--port={port}"]
    argv += ["--address=127.0.0.1", f"--basic-auth={':'.join(FLOWER_AUTH)}"]
    child = Child("flower", argv, system.env, system.work_dir / "logs")
    system.children.append(child)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert child.alive, Path(child.log_path).read_text()[-2000:]
        try:
            requests.get(f"{base}/healthcheck", timeout=1)
            return child, base
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("Flower did not start")


def _redis_dump(redis_url: str) -> str:
    r = redis.Redis.from_url(redis_url)
    parts = []
    for k in r.scan_iter(count=1000):
        kind = r.type(k).decode()
        value = {
            "string": lambda k: r.get(k),
            "list": lambda k: r.lrange(k, 0, -1),
            "hash": lambda k: r.hgetall(k),
            "set": lambda k: r.smembers(k),
            "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
        }.get(kind, lambda k: b"")(k)
        parts.append(f"{k!r} {value!r}")
    return "\n".join(parts)


def _hub_dump(engine) -> str:
    with engine.connect() as conn:
        return "\n".join(
            str(row)
            for table in ("hub_records", "hub_attempts", "ns_links", "integrations")
            for row in conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        )


def test_no_secret_in_redis_logs_hub_attempts_flower_or_errors(system):
    system.start(rate_limit="50/1s")
    _, flower = _start_flower(system)
    for fault in (
        {"kind": "500", "count": 2},
        {"kind": "429", "count": 1},
        {"kind": "timeout", "count": 1, "delay_s": 4},
        {"kind": "invalid_login", "count": 1},
        {"kind": "lost_after_commit", "count": 1, "delay_s": 4},
    ):
        system.sandbox_post("faults", fault)
    customers, products = sample.customers(8), sample.products(6)
    bad = {"id": "C-BADSUB", "name": "Bad Sub Ltd", "subsidiary_id": "77"}  # NetSuite refuses it
    ids = [a.id for a in enqueue_many("customer", [*customers, bad]) + enqueue_many("product", products)]

    # Queued in Redis before any worker runs: each message carries a hub id, nothing else.
    tasks = _queued_tasks(system.redis_url)
    assert tasks, "the producer dispatched nothing to Redis"
    for task in tasks:
        args, kwargs, _ = task["body"]
        assert len(args) == 1 and isinstance(args[0], int) and kwargs == {}, task["body"]
        assert task["headers"]["task"] == "nue_ns.transfer"
        assert not leaks("a Redis message", task["raw"])
        assert customers[0]["name"] not in task["raw"] and "@example.com" not in task["raw"]

    system.workers(2)
    system.beat()
    system.wait(ids, states=[State.TRANSFERRED, State.FAILED], timeout=90)
    assert system.counts(ids) == {State.TRANSFERRED: len(ids) - 1, State.FAILED: 1}
    # A call held by a "timeout" or "lost_after_commit" fault is logged by the sandbox only when it
    # finally answers, after the client gave up and the retry already went through.
    expected = {"500", "429", "timeout", "invalid_login", "lost_after_commit"}
    deadline = time.monotonic() + 15
    while (faults_seen := {c["fault"] for c in system.log() if c["fault"]}) != expected:
        assert time.monotonic() < deadline, faults_seen
        time.sleep(0.5)

    # Flower: locked without the password; with it, tasks whose arguments are hub ids.
    assert requests.get(f"{flower}/api/tasks", timeout=10).status_code == 401
    assert requests.get(f"{flower}/api/tasks", auth=("ops", "wrong"), timeout=10).status_code == 401
    assert requests.get(f"{flower}/", timeout=10).status_code == 401
    flower_tasks: dict = {}
    deadline = time.monotonic() + 20
    while _settled_in(flower_tasks) < len(ids) and time.monotonic() < deadline:
        r = requests.get(f"{flower}/api/tasks", auth=FLOWER_AUTH, timeout=10)
        assert r.status_code == 200
        flower_tasks = {k: v for k, v in r.json().items() if v.get("name") == "nue_ns.transfer"}
        time.sleep(0.5)
    assert _settled_in(flower_tasks) >= len(ids), f"Flower saw {len(flower_tasks)} transfer tasks"
    assert all(re.fullmatch(r"\(\d+,\)", t["args"]) for t in flower_tasks.values())
    found = leaks("Flower /api/tasks", r.text)
    found += leaks(
        "Flower /api/workers", requests.get(f"{flower}/api/workers", auth=FLOWER_AUTH, timeout=10).text
    )

    # Logs of every process (workers, beat, sandbox, Flower), Redis, the hub and the attempt log.
    for log in sorted((system.work_dir / "logs").glob("*.log")):
        found += leaks(log.name, log.read_text(errors="replace"))
    found += leaks("Redis", _redis_dump(system.redis_url))
    found += leaks("the hub tables", _hub_dump(system.ctx.engine))

    # Error texts as operators see them: the CLI and the API of the failed record.
    env = system.env
    for args in (["hub", "list", "--json", "--limit", "100"], ["hub", "status"]):
        out = subprocess.run(
            [sys.executable, "-m", "nue_ns.cli", *args], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        found += leaks(f"nue-ns {' '.join(args)}", out.stdout + out.stderr)
    found += leaks(
        "settings and context reprs", repr(get_settings()) + repr(get_context().connection(1).client)
    )
    assert found == []


def test_a_wrong_secret_is_never_echoed(system):
    wrong = "f" * 24 + "wrong-token-secret" + "0" * 22
    system.start(rate_limit="50/1s", NETSUITE_TOKEN_SECRET=wrong, NUE_NS_PAUSE_ON_AUTH="60")
    system.workers(1)
    ids = [a.id for a in enqueue_many("customer", sample.customers(2))]
    deadline = time.monotonic() + 30
    while not any(c["status"] == 401 for c in system.log()) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1)
    assert system.counts(ids).get(State.TRANSFERRED) is None
    blobs = [_hub_dump(system.ctx.engine), _redis_dump(system.redis_url)]
    blobs += [p.read_text(errors="replace") for p in (system.work_dir / "logs").glob("*.log")]
    assert all(wrong not in blob and wrong[:20] not in blob for blob in blobs)


def test_no_private_key_or_access_token_anywhere(system):
    """OAuth 2.0: the private key and every access token issued (several: they live 3 s here) appear
    nowhere the system writes; the shared token sits encrypted in Redis."""
    pem = keypair()[0]
    system.start(rate_limit="50/1s", **oauth2_env(system.work_dir))
    map_certificate(system.base, demo.DEMO_ACCOUNT_ID, DEMO_CLIENT, DEMO_CERT, keypair()[1])
    system.sandbox_post("oauth/config", {"token_lifetime_s": 3})
    for fault in ({"kind": "500", "count": 2}, {"kind": "invalid_login", "count": 2}):
        system.sandbox_post("faults", fault)
    ctx = get_context()  # a second integration keeps the same key encrypted in the hub
    stored = OAuth2Credentials("cid", (Certificate("STORED", private_key_pem=pem),), "STORED")
    create_integration(
        ctx.engine, ctx.settings, "stored", account_id="TSTDRV9", credentials=stored, enabled=False
    )
    system.workers(2)
    system.beat()
    ids = []
    for n in range(3):  # spread over a few token lifetimes
        ids += [a.id for a in enqueue_many("customer", sample.customers(6, prefix=f"SEC{n}"))]
        time.sleep(2.5)
    system.wait(ids, timeout=90)
    conn = get_context().connection(1)
    conn.bearer.keeper.ensure(2.0)  # the shared token is in Redis while Redis is dumped
    redis_dump = _redis_dump(system.redis_url)
    assert "nue_ns:oauth:" in redis_dump
    secrets = oauth_secrets(system.base, pem)
    assert len(secrets) >= 3, list(secrets)  # the key and at least two tokens

    found: list[str] = []
    for log in sorted((system.work_dir / "logs").glob("*.log")):
        found += secret_leaks(log.name, log.read_text(errors="replace"), secrets)
    found += secret_leaks("Redis", redis_dump, secrets)
    found += secret_leaks("the hub tables", _hub_dump(system.ctx.engine), secrets)
    for args in (["hub", "list", "--json", "--limit", "100"], ["integration", "list", "--json"]):
        out = subprocess.run(
            [sys.executable, "-m", "nue_ns.cli", *args], env=system.env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        found += secret_leaks(f"nue-ns {' '.join(args)}", out.stdout + out.stderr, secrets)
    found += secret_leaks("reprs", repr(get_settings()) + repr(conn.client) + repr(conn.bearer), secrets)
    assert found == []


# ---------------------------------------------------------------- the sandbox refuses forgeries


def test_sandbox_refuses_a_replayed_or_altered_signed_request(system):
    system.start(rate_limit="50/1s")
    creds = Credentials(
        demo.DEMO_CONSUMER_KEY, demo.DEMO_CONSUMER_SECRET, demo.DEMO_TOKEN_ID, demo.DEMO_TOKEN_SECRET
    )
    url = f"{system.base}/services/rest/record/v1/account/5"
    signed = requests.Request("GET", url, auth=tba_auth(creds, demo.DEMO_ACCOUNT_ID)).prepare()
    with requests.Session() as s:
        assert s.send(signed, timeout=10).status_code == 200
        assert s.send(signed, timeout=10).status_code == 401  # captured and sent again
        # A fresh, unused signature for account 5, moved onto a request for account 6.
        fresh = requests.Request("GET", url, auth=tba_auth(creds, demo.DEMO_ACCOUNT_ID)).prepare()
        altered = requests.Request("GET", url.replace("/5", "/6")).prepare()
        altered.headers["Authorization"] = fresh.headers["Authorization"]
        assert s.send(altered, timeout=10).status_code == 401  # signature does not cover this request
        forged = tba_auth(
            Credentials(creds.consumer_key, "0" * 64, creds.token_id, "0" * 64), demo.DEMO_ACCOUNT_ID
        )
        assert s.get(url, auth=forged, timeout=10).status_code == 401
    assert [c["status"] for c in system.log()] == [200, 401, 401, 401]


# ---------------------------------------------------------------- every route guarded


PUBLIC = {
    "/health",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
    "/redoc",
    "/",
    "/ui/login",
}


def _api_routes(routes: list, prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, also inside routers FastAPI keeps as included routers."""
    out = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):  # FastAPI >= 0.165 keeps included routers as such
            out += _api_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return out


def _routes() -> list[tuple[str, str]]:
    out = []
    for full_path, route in _api_routes(create_app().routes):
        if full_path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", lambda m: "default" if "name" in m.group() else "1", full_path)
        out += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return out


def test_every_api_route_wants_a_key_and_every_ui_route_a_session(hub, client):
    routes = _routes()
    assert len(routes) > 15  # the enumeration found the app's routes
    for method, path in routes:
        r = client.request(method, path, follow_redirects=False)
        if path.startswith("/ui"):
            assert r.status_code in (303, 403), (method, path, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/ui/login"), (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code)
            bad = client.request(method, path, headers={"Authorization": "Bearer nns_forged"})
            assert bad.status_code == 401, (method, path)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_every_ui_form_wants_the_csrf_token(hub, client):
    for forged in ({}, {"csrf": "forged"}):  # the login form is CSRF-checked too: no session
        r = client.post("/ui/login", data={"api_key": key("operator")} | forged, follow_redirects=False)
        assert r.status_code == 401 and "expired" in r.text and SESSION_COOKIE not in r.cookies
    page = client.get("/ui/login")
    r = client.post(
        "/ui/login", data={"api_key": key("operator"), "csrf": _csrf(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    posts = [(m, p) for m, p in _routes() if p.startswith("/ui") and m == "POST"]
    assert len(posts) >= 5
    for _, path in posts:
        for data in ({}, {"csrf": "forged"}):
            r = client.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, (path, data, r.status_code)


def test_hostile_strings_are_stored_verbatim_and_shown_escaped(hub, client):
    customers = [{"id": f"C-{i}", "name": name} for i, name in enumerate(HOSTILE_NAMES)]
    accepted = enqueue_many("customer", customers, ctx=hub, dispatch_now=False)
    with hub.engine.connect() as conn:  # the SQL string is data, the table is still there
        names = set(conn.scalars(text("SELECT payload->>'name' FROM hub_records")))
    assert names == set(HOSTILE_NAMES)
    page = client.get("/ui/login")
    client.post("/ui/login", data={"api_key": key("operator"), "csrf": _csrf(page.text)})
    pages = [client.get("/ui/")] + [client.get(f"/ui/records/{a.id}") for a in accepted]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert ">49<" not in page.text and " 49 " not in page.text  # no template evaluation
    assert any("&lt;script&gt;" in p.text for p in pages)


def test_the_scanner_finds_whole_and_truncated_secrets():
    secret = demo.DEMO_TOKEN_SECRET
    assert leaks("x", f"token={secret}") == ["token secret in x"]
    assert leaks("x", f"...{secret[7:29]}...") == ["token secret in x"]
    assert leaks("x", demo.DEMO_TOKEN_ID + demo.DEMO_CONSUMER_KEY) == []  # public ids are no secret


def test_logout_ends_the_session_server_side_so_a_copied_cookie_stops_working(hub, client):
    (acc,) = enqueue_many("customer", [{"id": "C-1", "name": "Acme"}], ctx=hub, dispatch_now=False)
    with hub.engine.begin() as conn:
        conn.execute(text("UPDATE hub_records SET state = 'failed' WHERE id = :i"), {"i": acc.id})
    page = client.get("/ui/login")
    client.post("/ui/login", data={"api_key": key("operator"), "csrf": _csrf(page.text)})
    cookie = client.cookies.get(SESSION_COOKIE)
    page = client.get(f"/ui/records/{acc.id}")
    assert page.status_code == 200
    csrf = _csrf(page.text)
    r = client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "logged-out" in r.headers["location"]
    with TestClient(create_app()) as thief:  # the cookie, copied before the logout
        thief.cookies.set(SESSION_COOKIE, cookie)
        r = thief.get("/ui/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
        r = thief.post(f"/ui/records/{acc.id}/retry", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    with hub.engine.connect() as conn:
        assert conn.scalar(text("SELECT state FROM hub_records WHERE id = :i"), {"i": acc.id}) == "failed"
    # A new login works as before.
    page = client.get("/ui/login")
    client.post("/ui/login", data={"api_key": key("operator"), "csrf": _csrf(page.text)})
    assert client.get("/ui/", follow_redirects=False).status_code == 200


# Values PostgreSQL cannot hold, sent to routes: a 4xx in the documented shape, never a 500.
UNHOLDABLE = [
    ("GET", "/v1/records?nue_id=a%00b", "nue_id"),
    ("GET", "/v1/records?integration=%00", "integration"),
    ("GET", "/v1/status?integration=x%00y", "integration"),
    ("GET", "/v1/records?error_code=%01", "error_code"),
    ("GET", "/v1/records/99999999999999999999", "record_id"),
    ("GET", "/v1/records/-1", "record_id"),
    ("POST", "/v1/records/99999999999999999999/retry", "record_id"),
    ("GET", "/v1/jobs/9223372036854775808", "job_id"),
    ("GET", "/v1/records?cursor=99999999999999999999", "cursor"),
    ("GET", "/v1/inbound?cursor=99999999999999999999", "cursor"),
    ("GET", "/v1/records?since=9999-12-31T23:59:59-05:00", "since"),
    ("GET", "/v1/records?until=9999-12-31T23:59:59-05:00", "until"),
    ("GET", "/v1/records?since=0001-01-01T00:00:00%2B05:00", "since"),
    ("GET", "/v1/records/1%00", "(path)"),
]


@pytest.mark.parametrize("method,path,field", UNHOLDABLE, ids=[u[1] for u in UNHOLDABLE])
def test_values_postgres_cannot_hold_answer_4xx_naming_the_field(hub, client, method, path, field):
    r = client.request(method, path, headers={"Authorization": f"Bearer {key('operator')}"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    body = r.json()
    assert body["detail"] and any(field in e["field"] for e in body["errors"]), body


def test_ui_filters_at_the_edge_of_time_do_not_fail(hub, client):
    page = client.get("/ui/login")
    client.post("/ui/login", data={"api_key": key("operator"), "csrf": _csrf(page.text)})
    for query in (
        "since=9999-12-31&until=9999-12-31",
        "until=9999-12-31",
        "since=0001-01-01",
        "cursor=99999999999999999999",
    ):
        r = client.get(f"/ui/?{query}")
        assert r.status_code in (200, 422), (query, r.status_code)
    assert client.get("/ui/records/99999999999999999999").status_code == 422


def test_api_key_in_the_url_is_refused_and_never_logged(hub, tmp_path):
    """Keys are read from headers only; one sent in a query string is refused, and the access log
    (uvicorn's, through our JSON logging) shows it blanked out."""
    real = key("operator")
    port = free_port()
    env = os.environ | {"NUE_NS_STATE_DIR": str(tmp_path / "state"), "NUE_NS_LOG_LEVEL": "INFO"}
    server = Child("api", nue_ns_argv("api", "--port", str(port)), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/health", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.alive, server.log_path.read_text()
                time.sleep(0.2)
        for query in (
            f"api_key={real}",
            f"key={real}",
            f"token={real}",
            f"q={real}",
            f"access_token=x&a={real}",
        ):
            r = requests.get(f"{base}/v1/records?{query}", timeout=10)
            assert r.status_code == 400 and r.json()["errors"], (query, r.text)
            assert real not in r.text
        # Sent properly, the key works.
        assert requests.get(f"{base}/v1/records", headers={"X-API-Key": real}, timeout=10).status_code == 200
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "/v1/records?" in log and "redacted" in log  # the access log has the lines ...
    assert real not in log and real[:20] not in log  # ... without the key


def test_producer_keys_are_scoped_to_the_integrations_they_serve(hub, client):
    from nue_ns.hub.api_keys import create_key

    scoped = create_key(hub.engine, "billing eu", "producer", ["default"])[0]
    body = {"id": "C-1", "name": "Acme"}
    headers = {"Authorization": f"Bearer {scoped}"}
    assert client.post("/v1/records/customer", json=body, headers=headers).status_code == 202
    for other in ("other", "Default", "default "):
        r = client.post(f"/v1/records/customer?integration={other}", json=body, headers=headers)
        assert r.status_code == 403 and other in r.json()["detail"], r.text
        assert (
            r.json()["errors"][0]["field"] == "integration" and "default" in r.json()["errors"][0]["reason"]
        )
    with hub.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM hub_records")) == 1
    with pytest.raises(ValueError, match="only a producer key"):
        create_key(hub.engine, "ops", "operator", ["default"])
    # Unscoped producer keys keep writing anywhere they name (404 for an integration that is not there).
    unscoped = {"Authorization": f"Bearer {key('producer')}"}
    r = client.post("/v1/records/customer?integration=other", json=body, headers=unscoped)
    assert r.status_code == 404


def test_the_oauth_scanner_finds_a_key_across_line_breaks_and_a_token_piece():
    pem = keypair("ec")[0]
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    secrets = {"private key": body, "access token 1": "tok" + "x" * 30 + "end"}
    assert secret_leaks("x", json.dumps({"key": pem}), secrets) == ["private key in x"]
    assert secret_leaks("x", pem, secrets) == ["private key in x"]
    assert secret_leaks("x", "Bearer tokxxxxxxxxxxxxxxxxxxxxx", secrets) == ["access token 1 in x"]
    assert secret_leaks("x", "certificate DEMO-CERT-1, client nue-ns-demo-client", secrets) == []


def _settled_in(flower_tasks: dict) -> int:
    """Records that ended transferred or failed in the transfer tasks Flower shows: a task carries
    on through what its integration's refill makes due and returns its outcomes' counts."""
    settled = 0
    for task in flower_tasks.values():
        if task.get("state") == "SUCCESS" and task.get("result"):
            counts = ast.literal_eval(task["result"])
            settled += counts.get("transferred", 0) + counts.get("failed", 0)
    return settled
