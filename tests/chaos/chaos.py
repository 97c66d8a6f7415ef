"""A chaos run: a month of billing records of every type through real worker processes while
workers are SIGKILLed, Redis is flushed or restarted empty, PostgreSQL is restarted, beat is
killed, restarted and doubled, and the sandbox NetSuite injects faults. Then the figures that
prove nothing was lost, duplicated, sent early or sent too fast.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from nue_ns.embedded import PostgresProcess, RedisProcess
from nue_ns.hub.batch_store import OPEN
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Attempt, Batch, NetSuiteLink, Record, State
from nue_ns.integration import SANDBOX_GL, IntegrationConfig
from nue_ns.processes import Child
from nue_ns.producer import enqueue_many
from tests.harness import ACCOUNT, System
from tests.oauth_support import DEMO_CERT, DEMO_CLIENT, keypair, map_certificate, oauth2_env

# Faults the sandbox injects on any NetSuite call, each with a small probability.
FAULTS = ("429", "500", "timeout", "lost_after_commit", "locked")
# Send order: dependants first, so the hub must hold them until their prerequisites are in NetSuite.
SEND_ORDER = ("refund", "payment", "credit_memo", "invoice", "order", "product", "customer")
ITEM_TYPES = {"nonInventorySaleItem", "serviceSaleItem", "inventoryItem"}


@dataclass
class Plan:
    data: dict[str, list[dict[str, Any]]]  # record type -> records (nue_ns.sample.month)
    rate_limit: str = "40/2s"
    concurrency: int = 5
    workers: int = 3
    kill_every: float = 4.0  # seconds between worker SIGKILLs
    fault_probability: float = 0.02  # per fault kind, per call
    max_attempts: int = 10  # NUE_NS_MAX_ATTEMPTS: the product's default
    fault_delay: float = 3.5  # timeouts and late answers: past the client's 3 s timeout
    flushdb_at: float | None = 6.0  # seconds into the run
    beat_kill_at: float = 9.0
    second_beat_at: float = 14.0
    redis_restart_at: float | None = None  # needs `redis_server`
    postgres_restart_at: float | None = None  # needs `postgres_server`
    redis_server: RedisProcess | None = None
    postgres_server: PostgresProcess | None = None
    enqueue_chunks: int = 4  # records arrive in this many rounds, spread over the first seconds
    timeout: float = 150.0
    seed: int = 7
    oauth2_token_lifetime: float | None = None  # OAuth 2.0 with tokens this short-lived; None: TBA
    # Scheduled mode with batches (nue_ns/batches.py): jobs are also lost with this probability.
    batches: bool = False
    lost_job_probability: float = 0.05


@dataclass
class Figures:
    records: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    not_transferred: list[str] = field(default_factory=list)  # each with its state, attempts and why
    elapsed_s: float = 0.0
    events: Counter = field(default_factory=Counter)  # chaos done: kills, flushes, restarts
    missed_events: list[str] = field(default_factory=list)  # planned but not done
    calls: int = 0
    puts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    unsolicited_429: int = 0  # refused by NetSuite's own concurrency limit, not injected
    netsuite_records: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    non_upsert_writes: int = 0
    prerequisite_violations: list[str] = field(default_factory=list)
    references_checked: int = 0
    limit: int = 0
    period: float = 0.0
    busiest_window: int = 0
    busiest_window_nearby: list[str] = field(default_factory=list)
    concurrency: int = 0
    max_in_flight: int = 0
    hub_attempts_put: int = 0
    unlogged_puts: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"chaos run: {self.records} records {self.by_type} in {self.elapsed_s:.1f} s",
            f"  chaos: {dict(self.events)}",
            f"  hub states: {self.states}",
            f"  NetSuite calls: {self.calls} ({self.puts} PUT) statuses {self.statuses}",
            f"  faults injected: {self.faults}; 429s not injected: {self.unsolicited_429}",
            f"  NetSuite records: {self.netsuite_records}; duplicates {len(self.duplicates)}, "
            f"missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"writes not by externalId {self.non_upsert_writes}",
            f"  prerequisites: {self.references_checked} references checked, "
            f"{len(self.prerequisite_violations)} created before what they reference",
            f"  busiest {self.period:g}s window: {self.busiest_window} calls (limit {self.limit}); "
            f"max in flight {self.max_in_flight} (limit {self.concurrency}); "
            f"chaos near the busiest window: {self.busiest_window_nearby}",
            f"  audit log: {self.hub_attempts_put} PUT attempts for {self.puts} sandbox PUTs; "
            f"PUTs without an attempt row: {self.unlogged_puts}",
        ]
        return "\n".join(lines)


def busiest_window(times: list[float], period: float) -> tuple[int, float]:
    """Most calls whose start falls in any window of `period` seconds (sliding, exact), and when
    that window starts."""
    times = sorted(times)
    best, at, lo = 0, 0.0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= period:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, times[lo]
    return best, at


def _retrying(fn: Callable[[], Any], seconds: float = 60.0) -> Any:
    """Run a hub query, riding out a PostgreSQL restart."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Chaos:
    """The faults of a plan, done from a background thread while the records flow."""

    def __init__(self, system: System, plan: Plan, workers: list[Child], beats: list[Child]):
        self.system, self.plan = system, plan
        self.workers, self.beats = workers, beats
        self.rng = random.Random(plan.seed)
        self.events: Counter = Counter()
        self.errors: list[BaseException] = []
        self.pending = self._schedule()
        self.timeline: list[tuple[float, str]] = []  # (epoch seconds, what was done)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        if self.errors:
            raise self.errors[0]

    def _schedule(self) -> list[tuple[float, str, Callable[[], None]]]:
        p = self.plan
        once = [
            (p.flushdb_at, "redis FLUSHDB", self._flushdb),
            (p.beat_kill_at, "beat killed and restarted", self._restart_beat),
            (p.second_beat_at, "second beat started", self._second_beat),
            (p.redis_restart_at, "redis restarted empty", self._restart_redis),
            (p.postgres_restart_at, "postgres restarted (crash)", self._restart_postgres),
        ]
        return sorted((t, name, fn) for t, name, fn in once if t is not None)

    def wait_for_schedule(self) -> None:
        """Until every one-off fault has happened (records may settle before the last is due)."""
        while self.pending and self._thread.is_alive():
            time.sleep(0.2)

    def _run(self) -> None:
        pending = self.pending
        next_kill = self.plan.kill_every
        try:
            while not self._stop.wait(0.1):
                now = time.monotonic() - self.t0
                while pending and pending[0][0] <= now:
                    _, name, fn = pending[0]
                    fn()
                    self.events[name] += 1
                    self.timeline.append((time.time(), name))
                    pending.pop(0)  # only now: wait_for_schedule() returns once it is done
                if now >= next_kill:
                    self._kill_a_worker()
                    next_kill += self.plan.kill_every * self.rng.uniform(0.5, 1.5)
        except BaseException as exc:  # surfaced by stop()
            self.errors.append(exc)

    def _kill_a_worker(self) -> None:
        victim = self.rng.choice(self.workers)
        victim.kill()  # SIGKILL, whatever it was doing
        victim.proc.wait(10)
        self.workers.remove(victim)
        self.workers.extend(self.system.workers(1))
        self.events["worker SIGKILLed and replaced"] += 1
        self.timeline.append((time.time(), "worker SIGKILLed"))

    def _flushdb(self) -> None:
        redis.Redis.from_url(self.system.redis_url).flushdb()

    def _restart_beat(self) -> None:
        beat = self.beats.pop(0)
        beat.kill()
        beat.proc.wait(10)
        time.sleep(1.0)
        self.beats.append(self.system.beat(f"beat-{len(self.system.children)}"))

    def _second_beat(self) -> None:
        self.beats.append(self.system.beat(f"beat-{len(self.system.children)}"))

    def _restart_redis(self) -> None:
        assert self.plan.redis_server is not None
        self.plan.redis_server.restart(wipe=True)

    def _restart_postgres(self) -> None:
        assert self.plan.postgres_server is not None
        self.plan.postgres_server.restart(mode="immediate")


