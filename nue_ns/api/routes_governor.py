"""GET /v1/governor: each NetSuite account's limits as the shared Redis governor sees them now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends

from nue_ns.api.auth import operator
from nue_ns.api.common import throttling
from nue_ns.api.keys import Principal
from nue_ns.context import Context, get_context
from nue_ns.hub.integrations import list_integrations

router = APIRouter(prefix="/v1", tags=["governor"])


def governor_states(ctx: Context) -> list[dict[str, Any]]:
    """One entry per NetSuite account (integrations on one account share its governor)."""
    by_account: dict[str, dict[str, Any]] = {}
    advice = throttling(ctx.engine)
    for integ in list_integrations(ctx.engine):
        entry = by_account.get(integ.account_id)
        if entry is None:
            st = ctx.governor(integ).state()
            paused = (
                dt.datetime.fromtimestamp(st.paused_until, dt.UTC).isoformat() if st.paused_until else None
            )
            entry = by_account[integ.account_id] = {
                "account_id": st.account_id,
                "integrations": [],
                "rate_limit": integ.rate_limit,
                "tokens_available": st.tokens_available,
                "calls_in_window": st.calls_in_window,
                "in_flight": st.in_flight,
                "concurrency": st.concurrency,
                "paused_until": paused,
                "pause_reason": st.pause_reason,
                "throttling": [],
            }
        entry["integrations"].append(integ.name)
        if integ.name in advice:
            entry["throttling"].append(advice[integ.name] | {"integration": integ.name})
    return list(by_account.values())


@router.get("/governor")
def governor(_: Principal = Depends(operator)) -> list[dict[str, Any]]:
    """Tokens left in the rate window, calls in flight, and any pause (until when, and why)."""
    return governor_states(get_context())
