"""The FastAPI application: the JSON API under /v1 (OpenAPI at /docs), the hub UI under /ui,
/metrics for Prometheus and /health for load balancers and container checks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nue_ns import metrics
from nue_ns.api import routes_governor, routes_hub, routes_integrations, routes_producers, ui, ui_settings
from nue_ns.api.auth import LoginRequired, current_session
from nue_ns.api.common import Problem
from nue_ns.api.guard import RequestGuard, out_of_range
from nue_ns.api.templating import render
from nue_ns.context import get_context
from nue_ns.hub.engines import ping
from nue_ns.records import _field_path

STATIC = Path(__file__).with_name("static")

DESCRIPTION = """
Hand billing records to nue-ns and run the Transaction Hub.

Authenticate with an API key (`nue-ns apikey create --role producer|operator`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`. A **producer** key may only enqueue records;
an **operator** key may do everything. A batch holds at most 10,000 records.
Errors answer `{"detail": ..., "errors": [{"field", "reason"}]}`.
"""


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/ui")


def _error(
    request: Request, status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> Response:
    if _wants_html(request):
        session = current_session(request)
        return render(request, "error.html", session, status, detail=detail, errors=errors or [])
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _request_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]  # the field's own name; where it was sent is plain from the request
        out.append({"field": _field_path(tuple(loc)), "reason": str(err.get("msg", "invalid"))})
    return out


def _health_checks() -> dict[str, str]:
    ctx = get_context()
    checks = {}
    try:
        ping(ctx.database_url)
        checks["database"] = "ok"
    except Exception as exc:  # report, don't raise: this is what a health check is for
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        ctx.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    return checks


def create_app() -> FastAPI:
    app = FastAPI(title="nue-ns", version="0.1.0", description=DESCRIPTION, docs_url="/docs")

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return _error(request, exc.status, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, "invalid request", _request_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unholdable(request: Request, exc: Exception) -> Response:
        # A value PostgreSQL (or datetime) cannot hold that no route check caught: the caller's
        # fault, answered in the documented shape, never a 500.
        return _error(request, 422, "invalid request", out_of_range(exc))

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/ui/login?next={quote(exc.next_url)}", status_code=303)

    # /v1/records/retry before /v1/records/{record_type}: the first matching route wins.
    for module in (routes_hub, routes_producers, routes_integrations, routes_governor, ui, ui_settings):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestGuard)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/ui/", status_code=303)

    @app.get("/health", tags=["operations"])
    async def health() -> JSONResponse:
        """200 when the hub (PostgreSQL) and Redis answer, else 503 naming what is down."""
        # In a thread of its own, with a connection of its own: producers fill the request
        # threadpool and the main connection pool during a burst; the health check waits for neither.
        checks = await asyncio.to_thread(_health_checks)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded"} | checks, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"])
    def prometheus() -> Response:
        """Prometheus text format: records by state and type, transfers, errors, governor, queues."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app