def run(system: System, plan: Plan) -> Figures:
    """Start the system, send every record while the chaos runs, wait, and take the figures."""
    batch_env = {
        "NUE_NS_BATCH_SWEEP_SECONDS": "2",
        "NUE_NS_BATCH_POLL_FIRST": "0.3",
        "NUE_NS_BATCH_POLL_MAX": "2",
    }
    system.start(
        rate_limit=plan.rate_limit,
        concurrency=plan.concurrency,
        config=IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1", scheduled_mode=True)
        if plan.batches
        else None,
        **(batch_env if plan.batches else {}),
        NUE_NS_LEASE_SECONDS="8",
        NUE_NS_LEASE_SWEEP_SECONDS="2",
        NUE_NS_DISPATCH_TIMEOUT="5",
        NUE_NS_RETRY_SWEEP_SECONDS="1",
        NUE_NS_MAX_ATTEMPTS=str(plan.max_attempts),
        **(oauth2_env(system.work_dir) if plan.oauth2_token_lifetime else {}),
    )
    if plan.oauth2_token_lifetime:
        map_certificate(system.base, ACCOUNT, DEMO_CLIENT, DEMO_CERT, keypair()[1])
        system.sandbox_post("oauth/config", {"token_lifetime_s": plan.oauth2_token_lifetime})
    if plan.batches:
        system.sandbox_post("async", {"lost_job_probability": plan.lost_job_probability, "seed": plan.seed})
    for n, kind in enumerate(FAULTS):
        fault = {"kind": kind, "probability": plan.fault_probability, "seed": plan.seed + n}
        system.sandbox_post(
            "faults",
            fault | ({"delay_s": plan.fault_delay} if kind in ("timeout", "lost_after_commit") else {}),
        )
    workers = system.workers(plan.workers, concurrency=4)
    beats = [system.beat()]
    chaos = Chaos(system, plan, workers, beats)
    started = time.monotonic()
    chaos.start()
    try:
        ids = _enqueue(plan)
        _wait_settled(system, ids, plan.timeout)
        chaos.wait_for_schedule()
        _wait_settled(system, ids, plan.timeout)
    finally:
        chaos.stop()
    figures = Figures(elapsed_s=time.monotonic() - started, events=chaos.events)
    figures.missed_events = [name for _, name, _ in chaos.pending]
    _measure(system, plan, ids, figures, chaos.timeline)
    return figures


