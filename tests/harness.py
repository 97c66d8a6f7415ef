"""The whole system as real processes, for end-to-end tests: sandbox NetSuite, workers, beat."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import requests
from sqlalchemy import func, select

from nue_ns.config import RateLimit, reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.demo import demo_env
from nue_ns.hub.db import session_scope
from nue_ns.hub.integrations import ensure_default, save_config
from nue_ns.hub.models import Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.netsuite.auth import Credentials
from nue_ns.processes import Child, start_beat, start_sandbox, start_worker
from nue_ns.sandbox import demo as sandbox_demo
from nue_ns.sandbox.kinds import KIND_ENV

ACCOUNT = sandbox_demo.DEMO_ACCOUNT_ID

# Credentials of the integrations tests make (the sandbox accepts any; none is a real secret).
TEST_CREDENTIALS = Credentials("ck", "cs-secret", "tid", "ts-secret")


class System:
    def __init__(self, database_url: str, redis_url: str, work_dir: Path, monkeypatch):
        self.database_url, self.redis_url = database_url, redis_url
        self.work_dir = work_dir
        self.monkeypatch = monkeypatch
        self.children: list[Child] = []
        self.sandbox: Child | None = None
        self.base = ""
        self.env: dict[str, str] = {}

    def start(
        self,
        rate_limit: str = "5/2s",
        concurrency: int = 5,
        config: IntegrationConfig | None = None,
        kind: str | None = None,
        **extra_env: str,
    ) -> System:
        """`kind`: the sandbox account's kind (nue_ns/sandbox/kinds.py), else its default."""
        self.rate = RateLimit.parse(rate_limit)
        sandbox_env = os.environ.copy() | ({KIND_ENV: kind} if kind else {})
        self.sandbox, self.base = start_sandbox(sandbox_env, self.work_dir / "logs")
        self.children.append(self.sandbox)
        self.env = (
            demo_env(self.database_url, self.redis_url, f"{self.base}/services/rest", rate_limit)
            | {
                "NETSUITE_CONCURRENCY": str(concurrency),
                "NETSUITE_TIMEOUT": "3",
                "NUE_NS_LEASE_SECONDS": "15",
                "NUE_NS_DISPATCH_TIMEOUT": "10",
                "NUE_NS_PAUSE_ON_429": "1",
                "NUE_NS_PAUSE_ON_AUTH": "2",
                "NUE_NS_BACKOFF_BASE": "0.5",
                "NUE_NS_BACKOFF_MAX": "4",
                "NUE_NS_STATE_DIR": str(self.work_dir / "state"),
            }
            | extra_env
        )
        for key, value in self.env.items():
            if key.startswith(("NUE_NS_", "NETSUITE_")):
                self.monkeypatch.setenv(key, value)
        reset_settings()
        reset_context()
        self.ctx = get_context()
        ensure_default(self.ctx.engine, self.ctx.settings)
        save_config(self.ctx.engine, "default", config or IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1"))
        return self

    def workers(self, n: int, concurrency: int = 4, pool: str = "threads") -> list[Child]:
        started = [
            start_worker(self.env, self.work_dir / "logs", f"w{len(self.children)}-{i}", concurrency, pool)
            for i in range(n)
        ]
        self.children.extend(started)
        return started

    def beat(self, name: str = "beat") -> Child:
        child = start_beat(self.env, self.work_dir / "logs", name)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def cli(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
        """`nue-ns ARGS` in a process of its own, configured like the system (plus `env`)."""
        return subprocess.run(
            [sys.executable, "-m", "nue_ns.cli", *args],
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=120,
            input=stdin,
        )

    def cli_ok(self, *args: str, **env: str) -> str:
        """What `nue-ns ARGS` printed; the command must succeed."""
        out = self.cli(*args, **env)
        assert out.returncode == 0, out.stderr
        return out.stdout

    # ------------------------------------------------------------ observing

    def counts(self, ids: Iterable[int]) -> dict[str, int]:
        ids = list(ids)
        with session_scope(self.ctx.engine) as s:
            rows = s.execute(
                select(Record.state, func.count()).where(Record.id.in_(ids)).group_by(Record.state)
            )
            return dict(rows.all())

    def wait(
        self,
        ids: Iterable[int],
        states: Iterable[str] = (State.TRANSFERRED,),
        timeout: float = 120,
        what: str = "records",
    ) -> dict[str, int]:
        ids, states = list(ids), {str(s) for s in states}
        deadline = time.monotonic() + timeout
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = self.counts(ids)
            if sum(n for st, n in counts.items() if st in states) == len(ids):
                return counts
            time.sleep(0.3)
        raise AssertionError(
            f"{what} not all in {states} after {timeout}s: {counts}; logs in {self.work_dir}; "
            f"the first others: {self.reasons(ids, states)}"
        )

    def reasons(self, ids: list[int], but: set[str], limit: int = 5) -> list[str]:
        """Why records are not (yet) in `but`: their type, Nue id, state and the hub's reason."""
        with session_scope(self.ctx.engine) as s:
            rows = s.execute(
                select(Record.record_type, Record.nue_id, Record.state, Record.reason)
                .where(Record.id.in_(ids), Record.state.not_in(but))
                .limit(limit)
            ).all()
        return [f"{t} {n} {st}: {r}" for t, n, st, r in rows]

    def sandbox_get(self, path: str, **params) -> object:
        r = requests.get(f"{self.base}/_sandbox/{path}", params={"account": ACCOUNT} | params, timeout=10)
        r.raise_for_status()
        return r.json()

    def sandbox_post(self, path: str, body: dict) -> object:
        r = requests.post(f"{self.base}/_sandbox/{path}", json=body, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    def log(self) -> list[dict]:
        return self.sandbox_get("log")

    def ns_records(self, ns_type: str | None = None) -> list[dict]:
        return self.sandbox_get("records", **({"type": ns_type} if ns_type else {}))

    def stats(self) -> dict:
        return self.sandbox_get("stats", period=self.rate.period, limit=self.rate.calls)
