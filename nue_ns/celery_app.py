"""The Celery app, its configuration and its process signals, apart from the tasks: whoever only
sends a task by name (dispatch.py) imports this, not the tasks and all they import."""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import setup_logging, worker_process_init

from nue_ns.context import reset_context
from nue_ns.hub.engines import dispose_engines

app = Celery("nue_ns")
app.config_from_object("celeryconfig")


@app.on_after_configure.connect
def _embedded_broker(sender, source, **_kwargs) -> None:
    # Celery reads its configuration on first use (a worker starting, a task sent), not at import:
    # only then is the embedded Redis started, when no NUE_NS_REDIS_URL names one.
    if not source.broker_url:
        from nue_ns.config import get_settings
        from nue_ns.embedded import resolve_redis_url

        source.broker_url = resolve_redis_url(get_settings())


@setup_logging.connect
def _json_logs(loglevel=None, **_kwargs) -> None:
    # Structured JSON lines, with the hub id and integration bound during each transfer.
    from nue_ns.config import get_settings
    from nue_ns.logging import configure

    configure(loglevel or "INFO")
    if not get_settings().task_events:
        # Celery's two INFO lines per task ("received", "succeeded") cost about 0.2 ms of a
        # worker's CPU per record and repeat what the hub's attempt log holds; they come with the
        # task events. A task that fails still logs at ERROR.
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


@worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    # A forked pool child must not reuse the parent's database or Redis sockets.
    dispose_engines()
    reset_context()
