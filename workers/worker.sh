#!/bin/sh
# Entry point of a worker container (or a systemd unit): a Celery worker on the nue-ns queues.
# Tuned by the environment so compose or Kubernetes need not rewrite the command; extra args pass through.
# Any number of workers may run: the per-account governor in Redis keeps them all within NetSuite's limits.
set -eu
exec nue-ns worker \
    --concurrency "${NUE_NS_WORKER_CONCURRENCY:-8}" \
    --pool "${NUE_NS_WORKER_POOL:-threads}" \
    --loglevel "${NUE_NS_LOG_LEVEL:-INFO}" \
    "$@"
