"""What every request must pass before any route sees it, and the answer for values the hub
cannot hold: always the documented error shape `{"detail", "errors": [{"field", "reason"}]}`.

- An API key in the URL is refused (keys are read from headers only) and blanked out of the
  request before anything logs the URL: uvicorn's access log reads the same request scope.
- A control character (NUL above all: PostgreSQL cannot hold it) in the path or a query parameter
  is refused naming the parameter.
- A JSON body with a key given twice in one object, or nested past any record, is refused naming
  the key's path (nue_ns/strict_json.py), on every route: FastAPI's own parser would keep the
  last of two equal keys. The parsed body is handed on (scope state `strict_json`), not re-parsed.
- A value PostgreSQL cannot hold that slipped through (a number beyond bigint, a timestamp past
  year 9999 in UTC) answers 422, never 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unicodedata
import weakref
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote

import anyio
from fastapi import Path
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from nue_ns.hub.api_keys import PREFIX
from nue_ns.strict_json import BadJson, loads

BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint: the largest id the hub has
HubId = Annotated[int, Path(ge=0, le=BIGINT_MAX, description="a hub id")]
# Parameter names that carry credentials, whatever their value.
_KEY_PARAMS = re.compile(
    r"^(api[_-]?key|key|token|access[_-]?token|auth|authorization|x-api-key|secret)$", re.I
)


# Parsing, validating and storing records are CPU work under the GIL. Run by the default threadpool's 40
# threads at once during a burst, they starved the event loop (and /health) of the GIL for
# seconds; a few threads store as fast (PostgreSQL commits are the bottleneck) and leave the loop
# its turn. Measured in bench/burst.py (docs/BENCHMARKS.md).
CPU_THREADS = 4
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def cpu_limiter() -> anyio.CapacityLimiter:
    # One per event loop (a limiter belongs to the loop it was made on; tests make several).
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(CPU_THREADS)
    return _limiters[loop]


def problem(status: int, detail: str, errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors}, status_code=status)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _is_key(name: str, value: str) -> bool:
    return bool(_KEY_PARAMS.match(name)) or value.strip().startswith((PREFIX, "Bearer "))


class RequestGuard:
    """Pure ASGI middleware (no body buffering): looks at the path and the query string only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(raw, keep_blank_values=True, errors="replace")
        keys = [name for name, value in pairs if _is_key(name, value)]
        if keys:
            # Blank the key out of the scope first: the access log line is written from it.
            scope["query_string"] = _redacted(raw).encode("latin-1")
            reason = (
                "an API key is never read from the URL (URLs are logged and cached): send it as "
                "'Authorization: Bearer <key>' or 'X-API-Key', and revoke this one"
            )
            await problem(400, "API key in the URL", [{"field": k, "reason": reason} for k in keys])(
                scope, receive, send
            )
            return
        errors = [
            {"field": name[:64], "reason": "contains a control character such as NUL"}
            for name, value in pairs
            if _has_control(name) or _has_control(value)
        ]
        if _has_control(unquote(scope.get("path", ""))):
            errors.append({"field": "(path)", "reason": "contains a control character such as NUL"})
        if errors:
            await problem(422, "invalid request", errors)(scope, receive, send)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH") and _json_content(scope):
            body = await _read_body(receive)
            if body is None:
                return  # the client went away
            if body.strip():
                try:  # a big batch is CPU work: off the event loop
                    value = await anyio.to_thread.run_sync(loads, body, limiter=cpu_limiter())
                    scope.setdefault("state", {})["strict_json"] = value
                except BadJson as exc:
                    if not exc.syntax:  # not JSON at all: FastAPI names it as before
                        error = [{"field": exc.field, "reason": exc.reason}]
                        await problem(422, "invalid request", error)(scope, receive, send)
                        return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _json_content(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, read once here, handed to the app as if it came from the client."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _redacted(query: str) -> str:
    out = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if _is_key(unquote(name), unquote(value.replace("+", " "))):
            out.append(f"{name}{eq}{quote('[redacted]')}" if eq else name)
        else:
            out.append(part)
    return "&".join(out)


def out_of_range(exc: Exception) -> list[dict[str, Any]]:
    """The errors of a DataError / OverflowError: a value the hub cannot hold."""
    reason = "is out of the range the hub can hold (ids up to 2^63-1, times within years 1 to 9999 UTC)"
    return [{"field": "(request)", "reason": reason}]


def utc_bounded(value: dt.datetime | None, field: str) -> list[dict[str, str]]:
    """A time filter PostgreSQL can compare: it must exist in UTC (years 1 to 9999)."""
    if value is None:
        return []
    try:
        value.astimezone(dt.UTC) if value.tzinfo else value
    except OverflowError:
        return [{"field": field, "reason": "is outside years 1 to 9999 in UTC"}]
    return []


def id_bounded(value: int | None, field: str) -> list[dict[str, str]]:
    if value is not None and not 0 <= value <= BIGINT_MAX:
        return [{"field": field, "reason": f"must be between 0 and {BIGINT_MAX}"}]
    return []
