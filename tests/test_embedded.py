"""Embedded servers are real: they start, accept connections, are shared between processes and stop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

from nue_ns.config import Settings
from nue_ns.embedded import (
    PostgresProcess,
    RedisProcess,
    create_database,
    drop_database,
    ensure_database_url,
    ensure_redis_url,
    normalize_database_url,
    redis_server_binary,
    resolve_urls,
    stop_embedded,
)

pytestmark = pytest.mark.servers  # starts servers of its own: not in make test-unit

_REPO = Path(__file__).resolve().parents[1]
_START_BOTH = (
    "import json, sys; from nue_ns.embedded import ensure_database_url, ensure_redis_url;"
    "print(json.dumps([ensure_database_url(sys.argv[1]), ensure_redis_url(sys.argv[1])]))"
)


def _select(url: str, query: str) -> object:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


def _unreachable(url: str) -> bool:
    try:
        _select(url, "SELECT 1")
    except sa.exc.OperationalError:
        return True
    return False


def test_embedded_servers_are_shared_between_processes_and_stop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # Three processes start the pair at once: the lock makes them share one PostgreSQL and one Redis.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START_BOTH, str(state)], stdout=subprocess.PIPE, text=True, cwd=_REPO
        )
        for _ in range(3)
    ]
    answers = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    try:
        database_url, redis_url = answers[0]
        assert answers == [[database_url, redis_url]] * 3
        assert database_url.startswith("postgresql+psycopg://")
        assert _select(database_url, "SELECT current_database()") == "nue_ns"
        client = redis.Redis.from_url(redis_url)
        assert client.ping()
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.set("kept", "1")

        # This process reuses the running servers rather than starting others.
        assert ensure_database_url(state) == database_url
        assert ensure_redis_url(state) == redis_url
        assert client.get("kept") == b"1"

        assert sorted(stop_embedded(state)) == ["postgres", "redis"]
        assert _unreachable(database_url)
        with pytest.raises(redis.ConnectionError):
            client.ping()
        assert stop_embedded(state) == []

        # Started again: same URLs (Redis returns to its port), data kept on disk.
        assert ensure_database_url(state) == database_url
        assert ensure_redis_url(state) == redis_url
        assert redis.Redis.from_url(redis_url).get("kept") == b"1"
    finally:
        stop_embedded(state)
    assert _unreachable(database_url)


def test_redis_process_restart_with_wipe_loses_data(tmp_path: Path) -> None:
    with RedisProcess(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        port = server.port

        server.restart(wipe=False)  # a crash: the append-only file brings the key back
        assert server.port == port
        assert client.get("k") == b"v"

        server.restart(wipe=True)
        assert server.port == port
        assert client.get("k") is None
        assert client.ping()


def test_redis_process_stop_refuses_connections(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=1)
    assert client.ping()
    server.stop(kill=True)
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_postgres_process_survives_crash_and_restart(tmp_path: Path) -> None:
    with PostgresProcess(tmp_path / "pg") as server:
        url = create_database(server.url, "chaos")
        assert url.endswith("/chaos")
        assert create_database(server.url, "chaos") == url  # idempotent
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (42)")

        server.stop(mode="immediate")
        assert _unreachable(url)
        server.start()
        assert _select(url, "SELECT v FROM t") == 42

        server.restart()
        assert _select(url, "SELECT count(*) FROM t") == 1
        drop_database(server.url, "chaos")
        assert _unreachable(url)
        assert _select(server.url, "SELECT count(*) FROM pg_database WHERE datname = 'chaos'") == 0


def test_configured_urls_win_and_start_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = Settings(
        NUE_NS_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test",
        NUE_NS_REDIS_URL="redis://127.0.0.1:6379/3",
        NUE_NS_STATE_DIR=str(state),
    )
    assert resolve_urls(settings) == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "redis://127.0.0.1:6379/3",
    )
    assert not state.exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u@h/db?sslmode=require", "postgresql+psycopg://u@h/db?sslmode=require"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_normalize_database_url(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_redis_server_binary_is_executable() -> None:
    out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True, check=True)
    assert "Redis server" in out.stdout
