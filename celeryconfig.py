"""Celery settings for nue-ns workers and beat.

acks_late + prefetch 1: a task is acknowledged only after it ran, and a worker holds at most one
task it has not started. No countdown/eta anywhere: deferred work returns to the hub with a due
time and the retry sweep dispatches it (eta tasks on Redis are redelivered after the visibility
timeout and run twice).
"""

from nue_ns.config import get_settings

_settings = get_settings()

# None without NUE_NS_REDIS_URL: importing this module starts nothing; the app fills in the embedded
# Redis when it is configured (nue_ns/tasks.py), i.e. in a worker, beat or a process sending a task.
broker_url = _settings.redis_url
broker_connection_retry_on_startup = True
broker_transport_options = {"visibility_timeout": 3600}
task_ignore_result = True
result_backend = None

task_serializer = "json"
accept_content = ["json"]
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# Task events (Flower's view) cost a few Redis publishes per task: opt-in (NUE_NS_TASK_EVENTS);
# Flower can also switch them on in running workers (`celery control enable_events`).
worker_send_task_events = _settings.task_events
task_send_sent_event = _settings.task_events

task_default_queue = "nue_ns"
task_routes = {
    "nue_ns.transfer": {"queue": "nue_ns"},
    "nue_ns.batch_work": {"queue": "nue_ns"},
    "nue_ns.retry_sweep": {"queue": "nue_ns.sweeps"},
    "nue_ns.batch_sweep": {"queue": "nue_ns.sweeps"},
    "nue_ns.recover_leases": {"queue": "nue_ns.sweeps"},
}

beat_schedule = {
    "batch-sweep": {"task": "nue_ns.batch_sweep", "schedule": _settings.batch_sweep_seconds},
    "retry-sweep": {"task": "nue_ns.retry_sweep", "schedule": _settings.retry_sweep_seconds},
    "recover-leases": {"task": "nue_ns.recover_leases", "schedule": _settings.lease_sweep_seconds},
}
# In-memory schedule: nothing on disk for two beats started by mistake to fight over; the sweeps
# are idempotent and locked, so a restarted beat simply starts its intervals again.
beat_scheduler = "celery.beat:Scheduler"

# Inbound (NetSuite -> Nue): the SuiteQL poller and webhook delivery.
task_routes |= {
    "nue_ns.inbound_poll": {"queue": "nue_ns.sweeps"},
    "nue_ns.deliver_events": {"queue": "nue_ns.sweeps"},
}
beat_schedule |= {
    "inbound-poll": {"task": "nue_ns.inbound_poll", "schedule": _settings.inbound_poll_seconds},
    "deliver-events": {"task": "nue_ns.deliver_events", "schedule": _settings.webhook_deliver_seconds},
}
