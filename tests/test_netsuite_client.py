"""NetSuiteClient against a real local HTTP server that records requests and plays scripted answers."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from nue_ns.netsuite import errors
from nue_ns.netsuite.auth import Credentials, parse_oauth_header, tba_auth, tba_signature
from nue_ns.netsuite.client import MAX_LOGGED_BODY, NetSuiteClient, WriteResult
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError

ACCOUNT = "TSTDRV1234567"
CREDS = Credentials(
    consumer_key="ck-9f1c2e7a4b3d",
    consumer_secret="cs-5e8a0b6d1f42",
    token_id="tk-3a7e9c0b2d15",
    token_secret="ts-0d4b8f2a6c93",
)
SECRETS = (CREDS.consumer_key, CREDS.consumer_secret, CREDS.token_id, CREDS.token_secret)
ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"


def ns_error(status: int, code: str, detail: str, path: str | None = None) -> dict:
    """A NetSuite error body as docs/NETSUITE.md describes it."""
    item = {"detail": detail, "o:errorCode": code}
    if path:
        item["o:errorPath"] = path
    return {
        "type": "https://www.rfc-editor.org/rfc/rfc9110",
        "title": "Error",
        "status": status,
        "o:errorDetails": [item],
    }


@dataclass
class Answer:
    status: int = 204
    body: dict | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.raw_path).query, keep_blank_values=True)

    def json(self) -> object:
        return json.loads(self.body)


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.seen: list[Seen] = []
        self.answers: deque[Answer] = deque()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, status: int = 204, body: dict | str | None = None, **kw: object) -> None:
        self.answers.append(Answer(status, body, **kw))  # type: ignore[arg-type]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client gave up (timeout tests): writing the late answer fails, as it should


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled connections are exercised

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        answer = self.server.answers.popleft() if self.server.answers else Answer()
        time.sleep(answer.delay)
        if answer.drop:
            self.close_connection = True
            return
        if isinstance(answer.body, dict):
            data = json.dumps(answer.body).encode()
            content_type = ERROR_TYPE if answer.status >= 400 else "application/json"
        else:
            data = (answer.body or "").encode()
            content_type = "text/html"
        self.send_response(answer.status)
        if data:
            self.send_header("Content-Type", answer.headers.pop("Content-Type", content_type))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[NetSuiteClient]:
    c = NetSuiteClient(
        ACCOUNT, tba_auth(CREDS, ACCOUNT), rest_url=server.base + "/services/rest/", timeout=2.0
    )
    yield c
    c.close()


def location(ns_type: str, internal_id: str) -> dict[str, str]:
    return {
        "Location": f"https://tstdrv1234567.suitetalk.api.netsuite.com/services/rest/record/v1/{ns_type}/{internal_id}"
    }


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def signature(method: str, url: str, oauth_params: dict[str, str]) -> str:
    return tba_signature(method, url, oauth_params, CREDS.consumer_secret, CREDS.token_secret)


def exchange_text(exchange: Exchange) -> str:
    return json.dumps(asdict(exchange), default=str) + repr(exchange)


# -- record writes ---------------------------------------------------------------------------------


def test_upsert_puts_by_external_id_and_reads_location(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    server.answer(204, headers=location("customer", "1234"))
    body = {"companyName": "Acme", "subsidiary": {"id": "1"}}
    result = client.upsert("customer", "nue-cust-42", body)

    assert isinstance(result, WriteResult) and result.internal_id == "1234"
    [req] = server.seen
    assert req.method == "PUT"
    assert req.raw_path == "/services/rest/record/v1/customer/eid:nue-cust-42"
    assert req.json() == body
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-NetSuite-PropertyNameValidation"] == "Error"
    assert "Prefer" not in req.headers
    ex = result.exchange
    assert (ex.method, ex.url, ex.request_body, ex.status, ex.response_body) == (
        "PUT",
        server.base + "/services/rest/record/v1/customer/eid:nue-cust-42",
        body,
        204,
        None,
    )
    assert ex.elapsed_ms is not None and ex.elapsed_ms >= 0


def test_upsert_replace_sublists_in_query_and_signed(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204, headers=location("invoice", "77"))
    result = client.upsert("invoice", "nue-inv-9", {"item": {"items": []}}, replace=("item", "apply"))

    [req] = server.seen
    assert req.raw_path == "/services/rest/record/v1/invoice/eid:nue-inv-9?replace=item,apply"
    assert req.query == {"replace": ["item,apply"]}
    assert result.internal_id == "77" and result.exchange.url.endswith("?replace=item,apply")
    # The OAuth header: realm = account, HMAC-SHA256, and a signature the server side can verify
    # (query included, JSON body excluded).
    auth = parse_oauth_header(req.headers["Authorization"])
    assert req.headers["Authorization"].startswith(f'OAuth realm="{ACCOUNT}"')
    assert auth["oauth_signature_method"] == "HMAC-SHA256"
    assert auth["oauth_consumer_key"] == CREDS.consumer_key and auth["oauth_token"] == CREDS.token_id
    assert signature("PUT", server.base + req.raw_path, auth) == auth["oauth_signature"]
    assert signature("PUT", server.base + req.path, auth) != auth["oauth_signature"]


def test_each_request_gets_a_fresh_nonce(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204, headers=location("customer", "1"))
    server.answer(204, headers=location("customer", "1"))
    client.upsert("customer", "nue-cust-1", {})
    client.upsert("customer", "nue-cust-1", {})
    nonces = {parse_oauth_header(r.headers["Authorization"])["oauth_nonce"] for r in server.seen}
    assert len(nonces) == 2


def test_write_without_location_is_transient(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204)
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("customer", "nue-cust-1", {"companyName": "A"})
    assert caught.value.kind is Kind.TRANSIENT
    assert "Location" in str(caught.value) and "/record/v1/customer/eid:nue-cust-1" in str(caught.value)
    assert caught.value.exchange is not None and caught.value.exchange.status == 204


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"ns_type": "sales order"}, "ns_type"),
        ({"ns_type": "customer/1"}, "ns_type"),
        ({"ns_type": ""}, "ns_type"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "nue cust"}, "external_id"),
        ({"external_id": "nue/cust"}, "external_id"),
        ({"external_id": "x" * 256}, "external_id"),
        ({"external_id": "nue-cust-1\n"}, "external_id"),  # `$` alone would let a newline through
        ({"ns_type": "customer\n"}, "ns_type"),
        ({"replace": ["item,apply"]}, "replace"),
        ({"replace": ["item", "../x"]}, "replace"),
    ],
)
def test_upsert_validates_arguments_before_any_request(
    client: NetSuiteClient, server: ScriptedServer, kwargs: dict, argument: str
) -> None:
    call = {"ns_type": "customer", "external_id": "nue-cust-1", "body": {}, **kwargs}
    with pytest.raises(ValueError, match=argument):
        client.upsert(**call)
    assert server.seen == []


def test_upsert_accepts_longest_external_id(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204, headers=location("customer", "5"))
    assert client.upsert("customer", "A-_9" * 63 + "abc", {}).internal_id == "5"


def test_create_posts_to_type(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204, headers=location("invoice", "901"))
    result = client.create("invoice", {"entity": {"id": "5"}})
    [req] = server.seen
    assert (req.method, req.raw_path, req.json()) == (
        "POST",
        "/services/rest/record/v1/invoice",
        {"entity": {"id": "5"}},
    )
    assert result.internal_id == "901"


def test_get_by_internal_and_external_id(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(200, {"id": "12", "externalId": "nue-cust-3"})
    server.answer(200, {"id": "12"})
    record, exchange = client.get("customer", "12")
    assert record == {"id": "12", "externalId": "nue-cust-3"}
    assert exchange.status == 200 and exchange.response_body == record and exchange.request_body is None
    client.get("customer", "eid:nue-cust-3")
    assert [(r.method, r.raw_path, r.body) for r in server.seen] == [
        ("GET", "/services/rest/record/v1/customer/12", b""),
        ("GET", "/services/rest/record/v1/customer/eid:nue-cust-3", b""),
    ]
    for bad in ("12/../13", "eid:", "eid:a b", "abc", "12\n", "eid:x\n"):
        with pytest.raises(ValueError, match="ref"):
            client.get("customer", bad)
    assert len(server.seen) == 2


def test_transform_posts_to_the_source_and_reads_the_new_record_id(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    server.answer(204, headers=location("creditMemo", "88"))
    body = {"externalId": "nue-cm-1", "item": {"items": []}}
    result = client.transform("invoice", "77", "creditMemo", body, replace=("item", "apply"))
    [req] = server.seen
    assert (req.method, req.raw_path, req.json()) == (
        "POST", "/services/rest/record/v1/invoice/77/!transform/creditMemo?replace=item,apply", body,
    )  # fmt: skip
    assert result.internal_id == "88"
    auth = parse_oauth_header(req.headers["Authorization"])
    assert signature("POST", server.base + req.raw_path, auth) == auth["oauth_signature"]
    # The source is an internal id: NetSuite's OpenAPI types the path's `id` as an integer
    # ("Internal identifier"); an external id, or anything else, is refused before any request.
    for bad in ("7/../8", "eid:nue-inv-1", "77\n", " 77", "-77", ""):
        with pytest.raises(ValueError, match="source_id .*expected a NetSuite internal id"):
            client.transform("invoice", bad, "creditMemo", body)
    assert len(server.seen) == 1


def test_update_patches_and_get_expands_sublists(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204)
    server.answer(200, {"id": "5", "item": {"items": [{"line": 1}]}})
    assert (
        client.update("salesOrder", "5", {"item": {"items": [{"line": 1, "isClosed": True}]}}).internal_id
        == "5"
    )
    record, _ = client.get("salesOrder", "5", expand=True)
    assert record["item"]["items"] == [{"line": 1}]
    assert [(r.method, r.raw_path) for r in server.seen] == [
        ("PATCH", "/services/rest/record/v1/salesOrder/5"),
        ("GET", "/services/rest/record/v1/salesOrder/5?expandSubResources=true"),
    ]


def test_get_non_json_answer_is_transient(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(200, "<html>maintenance</html>")
    with pytest.raises(NetSuiteError) as caught:
        client.get("customer", "12")
    assert caught.value.kind is Kind.TRANSIENT
    assert (
        caught.value.exchange is not None
        and caught.value.exchange.response_body == "<html>maintenance</html>"
    )


def test_delete(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(204)
    exchange = client.delete("customer", "44")
    assert (server.seen[0].method, server.seen[0].raw_path) == (
        "DELETE",
        "/services/rest/record/v1/customer/44",
    )
    assert exchange.method == "DELETE" and exchange.status == 204
    with pytest.raises(ValueError, match="internal_id"):
        client.delete("customer", "44?x=1")


# -- throttling ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "header", "kind", "wait"),
    [
        (429, "USER_ERROR", "12", Kind.THROTTLED, 12.0),  # Retry-After honoured
        (429, "USER_ERROR", None, Kind.THROTTLED, None),  # none: the configured pause
        (429, "USER_ERROR", "999999", Kind.THROTTLED, errors.RETRY_AFTER_MAX),  # bounded
        (429, "USER_ERROR", "0", Kind.THROTTLED, errors.RETRY_AFTER_MIN),
        (429, "USER_ERROR", "soon", Kind.THROTTLED, None),  # unreadable: ignored
        (400, "CONCURRENCY_LIMIT_EXCEEDED", "5", Kind.THROTTLED, 5.0),  # the code, not only the status
        (400, "SSS_REQUEST_LIMIT_EXCEEDED", None, Kind.THROTTLED, None),
        (
            400,
            "INVALID_CONTENT",
            "5",
            Kind.NEEDS_PERSON,
            None,
        ),  # Retry-After only means something when throttled
    ],
)
def test_throttling_is_the_code_or_the_status_and_honours_retry_after(
    client: NetSuiteClient, server: ScriptedServer, status, code, header, kind, wait
) -> None:
    server.answer(
        status, ns_error(status, code, "over the limit"), headers={"Retry-After": header} if header else {}
    )
    with pytest.raises(NetSuiteError) as err:
        client.get("customer", "1")
    assert (err.value.kind, err.value.retry_after) == (kind, wait)


def test_a_retry_after_date_is_read_as_the_seconds_until_it() -> None:
    now = dt.datetime(2026, 12, 2, 14, 0, 0, tzinfo=dt.UTC)
    assert errors.retry_after_seconds("Wed, 02 Dec 2026 14:00:45 GMT", now) == 45.0
    assert errors.retry_after_seconds("Wed, 02 Dec 2026 13:00:00 GMT", now) == errors.RETRY_AFTER_MIN


# -- queries -----------------------------------------------------------------------------------------


def test_suiteql_page(client: NetSuiteClient, server: ScriptedServer) -> None:
    page = {"items": [{"id": "5", "accttype": "Income"}], "count": 1, "offset": 1000, "hasMore": False}
    server.answer(200, page)
    query = "SELECT id, accttype FROM account WHERE id = 5"
    result, exchange = client.suiteql(query, limit=500, offset=1000)

    assert result == page and exchange.response_body == page
    [req] = server.seen
    assert (req.method, req.path) == ("POST", "/services/rest/query/v1/suiteql")
    assert req.query == {"limit": ["500"], "offset": ["1000"]}
    assert req.headers["Prefer"] == "transient"
    assert req.json() == {"q": query}  # only `q`: REST SuiteQL documents no other (section_157909186990)
    auth = parse_oauth_header(req.headers["Authorization"])
    assert signature("POST", server.base + req.raw_path, auth) == auth["oauth_signature"]


def test_suiteql_result_names_are_read_in_lower_case_whatever_netsuite_sends(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    # Oracle: the casing of result names "can change", don't depend on it (section_156257796125).
    page = {"items": [{"ID": "5", "AcctType": "Income", "links": []}], "count": 1, "hasMore": False}
    server.answer(200, page)
    result, exchange = client.suiteql("SELECT id, accttype FROM account")
    assert result["items"] == [{"id": "5", "accttype": "Income", "links": []}]
    assert result["count"] == 1 and result["hasMore"] is False  # the page's own keys are NetSuite's
    assert exchange.response_body["items"][0]["AcctType"] == "Income"  # logged as NetSuite sent it


def test_suiteql_sends_the_query_alone(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(200, {"items": [], "count": 0, "hasMore": False})
    client.suiteql("SELECT id FROM account")
    with pytest.raises(TypeError):
        client.suiteql("SELECT id FROM account WHERE id = ?", ["5"])  # type: ignore[call-arg]
    assert server.seen[0].json() == {"q": "SELECT id FROM account"}
    assert server.seen[0].query == {"limit": ["1000"], "offset": ["0"]}


@pytest.mark.parametrize(
    ("limit", "offset", "argument"),
    [(0, 0, "limit"), (1001, 0, "limit"), (1000, 10, "offset"), (10, -10, "offset")],
)
def test_suiteql_validates_paging(
    client: NetSuiteClient, server: ScriptedServer, limit: int, offset: int, argument: str
) -> None:
    with pytest.raises(ValueError, match=argument):
        client.suiteql("SELECT 1", limit=limit, offset=offset)
    assert server.seen == []


def test_governance_limits(client: NetSuiteClient, server: ScriptedServer) -> None:
    server.answer(200, {"accountConcurrencyLimit": 5, "integrationConcurrencyLimit": 5})
    limits, exchange = client.governance_limits()
    assert limits["accountConcurrencyLimit"] == 5
    assert (server.seen[0].method, server.seen[0].raw_path) == (
        "GET",
        "/services/rest/system/v1/governanceLimits",
    )
    assert exchange.status == 200


def test_large_answer_is_returned_whole_but_logged_truncated(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    items = [{"id": str(i), "acctname": "x" * 40} for i in range(1000)]
    server.answer(200, {"items": items, "count": 1000, "hasMore": True})
    page, exchange = client.suiteql("SELECT id, acctname FROM account")
    assert page["items"] == items
    assert isinstance(exchange.response_body, str) and len(exchange.response_body) <= MAX_LOGGED_BODY
    raw = len(json.dumps({"items": items, "count": 1000, "hasMore": True}))
    assert exchange.response_body.endswith(f"[truncated: {raw} characters]")  # the raw length noted


# -- failures: classification, one attempt, no secrets ------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "code", "detail", "path"),
    [
        (
            Answer(400, ns_error(400, "INVALID_CONTENT", "Invalid value for item", "item.items[0].item")),
            Kind.NEEDS_PERSON,
            "INVALID_CONTENT",
            "Invalid value for item",
            "item.items[0].item",
        ),
        (
            Answer(401, ns_error(401, "INVALID_LOGIN", "Invalid login attempt.")),
            Kind.AUTH,
            "INVALID_LOGIN",
            None,
            None,
        ),
        (
            Answer(429, ns_error(429, "USER_ERROR", "CONCURRENCY_LIMIT_EXCEEDED"), {"Retry-After": "1"}),
            Kind.THROTTLED,
            "USER_ERROR",
            "CONCURRENCY_LIMIT_EXCEEDED",
            None,
        ),
        (
            Answer(500, ns_error(500, "UNEXPECTED_ERROR", "An unexpected error occurred.")),
            Kind.TRANSIENT,
            "UNEXPECTED_ERROR",
            None,
            None,
        ),
        (
            Answer(503, "<html>Service Unavailable</html>", {"Retry-After": "1"}),
            Kind.TRANSIENT,
            None,
            None,
            None,
        ),
        (
            Answer(400, ns_error(400, "USER_ERROR", "Record has been changed since you retrieved it.")),
            Kind.TRANSIENT,
            "USER_ERROR",
            None,
            None,
        ),
        (
            Answer(302, None, {"Location": "http://127.0.0.1:1/elsewhere"}),
            Kind.NEEDS_PERSON,
            None,
            None,
            None,
        ),
    ],
)
def test_error_answers_are_classified_after_exactly_one_request(
    client: NetSuiteClient,
    server: ScriptedServer,
    answer: Answer,
    kind: Kind,
    code: str | None,
    detail: str | None,
    path: str | None,
) -> None:
    server.answers.append(answer)
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("invoice", "nue-inv-1", {"memo": "m"}, replace=["item"])
    error = caught.value
    time.sleep(0.2)  # a hidden retry would arrive now
    assert len(server.seen) == 1
    assert error.kind is kind and error.status == answer.status
    assert error.code == code
    if detail:
        assert error.detail == detail
    assert error.path == path
    ex = error.exchange
    assert ex is not None and ex.status == answer.status and ex.method == "PUT"
    assert ex.request_body == {"memo": "m"}
    if isinstance(answer.body, dict):
        assert ex.response_body == answer.body
    assert_no_secret(str(error), repr(error), exchange_text(ex), repr(client))


def test_needs_person_error_shows_netsuite_detail_and_path(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    body = ns_error(400, "INVALID_CONTENT", "Invalid account reference key 14.", "account")
    server.answer(400, body)
    with pytest.raises(NetSuiteError) as caught:
        client.create("customerPayment", {"account": {"id": "14"}})
    assert str(caught.value) == "400 INVALID_CONTENT: Invalid account reference key 14. (field account)"


def test_timeout_is_transient_and_not_retried(server: ScriptedServer) -> None:
    client = NetSuiteClient(
        ACCOUNT, tba_auth(CREDS, ACCOUNT), rest_url=server.base + "/services/rest", timeout=0.3
    )
    server.answer(204, headers=location("customer", "1"), delay=1.0)
    started = time.monotonic()
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("customer", "nue-cust-1", {"companyName": "A"})
    assert time.monotonic() - started < 0.9
    error = caught.value
    assert error.kind is Kind.TRANSIENT and error.status is None
    assert "timeout" in str(error) and "/services/rest/record/v1/customer/eid:nue-cust-1" in str(error)
    assert error.exchange is not None and error.exchange.status is None and error.exchange.elapsed_ms >= 300
    time.sleep(1.2)  # past the server's delay: a retry would have been recorded by now
    assert len(server.seen) == 1
    assert_no_secret(str(error), repr(error), exchange_text(error.exchange))
    client.close()


def test_dropped_connection_is_transient_and_not_retried(
    client: NetSuiteClient, server: ScriptedServer
) -> None:
    server.answer(drop=True)
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("customer", "nue-cust-1", {"companyName": "A"})
    assert caught.value.kind is Kind.TRANSIENT and "connection" in str(caught.value)
    time.sleep(0.2)
    assert len(server.seen) == 1


def test_refused_connection_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = NetSuiteClient(
        ACCOUNT, tba_auth(CREDS, ACCOUNT), rest_url=f"http://127.0.0.1:{port}/services/rest"
    )
    with pytest.raises(NetSuiteError) as caught:
        client.suiteql("SELECT id FROM account")
    error = caught.value
    assert error.kind is Kind.TRANSIENT and "connection" in str(error) and "/query/v1/suiteql" in str(error)
    assert error.exchange is not None and error.exchange.request_body == {"q": "SELECT id FROM account"}
    assert_no_secret(str(error), repr(error), exchange_text(error.exchange), repr(client))


def test_session_never_retries_and_pools_for_many_threads(client: NetSuiteClient) -> None:
    adapter = client._session.get_adapter("https://tstdrv1234567.suitetalk.api.netsuite.com/")
    assert adapter.max_retries.total == 0 and adapter.max_retries.read is False
    assert adapter._pool_maxsize == 64
    assert repr(client) == (
        f"NetSuiteClient(account_id='{ACCOUNT}', base_url='{client.base_url}')"
    ) and client.base_url.endswith("/services/rest")


def test_default_host_from_account_id() -> None:
    client = NetSuiteClient("1234567_SB1", tba_auth(CREDS, "1234567_SB1"))
    assert client.base_url == "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"
    assert_no_secret(repr(client), str(client))


def test_concurrent_calls_share_one_client(client: NetSuiteClient, server: ScriptedServer) -> None:
    ids: list[str] = []

    def worker(n: int) -> None:
        record, _ = client.get("customer", str(n))
        ids.append(record["id"])

    for _ in range(16):
        server.answer(200, {"id": "same"})
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert ids == ["same"] * 16
    assert sorted(int(r.path.rsplit("/", 1)[1]) for r in server.seen) == list(range(16))


# ---------------------------------------------------------------- malformed answers


@pytest.mark.parametrize(
    "body",
    [
        {"o:errorDetails": [{"detail": {"nested": ["object"]}, "o:errorCode": 42, "o:errorPath": ["a"]}]},
        {"o:errorDetails": "not a list", "title": "Bad"},
        {"o:errorDetails": [None, 7]},
        {"o:errorDetails": [{"detail": "x\x00y\x1b[2J", "o:errorCode": "C" * 500, "o:errorPath": "p" * 900}]},
        "[" * 100_000,  # JSON-ish, nested past any stack
        "\x00\x01 not json at all",
    ],
    ids=["values not text", "details not a list", "details not objects", "oversized, NUL", "deep", "binary"],
)
def test_a_malformed_error_body_becomes_a_bounded_escaped_error(client, server, body):
    server.answer(400, body)
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("customer", "nue-cust-1", {"companyName": "x"})
    err = caught.value
    assert err.kind is Kind.NEEDS_PERSON and err.status == 400
    for text in (err.code, err.detail, err.path, str(err)):
        assert text is None or ("\x00" not in text and "\x1b" not in text and len(text) <= 2100)
    assert err.code is None or len(err.code) <= 64
    assert err.path is None or len(err.path) <= 200


@pytest.mark.parametrize("internal_id", ["9" * 21, "12a", "-5", "1%00", "[link=x]1"])
def test_a_204_without_a_usable_internal_id_is_a_malformed_answer(client, server, internal_id):
    server.answer(204, headers=location("customer", internal_id))
    with pytest.raises(NetSuiteError) as caught:
        client.upsert("customer", "nue-cust-1", {"companyName": "x"})
    assert caught.value.kind is Kind.NEEDS_PERSON and caught.value.code == "MALFORMED_ANSWER"
    assert "malformed answer" in caught.value.detail


def test_a_deeply_nested_2xx_answer_is_transient_not_a_crash(client, server):
    server.answer(200, "[" * 100_000, headers={"Content-Type": "application/json"})
    with pytest.raises(NetSuiteError) as caught:
        client.suiteql("SELECT id FROM account")
    assert caught.value.kind is Kind.TRANSIENT


def test_a_task_result_nested_past_the_stack_is_no_answer_not_a_crash(client, server):
    """A hostile async answer must not raise out of the batch poll: it reads as no answer."""
    server.answer(200, "[" * 100_000, headers={"Content-Type": "application/json"})
    (status, body, where), _ = client.task_result("77", "1")
    assert (status, body, where) == (200, None, None)
    assert server.seen[0].raw_path == "/services/rest/async/v1/job/77/task/1/result"


def test_job_and_task_ids_are_the_ids_batch_answers_carry(client, server):
    """What batch_shapes reads from a Location or a task list, and nothing else, reaches a URL."""
    server.answer(200, {"completed": False})
    assert client.job("job_A-7")[0] == {"completed": False}  # letters too, as a Location may hold
    for bad in ("7" * 41, "7/../8", "eid:7", "7\n", ""):
        with pytest.raises(ValueError, match="job_id"):
            client.job(bad)
        with pytest.raises(ValueError, match="task_id"):
            client.task_result("7", bad)
    assert len(server.seen) == 1
