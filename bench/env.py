"""One benchmark's world: its own hub database, a Redis database index no test holds, the sandbox
NetSuite and real worker/beat processes; everything is torn down (database dropped) afterwards.

PostgreSQL and Redis come from NUE_NS_DATABASE_URL / NUE_NS_REDIS_URL, else the embedded servers.
The Redis index is claimed once per process with the same key the test suite uses, so a bench and
a test session never share an index; Celery's broker URL is read once per process, hence once.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet

from nue_ns.config import Settings, reset_settings
from nue_ns.context import Context, get_context, reset_context
from nue_ns.embedded import create_database, drop_database, resolve_urls
from nue_ns.hub.db import dispose_engines, migrate
from nue_ns.hub.integrations import upsert_integration
from nue_ns.hub.models import Integration
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.netsuite.auth import Credentials
from nue_ns.processes import Child, free_port, nue_ns_argv, start_beat, start_sandbox, start_worker
from nue_ns.sandbox import demo as sandbox_demo

ROOT = Path(__file__).resolve().parent.parent
# Every bench account signs with the public demo credentials; the sandbox knows each by its realm.
CREDENTIALS = Credentials(
    sandbox_demo.DEMO_CONSUMER_KEY,
    sandbox_demo.DEMO_CONSUMER_SECRET,
    sandbox_demo.DEMO_TOKEN_ID,
    sandbox_demo.DEMO_TOKEN_SECRET,
)
CONFIG = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1")

_server_urls: tuple[str, str] | None = None
_redis_url: str | None = None


def server_urls() -> tuple[str, str]:
    global _server_urls
    if _server_urls is None:
        _server_urls = resolve_urls(Settings(NUE_NS_STATE_DIR=str(ROOT / ".nue-ns")))
    return _server_urls


def _with_db_index(url: str, index: int) -> str:
    base = url.split("?")[0].rstrip("/")
    if base.count("/") >= 3 and base.rsplit("/", 1)[1].isdigit():
        base = base.rsplit("/", 1)[0]
    return f"{base}/{index}"


def redis_url() -> str:
    """This process's Redis database index (1-15), claimed as the test suite claims one."""
    global _redis_url
    if _redis_url is not None:
        return _redis_url
    admin = redis.Redis.from_url(_with_db_index(server_urls()[1], 0))
    token = uuid.uuid4().hex
    for index in range(15, 0, -1):  # from the top: the tests claim from the bottom
        key = f"nue_ns:test-db-claim:{index}"
        if admin.set(key, token, nx=True, ex=3 * 3600):
            _redis_url = _with_db_index(server_urls()[1], index)
            redis.Redis.from_url(_redis_url).flushdb()

            atexit.register(_release, admin, key, token, _redis_url)
            return _redis_url
    raise RuntimeError("no free Redis database index (1-15)")


def _sandbox_account(account: str, concurrency: int) -> dict[str, object]:
    return {
        "account_id": account,
        "consumer_key": CREDENTIALS.consumer_key,
        "consumer_secret": CREDENTIALS.consumer_secret,
        "token_id": CREDENTIALS.token_id,
        "token_secret": CREDENTIALS.token_secret,
        "concurrency_limit": concurrency,
    }


def _release(admin: redis.Redis, key: str, token: str, url: str) -> None:
    redis.Redis.from_url(url).flushdb()
    if admin.get(key) == token.encode():
        admin.delete(key)


