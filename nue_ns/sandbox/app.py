"""HTTP face of the sandbox: NetSuite's REST API under /services/rest, test controls under /_sandbox.

Each API call is, in order: authenticated (TBA, as NetSuite checks it), admitted under the
account's concurrency limit (held for the whole call, injected latency included, and given back
whatever happens: a client gone before its body arrived is logged as 499), delayed, possibly failed
by an injected fault, answered, and logged.

NetSuite API (TBA-signed): /services/rest/record/v1/{type}[/{id}|/eid:{externalId}] (GET, POST,
PUT, PATCH, DELETE), POST .../record/v1/{type}/{id}/!transform/{target},
GET /services/rest/record/v1/metadata-catalog[?select=] (OpenAPI 3.0 with
Accept: application/swagger+json), POST /services/rest/query/v1/suiteql,
GET /services/rest/system/v1/governanceLimits. Each account is of a kind (kinds.py): its schema,
currencies and subsidiaries; NUE_NS_SANDBOX_KIND chooses the kind of the accounts made at start.
Controls (unauthenticated, local): GET /_sandbox/health; GET|POST /_sandbox/accounts;
GET|POST|DELETE /_sandbox/faults; POST /_sandbox/latency, /_sandbox/config, /_sandbox/reset,
/_sandbox/switches;
GET /_sandbox/log?account=&since=, /_sandbox/records?account=&type=, /_sandbox/stats?account=&period=&limit=.
OAuth 2.0 client credentials: POST /services/rest/auth/oauth2/v1/token and its controls under
/_sandbox/oauth (oauth.py, oauth_routes.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nue_ns.netsuite.auth import parse_oauth_header, tba_signature
from nue_ns.sandbox import async_jobs, malformed, suiteql, switches, transforms
from nue_ns.sandbox import oauth as sandbox_oauth
from nue_ns.sandbox import oauth_routes as sandbox_oauth_routes
from nue_ns.sandbox import state as ns
from nue_ns.sandbox.demo import startup_accounts
from nue_ns.sandbox.state import AccountData, NsError, SandboxState

logger = logging.getLogger(__name__)

CLOCK_SKEW_S = 300  # oauth_timestamp must be this close to the server's clock
NONCE_WINDOW_S = 600  # a nonce may not be used again within this window
ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"
SINGULAR_TYPE = "application/vnd.oracle.resource+json; type=singular"
COLLECTION_TYPE = "application/vnd.oracle.resource+json; type=collection"
_OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)


def error_response(err: NsError) -> Response:
    return Response(json.dumps(err.body()), status_code=err.status, media_type=ERROR_TYPE)


def _json(data: Any, media_type: str = SINGULAR_TYPE, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type=media_type)


# -- authentication --------------------------------------------------------------------------------


def authenticate(sandbox: SandboxState, request: Request) -> AccountData:
    """The account a TBA-signed or OAuth 2.0 bearer request belongs to; 401 INVALID_LOGIN for any failure."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":  # subsect_158521885412: expired, revoked, unknown -> 401
        realm = request.app.state.oauth.authenticate(header[7:].strip())
        acct = sandbox.account(realm) if realm else None
        if acct is None:
            raise ns.invalid_login()
        return acct
    try:
        params = parse_oauth_header(request.headers.get("authorization", ""))
    except ValueError:
        raise ns.invalid_login() from None
    acct = sandbox.account(params.get("realm", ""))
    if acct is None or any(not params.get(name) for name in _OAUTH_REQUIRED):
        raise ns.invalid_login()
    if params["oauth_signature_method"] != "HMAC-SHA256" or params.get("oauth_version", "1.0") != "1.0":
        raise ns.invalid_login()
    known = hmac.compare_digest(params["oauth_consumer_key"], acct.consumer_key)
    if not (hmac.compare_digest(params["oauth_token"], acct.token_id) and known):
        raise ns.invalid_login()
    now = time.time()
    try:
        skew = abs(now - int(params["oauth_timestamp"]))
    except ValueError:
        raise ns.invalid_login() from None
    if skew > CLOCK_SKEW_S:
        raise ns.invalid_login()
    url = _addressed_url(request)
    expected = tba_signature(request.method, url, params, acct.consumer_secret, acct.token_secret)
    if not hmac.compare_digest(expected, params["oauth_signature"]):
        raise ns.invalid_login()
    if not acct.use_nonce(params["oauth_nonce"], now, NONCE_WINDOW_S):
        raise ns.invalid_login()  # a replayed request
    return acct


