"""The Transaction Hub web UI: login, counts, the filterable record table, one record, retries, jobs.

Plain server-rendered HTML. Pages read with GET; everything that changes something is a POST
form carrying the session's CSRF token, answered with a redirect (so a reload never repeats it).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nue_ns import services
from nue_ns.api import auth, jobs, keys
from nue_ns.api.auth import UiSession, check_csrf, ui_session
from nue_ns.api.common import Problem, filter_params, make_filter, throttling
from nue_ns.api.guard import HubId
from nue_ns.api.routes_governor import governor_states
from nue_ns.api.templating import render
from nue_ns.context import get_context
from nue_ns.hub import bulk_jobs
from nue_ns.hub.integrations import list_integrations
from nue_ns.hub.models import DISPLAY, State
from nue_ns.hub.models_api import Role
from nue_ns.hub.queries import (
    Filter,
    attempt_view,
    get_record,
    list_records,
    record_batch,
    record_view,
    status,
)
from nue_ns.records import CONTRACTS

router = APIRouter(prefix="/ui", include_in_schema=False)

FILTER_FIELDS = ("type", "state", "integration", "nue_id", "error_code", "since", "until")
STATE_CHOICES = [
    "Not Transferred",
    "failed",
    "waiting",
    "pending",
    "parked",
    "In Flight",
    "transferred",
    "superseded",
]
# Grouped as finance reads them: Not Transferred (4), In Flight (2), Transferred (1).
COUNT_COLUMNS = ["failed", "waiting", "pending", "parked", "queued", "in_flight", "transferred"]
PAGE = 50
_LINKED_FILTERS = ("type", "state", "integration", "nue_id", "error_code")  # a job links back with these


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path inside the UI: a login link can never send the operator elsewhere."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


# ---------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, next=_safe_next(next), error=None)
    response.set_cookie(auth.LOGIN_COOKIE, token, max_age=1800, httponly=True, samesite="lax")
    return response


@router.post("/login")
def login(
    request: Request, api_key: str = Form(""), csrf: str = Form(""), next: str = Form("/ui/")
) -> Response:
    expected = request.cookies.get(auth.LOGIN_COOKIE, "")
    error = None
    principal = None
    if not expected or not secrets.compare_digest(expected, csrf):
        error = "The login form expired: try again."
    else:
        principal = keys.authenticate(get_context().engine, api_key.strip())
        if principal is None:
            error = "That API key is unknown or revoked."
        elif principal.role is not Role.OPERATOR:
            error = (
                "That is a producer key: the hub needs an operator key (nue-ns apikey create --role operator)"
            )
    if error:
        token = secrets.token_urlsafe(24)
        response = render(
            request, "login.html", None, 401, login_csrf=token, next=_safe_next(next), error=error
        )
        response.set_cookie(auth.LOGIN_COOKIE, token, max_age=1800, httponly=True, samesite="lax")
        return response
    response = _see_other(_safe_next(next))
    auth.start_session(response, request, principal)
    response.delete_cookie(auth.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(csrf: str = Form(""), session: UiSession = Depends(ui_session)) -> Response:
    check_csrf(session, csrf)
    response = _see_other("/ui/login?notice=logged-out")
    auth.end_session(response, session)
    return response


# ---------------------------------------------------------------- records


def _day(value: str, field: str, end: bool = False) -> dt.datetime | None:
    """A date input (YYYY-MM-DD) as the start of that day, or of the next one for `until`."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(
            422, "invalid filter", [{"field": field, "reason": "expected a date YYYY-MM-DD"}]
        ) from None
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    if end and day == dt.date.max:
        return None  # "until the end of time": no upper bound
    return start + dt.timedelta(days=1) if end else start


def _filter(values: dict[str, str], cursor: int | None = None, limit: int = PAGE) -> Filter:
    return make_filter(
        record_type=values.get("type") or None,
        state=values.get("state") or None,
        integration=values.get("integration") or None,
        nue_id=values.get("nue_id") or None,
        error_code=values.get("error_code") or None,
        since=_day(values.get("since", ""), "since"),
        until=_day(values.get("until", ""), "until", end=True),
        cursor=cursor,
        limit=limit,
    )


