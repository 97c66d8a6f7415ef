"""Delivering inbound events to Nue: a signed JSON POST per event, in order per NetSuite record.

Receivers verify `X-Nue-NS-Signature: t=<unix time>,v1=<hex>`: the HMAC-SHA256, with the shared
secret (NUE_NS_WEBHOOK_SECRET), of `<t>.<event id>.<raw body>`. Signing the time and the event id
with the body means a captured delivery cannot be replayed under a fresh event id, nor after the
replay window (REPLAY_WINDOW: receivers refuse a `t` further than that from their clock). Receivers
dedupe by `X-Nue-NS-Event-Id` (the event's idempotency key) within the window: delivery is at
least once, so an answer lost on the way back means the same event again.

An event goes only when every earlier event of its NetSuite record is delivered, and it is locked
(`FOR UPDATE SKIP LOCKED`) while it is sent, so any number of deliverers keep that order. A 2xx
acknowledges; a timeout, a connection failure, 408, 425, 429 or 5xx retries with exponential
backoff and jitter until the receiver recovers; any other answer means the receiver refused the
event: it fails (needs a person; `nue-ns inbound retry`) and holds back its record's later events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import func

from nue_ns.config import Settings
from nue_ns.context import Context
from nue_ns.hub import events
from nue_ns.hub.models import Integration
from nue_ns.hub.models_inbound import EventState, InboundEvent
from nue_ns.safe_text import clip

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Nue-NS-Signature"
EVENT_ID_HEADER = "X-Nue-NS-Event-Id"
EVENT_TYPE_HEADER = "X-Nue-NS-Event-Type"
_RETRYABLE = frozenset({408, 425, 429})
_NOT_CONFIGURED_DELAY = 60.0  # seconds before an event without a URL or secret is looked at again
_BODY_EXCERPT = 500


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


REPLAY_WINDOW = 300  # seconds; documented in README ("Inbound")


def _mac(secret: str, timestamp: int, event_id: str, body: bytes) -> str:
    signed = f"{timestamp}.{event_id}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, event_id: str, timestamp: int | None = None) -> str:
    """The signature header of one delivery attempt (signed afresh on every attempt)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, event_id, body)}"


def verify(
    body: bytes, secret: str, header: str | None, event_id: str | None, *, now: float | None = None
) -> bool:
    """What a receiver does: a fresh timestamp, and the MAC compared in constant time."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if not event_id or abs((time.time() if now is None else now) - t) > REPLAY_WINDOW:
        return False
    return hmac.compare_digest(_mac(secret, t, event_id, body), parts.get("v1", ""))


def webhook_url_for(integration: Integration, settings: Settings) -> str | None:
    """The integration's own `webhook_url` setting, else NUE_NS_WEBHOOK_URL."""
    return (integration.settings or {}).get("webhook_url") or settings.webhook_url


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential with jitter, so receivers coming back are not hit by every event at once."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    not_configured: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Answer:
    status: int | None
    error: str | None  # None: acknowledged

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in _RETRYABLE or self.status >= 500


def _post(session: requests.Session, url: str, event: InboundEvent, secret: str, timeout: float) -> _Answer:
    body = body_of(event.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "nue-ns",
        EVENT_ID_HEADER: event.idempotency_key,
        EVENT_TYPE_HEADER: event.kind,
        SIGNATURE_HEADER: sign(body, secret, event.idempotency_key),
    }
    try:
        response = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return _Answer(None, f"{type(exc).__name__} posting to the webhook")
    if 200 <= response.status_code < 300:
        return _Answer(response.status_code, None)
    excerpt = clip(response.text.strip(), _BODY_EXCERPT)  # a receiver's reply may hold NUL or escapes
    return _Answer(response.status_code, f"webhook answered {response.status_code}: {excerpt}".rstrip(": "))


def _settle(event: InboundEvent, answer: _Answer, settings: Settings) -> str:
    """Record one attempt's outcome on the locked event; returns the report field to count."""
    event.attempts += 1
    event.last_status = answer.status
    event.last_error = answer.error
    if answer.error is None:
        event.state = EventState.DELIVERED.value
        event.delivered_at = func.clock_timestamp()
        return "delivered"
    if answer.retryable:
        delay = backoff(event.attempts, settings.webhook_backoff_base, settings.webhook_backoff_max)
        event.next_attempt_at = func.clock_timestamp() + dt.timedelta(seconds=delay)  # after the call
        event.last_error = f"{answer.error}; retrying in {delay:.1f}s"
        return "retrying"
    event.state = EventState.FAILED.value
    event.last_error = f"needs a person: the receiver refused the event ({answer.error})"
    return "failed"


def _defer(event: InboundEvent, reason: str) -> None:
    event.next_attempt_at = func.clock_timestamp() + dt.timedelta(seconds=_NOT_CONFIGURED_DELAY)
    event.last_error = reason


def deliver_due(ctx: Context, *, limit: int = 500, budget_seconds: float = 50.0) -> DeliveryReport:
    """Try each due event once, oldest first, until none is left, `limit` were tried or the budget
    is spent (a run never hammers one receiver with the same event)."""
    settings = ctx.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    report = DeliveryReport()
    tried: list[int] = []
    deadline = time.monotonic() + budget_seconds
    with requests.Session() as session:
        while len(tried) < limit and time.monotonic() < deadline:
            outcome = events.deliver_next(
                ctx.engine,
                tried,
                lambda event, integ: _attempt(
                    session, event, webhook_url_for(integ, settings), secret, settings
                ),
            )
            if outcome is None:
                break
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _attempt(
    session: requests.Session, event: InboundEvent, url: str | None, secret: str | None, settings: Settings
) -> str:
    """Send one locked event and record the outcome on it; returns the report field to count."""
    if not url or not secret:
        missing = "webhook URL (NUE_NS_WEBHOOK_URL)" if not url else "NUE_NS_WEBHOOK_SECRET"
        _defer(event, f"not sent: no {missing} configured")
        return "not_configured"
    outcome = _settle(event, _post(session, url, event, secret, settings.webhook_timeout), settings)
    if outcome != "delivered":
        log.warning("inbound event %s not delivered: %s", event.id, event.last_error)
    return outcome