def _origin(request: Request) -> str:
    """scheme://host[:port] as the client addressed the server (its Host header)."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def _addressed_url(request: Request) -> str:
    """The URL the client signed: origin + the path as sent on the wire + the query string."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"").decode("latin-1")
    return _origin(request) + raw_path.decode("latin-1") + (f"?{query}" if query else "")


# -- routing an API call -----------------------------------------------------------------------------


@dataclass
class Call:
    """What one API call is about; filled as it proceeds and written to the call log."""

    method: str
    path: str
    kind: str  # record | transform | metadata | batch | async | suiteql | governance | unknown
    type: str | None = None  # a transform's: the new record's type
    ref: str | None = None
    replace: list[str] | None = None
    source: str | None = None  # a transform's source record type (ref is its id)
    new_external_id: str | None = None  # a transform's: the externalId in its body

    @property
    def external_id(self) -> str | None:
        if self.kind == "transform":
            return self.new_external_id
        return self.ref[4:] if self.ref and self.ref.startswith("eid:") else None

    @property
    def log_type(self) -> str | None:
        if self.kind in ("record", "transform"):
            return self.type
        return self.kind if self.kind != "unknown" else None


def _parse_call(request: Request) -> Call:
    method, path = request.method.upper(), request.url.path
    parts = path.removeprefix("/services/rest/").strip("/").split("/")
    replace = [s.strip() for s in request.query_params.get("replace", "").split(",") if s.strip()] or None
    if parts[:2] == ["record", "v1"] and len(parts) == 6 and parts[4] == "!transform":
        return Call(method, path, "transform", parts[5], parts[3], replace, source=parts[2])
    if parts[:3] == ["record", "v1", "metadata-catalog"]:
        return Call(method, path, "metadata", ref=parts[3] if len(parts) == 4 else None)
    if parts[:2] == ["record", "v1"] and async_jobs.is_batch(
        method, parts, request.headers.get("content-type", "")
    ):
        return Call(method, path, "batch", parts[2], None, replace)
    if parts[:2] == ["async", "v1"]:
        return Call(method, path, "async")
    if parts[:2] == ["record", "v1"] and len(parts) in (3, 4):
        return Call(method, path, "record", parts[2], parts[3] if len(parts) == 4 else None, replace)
    if parts == ["query", "v1", "suiteql"]:
        return Call(method, path, "suiteql")
    if parts == ["system", "v1", "governanceLimits"]:
        return Call(method, path, "governance")
    return Call(method, path, "unknown")


async def _request_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise NsError(400, "INVALID_REQUEST", "Invalid request body: the body is not valid JSON.") from None


