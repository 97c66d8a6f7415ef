"""Engine, sessions and schema migrations for the Transaction Hub."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from nue_ns.config import get_settings

_MIGRATIONS = Path(__file__).with_name("migrations")
_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def normalise_url(url: str) -> str:
    """psycopg 3 is the driver; accept plain postgres:// URLs from users and platforms."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str, **kwargs) -> Engine:
    """One pooled engine per URL per process (workers fork: see tasks.py, which disposes on fork).

    The pool keeps NUE_NS_DB_POOL_SIZE connections (10 if unset), or what `size_pool` set: a
    worker sizes it to its threads, so that each keeps one instead of PostgreSQL opening new ones
    every second."""
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            size = kwargs.pop("pool_size", None) or _pool_size or get_settings().db_pool_size or 10
            engine = create_engine(url, pool_pre_ping=True, pool_size=size, max_overflow=20, **kwargs)
            _engines[url] = engine
        return engine


_pool_size: int | None = None  # set by a worker (size_pool)


def size_pool(size: int) -> None:
    """Pools made from now on keep `size` connections (those made before are disposed)."""
    global _pool_size
    _pool_size = max(1, size)
    dispose_engines()


_probe_engines: dict[str, Engine] = {}


def probe_engine(url: str) -> Engine:
    """A one-connection engine of its own for health checks: a burst of producers holding every
    connection of the main pool must not make the health check wait, or fail, behind them."""
    url = normalise_url(url)
    with _lock:
        engine = _probe_engines.get(url)
        if engine is None:
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=1, max_overflow=1, pool_timeout=2,
                connect_args={"connect_timeout": 2},
            )  # fmt: skip
            _probe_engines[url] = engine
        return engine


def ping(url: str) -> None:
    """`SELECT 1` on the health check's own engine (probe_engine); raises if the database is down."""
    with probe_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
            _makers.pop(engine, None)
        _engines.clear()
        for engine in _probe_engines.values():
            engine.dispose(close=False)
        _probe_engines.clear()


_makers: dict[Engine, sessionmaker] = {}


def _maker(engine: Engine) -> sessionmaker:
    # One factory per engine: building a sessionmaker per transaction costs more than the query.
    maker = _makers.get(engine)
    if maker is None:
        maker = _makers.setdefault(engine, sessionmaker(engine, expire_on_commit=False))
    return maker


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: commit on success, roll back on any error."""
    session = _maker(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_IDLE = psycopg.pq.TransactionStatus.IDLE


@contextmanager
def _fresh(engine: Engine) -> Iterator[psycopg.Connection]:
    """A connection of the pool besides the one this thread holds (which is inside a transaction)."""
    proxied = engine.raw_connection()
    try:
        conn = proxied.driver_connection
        assert isinstance(conn, psycopg.Connection)
        yield conn
    finally:
        proxied.close()


# A hub handle for the plain-SQL statements: the engine (a connection is checked out of its pool
# for the transaction) or a psycopg connection already checked out for a unit of work (a transfer).
Hub = Engine | psycopg.Connection


_held = threading.local()


@contextmanager
def checkout(engine: Engine, *, keep: bool = False) -> Iterator[psycopg.Connection]:
    """One connection of the engine's pool for a unit of work of several transactions (one
    checkout, one liveness ping), handed back at the end. Meanwhile this thread's `transaction`s
    on the engine run on it too (the gateway's attempt log during a transfer's linked calls).

    `keep`: the thread keeps the connection for its next unit of work (a worker thread, record
    after record: no checkout and no ping each time). One that broke is dropped at the end, and
    `fresh` checks out a new one for a unit of work that found its kept one dead."""
    held = getattr(_held, "conn", None)
    if held is not None and held[0] is engine:
        yield held[1]
        return
    kept = getattr(_held, "kept", None)
    if keep and kept is not None and (kept[0] != os.getpid() or kept[1] is not engine):
        kept = _held.kept = None  # another process's (forked) or engine's: never touch its socket
    proxied = kept[2] if keep and kept is not None else engine.raw_connection()
    try:
        conn = proxied.driver_connection
        assert isinstance(conn, psycopg.Connection)
        _held.conn = (engine, conn)
        yield conn
    finally:
        _held.conn = None
        # Kept only within the pool's size: an overflow connection goes back (and is closed).
        pool = engine.pool
        within = not isinstance(pool, QueuePool) or pool.checkedout() <= pool.size()
        if keep and within and not (conn.closed or conn.broken):
            _held.kept = (os.getpid(), engine, proxied)
        else:
            _held.kept = None
            if keep and (conn.closed or conn.broken):
                proxied.invalidate()
            proxied.close()


def kept_connection(engine: Engine) -> bool:
    """Whether this thread keeps a connection of `engine` (used without a liveness ping)."""
    kept = getattr(_held, "kept", None)
    return kept is not None and kept[0] == os.getpid() and kept[1] is engine


def drop_kept() -> None:
    """Forget this thread's kept connection (it failed): the next checkout takes a pinged one."""
    kept = getattr(_held, "kept", None)
    _held.kept = None
    if kept is not None and kept[0] == os.getpid():
        kept[2].invalidate()


@contextmanager
def transaction(hub: Hub) -> Iterator[psycopg.Cursor]:
    """One transaction of prebuilt SQL on plain psycopg (no ORM: the hot path's statements cost a
    tenth of theirs): commit on success, roll back on any error. (libpq's pipeline mode saves
    round trips but costs more CPU in psycopg than it saves: measured, not used.)"""
    if isinstance(hub, Engine):
        held = getattr(_held, "conn", None)
        if _between(held, hub):
            hub = held[1]  # this thread's unit of work holds one, between its transactions
        else:
            with checkout(hub) if held is None else _fresh(hub) as conn, transaction(conn) as cur:
                yield cur
            return
    cur = hub.cursor()
    try:
        yield cur
        hub.commit()
    except BaseException:
        hub.rollback()
        raise


@contextmanager
def autocommitted(hub: Hub) -> Iterator[psycopg.Cursor]:
    """A cursor whose every statement is a transaction of its own (autocommit: no BEGIN and COMMIT
    round trips), for statements that need no atomicity with each other (READ COMMITTED gives
    each statement its own snapshot either way)."""
    if isinstance(hub, Engine):
        held = getattr(_held, "conn", None)
        if _between(held, hub):
            hub = held[1]
        else:
            with checkout(hub) if held is None else _fresh(hub) as conn, autocommitted(conn) as cur:
                yield cur
            return
    hub.autocommit = True
    try:
        yield hub.cursor()
    finally:
        # A connection that died meanwhile is left as it is: psycopg refuses to change its mode
        # ("the connection is lost"), an error that would replace the one the caller should see.
        if not (hub.closed or hub.broken):
            hub.autocommit = False


def _between(held: tuple[Engine, psycopg.Connection] | None, engine: Engine) -> bool:
    """Whether this thread's unit of work holds a connection of `engine` between its transactions
    (idle, and not inside an autocommitted block, whose statements must stay one each)."""
    return (
        held is not None
        and held[0] is engine
        and held[1].info.transaction_status == _IDLE
        and not held[1].autocommit
    )


def statement(hub: Hub, sql: str, params: Mapping[str, Any]) -> psycopg.Cursor:
    """One statement as a transaction of its own (autocommitted); its cursor, to read what it
    returned."""
    with autocommitted(hub) as cur:
        return cur.execute(sql, params)


def migrate(url: str, revision: str = "heads") -> None:
    """Bring the hub schema to `revision` with Alembic (safe to call from several processes)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)
