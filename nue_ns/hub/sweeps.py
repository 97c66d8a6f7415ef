"""The beat's safety nets on the hub: records of lost workers, and waiters whose prerequisites
all landed while nobody was looking."""

from __future__ import annotations

from sqlalchemy import Engine

from nue_ns.hub import states
from nue_ns.hub.attempts import close_in_flight
from nue_ns.hub.db import transaction


def recover_leases(engine: Engine, max_attempts: int | None = None) -> list[int]:
    """Records whose worker died mid-transfer go back to PENDING, due now; their call (if one was
    made) is closed in the attempt log as `lost` and counted, so a record that keeps killing its
    worker ends as needing a person after `max_attempts`."""
    with transaction(engine) as cur:
        ids = [
            r[0]
            for r in cur.execute(
                f"""
                SELECT id FROM hub_records WHERE {states.guard("recover")} AND lease_expires_at < now()
                FOR UPDATE SKIP LOCKED
                """
            )
        ]
        called = close_in_flight(cur, ids, "lost", "the worker was lost before the answer was recorded")
        if called:
            cur.execute(
                "UPDATE hub_records SET attempts = attempts + 1 WHERE id = ANY(CAST(%(ids)s AS bigint[]))",
                {"ids": called},
            )
        if called and max_attempts is not None:
            cur.execute(
                f"""
                UPDATE hub_records SET state = {states.target("give_up")}, error_kind = 'transient',
                       lease_expires_at = NULL, leased_by = NULL, reason = %(reason)s, updated_at = now()
                WHERE id = ANY(CAST(%(ids)s AS bigint[])) AND attempts >= %(max)s
                  AND {states.guard("give_up")}
                """,
                {
                    "ids": called,
                    "max": max_attempts,
                    "reason": f"needs a person: gave up after {max_attempts} attempts "
                    "(the worker was lost during the last one)",
                },
            )
        cur.execute(
            f"""
            UPDATE hub_records SET state = {states.target("recover")}, next_attempt_at = now(),
                   lease_expires_at = NULL, leased_by = NULL, updated_at = now(),
                   reason = 'the worker holding it was lost; sending again (the upsert cannot duplicate)'
            WHERE id = ANY(CAST(%(ids)s AS bigint[])) AND {states.guard("recover")}
            """,
            {"ids": ids},
        )
        return ids


def wake_settled(engine: Engine, older_than: float = 30.0) -> int:
    """Safety net for the retry sweep: records still waiting although every prerequisite they
    name is in NetSuite (their worker died between parking and re-checking) go again."""
    with transaction(engine) as cur:
        return int(
            cur.execute(
                f"""
                UPDATE hub_records r SET state = {states.target("wake")}, next_attempt_at = now(),
                       waiting_on = NULL, reason = NULL, updated_at = now()
                WHERE {states.guard("wake", "r.state")}
                  AND r.updated_at < now() - make_interval(secs => %(age)s)
                  AND NOT EXISTS (
                    SELECT 1 FROM jsonb_array_elements(COALESCE(r.waiting_on, '[]'::jsonb)) w
                    WHERE w ->> 'type' = 'mapping' OR NOT EXISTS (
                        SELECT 1 FROM ns_links l
                        WHERE l.integration_id = r.integration_id AND l.record_type = w ->> 'type'
                          AND l.nue_id = w ->> 'id'))
                """,
                {"age": older_than},
            ).rowcount
        )