async def _record_call(acct: AccountData, call: Call, request: Request) -> tuple[Response, str | None]:
    """Answer a record API call; returns the response and the internal id it concerns."""
    known = call.type in ns.WRITABLE_TYPES or call.type in ns.READ_ONLY_TYPES
    if not known:
        raise NsError(400, "INVALID_REQUEST", f"Record type '{call.type}' does not exist.")
    strict, strict_values = ns.strict_names(request.headers), ns.strict_values(request.headers)
    replace = frozenset(call.replace or ())
    if call.method == "GET":
        if call.ref is None:
            return _collection(acct, call, request), None
        view = ns.read(acct, call.type, call.ref)
        href = f"{_origin(request)}/services/rest/record/v1/{call.type}/{view['id']}"
        if request.query_params.get("expandSubResources", "").lower() != "true":
            # Sublists are links unless expanded [section_1545141947].
            for name in acct.kind.sublists(call.type):
                if name in view:
                    view[name] = {"links": [{"rel": "self", "href": f"{href}/{name}"}]}
        return _json({"links": [{"rel": "self", "href": href}], **view}), view["id"]
    if call.method == "DELETE" and call.ref is not None:
        return Response(status_code=204), ns.delete(acct, call.type, call.ref).id
    body = await _request_json(request)
    if call.method == "POST" and call.ref is None:
        outcome = ns.create(acct, call.type, body, strict=strict, strict_values=strict_values)
    elif call.method == "PUT" and call.external_id is not None:
        outcome = ns.upsert(
            acct,
            call.type,
            call.external_id,
            body,
            replace=replace,
            strict=strict,
            strict_values=strict_values,
        )
    elif call.method == "PATCH" and call.ref is not None:
        outcome = ns.update(
            acct, call.type, call.ref, body, replace=replace, strict=strict, strict_values=strict_values
        )
    elif call.method == "PUT":
        detail = "PUT needs an external ID in the URL: /{type}/eid:{externalId}."
        raise NsError(400, "INVALID_REQUEST", detail)
    else:
        raise NsError(405, "INVALID_REQUEST", f"{call.method} is not supported on this resource.")
    location = f"{_origin(request)}/services/rest/record/v1/{call.type}/{outcome.record.id}"
    return Response(status_code=204, headers=_written(location, outcome)), outcome.record.id


def _written(location: str, outcome: ns.WriteOutcome) -> dict[str, str]:
    """A write's answer headers: Location, and X-NetSuite-PropertyValidation naming what was ignored
    (the response header of every write operation in NetSuite's OpenAPI document)."""
    headers = {"Location": location}
    notes = []
    if outcome.ignored_fields:
        notes.append(f"Unknown properties ignored: {', '.join(outcome.ignored_fields)}")
    if outcome.ignored_values:
        notes.append(f"Invalid property values ignored: {', '.join(outcome.ignored_values)}")
    if notes:
        headers["X-NetSuite-PropertyValidation"] = "; ".join(notes)
    return headers


def metadata_catalog(acct: AccountData, call: Call, request: Request) -> Response:
    """`GET /record/v1/metadata-catalog[/{type}]`: the record types (JSON), or with
    `Accept: application/swagger+json` their OpenAPI 3.0 schemas, restricted by `?select=a,b`
    (section_1540810174, section_1545126526). A selected name the account lacks is refused [U]."""
    names = [n.strip() for n in request.query_params.get("select", "").split(",") if n.strip()]
    names += [call.ref] if call.ref else []
    if not names:
        names = [t for t in sorted(ns.WRITABLE_TYPES | ns.READ_ONLY_TYPES) if acct.kind.type_name(t)]
    types = []
    for name in names:
        found = acct.kind.type_name(name)
        if found is None and acct.catalog_ignores_unknown_types:
            continue
        if found is None:
            detail = f"Record type '{name}' does not exist."
            raise NsError(400, "INVALID_PARAMETER", detail, query_param="select")
        types.append(found)
    if "swagger+json" in request.headers.get("accept", ""):
        return Response(json.dumps(acct.kind.document(types)), media_type="application/swagger+json")
    base = f"{_origin(request)}/services/rest/record/v1/metadata-catalog"
    items = [
        {"name": t, "links": [{"rel": "alternate", "href": f"{base}/{t}", "mediaType": media}]}
        for t in types
        for media in ("application/swagger+json",)
    ]
    return _json({"items": items}, COLLECTION_TYPE)


def _collection(acct: AccountData, call: Call, request: Request) -> Response:
    limit, offset = suiteql.paging(request.query_params.get("limit"), request.query_params.get("offset"))
    ids = ns.list_ids(acct, call.type or "")
    base = f"{_origin(request)}/services/rest/record/v1/{call.type}"
    page_ids = ids[offset : offset + limit]
    items = [{"links": [{"rel": "self", "href": f"{base}/{i}"}], "id": i} for i in page_ids]
    links = suiteql.page_links(base, limit, offset, len(ids))  # Collection Paging (section_156414087576)
    page = {"links": links, "count": len(items), "hasMore": offset + len(items) < len(ids), "items": items}
    return _json(page | {"offset": offset, "totalResults": len(ids)}, COLLECTION_TYPE)


