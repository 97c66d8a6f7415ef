"""Alembic environment: runs migrations under an advisory lock so concurrent starters are safe."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from nue_ns.hub.models import Base

_LOCK_KEY = 741_852_963  # arbitrary, fixed: serialises migrations across processes


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        conn.commit()
        try:
            context.configure(connection=conn, target_metadata=Base.metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()


run()
