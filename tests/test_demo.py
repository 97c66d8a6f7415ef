"""`nue-ns demo`: its own integration and sandbox account, a summary of its own batch, its logs under
the state dir (old ones pruned), and it says what keeps running and how to end it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from nue_ns import sample
from nue_ns.context import get_context
from nue_ns.demo import DEMO_INTEGRATION, DEMO_RUN_ACCOUNT_ID, after_line, explain_calls, new_log_dir
from nue_ns.hub.integrations import list_integrations, upsert_integration
from nue_ns.hub.queries import status
from nue_ns.netsuite.auth import Credentials
from nue_ns.producer import enqueue_many
from nue_ns.sandbox import demo as sandbox_demo

ROOT = Path(__file__).resolve().parent.parent


def test_demo_uses_its_own_integration_and_counts_only_its_batch(env, tmp_path: Path) -> None:
    ctx = get_context()
    # Someone else's records in the hub, under another integration (whose NetSuite is unreachable).
    upsert_integration(
        ctx.engine,
        ctx.settings,
        "other",
        account_id="1234567",
        credentials=Credentials("k" * 64, "s" * 64, "t" * 64, "u" * 64),
        rest_url="http://127.0.0.1:9/services/rest",
    )
    enqueue_many(
        "customer", sample.customers(7, prefix="OTHER"), integration="other", ctx=ctx, dispatch_now=False
    )

    argv = [sys.executable, "-m", "nue_ns.cli", "demo", "--customers", "3", "--products", "2"]
    argv += ["--rate-limit", "50/1s", "--workers", "1"]
    proc = subprocess.run(
        argv, env=os.environ | {"COLUMNS": "200"}, cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"integration 'demo', account {DEMO_RUN_ACCOUNT_ID}" in out
    assert "using the configured PostgreSQL and Redis" in out
    # The summary is this run's batch: 3 customers and 2 products, not the 7 other customers.
    assert "│ customer │           3 │     3 │" in out, out
    assert "│ product  │           2 │     2 │" in out, out
    # One write per record, and the account profile's read (its catalog and SuiteQL queries).
    assert re.search(
        r"NetSuite saw \d+ calls for 5 records: 5 record writes, \d reads of the account profile", out
    )
    assert "sandbox, workers and beat have stopped" in out

    integrations = {i.name: i for i in list_integrations(ctx.engine)}
    assert "default" not in integrations
    assert integrations[DEMO_INTEGRATION].account_id == DEMO_RUN_ACCOUNT_ID
    assert status(ctx.engine, integration="other")["customer"].get("transferred", 0) == 0
    assert status(ctx.engine, integration=DEMO_INTEGRATION) == {
        "customer": {"transferred": 3},
        "product": {"transferred": 2},
    }
    logs = list((tmp_path / "state" / "logs").glob("demo-*/*.log"))
    assert {p.stem.split("-")[0].rstrip("0123456789") for p in logs} == {"sandbox", "worker", "beat"}


def test_explain_calls_names_what_is_not_a_record_write() -> None:
    writes = [{"type": "customer", "status": 204}] * 32
    profile = [{"type": "metadata", "status": 200}] + [{"type": "suiteql", "status": 200}] * 4
    assert explain_calls([*writes, *profile], 32) == (
        "NetSuite saw 37 calls for 32 records: 32 record writes, 5 reads of the account profile "
        "(1 metadata catalog, 4 SuiteQL queries, the GL-account check among them)"
    )
    refused = [{"type": "customer", "status": 429}]
    assert explain_calls([*writes, *refused], 32) == (
        "NetSuite saw 33 calls for 32 records: "
        "33 record writes (1 refused and retried: a 429 or a transient error)"
    )


def test_demo_logs_keep_only_the_newest_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for run in range(4):
        folder = new_log_dir(logs, keep=2)
        (folder / "run").write_text(str(run))
        past = time.time() - 100 + run  # runs a second apart, oldest first
        os.utime(folder, (past, past))
    assert sorted((p / "run").read_text() for p in logs.iterdir()) == ["2", "3"]


def test_demo_says_how_to_end_and_reset_embedded_servers(tmp_path: Path) -> None:
    line = after_line(["postgres", "redis"], tmp_path)
    assert "PostgreSQL and Redis keep running" in line and "`make stop`" in line and "`make clean`" in line
    assert "keep running" not in after_line([], tmp_path)


def test_demo_credentials_are_the_public_sandbox_ones() -> None:
    # The sandbox registers the demo's account from the NETSUITE_* variables the demo gives it.
    env = {
        "NETSUITE_ACCOUNT_ID": DEMO_RUN_ACCOUNT_ID,
        "NETSUITE_CONSUMER_KEY": sandbox_demo.DEMO_CONSUMER_KEY,
        "NETSUITE_CONSUMER_SECRET": sandbox_demo.DEMO_CONSUMER_SECRET,
        "NETSUITE_TOKEN_ID": sandbox_demo.DEMO_TOKEN_ID,
        "NETSUITE_TOKEN_SECRET": sandbox_demo.DEMO_TOKEN_SECRET,
    }
    assert sandbox_demo.env_account(env)["account_id"] == DEMO_RUN_ACCOUNT_ID
