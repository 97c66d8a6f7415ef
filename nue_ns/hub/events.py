"""Inbound events (NetSuite -> Nue) in the hub: the poll watermark, new events in per-record order,
the next event due for delivery (locked while it is sent), and the operators' listing and retry.

What a change reports is nue_ns.inbound's; how an event is sent and what an answer means is
nue_ns.webhook's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Integration
from nue_ns.hub.models_inbound import EventKind, EventState, InboundEvent, InboundWatermark

# ---------------------------------------------------------------- the poller's side


def watermark(engine: Engine, integration_id: int, start: dt.datetime) -> tuple[dt.datetime, int]:
    """The stored watermark (time, id), created at `start` at the first poll."""
    with session_scope(engine) as s:
        s.execute(
            insert(InboundWatermark)
            .values(integration_id=integration_id, wm_time=start, wm_id=0)
            .on_conflict_do_nothing(index_elements=["integration_id"])
        )
        wm = s.get(InboundWatermark, integration_id)
        return wm.wm_time, wm.wm_id


def known_keys(engine: Engine, keys: Sequence[str]) -> set[str]:
    """Those of these idempotency keys the hub already holds."""
    with session_scope(engine) as s:
        return set(
            s.scalars(
                select(InboundEvent.idempotency_key).where(InboundEvent.idempotency_key.in_(list(keys)))
            )
        )


@dataclass(frozen=True)
class NewEvent:
    """A change to report, as the poller read it. `payload` holds a "sequence" key the hub fills in
    (the record's next number) when it inserts the event."""

    kind: str
    ns_type: str
    ns_internal_id: str
    lastmodified: dt.datetime
    idempotency_key: str
    content_hash: str
    payload: dict[str, Any]


def record_page(
    engine: Engine, integration_id: int, events: Sequence[NewEvent], last_key: tuple[dt.datetime, int]
) -> tuple[int, int]:
    """Insert a page's events in key order and move the watermark to `last_key`, in one transaction;
    returns (created, unchanged).

    The watermark row is locked first, so two pollers of one integration commit one after the
    other; a change older than the record's latest event is stale and skipped, so per-record
    order always follows NetSuite's lastmodifieddate.
    """
    created = unchanged = 0
    with session_scope(engine) as s:
        wm = s.scalars(
            select(InboundWatermark)
            .where(InboundWatermark.integration_id == integration_id)
            .with_for_update()
        ).one()
        for event in events:
            latest = s.execute(
                select(InboundEvent.sequence, InboundEvent.content_hash, InboundEvent.lastmodified)
                .where(
                    InboundEvent.integration_id == integration_id,
                    InboundEvent.ns_type == event.ns_type,
                    InboundEvent.ns_internal_id == event.ns_internal_id,
                )
                .order_by(InboundEvent.sequence.desc())
                .limit(1)
            ).first()
            # Same content: the change touched nothing Nue is told (e.g. the payment was deposited).
            if latest is not None and (
                latest.content_hash == event.content_hash or latest.lastmodified >= event.lastmodified
            ):
                unchanged += 1
                continue
            sequence = (latest.sequence if latest else 0) + 1
            inserted = s.execute(
                insert(InboundEvent)
                .values(
                    integration_id=integration_id,
                    kind=event.kind,
                    ns_type=event.ns_type,
                    ns_internal_id=event.ns_internal_id,
                    lastmodified=event.lastmodified,
                    sequence=sequence,
                    idempotency_key=event.idempotency_key,
                    content_hash=event.content_hash,
                    payload=event.payload | {"sequence": sequence},
                    state=EventState.PENDING.value,
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(InboundEvent.id)
            ).first()
            if inserted is None:  # another poller made it first
                unchanged += 1
            else:
                created += 1
        if last_key > (wm.wm_time, wm.wm_id):  # never backwards (an overlap re-read ends behind it)
            wm.wm_time, wm.wm_id = last_key
    return created, unchanged


def poll_finished(engine: Engine, integration_id: int, error: str | None) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(InboundWatermark)
            .where(InboundWatermark.integration_id == integration_id)
            .values(last_poll_at=func.now(), last_poll_error=error)
        )


# ---------------------------------------------------------------- the deliverer's side

# The oldest due event whose record has nothing earlier still undelivered, not yet tried in this run;
# locked while it is sent.
_NEXT_DUE = text(
    """
    SELECT e.id FROM inbound_events e
    WHERE e.state = 'pending' AND e.next_attempt_at <= now() AND e.id <> ALL(:tried)
      AND NOT EXISTS (
          SELECT 1 FROM inbound_events p
          WHERE p.integration_id = e.integration_id AND p.ns_type = e.ns_type
            AND p.ns_internal_id = e.ns_internal_id AND p.sequence < e.sequence
            AND p.state <> 'delivered')
    ORDER BY e.id
    LIMIT 1
    FOR UPDATE OF e SKIP LOCKED
    """
)


def deliver_next(
    engine: Engine, tried: list[int], attempt: Callable[[InboundEvent, Integration], str]
) -> str | None:
    """Lock the next due event not in `tried` (`FOR UPDATE SKIP LOCKED`, so any number of
    deliverers keep per-record order), add its id to `tried`, and run `attempt` on it while the lock
    is held: what `attempt` sets on the event commits with the transaction. Returns what `attempt`
    returned, or None when no event is due."""
    with session_scope(engine) as s:
        event_id = s.scalar(_NEXT_DUE, {"tried": tried})
        if event_id is None:
            return None
        tried.append(event_id)
        event = s.get(InboundEvent, event_id)
        return attempt(event, s.get(Integration, event.integration_id))


# ---------------------------------------------------------------- operators


def list_events(
    engine: Engine,
    *,
    state: str | None = None,
    kind: str | None = None,
    integration: str | None = None,
    ns_internal_id: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[InboundEvent]:
    q = select(InboundEvent).order_by(InboundEvent.id).limit(max(1, min(limit, 1000)))
    if state:
        q = q.where(InboundEvent.state == EventState(state.strip().lower()).value)
    if kind:
        q = q.where(InboundEvent.kind == EventKind(kind).value)
    if integration:
        q = q.join(Integration, Integration.id == InboundEvent.integration_id).where(
            Integration.name == integration
        )
    if ns_internal_id:
        q = q.where(InboundEvent.ns_internal_id == ns_internal_id)
    if after_id:
        q = q.where(InboundEvent.id > after_id)
    with session_scope(engine) as s:
        return list(s.scalars(q))


def retry_events(engine: Engine, ids: Sequence[int] | None = None, *, all_failed: bool = False) -> list[int]:
    """Deliver again now: chosen undelivered events, or every one the receiver refused."""
    q = update(InboundEvent).values(
        state=EventState.PENDING.value, next_attempt_at=func.now(), attempts=0, last_error="retry requested"
    )
    if ids is not None:
        q = q.where(InboundEvent.id.in_(list(ids)), InboundEvent.state != EventState.DELIVERED.value)
    elif all_failed:
        q = q.where(InboundEvent.state == EventState.FAILED.value)
    else:
        raise ValueError("give event ids or all_failed=True")
    with session_scope(engine) as s:
        return list(s.scalars(q.returning(InboundEvent.id)))
