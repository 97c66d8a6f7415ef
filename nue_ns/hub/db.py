"""Engine, sessions and schema migrations for the Transaction Hub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

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
    """One pooled engine per URL per process (workers fork: see tasks.py, which disposes on fork)."""
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=kwargs.pop("pool_size", 10), max_overflow=20, **kwargs
            )
            _engines[url] = engine
        return engine


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


def migrate(url: str, revision: str = "heads") -> None:
    """Bring the hub schema to `revision` with Alembic (safe to call from several processes)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)