async def _transform_call(acct: AccountData, call: Call, request: Request) -> tuple[Response, str | None]:
    """`POST /{source}/{id}/!transform/{target}`: 204 + Location of the new record."""
    if call.method != "POST":
        raise NsError(405, "INVALID_REQUEST", f"{call.method} is not supported on this resource.")
    strict, strict_values = ns.strict_names(request.headers), ns.strict_values(request.headers)
    body = await _request_json(request)
    outcome = transforms.transform(
        acct, call.source or "", call.ref or "", call.type or "", body,
        replace=frozenset(call.replace or ()), strict=strict, strict_values=strict_values,
    )  # fmt: skip
    location = f"{_origin(request)}/services/rest/record/v1/{call.type}/{outcome.record.id}"
    return Response(status_code=204, headers=_written(location, outcome)), outcome.record.id


async def _answer(acct: AccountData, call: Call, request: Request) -> tuple[Response, str | None]:
    if call.kind == "batch":  # up to 100 records as one async job (sandbox/async_jobs.py)
        body = await _request_json(request)
        return async_jobs.submit(
            request.app.state.sandbox, acct, call.type or "", call.method, request, body
        ), None
    if call.kind == "async":
        parts = call.path.removeprefix("/services/rest/").strip("/").split("/")
        return async_jobs.answer(request.app.state.sandbox, acct, call.method, parts, request), None
    if call.kind == "record":
        return await _record_call(acct, call, request)
    if call.kind == "transform":
        return await _transform_call(acct, call, request)
    if call.kind == "metadata" and call.method == "GET":
        return metadata_catalog(acct, call, request), None
    if call.kind == "suiteql" and call.method == "POST":
        if "transient" not in request.headers.get("prefer", "").lower():
            detail = "The Prefer header must include 'transient' for SuiteQL."
            raise NsError(400, "INVALID_PARAMETER", detail, header="Prefer")
        limit, offset = suiteql.paging(request.query_params.get("limit"), request.query_params.get("offset"))
        body = await _request_json(request)
        page = suiteql.run(acct, body, limit, offset, _origin(request) + suiteql.PATH)
        return _json(page, COLLECTION_TYPE), None
    if call.kind == "governance" and call.method == "GET":
        limits = {"accountConcurrencyLimit": acct.concurrency_limit}
        return _json(limits | {"integrationConcurrencyLimit": acct.concurrency_limit}), None
    raise NsError(404, "INVALID_REQUEST", f"No resource at {call.method} {call.path}.")