def _enqueue(plan: Plan) -> list[int]:
    """Every record, dependants first, in rounds: each round a slice of every type."""
    ids: list[int] = []
    n = plan.enqueue_chunks
    for k in range(n):
        for record_type in SEND_ORDER:
            items = plan.data.get(record_type, [])
            chunk = items[k * len(items) // n : (k + 1) * len(items) // n]
            if chunk:
                ids += [a.id for a in enqueue_many(record_type, chunk)]
        time.sleep(0.5)
    return ids


def _wait_settled(system: System, ids: list[int], timeout: float, stall: float = 90.0) -> None:
    """Until no record is open (transferred, or failed: needing a person). Gives up early when
    nothing moved for `stall` seconds: a record stuck for good must not cost the whole timeout."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    last_change = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < stall:
        try:
            now = system.counts(ids)
        except DBAPIError:  # PostgreSQL is restarting
            time.sleep(0.5)
            continue
        if now != counts:
            counts, last_change = now, time.monotonic()
        if sum(counts.get(s, 0) for s in (State.TRANSFERRED, State.FAILED)) == len(ids):
            return
        time.sleep(0.5)
    # Which limit ended the wait: a slow run still moving at its deadline is not a stuck record.
    idle = time.monotonic() - last_change
    why = f"nothing moved for {idle:.0f}s" if idle >= stall else f"still moving at the {timeout:.0f}s limit"
    seen = {
        "not transferred": lambda: _open(system, ids),
        "open batches": lambda: _open_batches(system),
        "locks": lambda: _locks(system),
        "PostgreSQL sessions busy or in a transaction": lambda: _sessions(system),
        "the sandbox's accounts": lambda: system.sandbox_get("accounts"),
        "the last calls for the open records": lambda: _last_calls(system, ids),
        "the sandbox's last answers": lambda: _last_answers(system),
    }
    raise AssertionError(
        f"records not settled ({why}): {counts}; logs in {system.work_dir}; "
        + "; ".join(f"{what}: {_or_why_not(look)}" for what, look in seen.items())
    )


def _or_why_not(look: Callable[[], Any]) -> Any:
    """What `look` finds, or why it could not look (a server down must not hide the failure)."""
    try:
        return look()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def _open(system: System, ids: list[int]) -> list[str]:
    """The records not transferred (open ones, and failed ones with why), for a failed run's message."""
    with session_scope(system.ctx.engine) as s:
        not_done = select(Record).where(Record.id.in_(ids), Record.state != State.TRANSFERRED)
        rows = s.scalars(not_done.order_by(Record.id).limit(20))
        return [
            f"#{r.id} {r.record_type} {r.nue_id} {r.state} after {r.attempts} attempt(s): "
            f"{r.reason} {r.waiting_on} (batch {r.batch_id}, leased by {r.leased_by} until "
            f"{r.lease_expires_at}, next attempt {r.next_attempt_at}, updated {r.updated_at})"
            for r in rows
        ]


def _open_batches(system: System) -> list[str]:
    """The open batches (in scheduled mode a record can only be as quick as its batch)."""
    with session_scope(system.ctx.engine) as s:
        rows = s.scalars(select(Batch).where(Batch.state.in_(OPEN)).order_by(Batch.id))
        return [
            f"batch {b.id} {b.record_type} {b.state} job {b.job_id} progress {b.progress} "
            f"submits {b.submits} polls {b.polls} next_at {b.next_at} detail {b.detail}"
            for b in rows
        ]


def _sessions(system: System) -> list[str]:
    """Sessions of the hub's database not idle, or holding a transaction open (a blocked worker)."""
    sql = text(
        "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 160) "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (state <> 'idle' OR xact_start IS NOT NULL)"
    )
    with system.ctx.engine.connect() as conn:
        return [" | ".join(str(v) for v in row) for row in conn.execute(sql)]


def _last_calls(system: System, ids: list[int], n: int = 12) -> list[str]:
    """The hub's last attempts of the records not transferred (when, what, how it ended)."""
    with session_scope(system.ctx.engine) as s:
        open_ids = select(Record.id).where(Record.id.in_(ids), Record.state != State.TRANSFERRED)
        rows = s.scalars(
            select(Attempt).where(Attempt.record_id.in_(open_ids)).order_by(Attempt.id.desc()).limit(n)
        )
        return [
            f"#{a.record_id} {a.started_at:%H:%M:%S.%f} {a.method} {a.url.rsplit('/', 2)[-2:]} "
            f"{a.status} {a.outcome} {a.error_code} {a.elapsed_ms} {a.worker}"
            for a in rows
        ]


def _last_answers(system: System, n: int = 12) -> list[str]:
    return [
        f"{time.strftime('%H:%M:%S', time.gmtime(c['t_start']))} {c['method']} {c['path'][-40:]} "
        f"{c['status']} fault {c['fault']} {c['t_end'] - c['t_start']:.2f}s"
        for c in system.log()[-n:]
    ]


def _locks(system: System) -> dict[str, float]:
    """Redis locks held now, with the seconds each has left."""
    r = redis.Redis.from_url(system.redis_url)
    keys = [*r.scan_iter("nue_ns:sweep:*"), *r.scan_iter("nue_ns:batcher:*")]
    return {key.decode(): r.pttl(key) / 1000 for key in keys}


def _measure(
    system: System, plan: Plan, ids: list[int], f: Figures, timeline: list[tuple[float, str]]
) -> None:
    f.records = len(ids)
    f.by_type = {t: len(v) for t, v in plan.data.items()}
    f.states = _retrying(lambda: system.counts(ids))
    f.not_transferred = _retrying(lambda: _open(system, ids))
    log = system.log()
    api = [c for c in log if c["path"].startswith("/services/rest/")]
    f.calls = len(api)
    puts = [c for c in api if c["method"] == "PUT"]
    f.puts = len(puts)
    f.statuses = dict(Counter(str(c["status"]) for c in api))
    f.faults = dict(Counter(c["fault"] for c in api if c["fault"]))
    f.unsolicited_429 = sum(1 for c in api if c["status"] == 429 and not c["fault"])
    f.non_upsert_writes = sum(1 for c in api if _unkeyed_write(c))
    f.limit, f.period = system.rate.calls, system.rate.period
    f.busiest_window, at = busiest_window([c["t_start"] for c in api], system.rate.period)
    f.busiest_window_nearby = [  # what the chaos did around the busiest window, for a post-mortem
        f"{name} at {t - at:+.2f}s" for t, name in timeline if at - 2 * f.period <= t <= at + 2 * f.period
    ]
    (system.work_dir / "sandbox-log.json").write_text(json.dumps(log))
    stats = system.stats()
    f.max_in_flight, f.concurrency = stats["max_in_flight"], plan.concurrency
    f.duplicates = stats["duplicates"]

    ns_records = system.ns_records()
    f.netsuite_records = len(ns_records)
    expected = _retrying(lambda: _expected_external_ids(system, ids))
    seen = Counter((_group(r["type"]), r["externalId"]) for r in ns_records)
    f.duplicates += [f"{g}:{eid}" for (g, eid), n in seen.items() if n > 1]
    f.missing = sorted(f"{g}:{eid}" for g, eid in expected - set(seen))
    f.unexpected = sorted(f"{g}:{eid}" for g, eid in set(seen) - expected)
    f.prerequisite_violations, f.references_checked = _prerequisites(ns_records)

    f.hub_attempts_put = _retrying(lambda: _attempt_count(system))
    logged = _retrying(lambda: _attempts_by_external_id(system))
    sent = Counter(c["external_id"] for c in puts if c["external_id"])  # a batch names no single record
    f.unlogged_puts = sorted(f"{eid} x{n - logged[eid]}" for eid, n in sent.items() if n > logged[eid])


def _group(ns_type: str) -> str:
    return "item" if ns_type in ITEM_TYPES else ns_type


def _expected_external_ids(system: System, ids: list[int]) -> set[tuple[str, str]]:
    with session_scope(system.ctx.engine) as s:
        rows = s.execute(
            select(NetSuiteLink.ns_type, NetSuiteLink.external_id)
            .join(Record, Record.id == NetSuiteLink.record_id)
            .where(Record.id.in_(ids))
        )
        return {(_group(t), eid) for t, eid in rows}


def _attempt_count(system: System) -> int:
    with session_scope(system.ctx.engine) as s:
        return s.scalar(select(func.count()).select_from(Attempt).where(Attempt.method == "PUT"))


def _attempts_by_external_id(system: System) -> Counter:
    with session_scope(system.ctx.engine) as s:
        urls = s.scalars(select(Attempt.url).where(Attempt.method == "PUT"))
        return Counter(u.rsplit("/eid:", 1)[1].split("?")[0] for u in urls if "/eid:" in u)


def _refs(value: Any) -> list[str]:
    """Internal ids this body references ({"id": ...} anywhere below the top level)."""
    out: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("id"), str):
            out.append(value["id"])
        for v in value.values():
            out += _refs(v)
    elif isinstance(value, list):
        for v in value:
            out += _refs(v)
    return out


