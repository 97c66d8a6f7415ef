"""Embedded servers are real: they start, accept connections, are shared between processes and stop."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

from nue_ns import embedded
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
    running_embedded,
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


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A fresh folder everyone may traverse, as a user's clone usually is. pytest's tmp_path is not
    (/tmp/pytest-of-root is 0700), and as root PostgreSQL runs as its own OS user, which must reach it."""
    folder = Path(tempfile.mkdtemp(prefix="nue-ns-test-"))
    folder.chmod(0o755)
    yield folder
    for state in [folder, *folder.iterdir()]:
        stop_embedded(state)
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_servers_are_shared_between_processes_and_stop(open_dir: Path) -> None:
    state = open_dir / "state"
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

        assert running_embedded(state) == ["postgres", "redis"]
        assert sorted(stop_embedded(state)) == ["postgres", "redis"]
        assert running_embedded(state) == []
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


def test_postgres_process_survives_crash_and_restart(open_dir: Path) -> None:
    with PostgresProcess(open_dir / "pg") as server:
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


def _modes(paths: list[Path]) -> dict[str, str]:
    return {str(p): oct(p.lstat().st_mode) for p in paths}


def _ancestors(path: Path) -> list[Path]:
    return [path, *path.parents]


def _install_tree() -> list[Path]:
    install = embedded._pg_install()
    return [*_ancestors(install), *install.rglob("*")]


def test_starting_embedded_servers_changes_no_permission_outside_the_state_dir(
    open_dir: Path, capsys
) -> None:
    """Root or not, the folders above the state dir and the PostgreSQL install keep their modes; each
    server started says so in one line on stderr (a command after `make stop` never restarts silently)."""
    state = open_dir / "state"
    watched = [*_ancestors(open_dir), *_install_tree()]
    before = _modes(watched)
    try:
        url = ensure_database_url(state)
        assert _select(url, "SELECT current_database()") == "nue_ns"
        ensure_redis_url(state)
        said = capsys.readouterr().err.splitlines()
        until = "it keeps running until `make stop`"
        assert said == [
            f"nue-ns: started embedded PostgreSQL in {state / 'postgres'}; {until}",
            f"nue-ns: started embedded Redis in {state / 'redis'}; {until}",
        ]
        ensure_database_url(state)
        ensure_redis_url(state)
        assert capsys.readouterr().err == ""  # reused: nothing to say
        if os.geteuid() == 0:  # PostgreSQL refuses root: it ran as its own OS user, named in the README
            owner = (state / "postgres").stat().st_uid
            assert owner == embedded.pwd.getpwnam(embedded._PG_OS_USER).pw_uid
    finally:
        stop_embedded(state)
    assert _modes(watched) == before


def test_a_private_parent_is_never_opened(open_dir: Path) -> None:
    """As root, a state dir below a private (0700) folder is refused with what to do; nothing opened.
    As any other user PostgreSQL runs as that user, who may enter the folder: it simply starts."""
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    state = private / "state"
    watched = [*_ancestors(private), *_install_tree()]
    before = _modes(watched)
    try:
        if os.geteuid() == 0:
            with pytest.raises(RuntimeError, match="NUE_NS_STATE_DIR") as exc:
                ensure_database_url(state)
            assert str(private) in str(exc.value) or str(state) in str(exc.value)
        else:
            assert _select(ensure_database_url(state), "SELECT 1") == 1
    finally:
        stop_embedded(state)
    assert _modes(watched) == before


def test_binaries_out_of_reach_are_copied_into_the_state_dir(open_dir: Path, monkeypatch) -> None:
    """A clone under a private home: as root, the PostgreSQL binaries are copied into the state dir
    rather than opening the home folder; as any other user they are used where they are."""
    hidden = open_dir / "home"
    hidden.mkdir(mode=0o700)
    install = embedded.copy_pg_install(embedded._pg_install(), hidden / "site-packages")
    monkeypatch.setattr(embedded, "_pg_install", lambda: install)
    state = open_dir / "state"
    before = _modes(_ancestors(hidden))
    try:
        assert _select(ensure_database_url(state), "SELECT 1") == 1
    finally:
        stop_embedded(state)
    assert (state / "pgsql" / "pgserver" / "pginstall" / "bin" / "postgres").exists() == (os.geteuid() == 0)
    assert _modes(_ancestors(hidden)) == before


def test_importing_the_configuration_starts_no_server(open_dir: Path) -> None:
    """Only an entry point that needs a server starts one: importing settings, Celery's configuration
    or the tasks module starts nothing; Celery's first use of its configuration starts Redis."""
    state = open_dir / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("NUE_NS_DATABASE_URL", "NUE_NS_REDIS_URL")}
    env["NUE_NS_STATE_DIR"] = str(state)
    code = (
        "import os, sys; import nue_ns.config, celeryconfig, nue_ns.tasks;"
        "print(os.path.exists(sys.argv[1]));"
        "print(nue_ns.tasks.app.conf.broker_url)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(state)], env=env, cwd=_REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    created_at_import, broker = proc.stdout.split()
    assert created_at_import == "False"
    assert broker == (state / "redis" / "url").read_text().strip()
    assert "started embedded Redis" in proc.stderr
    assert running_embedded(state) == ["redis"]


def test_the_postgres_user_runs_with_its_own_group_only():
    """Started by root, PostgreSQL (and the reach check) run as the OS user with its own group and no
    other: with root's groups kept, a root-group folder made o+x would be judged by its group bits."""
    me = embedded.pwd.getpwuid(os.geteuid()).pw_name
    assert embedded._identity(me) == {"user": me, "group": os.getegid(), "extra_groups": []}
    assert embedded._identity(None) == {}
    if os.geteuid() == 0:  # CI and the demo as root: the real switch
        embedded._ensure_os_user()
        user = embedded._PG_OS_USER
        folder = Path(tempfile.mkdtemp(prefix="nue-ns-reach-"))  # root's, in /tmp (pytest's own is private)
        try:
            folder.chmod(0o701)  # what _pg_runtime gives the state folder
            groups = embedded._as_user(user, "id", "-G").stdout.split()
            assert groups == [str(embedded.pwd.getpwnam(user).pw_gid)]
            assert embedded._reaches(user, folder)
        finally:
            folder.rmdir()