async def _with_fault(
    sandbox: SandboxState, acct: AccountData, call: Call, request: Request
) -> tuple[Response, str | None, str | None]:
    """Latency, then an injected fault or the real answer: (response, internal id, fault kind)."""
    delay = sandbox.latency_s(acct)
    if delay:
        await asyncio.sleep(delay)
    fault = sandbox.take_fault(acct.realm, call.method, call.log_type)
    kind = fault.kind if fault else None
    if kind == "timeout":
        await asyncio.sleep(fault.delay_s)  # the client should have given up by now
        return error_response(NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred.")), None, kind
    if kind == "lost_after_commit":
        response, internal_id = await _answer(acct, call, request)  # committed ...
        await asyncio.sleep(fault.delay_s)  # ... but answered too late for the client
        return response, internal_id, kind
    if kind in malformed.MALFORMED_KINDS:
        bad = malformed.error_answer(kind)
        if bad is not None:
            return bad, None, kind
        response, internal_id = await _answer(acct, call, request)  # committed, then misreported
        return malformed.alter_location(kind, response), internal_id, kind
    if kind is not None:
        return error_response(_fault_error(kind)), None, kind
    response, internal_id = await _answer(acct, call, request)
    return response, internal_id, None


def _fault_error(kind: str) -> NsError:
    if kind == "429":
        return ns.concurrency_exceeded()
    if kind == "invalid_login":
        return ns.invalid_login()
    if kind == "locked":
        return ns.user_error("This record has been changed since you retrieved it. Please try again.")
    if kind == "503":
        return NsError(503, "UNEXPECTED_ERROR", "The service is temporarily unavailable. Please try again.")
    return NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: sandbox-fault")


async def api(request: Request) -> Response:
    """Every /services/rest call: auth, governance, latency, faults, answer, log."""
    sandbox: SandboxState = request.app.state.sandbox
    t_start = time.time()
    call = _parse_call(request)
    realm = None
    internal_id = None
    fault = None
    try:
        acct = authenticate(sandbox, request)
        realm = acct.realm
        if not _admit(acct):
            raise ns.concurrency_exceeded()
        try:  # the slot is given back whatever happens, a client gone while its body is read too
            if call.kind == "transform":  # logged by the externalId it makes, whatever happens to it
                call.new_external_id = await _body_external_id(request)
            response, internal_id, fault = await _with_fault(sandbox, acct, call, request)
        finally:
            with acct.lock:
                acct.in_flight -= 1
    except NsError as err:
        response = error_response(err)
    except ClientDisconnect:  # gone before its body arrived: nothing was done, nobody to answer
        response = Response(status_code=499)  # logged as nginx's "client closed request"
    except Exception:  # a sandbox bug must still answer like NetSuite and be logged
        logger.exception("sandbox failed on %s %s", call.method, call.path)
        response = error_response(NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred."))
    if realm is None:  # unauthenticated: log the realm it claimed
        realm = _claimed_realm(request.headers.get("authorization", ""))
    if internal_id is None and call.kind == "record" and call.ref and not call.ref.startswith("eid:"):
        internal_id = call.ref
    entry = {
        "account": realm,
        "method": call.method,
        "path": call.path,
        "type": call.log_type,
        "external_id": call.external_id,
        "internal_id": internal_id,
        "status": response.status_code,
        "fault": fault,
        "t_start": t_start,
        "t_end": time.time(),
        "replace": call.replace,
    }
    sandbox.log_call(entry)
    return response


async def _body_external_id(request: Request) -> str | None:
    try:
        body = await _request_json(request)
    except NsError:
        return None
    eid = body.get("externalId") if isinstance(body, dict) else None
    return eid if isinstance(eid, str) else None


def _claimed_realm(header: str) -> str | None:
    try:
        return parse_oauth_header(header).get("realm")
    except ValueError:
        return None


def _admit(acct: AccountData) -> bool:
    """Take one of the account's concurrent-request slots, if one is free."""
    with acct.lock:
        if acct.in_flight >= acct.concurrency_limit:
            return False
        acct.in_flight += 1
        acct.max_in_flight = max(acct.max_in_flight, acct.in_flight)
        return True


# -- /_sandbox controls --------------------------------------------------------------------------


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


def _sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "accounts": len(_sandbox(request).accounts)})


async def accounts(request: Request) -> Response:
    sandbox = _sandbox(request)
    if request.method == "GET":
        rows = [
            {"account_id": a.realm, "concurrency_limit": a.concurrency_limit, "in_flight": a.in_flight}
            | {"kind": a.kind.name}
            | {"max_in_flight": a.max_in_flight, "records": len(a.records)}
            for a in list(sandbox.accounts.values())
        ]
        return JSONResponse(rows)
    try:
        data = await _control_body(request)
        names = ("account_id", "consumer_key", "consumer_secret", "token_id", "token_secret")
        missing = [n for n in names if not isinstance(data.get(n), str) or not data[n]]
        if missing:
            raise ValueError(f"missing: {', '.join(missing)}")
        limit = int(data.get("concurrency_limit") or 5)
        kind = str(data["kind"]) if data.get("kind") else None
        acct = sandbox.register_account(*(data[n] for n in names), concurrency_limit=limit, kind=kind)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    answer = {"account_id": acct.realm, "concurrency_limit": acct.concurrency_limit, "kind": acct.kind.name}
    return JSONResponse(answer, status_code=201)


