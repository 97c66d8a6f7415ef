"""What an operator does to records by hand (CLI, API, UI): send again."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from nue_ns.hub import states
from nue_ns.hub.db import transaction


def retry(
    engine: Engine,
    ids: Sequence[int] | None = None,
    *,
    all_failed: bool = False,
    integration_id: int | None = None,
) -> list[int]:
    """Send again now, as a fresh start (attempts reset): chosen records, or every record that
    needs a person."""
    if ids is not None:
        which, params = f"id = ANY(CAST(%(ids)s AS bigint[])) AND {states.guard('retry')}", {"ids": list(ids)}
    elif all_failed:
        which, params = "state = 'failed'", {}
    else:
        raise ValueError("give record ids or all_failed=True")
    if integration_id is not None:
        which += " AND integration_id = %(i)s"
        params["i"] = integration_id
    with transaction(engine) as cur:
        rows = cur.execute(
            f"""
            UPDATE hub_records SET state = {states.target("retry")}, next_attempt_at = now(), attempts = 0,
                   reason = 'retry requested', waiting_on = NULL, updated_at = now()
            WHERE {which}
            RETURNING id
            """,
            params,
        )
        return [r[0] for r in rows]


def integrations_of(engine: Engine, ids: Sequence[int]) -> list[int]:
    """The integrations these records belong to (to dispatch just those)."""
    if not ids:
        return []
    with transaction(engine) as cur:
        rows = cur.execute(
            "SELECT DISTINCT integration_id FROM hub_records WHERE id = ANY(CAST(%(ids)s AS bigint[]))",
            {"ids": list(ids)},
        )
        return sorted(r[0] for r in rows)
