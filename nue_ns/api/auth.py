"""Who may call what: API keys for the HTTP API, signed session cookies and CSRF tokens for the UI.

The JSON API reads keys from headers only (`Authorization: Bearer <key>` or `X-API-Key`), never
from cookies, so a browser cannot be tricked into calling it (no CSRF surface). The UI logs in
with an operator key and then holds a signed, HttpOnly, SameSite=Lax cookie naming the key (not
containing it); every UI form carries the session's CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from nue_ns.api import keys
from nue_ns.api.keys import Principal
from nue_ns.config import Settings
from nue_ns.context import get_context
from nue_ns.hub import api_keys
from nue_ns.hub.models_api import Role
from nue_ns.secrets import fernet

SESSION_COOKIE = "nue_ns_session"
LOGIN_COOKIE = "nue_ns_login"  # double-submit token of the login form (before any session exists)
SESSION_SECONDS = 12 * 3600

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
_header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key in `X-API-Key`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def caller(
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_header_key),
) -> Principal:
    key = bearer.credentials if bearer else header_key
    if not key:
        raise _unauthorized(
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    principal = keys.authenticate(get_context().engine, key)
    if principal is None:
        raise _unauthorized("the API key is unknown or revoked")
    return principal


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Principal = Depends(caller)) -> Principal:
        if not principal.may(role):
            raise HTTPException(
                403,
                f"this needs the {role.value} role; the key '{principal.name}' is a "
                f"{principal.role.value} key",
            )
        return principal

    return check


producer = require(Role.PRODUCER)
operator = require(Role.OPERATOR)


# ---------------------------------------------------------------- UI sessions


def signing_key(settings: Settings) -> bytes:
    """Derived from NUE_NS_SECRET_KEY (or the state folder's key), so every API process agrees."""
    if settings.secret_key is not None:
        material = settings.secret_key.get_secret_value()
    else:
        fernet(settings)  # makes the state folder's key on first use
        material = (Path(settings.state_dir) / "secret.key").read_text().strip()
    return hmac.new(material.encode(), b"nue-ns ui session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict, key: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def unsign(token: str, key: bytes) -> dict | None:
    body, _, mac = token.partition(".")
    if not body or not mac:
        return None
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class UiSession:
    principal: Principal
    csrf: str  # random per session: also its id
    expires: int = 0


class LoginRequired(Exception):
    """Raised by UI pages without a valid session; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def start_session(response: Response, request: Request, principal: Principal) -> None:
    payload = {"k": principal.key_id, "c": secrets.token_urlsafe(24), "e": int(time.time()) + SESSION_SECONDS}
    response.set_cookie(
        SESSION_COOKIE,
        sign(payload, signing_key(get_context().settings)),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response, session: UiSession) -> None:
    """Log out for real: the session is recorded as ended, so a copy of the cookie (another tab,
    a stolen one) stops working too, not only the browser's own."""
    expires = dt.datetime.fromtimestamp(session.expires, dt.UTC)
    api_keys.end_ui_session(get_context().engine, session.csrf, expires)
    response.delete_cookie(SESSION_COOKIE)


def current_session(request: Request) -> UiSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    ctx = get_context()
    payload = unsign(token, signing_key(ctx.settings)) if token else None
    if not payload or not isinstance(payload.get("e"), int) or payload["e"] < time.time():
        return None
    if not isinstance(payload.get("k"), int) or not isinstance(payload.get("c"), str):
        return None
    principal = keys.principal_of(ctx.engine, payload["k"])
    if (
        principal is None
        or principal.role is not Role.OPERATOR
        or api_keys.ui_session_ended(ctx.engine, payload["c"])
    ):
        return None
    return UiSession(principal, payload["c"], payload["e"])


def ui_session(request: Request) -> UiSession:
    """Dependency of every UI page: the operator's session, or a redirect to the login page."""
    session = current_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


def check_csrf(session: UiSession, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, session.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")