def _query(values: dict[str, str], **extra: Any) -> str:
    kept = {k: v for k, v in values.items() if v} | {k: v for k, v in extra.items() if v is not None}
    return urlencode(kept)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    ctx = get_context()
    values = {k: request.query_params.get(k, "").strip() for k in FILTER_FIELDS}
    cursor_text = request.query_params.get("cursor", "")
    cursor = int(cursor_text) if cursor_text.isdigit() else None
    errors: list[dict[str, Any]] = []
    rows = []
    try:
        f = _filter(values, cursor)
        rows = list_records(ctx.engine, f)
    except Problem as exc:
        errors = exc.errors
    return render(
        request,
        "records.html",
        session,
        counts=status(ctx.engine, values["integration"] or None),
        count_columns=COUNT_COLUMNS,
        display=DISPLAY,
        types=list(CONTRACTS),
        states=STATE_CHOICES,
        integrations=[i.name for i in list_integrations(ctx.engine)],
        values=values,
        errors=errors,
        records=[record_view(r) for r in rows],
        next_query=_query(values, cursor=rows[-1].id) if len(rows) == PAGE else None,
        first_query=_query(values) if cursor else None,
        throttling=throttling(ctx.engine),
        query=_query,
    )


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: HubId, session: UiSession = Depends(ui_session)) -> Response:
    ctx = get_context()
    found = get_record(ctx.engine, record_id)
    if found is None:
        return render(request, "error.html", session, 404, detail=f"There is no record {record_id}.")
    rec, attempts = found
    return render(
        request,
        "record.html",
        session,
        record=record_view(rec),
        batch=record_batch(ctx.engine, rec),
        integration=ctx.integration(rec.integration_id).name,
        payload=rec.payload,
        attempts=[attempt_view(a) for a in reversed(attempts)],
        retryable=rec.state in {s.value for s in bulk_jobs.RETRYABLE},
    )


@router.post("/records/{record_id}/retry")
def retry_one(record_id: HubId, csrf: str = Form(""), session: UiSession = Depends(ui_session)) -> Response:
    check_csrf(session, csrf)
    ctx = get_context()
    if services.retry(ctx, [record_id]).ids:
        return _see_other(f"/ui/records/{record_id}?notice=retried&n=1")
    return _see_other(f"/ui/records/{record_id}?notice=not-retryable")


@router.post("/retry")
async def retry(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    """Retry the selected records (`ids`), or start a job for all matching the filter (`mode=all`)."""
    form = await request.form()
    check_csrf(session, str(form.get("csrf", "")))
    values = {k: str(form.get(k, "")).strip() for k in FILTER_FIELDS}
    if form.get("mode") == "all":
        f = _filter(values, limit=1000)
        job = jobs.start_retry(f, filter_params(f), session.principal.name)
        return _see_other(f"/ui/jobs/{job.id}")
    ids = [int(v) for v in form.getlist("ids") if str(v).isdigit()]
    back = f"/ui/?{_query(values)}&" if any(values.values()) else "/ui/?"
    if not ids:
        return _see_other(back + "notice=none-selected")
    ctx = get_context()
    retried = services.retry(ctx, ids).ids
    return _see_other(back + f"notice=retried&n={len(retried)}")


# ---------------------------------------------------------------- jobs and audit


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: HubId, session: UiSession = Depends(ui_session)) -> Response:
    engine = get_context().engine
    job = bulk_jobs.get(engine, job_id)
    if job is None:
        return render(request, "error.html", session, 404, detail=f"There is no job {job_id}.")
    view = jobs.job_view(engine, job)
    moving = {State.PENDING, State.QUEUED, State.IN_FLIGHT}
    still_moving = any(view["result"].get("now", {}).get(s, 0) for s in moving)
    linked = {k: v for k, v in (view["params"] or {}).items() if k in _LINKED_FILTERS and v}
    return render(
        request,
        "job.html",
        session,
        job=view,
        refresh=view["state"] == "running" or (view["kind"] == "retry" and still_moving),
        back=_query(linked),
        transferred_link=_query(linked | {"state": "transferred"}),
    )


@router.post("/verify")
def verify(
    integration: str = Form("default"), csrf: str = Form(""), session: UiSession = Depends(ui_session)
) -> Response:
    check_csrf(session, csrf)
    try:
        job = jobs.start_verify(integration, None, session.principal.name)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    return _see_other(f"/ui/jobs/{job.id}")


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    from nue_ns.hub import batch_store
    from nue_ns.hub.queries import batch_view

    ctx = get_context()
    names: dict[int, str] = {}
    views = []
    for b in batch_store.listing(ctx.engine, None, 200):
        if b.integration_id not in names:
            names[b.integration_id] = ctx.integration(b.integration_id).name
        views.append(batch_view(b) | {"integration": names[b.integration_id]})
    return render(request, "batches.html", session, batches=views)


@router.get("/governor", response_class=HTMLResponse)
def governor_page(request: Request, session: UiSession = Depends(ui_session)) -> Response:
    return render(request, "governor.html", session, accounts=governor_states(get_context()))