async def faults(request: Request) -> Response:
    sandbox = _sandbox(request)
    if request.method == "DELETE":
        return JSONResponse({"cleared": sandbox.clear_faults()})
    if request.method == "GET":
        return JSONResponse([f.describe() for f in list(sandbox.faults)])
    try:
        data = await _control_body(request)
        keys = ("account", "method", "type", "count", "probability", "delay_s", "seed")
        options = {k: data[k] for k in keys if data.get(k) is not None}
        fault = sandbox.add_fault(str(data.get("kind")), **options)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return JSONResponse(fault.describe(), status_code=201)


async def latency(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = await _control_body(request)
        low, high = float(data.get("min_ms", 0)), float(data.get("max_ms", data.get("min_ms", 0)))
        if low < 0 or high < low:
            raise ValueError("need 0 <= min_ms <= max_ms")
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    if data.get("account"):
        acct = sandbox.account(ns.realm_of(data["account"]))
        if acct is None:
            return _bad("unknown account", 404)
        acct.latency_ms = (low, high)
    else:
        sandbox.latency_ms = (low, high)
    return JSONResponse({"min_ms": low, "max_ms": high, "account": data.get("account")})


async def config(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = await _control_body(request)
        limit = int(data["concurrency_limit"])
        if limit < 1:
            raise ValueError("concurrency_limit must be at least 1")
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(f"need account and concurrency_limit: {exc}")
    acct = sandbox.account(ns.realm_of(str(data.get("account") or "")))
    if acct is None:
        return _bad("unknown account", 404)
    acct.concurrency_limit = limit
    return JSONResponse({"account_id": acct.realm, "concurrency_limit": limit})


async def account_switches(request: Request) -> Response:
    """POST {"account": ..., switch: value, ...}: set an account's switches (sandbox/switches.py)."""
    sandbox = _sandbox(request)
    try:
        data = await _control_body(request)
        acct = sandbox.account(ns.realm_of(str(data.get("account") or "")))
        if acct is None:
            return _bad("unknown account", 404)
        return JSONResponse(switches.apply(acct, data))
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))


async def reset(request: Request) -> Response:
    _sandbox(request).reset()
    return JSONResponse({"status": "reset"})


async def call_log(request: Request) -> Response:
    try:
        since = int(request.query_params.get("since") or 0)
    except ValueError:
        return _bad("since must be an integer")
    return JSONResponse(_sandbox(request).calls(request.query_params.get("account"), since))


async def records(request: Request) -> Response:
    sandbox = _sandbox(request)
    account, ns_type = request.query_params.get("account"), request.query_params.get("type")
    realm = ns.realm_of(account) if account else None
    rows = []
    for acct in list(sandbox.accounts.values()):
        if realm not in (None, acct.realm):
            continue
        with acct.lock:
            rows += [
                {"account": acct.realm, "type": rec.type, "id": rec.id, "externalId": rec.external_id}
                | {"body": rec.view(), "createdBy": rec.created_by, "lastModifiedDate": rec.last_modified}
                for rec in acct.records.values()
                if ns_type in (None, rec.type)
            ]
    return JSONResponse(rows)


async def stats(request: Request) -> Response:
    q = request.query_params
    try:
        period = float(q.get("period") or 60)
        limit = int(q["limit"]) if q.get("limit") else None
    except ValueError:
        return _bad("period must be a number and limit an integer")
    return JSONResponse(_sandbox(request).stats(q.get("account"), period, limit))


# -- what a NetSuite user does in the UI (createdBy "user") -------------------------------------------


def _user_account(sandbox: SandboxState, data: dict[str, Any]) -> AccountData:
    """The account named in the body (`account`), or the only one the sandbox has."""
    name = data.get("account")
    acct = sandbox.account(ns.realm_of(str(name))) if name else None
    if acct is None and not name and len(sandbox.accounts) == 1:
        acct = next(iter(sandbox.accounts.values()))
    if acct is None:
        raise LookupError(f"unknown account {name!r}")
    return acct


def _user_change(rec: ns.Record) -> JSONResponse:
    answer = {"id": rec.id, "type": rec.type, "createdBy": rec.created_by}
    status = rec.derived.get("status", {}).get("id")
    return JSONResponse(answer | {"status": status, "lastModifiedDate": rec.last_modified}, status_code=201)