@dataclass
class World:
    name: str
    database_url: str
    redis_url: str
    work_dir: Path
    env: dict[str, str]

    def __post_init__(self) -> None:
        self.children: list[Child] = []
        self.base = ""

    @property
    def ctx(self) -> Context:
        return get_context()

    @property
    def logs(self) -> Path:
        return self.work_dir / "logs"

    def api(self) -> str:
        """Start the HTTP API on a free port; its base URL once /health answers (60 s at most)."""
        port = free_port()
        api = Child(
            "api", nue_ns_argv("api", "--port", str(port), "--loglevel", "WARNING"), self.env, self.logs
        )
        self.children.append(api)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        return base

    def sandbox(self, latency_ms: tuple[float, float] = (0, 0)) -> str:
        child, self.base = start_sandbox(self.env, self.logs)
        self.children.append(child)
        self.sandbox_post("latency", {"min_ms": latency_ms[0], "max_ms": latency_ms[1]})
        return self.base

    def accounts(
        self,
        n: int,
        rate_limit: str,
        concurrency: int = 5,
        prefix: str = "BENCH",
        config: IntegrationConfig = CONFIG,
    ) -> list[Integration]:
        """n NetSuite accounts, each an integration of the hub (and known to the sandbox if it runs)."""
        made = []
        for i in range(n):
            account = f"{prefix}{i:05d}"
            if self.base:
                self.sandbox_post("accounts", _sandbox_account(account, concurrency))
            made.append(
                upsert_integration(
                    self.ctx.engine,
                    self.ctx.settings,
                    account.lower(),
                    account_id=account,
                    credentials=CREDENTIALS,
                    rest_url=f"{self.base}/services/rest" if self.base else None,
                    rate_limit=rate_limit,
                    concurrency=concurrency,
                    config=config,
                )
            )
        return made

    def workers(self, n: int, concurrency: int, pool: str = "threads") -> None:
        for i in range(n):
            name = f"{self.name}-w{len(self.children)}-{i}"
            self.children.append(start_worker(self.env, self.logs, name, concurrency, pool))

    def wait_workers(self, n: int, timeout: float = 120) -> bool:
        """Until n worker logs say the worker is ready to take tasks."""

        def ready() -> int:
            logs = self.logs.glob(f"{self.name}-w*.log")
            return sum("ready" in p.read_text(errors="replace") for p in logs)

        return wait_until(lambda: ready() >= n, timeout)

    def beat(self) -> None:
        self.children.append(start_beat(self.env, self.logs))

    def sandbox_post(self, path: str, body: dict) -> Any:
        r = requests.post(f"{self.base}/_sandbox/{path}", json=body, timeout=30)
        r.raise_for_status()
        return r.json() if r.content else None

    def sandbox_get(self, path: str, **params: object) -> Any:
        r = requests.get(f"{self.base}/_sandbox/{path}", params=params, timeout=120)
        r.raise_for_status()
        return r.json()

    def calls(self, account: str | None = None) -> list[dict]:
        """The sandbox's call log: what NetSuite saw, with arrival times."""
        return self.sandbox_get("log", **({"account": account} if account else {}))

    def stop_children(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


@contextmanager
def world(name: str, **env: str) -> Iterator[World]:
    """A fresh database and Redis DB for one bench, this process configured to use them."""
    db_name = f"nue_ns_bench_{name}_{uuid.uuid4().hex[:8]}"
    database_url = create_database(server_urls()[0], db_name)
    migrate(database_url)
    rurl = redis_url()
    redis.Redis.from_url(rurl).flushdb()
    work_dir = Path(tempfile.mkdtemp(prefix=f"nue-ns-bench-{name}-"))
    settings = {
        "NUE_NS_DATABASE_URL": database_url,
        "NUE_NS_REDIS_URL": rurl,
        "NUE_NS_STATE_DIR": str(work_dir / "state"),
        "NUE_NS_SECRET_KEY": Fernet.generate_key().decode(),
        "NUE_NS_RETRY_SWEEP_SECONDS": "1",
        "NUE_NS_LEASE_SWEEP_SECONDS": "5",
        "NUE_NS_LEASE_SECONDS": "60",
        "NETSUITE_TIMEOUT": "10",
    } | env
    saved = dict(os.environ)
    for var in [v for v in os.environ if v.startswith(("NETSUITE_", "NUE_NS_"))]:
        del os.environ[var]  # no default integration from the caller's environment
    os.environ.update(settings)
    reset_settings()
    reset_context()
    w = World(name, database_url, rurl, work_dir, dict(os.environ))
    try:
        yield w
    finally:
        w.stop_children()
        reset_context()
        dispose_engines()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        drop_database(server_urls()[0], db_name)
        redis.Redis.from_url(rurl).flushdb()


def wait_until(predicate, timeout: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False
