"""Jinja2 for the UI: autoescaped templates, so nothing a record or NetSuite says can become markup."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from nue_ns.api.auth import UiSession

TEMPLATES = Path(__file__).with_name("templates")

# Pages hold record data: never cached, never framed, and no script or style from anywhere else.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _when(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


env.filters["when"] = _when
env.filters["pretty"] = _pretty

# Notices shown after a redirect, chosen by code: a link cannot make the UI say arbitrary words.
_NOTICES = {
    "retried": "{n} record(s) set to retry and handed to the workers.",
    "not-retryable": "Nothing to retry: the record is Transferred, in flight or superseded.",
    "none-selected": "Select at least one record first.",
    "saved": "Mapping saved: NetSuite accepted every GL account. Records waiting for it were released.",
    "logged-out": "You are logged out.",
    "profile-read": "NetSuite account profile read again. Records waiting for the account were released.",
    "connected": "Integration connected: map its GL accounts below.",
    "connection-saved": "Connection saved; workers use it from their next record.",
    "disabled": "Integration disabled: its records stay in the hub and none is sent until it is enabled.",
    "enabled": "Integration enabled: its records go again.",
    "removed": "Integration removed.",
}


def notice(request: Request) -> str | None:
    template = _NOTICES.get(request.query_params.get("notice", ""))
    if template is None:
        return None
    n = request.query_params.get("n", "0")
    return template.format(n=int(n) if n.isdigit() else 0)


def render(
    request: Request, name: str, session: UiSession | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    html = env.get_template(name).render(
        request=request,
        session=session,
        csrf=session.csrf if session else "",
        notice=notice(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