async def user_payment(request: Request) -> Response:
    """`{account, customer?, invoices: [{id, amount?}], amount?, tranDate?, memo?, lastModifiedDate?}`:
    a user records one payment applied to these invoices (ids or `eid:X`)."""
    try:
        data = await _control_body(request)
        acct = _user_account(_sandbox(request), data)
        invoices = data.get("invoices")
        if not isinstance(invoices, list) or not invoices or not all(isinstance(i, dict) for i in invoices):
            raise ValueError("invoices: a non-empty list of {id, amount} is expected")
        rec = ns.user_payment(
            acct,
            [(str(i.get("id")), i.get("amount")) for i in invoices],
            data.get("amount"),
            customer=str(data["customer"]) if data.get("customer") is not None else None,
            deposit_account=str(data.get("depositAccount") or "1"),
            tran_date=data.get("tranDate"),
            memo=data.get("memo"),
            last_modified=data.get("lastModifiedDate"),
        )
    except LookupError as exc:
        return _bad(str(exc), 404)
    except NsError as exc:
        return _bad(exc.detail, exc.status)
    except (ValueError, TypeError, ArithmeticError) as exc:
        return _bad(str(exc))
    return _user_change(rec)


async def user_void(request: Request) -> Response:
    """`{account, type: creditMemo|customerPayment, id, lastModifiedDate?}`: a user voids a credit memo
    or a customer payment (id or `eid:X`; state.void_transaction)."""
    try:
        data = await _control_body(request)
        acct = _user_account(_sandbox(request), data)
        if data.get("id") is None:
            raise ValueError("id is required")
        ns_type, stamp = str(data.get("type", "creditMemo")), data.get("lastModifiedDate")
        rec = ns.void_transaction(acct, ns_type, str(data["id"]), last_modified=stamp)
    except LookupError as exc:
        return _bad(str(exc), 404)
    except NsError as exc:
        return _bad(exc.detail, exc.status)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return _user_change(rec)


# -- the application ---------------------------------------------------------------------------------


def default_state(latency_ms: tuple[float, float] = (0.0, 0.0)) -> SandboxState:
    """A sandbox with the demo account and, if configured, the NETSUITE_* env account."""
    sandbox = SandboxState(latency_ms)
    for spec in startup_accounts():
        sandbox.register_account(**spec)
    return sandbox


def create_app(state: SandboxState | None = None) -> Starlette:
    routes = [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/accounts", accounts, methods=["GET", "POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/latency", latency, methods=["POST"]),
        Route("/_sandbox/config", config, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/switches", account_switches, methods=["POST"]),
        Route("/_sandbox/log", call_log, methods=["GET"]),
        Route("/_sandbox/records", records, methods=["GET"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/async", async_jobs.control, methods=["GET", "POST"]),
        Route("/_sandbox/user/payment", user_payment, methods=["POST"]),
        Route("/_sandbox/user/void", user_void, methods=["POST"]),
        *sandbox_oauth_routes.ROUTES,
        Route("/services/rest/{path:path}", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state if state is not None else default_state()
    app.state.oauth = sandbox_oauth.OAuthState()
    return app


class _Server(uvicorn.Server):
    """uvicorn server that prints a readiness line once its socket listens."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            realms = ", ".join(self.config.app.state.sandbox.accounts)
            print(f"NetSuite sandbox ready on http://{host}:{port} (accounts: {realms})", flush=True)


def serve(
    host: str = "127.0.0.1",
    port: int = 8900,
    *,
    latency: tuple[float, float] = (0, 0),
    log_level: str = "warning",
    state: SandboxState | None = None,
) -> None:
    """Run the sandbox until interrupted; `latency` is (min_ms, max_ms) added to every API call."""
    sandbox = state if state is not None else default_state()
    sandbox.latency_ms = (float(latency[0]), float(latency[1]))
    config = uvicorn.Config(
        create_app(sandbox),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        backlog=4096,  # benchmarks open ~1,000 connections at once
        timeout_keep_alive=30,
    )
    _Server(config).run()
