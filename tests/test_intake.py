"""hub/intake.py: producers' records stored by COPY, exactly as validated, in any batch size."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from nue_ns import records, sample
from nue_ns.hub import intake
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import upsert_integration
from nue_ns.hub.models import Record, State
from nue_ns.integration import IntegrationConfig
from nue_ns.producer import InvalidBatch, enqueue_many
from tests.harness import TEST_CREDENTIALS

CREDS = TEST_CREDENTIALS

# Text COPY's own syntax (tab, newline, backslash, the \N null marker, a lone dot line) and text
# from outside ASCII: stored and hashed as validated, byte for byte.
HOSTILE = [
    "tab\there",
    "two\nlines\r\nthree",
    "back\\slash \\N \\t \\\\",
    "\\.",
    "quote \" and ' and ,;|",
    "café Ελλάδα 東京 🚀 \u00a0nbsp",
    'json {"a": [1, 2]}',
]


@pytest.fixture
def ctx(hub_ctx):
    return hub_ctx


def _customers(*rows: dict) -> list[records._Record]:
    return [records.validate("customer", r) for r in rows]


def _stored(ctx, nue_id: str) -> list[Record]:
    with session_scope(ctx.engine) as s:
        rows = list(s.scalars(select(Record).where(Record.nue_id == nue_id).order_by(Record.id)))
        s.expunge_all()
        return rows


def test_batch_rows_serialise_each_record_once_the_last_version_winning():
    a1, b, a2 = _customers(
        {"id": "A", "name": "first"}, {"id": "B", "name": "b"}, {"id": "A", "name": "second"}
    )
    rows = list(intake.batch_rows(intake.latest_versions([a1, b, a2])))
    assert [(r[0], r[1]) for r in rows] == [(0, "A"), (1, "B")]  # A keeps its first place
    ord_, nue_id, updated, digest, text = rows[0]
    assert json.loads(text)["name"] == "second" and updated is None
    assert text == intake._canonical(a2) and digest == hashlib.sha256(text.encode()).hexdigest()
    assert digest == intake.version_hash(a2)


def test_hostile_text_is_stored_and_hashed_exactly(ctx):
    batch = _customers(*({"id": f"H-{i}", "name": name} for i, name in enumerate(HOSTILE)))
    accepted = intake.accept(ctx.engine, ctx.integration("default"), "customer", batch)
    assert [a.nue_id for a in accepted] == [f"H-{i}" for i in range(len(HOSTILE))]
    assert all(a.created and a.state == State.PENDING for a in accepted)
    for rec, name in zip(batch, HOSTILE, strict=True):
        (row,) = _stored(ctx, rec.id)
        assert row.payload == rec.model_dump(mode="json") and row.payload["name"] == name
        assert row.version_hash == intake.version_hash(rec)
    # Stored as hashed: the same versions again are the same rows.
    again = intake.accept(ctx.engine, ctx.integration("default"), "customer", batch)
    assert [(a.id, a.created) for a in again] == [(a.id, False) for a in accepted]


def test_a_nul_byte_is_refused_naming_the_field_and_nothing_is_stored(ctx):
    with pytest.raises(InvalidBatch) as caught:
        enqueue_many("customer", [{"id": "N-1", "name": "ok"}, {"id": "N-2", "name": "a\x00b"}], ctx=ctx)
    (problem,) = caught.value.as_json()
    assert problem["index"] == 1 and problem["errors"][0]["field"] == "name"
    assert "NUL" in problem["errors"][0]["reason"]
    assert _stored(ctx, "N-1") == []


def test_a_batch_beyond_the_parameter_limit_is_one_transaction(ctx):
    n = 70_000  # PostgreSQL takes at most 65,535 bind parameters in one statement
    batch = [
        records.Customer(id=f"BIG-{i}", name=f"Customer {i}", updated_at="2025-01-01T00:00:00Z")
        for i in range(n)
    ]
    accepted = intake.accept(ctx.engine, ctx.integration("default"), "customer", batch)
    assert len(accepted) == n and [a.nue_id for a in accepted[:3]] == ["BIG-0", "BIG-1", "BIG-2"]
    assert [a.id for a in accepted] == sorted(a.id for a in accepted)  # ids follow the batch's order
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).where(Record.nue_id.like("BIG-%"))) == n


def test_one_batch_mixes_new_known_newer_and_stale_versions_in_order(ctx):
    integ = ctx.integration("default")
    base = {"updated_at": "2026-01-02T00:00:00Z"}
    known, replaced, kept = _customers(
        {"id": "K", "name": "known"} | base,
        {"id": "R", "name": "old"} | base,
        {"id": "S", "name": "new"} | base,
    )
    first = intake.accept(ctx.engine, integ, "customer", [known, replaced, kept])
    newer, stale, fresh = _customers(
        {"id": "R", "name": "newer", "updated_at": "2026-01-03T00:00:00Z"},
        {"id": "S", "name": "stale", "updated_at": "2026-01-01T00:00:00Z"},
        {"id": "F", "name": "fresh"},
    )
    out = intake.accept(ctx.engine, integ, "customer", [newer, known, stale, fresh])
    assert [(a.nue_id, a.created, a.state) for a in out] == [
        ("R", True, State.PENDING),
        ("K", False, State.PENDING),
        ("S", True, State.SUPERSEDED),
        ("F", True, State.PENDING),
    ]
    assert out[1].id == first[0].id
    old_r, new_r = _stored(ctx, "R")
    assert old_r.state == State.SUPERSEDED and old_r.reason == f"replaced by version {new_r.id}"
    kept_s, stale_s = _stored(ctx, "S")
    assert kept_s.state == State.PENDING and stale_s.reason.startswith("stale:")


def test_scheduled_mode_parks_new_versions(ctx):
    integ = upsert_integration(
        ctx.engine,
        ctx.settings,
        "monthly",
        account_id="TEST2",
        credentials=CREDS,
        rest_url="http://127.0.0.1:9",
        config=IntegrationConfig(scheduled_mode=True),
    )
    (a,) = intake.accept(ctx.engine, integ, "customer", _customers(sample.customers(1)[0]))
    (row,) = _stored(ctx, a.nue_id)
    assert a.state == row.state == State.PARKED and row.reason == "waiting for the scheduled batch"


def test_other_versions_are_found_by_index_probes_whatever_the_statistics(ctx):
    """The plan joins nothing by hash or merge: on a table without statistics such a join scanned
    every open row of the integration for each batch row."""
    integ = ctx.integration("default")
    intake.accept(ctx.engine, integ, "customer", _customers(*sample.customers(3000, prefix="P")))
    arrays = intake._arrays(intake.latest_versions(_customers(*sample.customers(500, prefix="Q"))))
    params = {"i": integ.id, "t": "customer", "rank": 0, "state": "pending", "reason": None}
    params |= {"stale": intake._STALE, "states": intake._REPLACEABLE, "now": "2026-01-01T00:00:00Z"}
    with ctx.engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            plans = []
            for query in (intake._INSERT, intake._EXISTING):
                cur.execute("EXPLAIN " + query, params | arrays)
                plans.append("\n".join(line for (line,) in cur.fetchall()))
        conn.rollback()
    for plan in plans:
        assert "ix_records_nue" in plan or "uq_record_version" in plan, plan
        assert "Hash Join" not in plan and "Merge Join" not in plan, plan


def test_parts_store_what_one_part_stores(ctx):
    """accept_parts inserts part by part in one transaction: the same rows and answers as one part."""
    integ = ctx.integration("default")
    base = {"updated_at": "2026-01-02T00:00:00Z"}
    known, replaced, kept = _customers(
        {"id": "PK", "name": "known"} | base,
        {"id": "PR", "name": "old"} | base,
        {"id": "PS", "name": "new"} | base,
    )
    first = intake.accept_parts(ctx.engine, integ, "customer", [[known], [replaced, kept]])
    newer, stale, fresh = _customers(
        {"id": "PR", "name": "newer", "updated_at": "2026-01-03T00:00:00Z"},
        {"id": "PS", "name": "stale", "updated_at": "2026-01-01T00:00:00Z"},
        {"id": "PF", "name": "fresh"},
    )
    out = intake.accept_parts(ctx.engine, integ, "customer", [[newer], [], [known, stale], [fresh]])
    assert [(a.nue_id, a.created, a.state) for a in out] == [
        ("PR", True, State.PENDING),
        ("PK", False, State.PENDING),
        ("PS", True, State.SUPERSEDED),
        ("PF", True, State.PENDING),
    ]
    assert out[1].id == first[0].id
    assert [a.id for a in out if a.created] == sorted(a.id for a in out if a.created)
    old_r, new_r = _stored(ctx, "PR")
    assert old_r.state == State.SUPERSEDED and old_r.reason == f"replaced by version {new_r.id}"
    kept_s, stale_s = _stored(ctx, "PS")
    assert kept_s.state == State.PENDING and stale_s.reason.startswith("stale:")


def test_an_error_raised_by_a_later_part_rolls_back_the_earlier_parts(ctx):
    integ = ctx.integration("default")

    def parts():
        yield _customers({"id": "RB-1", "name": "one"})
        yield _customers({"id": "RB-2", "name": "two"})
        raise RuntimeError("the third part is bad")

    with pytest.raises(RuntimeError):
        intake.accept_parts(ctx.engine, integ, "customer", parts())
    assert _stored(ctx, "RB-1") == [] and _stored(ctx, "RB-2") == []


def test_enqueue_many_beyond_one_part(ctx):
    """A batch of several parts: stored in order; a record given again in a later part keeps its
    first place with its last version, as in one part."""
    n = 2 * intake.PART + 7
    items = sample.customers(n, prefix="EP")
    items.append(items[3] | {"name": "renamed"})  # again, in the last part
    accepted = enqueue_many("customer", items, ctx=ctx)
    assert [a.nue_id for a in accepted] == [item["id"] for item in items[:n]]
    assert [a.id for a in accepted] == sorted(a.id for a in accepted)
    (row,) = _stored(ctx, items[3]["id"])
    assert row.payload["name"] == "renamed" and row.id == accepted[3].id
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).where(Record.nue_id.like("EP%"))) == n


def test_a_bad_record_in_a_later_part_stores_nothing(ctx):
    items = sample.customers(2 * intake.PART + 7, prefix="EB")
    items[-1] = items[-1] | {"email": "not an address"}
    with pytest.raises(InvalidBatch) as caught:
        enqueue_many("customer", items, ctx=ctx)
    (problem,) = caught.value.as_json()
    assert problem["index"] == len(items) - 1 and problem["errors"][0]["field"] == "email"
    assert _stored(ctx, items[0]["id"]) == []


def test_a_batch_check_failing_after_every_part_was_inserted_stores_nothing(ctx):
    """The checks on the whole batch (here: a currency the integration maps to nothing) run after
    the last part's insert, before the commit."""
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "mapped",
        account_id="TEST3",
        credentials=CREDS,
        rest_url="http://127.0.0.1:9",
        config=IntegrationConfig(currency_ids={"USD": "1"}),
    )
    items = [item | {"currency": "USD"} for item in sample.customers(2 * intake.PART + 7, prefix="EC")]
    items[-2] = items[-2] | {"currency": "EUR"}
    with pytest.raises(InvalidBatch) as caught:
        enqueue_many("customer", items, integration="mapped", ctx=ctx)
    (problem,) = caught.value.as_json()
    assert problem["index"] == len(items) - 2 and problem["errors"][0]["field"] == "currency"
    assert _stored(ctx, items[0]["id"]) == []
