"""What the API routes and the UI share: problem answers, hub filters, throttling advice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from nue_ns.api.guard import id_bounded, utc_bounded
from nue_ns.hub.queries import Filter, recent_status_counts, states_named
from nue_ns.integration import IntegrationConfig
from nue_ns.records import CONTRACTS

# Real-time integrations answered 429 this often lately are told to use scheduled mode.
THROTTLE_WINDOW = dt.timedelta(minutes=15)
THROTTLE_THRESHOLD = 5


@dataclass
class Problem(Exception):
    """An error answer: `{"detail": ..., "errors": [{"field": ..., "reason": ...}]}`."""

    status: int
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.detail)


def make_filter(
    *,
    record_type: str | None = None,
    state: str | None = None,
    integration: str | None = None,
    nue_id: str | None = None,
    error_code: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> Filter:
    """A hub filter, with every bad value named (422) rather than silently matching nothing."""
    errors = []
    if record_type and record_type not in CONTRACTS:
        errors.append(
            {"field": "type", "reason": f"unknown record type; expected one of {', '.join(CONTRACTS)}"}
        )
    if state:
        try:
            states_named(state)
        except ValueError as exc:
            errors.append({"field": "state", "reason": str(exc)})
    errors += utc_bounded(since, "since") + utc_bounded(until, "until") + id_bounded(cursor, "cursor")
    if not errors and since and until and until <= since:
        errors.append({"field": "until", "reason": "must be after since"})
    if not 1 <= limit <= 1000:
        errors.append({"field": "limit", "reason": "must be between 1 and 1000"})
    if errors:
        raise Problem(422, "invalid filter", errors)
    return Filter(
        state=state or None,
        record_type=record_type or None,
        integration=integration or None,
        nue_id=nue_id or None,
        error_code=error_code or None,
        since=since,
        until=until,
        after_id=cursor,
        limit=limit,
    )


def filter_params(f: Filter) -> dict[str, Any]:
    """A filter as JSON (what a bulk job records it was asked)."""
    return {
        "type": f.record_type,
        "state": f.state,
        "integration": f.integration,
        "nue_id": f.nue_id,
        "error_code": f.error_code,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
    }


def throttling(engine: Engine) -> dict[str, dict[str, Any]]:
    """Real-time integrations that keep hitting NetSuite's concurrency limit (429), with advice."""
    out: dict[str, dict[str, Any]] = {}
    for name, settings, n in recent_status_counts(engine, 429, THROTTLE_WINDOW):
        if n < THROTTLE_THRESHOLD or IntegrationConfig.load(settings).scheduled_mode:
            continue
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        out[name] = {
            "recent_429": n,
            "window_minutes": minutes,
            "advice": f"NetSuite refused {n} calls of integration '{name}' with 429 (concurrency limit) "
            f"in the last {minutes} minutes. Its account is busier than real-time mode allows: "
            "turn on 'Process in scheduled mode' so records go in governed batches.",
        }
    return out
