"""The documented batch maximum (10,000 records) through every door: the Python API, the HTTP API
and the CLI take a full batch (PostgreSQL allows 65,535 bind parameters per statement; the hub's
insert is set-based, so a batch's size never reaches that limit), and refuse one more, naming the
limit, with nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from nue_ns.context import get_context
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Record
from nue_ns.producer import MAX_BATCH, InvalidBatch, enqueue_many
from tests.api_support import bearer, key


def customers(n: int, prefix: str = "C") -> list[dict]:
    # Emails and updated_at on every record: the widest customer rows the contract allows.
    return [
        {
            "id": f"{prefix}-{i}",
            "name": f"Customer {i}",
            "email": f"c{i}@example.com",
            "currency": "USD",
            "updated_at": "2025-01-01T00:00:00+00:00",
        }
        for i in range(n)
    ]


def hub_rows() -> int:
    with session_scope(get_context().engine) as s:
        return s.scalar(select(func.count()).select_from(Record))


def test_the_documented_maximum_is_10000():
    assert MAX_BATCH == 10_000


def test_enqueue_many_takes_the_maximum_and_refuses_one_more(hub):
    with pytest.raises(InvalidBatch) as caught:
        enqueue_many("customer", customers(MAX_BATCH + 1), dispatch_now=False)
    assert (
        "at most 10000" in str(caught.value) and caught.value.as_json()[0]["errors"][0]["field"] == "(batch)"
    )
    assert hub_rows() == 0
    accepted = enqueue_many("customer", customers(MAX_BATCH), dispatch_now=False)
    assert len(accepted) == MAX_BATCH and all(a.created for a in accepted)
    assert len({a.id for a in accepted}) == MAX_BATCH and hub_rows() == MAX_BATCH
    # The same batch again is the same versions: nothing new, every one found.
    again = enqueue_many("customer", customers(MAX_BATCH), dispatch_now=False)
    assert [a.id for a in again] == [a.id for a in accepted] and not any(a.created for a in again)
    assert hub_rows() == MAX_BATCH


def test_http_api_takes_the_maximum_and_refuses_one_more(hub, client):
    k = bearer(key("producer"))
    r = client.post("/v1/records/customer", json=customers(MAX_BATCH + 1), headers=k)
    assert r.status_code == 413 and "10000" in r.json()["detail"], r.text[:300]
    assert r.json()["errors"][0]["field"] == "(batch)"
    assert hub_rows() == 0
    r = client.post("/v1/records/customer", json=customers(MAX_BATCH), headers=k)
    assert r.status_code == 202, r.text[:500]
    assert r.json()["accepted"] == MAX_BATCH == r.json()["new"] == hub_rows()


def test_cli_takes_the_maximum_and_refuses_one_more(hub, tmp_path):
    def cli(n: int) -> subprocess.CompletedProcess:
        path = tmp_path / "batch.jsonl"
        path.write_text("\n".join(json.dumps(c) for c in customers(n, prefix=f"K{n}")))
        return subprocess.run(
            [sys.executable, "-m", "nue_ns.cli", "enqueue", "customer", str(path), "--json"],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    out = cli(MAX_BATCH + 1)
    assert out.returncode == 1, (out.stdout[:300], out.stderr[-1000:])
    assert "at most 10000" in out.stdout and "Traceback" not in out.stderr
    assert hub_rows() == 0
    out = cli(MAX_BATCH)
    assert out.returncode == 0, out.stderr[-1000:]
    assert json.loads(out.stdout)["accepted"] == MAX_BATCH == hub_rows()