def _unkeyed_write(call: dict[str, Any]) -> bool:
    """A write NetSuite could repeat: not an upsert by externalId, not a transform that carries the
    new record's externalId, not a PATCH closing a sales order's lines (idempotent)."""
    if call["method"] not in ("POST", "PATCH", "DELETE") or call["type"] == "suiteql":
        return False
    if call["method"] == "POST" and "/!transform/" in call["path"] and call["external_id"]:
        return False
    return not (call["method"] == "PATCH" and call["type"] == "salesOrder")


def _prerequisites(ns_records: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Each record references only records NetSuite created before it (internal ids are in
    creation order): customers and items before documents, invoices before their payments."""
    ours = {r["id"]: r for r in ns_records}
    violations, checked = [], 0
    for rec in ns_records:
        body = {k: v for k, v in rec["body"].items() if k != "id"}
        for ref in set(_refs(body)):
            if ref in ours and ref != rec["id"]:
                checked += 1
                if int(ref) > int(rec["id"]):
                    violations.append(
                        f"{rec['externalId']} (#{rec['id']}) before {ours[ref]['externalId']} (#{ref})"
                    )
    return violations, checked


def assert_sound(f: Figures, expected_failures: int = 0) -> None:
    assert f.states.get(State.TRANSFERRED, 0) == f.records - expected_failures, (f.states, f.not_transferred)
    assert f.states.get(State.FAILED, 0) == expected_failures, (f.states, f.not_transferred)
    assert f.duplicates == [] and f.missing == [] and f.unexpected == []
    assert f.non_upsert_writes == 0
    assert f.references_checked > 0 and f.prerequisite_violations == []
    assert f.busiest_window <= f.limit, f"busiest window {f.busiest_window} > limit {f.limit}"
    assert f.max_in_flight <= f.concurrency
    assert f.hub_attempts_put >= f.puts, f"{f.puts - f.hub_attempts_put} NetSuite PUTs not in the audit log"
    assert f.unlogged_puts == []
    assert set(f.faults) == set(FAULTS), f"not every fault kind fired: {f.faults}"
    assert f.events["worker SIGKILLed and replaced"] >= 1 and f.missed_events == []
