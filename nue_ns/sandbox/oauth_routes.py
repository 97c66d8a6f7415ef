"""HTTP face of the sandbox's OAuth 2.0 client credentials flow (oauth.py): the token endpoint and
its test controls.

POST /services/rest/auth/oauth2/v1/token (form-encoded, section_162755359851).
Controls (unauthenticated, local): POST /_sandbox/oauth/certificates {account_id, client_id,
certificate_id, certificate (x.509 PEM)}: map a certificate; POST /_sandbox/oauth/revoke
{certificate_id}; POST /_sandbox/oauth/expire {account_id?}: issued tokens expire now;
GET|POST /_sandbox/oauth/config (the UNVERIFIED switches, token lifetime); GET
/_sandbox/oauth/tokens?account=&client_id=&reveal=: every token request, issued and refused
(reveal=1 adds the tokens, for the tests' secret scans).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nue_ns.sandbox import state as ns
from nue_ns.sandbox.oauth import OAuthRefused, OAuthState

TOKEN_ROUTE = "/services/rest/auth/oauth2/v1/token"


def _oauth(request: Request) -> OAuthState:
    return request.app.state.oauth


async def token(request: Request) -> Response:
    from nue_ns.sandbox.app import _admit, _origin, error_response  # the API's own admission rules

    oauth, sandbox = _oauth(request), request.app.state.sandbox
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    pairs = parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True)
    form = dict(pairs)
    if len(form) != len(pairs):  # a repeated parameter is a malformed request
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    realm = oauth.client_realm(form)
    acct = sandbox.account(realm) if realm else None
    admitted = False
    if acct is not None and oauth.token_requests_use_concurrency:
        if not _admit(acct):
            return error_response(ns.concurrency_exceeded())
        admitted = True
    try:
        answer = oauth.token_request(form, _origin(request) + request.url.path)
    except OAuthRefused as refused:
        headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if refused.status == 401 and realm else None
        return JSONResponse({"error": refused.error}, status_code=refused.status, headers=headers)
    finally:
        if admitted:
            with acct.lock:
                acct.in_flight -= 1
    return JSONResponse(answer)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


async def certificates(request: Request) -> Response:
    try:
        data = await _body(request)
        names = ("account_id", "client_id", "certificate_id", "certificate")
        missing = [n for n in names if not isinstance(data.get(n), str) or not data[n]]
        if missing:
            raise ValueError(f"missing: {', '.join(missing)}")
        realm = ns.realm_of(data["account_id"])
        if request.app.state.sandbox.account(realm) is None:
            raise ValueError(f"no account {realm}")
        _oauth(request).map_certificate(realm, data["client_id"], data["certificate_id"], data["certificate"])
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"certificate_id": data["certificate_id"], "account_id": realm}, status_code=201)


async def revoke(request: Request) -> Response:
    try:
        data = await _body(request)
        _oauth(request).revoke(str(data.get("certificate_id") or ""))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse({"revoked": data["certificate_id"]})


async def expire(request: Request) -> Response:
    data = await _body(request)
    realm = ns.realm_of(data["account_id"]) if data.get("account_id") else None
    return JSONResponse({"expired": _oauth(request).expire_tokens(realm)})


async def config(request: Request) -> Response:
    if request.method == "GET":
        return JSONResponse(_oauth(request).describe())
    try:
        return JSONResponse(_oauth(request).configure(await _body(request)))
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


async def tokens(request: Request) -> Response:
    q = request.query_params
    reveal = q.get("reveal", "").lower() in ("1", "true")
    return JSONResponse(_oauth(request).stats(q.get("account"), q.get("client_id"), reveal))


ROUTES = [
    Route(TOKEN_ROUTE, token, methods=["POST"]),
    Route("/_sandbox/oauth/certificates", certificates, methods=["POST"]),
    Route("/_sandbox/oauth/revoke", revoke, methods=["POST"]),
    Route("/_sandbox/oauth/expire", expire, methods=["POST"]),
    Route("/_sandbox/oauth/config", config, methods=["GET", "POST"]),
    Route("/_sandbox/oauth/tokens", tokens, methods=["GET"]),
]
