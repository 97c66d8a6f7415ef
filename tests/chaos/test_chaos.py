"""Chaos: records of all seven types through real workers, Redis, PostgreSQL and the sandbox while
things break. A shortened run is part of the default suite; the full run is `make chaos`."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from nue_ns import sample
from nue_ns.embedded import PostgresProcess, RedisProcess, create_database, drop_database
from nue_ns.hub.db import dispose_engines, migrate
from tests.chaos.chaos import Figures, Plan, assert_sound, run
from tests.harness import System
from tests.oauth_support import keypair, oauth_secrets, secret_leaks
from tests.test_security import _hub_dump, _redis_dump

pytestmark = pytest.mark.servers  # starts servers of its own: not in make test-unit


def show(figures: Figures, capsys) -> None:
    """The figures on the terminal, passed or failed (they go into docs/RELIABILITY.md)."""
    with capsys.disabled():
        print("\n" + figures.report())


@pytest.mark.slow  # 60 s: make chaos; make test keeps test_end_to_end's worker kill + Redis flush
def test_short_chaos_run(env, tmp_path, monkeypatch, capsys):
    data = sample.month(
        n_customers=30,
        n_products=12,
        n_orders=60,
        n_invoices=90,
        n_payments=70,
        n_refunds=8,
        n_credit_memos=10,
    )
    system = System(env["database_url"], env["redis_url"], tmp_path, monkeypatch)
    plan = Plan(
        data=data, rate_limit="40/2s", workers=3, kill_every=6.0, timeout=150, oauth2_token_lifetime=5
    )
    try:
        figures = run(system, plan)
        # OAuth 2.0 through the chaos: the private key and every token issued stay out of the
        # logs of every process, Redis (the shared token is encrypted there) and the hub.
        secrets = oauth_secrets(system.base, keypair()[0])
        found = [
            leak
            for log in sorted((tmp_path / "logs").glob("*.log"))
            for leak in secret_leaks(log.name, log.read_text(errors="replace"), secrets)
        ]
        found += secret_leaks("Redis", _redis_dump(system.redis_url), secrets)
        found += secret_leaks("the hub tables", _hub_dump(system.ctx.engine), secrets)
    finally:
        system.stop()
    show(figures, capsys)
    assert_sound(figures)
    assert len(secrets) >= 3 and found == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_short_chaos_run_in_scheduled_mode_with_batches(env, tmp_path, monkeypatch, capsys):
    """The same chaos with every record going in batches: lost submit answers (lost_after_commit on
    the batch PUT), lost jobs, 429s, 500s and timeouts on polls; the same guarantees."""
    data = sample.month(
        n_customers=30,
        n_products=12,
        n_orders=60,
        n_invoices=90,
        n_payments=70,
        n_refunds=8,
        n_credit_memos=10,
    )
    system = System(env["database_url"], env["redis_url"], tmp_path, monkeypatch)
    try:
        # A batch run makes few calls (about 50): each fault kind needs a higher chance to fire.
        # Then a third of all calls fail (1 - 0.92^5), and an invoice made by transform makes two to
        # four calls an attempt (find after a lost answer, read the order, transform, close lines):
        # about 0.65 of its attempts fail, so 10 attempts in a row (the default give-up) failed for
        # one of 90 invoices in several runs (INV-00050: "gave up after 10 attempts: timeout on GET
        # salesOrder"). 25 makes that about 2e-5 per invoice; the give-up itself is tested elsewhere.
        # The run takes 165-200 s (each 429 pauses the account for 1 s; payments go together once
        # the invoices, made one by one by transform, are in), and a run on a loaded machine was
        # still moving at the 240 s it had: a stuck record is what the 90 s no-progress check is for.
        plan = Plan(data=data, rate_limit="40/2s", workers=3, kill_every=6.0, timeout=420, batches=True,
                    fault_probability=0.08, max_attempts=25)  # fmt: skip
        figures = run(system, plan)
    finally:
        system.stop()
    show(figures, capsys)
    assert_sound(figures)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_full_chaos_run(tmp_path, monkeypatch, capsys):
    """A few thousand records; Redis restarted with its data gone and PostgreSQL crashed and
    restarted, both servers of its own."""
    data = sample.month(
        n_customers=300,
        n_products=60,
        n_orders=600,
        n_invoices=900,
        n_payments=700,
        n_refunds=60,
        n_credit_memos=90,
    )
    # PostgreSQL runs as its own OS user when we are root: its data lives outside pytest's private
    # (0700, re-tightened by every pytest start) temporary folder.
    pg_dir = Path(tempfile.mkdtemp(prefix="nue-ns-chaos-pg-"))
    with RedisProcess(tmp_path / "redis") as redis_server, PostgresProcess(pg_dir / "data") as pg:
        name = f"nue_ns_chaos_{uuid.uuid4().hex[:8]}"
        database_url = create_database(pg.url, name)
        migrate(database_url)
        system = System(database_url, redis_server.url, tmp_path, monkeypatch)
        plan = Plan(
            data=data,
            rate_limit="60/2s",
            workers=3,
            kill_every=5.0,
            flushdb_at=10.0,
            beat_kill_at=20.0,
            second_beat_at=30.0,
            redis_restart_at=45.0,
            postgres_restart_at=70.0,
            redis_server=redis_server,
            postgres_server=pg,
            enqueue_chunks=6,
            timeout=900,
        )
        try:
            figures = run(system, plan)
        finally:
            system.stop()
            dispose_engines()
        show(figures, capsys)
        drop_database(pg.url, name)
    shutil.rmtree(pg_dir, ignore_errors=True)
    assert_sound(figures)
