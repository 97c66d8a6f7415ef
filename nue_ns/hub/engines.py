"""What the rest of nue-ns may use of the database directly: engines (one pooled engine per URL,
the health check's own) and schema migrations, for the code that starts processes (the context,
the CLI, the demo, Celery's fork hook, /health).

Sessions stay inside hub/: nue_ns.hub.db, which opens them, is imported by hub modules only (an
import-linter contract in pyproject.toml); everything else calls a named hub function.
"""

from nue_ns.hub.db import dispose_engines, get_engine, migrate, ping

__all__ = ["dispose_engines", "get_engine", "migrate", "ping"]
