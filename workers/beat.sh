#!/bin/sh
# Entry point of the beat container (or a systemd unit): celery beat, which schedules the sweeps.
# Run exactly one. A second by mistake does no harm (sweeps are locked and idempotent), only extra load.
set -eu
exec nue-ns beat --loglevel "${NUE_NS_LOG_LEVEL:-INFO}" "$@"
