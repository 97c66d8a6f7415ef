"""Structured (JSON) logs for every process, with the hub record and integration on each line.

Standard-library loggers (ours, Celery's, uvicorn's) all go through one structlog formatter, so a
line written anywhere during a transfer carries the ids that `bound()` put in the context. Values
of keys that look like secrets are masked before rendering, whoever logged them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import IO, Any

import structlog

_SECRET_KEY = re.compile(r"secret|password|token|authorization|api_key|cookie", re.IGNORECASE)


# An API key (nns_...) quoted anywhere in a message, e.g. a URL a client put it in.
_API_KEY = re.compile(r"nns_[A-Za-z0-9_-]{8,}")


def _mask_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _SECRET_KEY.search(key):
            event[key] = "***"
        elif isinstance(event[key], str) and "nns_" in event[key]:
            event[key] = _API_KEY.sub("nns_***", event[key])
    return event


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]


def configure(level: str | int = "INFO", *, json: bool = True, stream: IO[str] | None = None) -> None:
    """Send every log record of the process to `stream` (stderr) as one JSON object per line."""
    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],  # extras are masked too
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Add `values` (e.g. record_id, integration) to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
