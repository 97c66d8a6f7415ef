"""What the rest of nue-ns may use of the database directly: engines (one pooled engine per URL,
the health check's own), schema migrations and the pool's size, for the code that starts processes
(the context, the CLI, the demo, Celery's fork hook, /health); and the unit of work of a transfer
(a connection its thread keeps, transactions and autocommitted statements on it), so the use case
sets the boundaries of its transactions while every statement in them stays a hub function taking
the cursor.

Sessions and SQL stay inside hub/: nue_ns.hub.db is imported by hub modules only (an
import-linter contract in pyproject.toml), and ruff bans SQLAlchemy's SQL constructors elsewhere.
"""

from nue_ns.hub.db import (
    Hub,
    autocommitted,
    checkout,
    dispose_engines,
    drop_kept,
    get_engine,
    kept_connection,
    migrate,
    ping,
    size_pool,
    transaction,
)

__all__ = [
    "Hub",
    "autocommitted",
    "checkout",
    "dispose_engines",
    "drop_kept",
    "get_engine",
    "kept_connection",
    "migrate",
    "ping",
    "size_pool",
    "transaction",
]
