"""The per-account governor against fakeredis (with Lua) and the test session's real Redis.

Most tests drive time through the governor's test clock so the answers are exact; a few run on
Redis's own clock to show the production path. Real-Redis tests use a unique key prefix and
delete their keys afterwards; nothing is flushed on the shared server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import fakeredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from nue_ns.config import RateLimit
from nue_ns.governor import Denied, Governor, Grant, Seed

ACCOUNT = "TSTDRV1234567"
Backend = tuple[redis.Redis, str]  # a client and this test's key prefix
MakeGovernor = Callable[..., Governor]


class Clock:
    """A test clock: epoch seconds, kept in whole microseconds as the governor's scripts count."""

    def __init__(self) -> None:
        self.us = round(time.time() * 1e6)

    @property
    def now(self) -> float:
        return self.us / 1e6

    @now.setter
    def now(self, seconds: float) -> None:
        self.us = round(seconds * 1e6)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.us += round(seconds * 1e6)


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.servers)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    prefix = f"test-gov-{uuid.uuid4().hex}"
    if request.param == "fake":
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer()), prefix
        return
    # The session's own Redis (the configured one, or the embedded server): no fixed port.
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def make(backend: Backend) -> MakeGovernor:
    client, prefix = backend

    def build(calls: int = 3, period: float = 10.0, concurrency: int = 10, **kw: object) -> Governor:
        kw.setdefault("account_id", ACCOUNT)
        return Governor(
            client, rate=RateLimit(calls, period), concurrency=concurrency, key_prefix=prefix, **kw
        )

    return build


def grant(answer: Grant | Denied) -> Grant:
    assert isinstance(answer, Grant), answer
    return answer


def done(gov: Governor) -> Grant:
    """A call that was granted and answered at once (a call in flight counts as of now)."""
    answer = grant(gov.try_acquire())
    gov.release(answer.lease_id)
    return answer


def test_rate_limit_respected(make: MakeGovernor) -> None:
    gov = make(calls=3, period=10.0)
    grants = [grant(gov.try_acquire()) for _ in range(3)]
    assert len({g.lease_id for g in grants}) == 3
    for _ in range(3):
        denied = gov.try_acquire()
        assert isinstance(denied, Denied) and denied.reason == "rate"
        assert 9.9 < denied.retry_after <= 10.05


def test_retry_after_is_exact(make: MakeGovernor) -> None:
    clock = Clock()
    gov = make(calls=2, period=10.0, margin=0.01, clock=clock)  # effective window 10.1 s
    first = done(gov)
    clock.advance(3)
    done(gov)
    clock.advance(1)
    assert gov.try_acquire() == Denied(retry_after=pytest.approx(6.1, abs=1e-6), reason="rate")
    clock.now = first.granted_at + 10.1 - 1e-6
    assert gov.try_acquire() == Denied(retry_after=pytest.approx(1e-6, abs=1e-7), reason="rate")
    clock.now = first.granted_at + 10.1
    assert grant(gov.try_acquire()).granted_at == pytest.approx(first.granted_at + 10.1, abs=1e-6)


def test_limit_change_applies_at_once(make: MakeGovernor) -> None:
    clock = Clock()
    wide = make(calls=3, period=10.0, margin=0.0, clock=clock)
    first = done(wide)
    clock.advance(2)
    done(wide)
    clock.advance(1)
    # Lowered to 1 call: room appears only when the newer of the two calls leaves the window.
    narrow = make(calls=1, period=10.0, margin=0.0, clock=clock)
    assert narrow.try_acquire() == Denied(retry_after=pytest.approx(9.0, abs=1e-6), reason="rate")
    assert narrow.state().limit == 1 and narrow.state().calls_in_window == 2
    assert grant(wide.try_acquire()).granted_at == pytest.approx(first.granted_at + 3, abs=1e-6)


def test_retry_after_on_redis_clock(make: MakeGovernor) -> None:
    gov = make(calls=2, period=0.4, margin=0.0)
    first = done(gov)
    done(gov)
    denied = gov.try_acquire()
    assert isinstance(denied, Denied) and denied.reason == "rate" and 0.3 < denied.retry_after <= 0.4
    time.sleep(denied.retry_after)
    third = grant(gov.try_acquire())
    assert third.granted_at - first.granted_at >= 0.4


def test_release_frees_the_slot_not_the_token(make: MakeGovernor) -> None:
    gov = make(calls=3, period=10.0, concurrency=1)
    lease = grant(gov.try_acquire())
    busy = gov.try_acquire()
    assert isinstance(busy, Denied) and busy.reason == "concurrency" and 0 < busy.retry_after <= 0.05
    gov.release(lease.lease_id)
    gov.release(grant(gov.try_acquire()).lease_id)
    gov.release(grant(gov.try_acquire()).lease_id)
    spent = gov.try_acquire()
    assert isinstance(spent, Denied) and spent.reason == "rate"
    assert gov.state().in_flight == 0 and gov.state().calls_in_window == 3


def test_release_of_unknown_lease_changes_nothing(make: MakeGovernor) -> None:
    gov = make(concurrency=2)
    grant(gov.try_acquire())
    gov.release("not-a-lease")
    gov.release(f"{int(time.time() * 1e6)}:deadbeef")
    assert gov.state().in_flight == 1


def test_expired_lease_frees_its_slot(make: MakeGovernor) -> None:
    clock = Clock()
    gov = make(calls=5, period=10.0, concurrency=1, lease_seconds=5.0, clock=clock)
    grant(gov.try_acquire())  # a worker that dies without releasing
    clock.advance(4.99)
    assert gov.try_acquire() == Denied(retry_after=pytest.approx(0.01, abs=1e-6), reason="concurrency")
    clock.advance(0.01)
    grant(gov.try_acquire())


def test_expired_lease_on_redis_clock(make: MakeGovernor) -> None:
    gov = make(concurrency=1, lease_seconds=0.2)
    grant(gov.try_acquire())
    assert isinstance(gov.try_acquire(), Denied)
    time.sleep(0.21)
    grant(gov.try_acquire())


def test_pause_extends_never_shortens(make: MakeGovernor) -> None:
    clock = Clock()
    gov = make(clock=clock)
    gov.pause(10, "429 CONCURRENCY_LIMIT_EXCEEDED")
    gov.pause(5, "INVALID_LOGIN")
    state = gov.state()
    assert state.paused_until == pytest.approx(clock.now + 10, abs=1e-6)
    assert state.pause_reason == "429 CONCURRENCY_LIMIT_EXCEEDED"
    clock.advance(2)
    gov.pause(20, "INVALID_LOGIN")
    assert gov.state().pause_reason == "INVALID_LOGIN"
    assert gov.try_acquire() == Denied(retry_after=pytest.approx(20, abs=1e-6), reason="paused")
    clock.advance(20)
    grant(gov.try_acquire())
    assert gov.state().paused_until is None and gov.state().pause_reason is None


def test_pause_on_redis_clock_expires(make: MakeGovernor) -> None:
    gov = make()
    gov.pause(0.2, "429")
    denied = gov.try_acquire()
    assert isinstance(denied, Denied) and denied.reason == "paused" and 0.1 < denied.retry_after <= 0.2
    time.sleep(denied.retry_after + 0.01)
    grant(gov.try_acquire())


def test_state(make: MakeGovernor) -> None:
    gov = make(calls=4, period=10.0, concurrency=3)
    empty = gov.state()
    assert (empty.calls_in_window, empty.in_flight, empty.tokens_available) == (0, 0, 4)
    first = grant(gov.try_acquire())
    grant(gov.try_acquire())
    gov.release(first.lease_id)
    state = gov.state()
    assert state.account_id == ACCOUNT
    assert (state.calls_in_window, state.limit, state.period) == (2, 4, 10.0)
    assert (state.in_flight, state.concurrency, state.tokens_available) == (1, 3, 2)
    assert state.paused_until is None and state.pause_reason is None


def test_accounts_are_independent(make: MakeGovernor) -> None:
    one = make(calls=1, account_id="111111")
    other = make(calls=1, account_id="222222_SB1")
    grant(one.try_acquire())
    one.pause(30, "429")
    grant(other.try_acquire())
    assert other.state().calls_in_window == 1 and other.state().paused_until is None


def test_keys_share_a_hash_tag_and_expire(backend: Backend, make: MakeGovernor) -> None:
    client, prefix = backend
    gov = make(calls=2, period=10.0, lease_seconds=30.0)
    grant(gov.try_acquire())
    gov.pause(5, "429")
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:*"))
    base = f"{prefix}:{{{ACCOUNT}}}"
    assert keys == [f"{base}:{name}" for name in ("calls", "inflight", "pause", "seeded")]
    ttl = {k.rsplit(":", 1)[1]: client.pttl(k) for k in keys}
    # A call counts from its completion, up to a lease after its grant: its log lives that long too.
    assert 40_000 < ttl["calls"] <= 41_051 and 30_000 < ttl["inflight"] <= 31_000
    assert 40_000 < ttl["seeded"] <= 41_051 and 0 < ttl["pause"] <= 5_000


def test_seeding_after_data_loss(backend: Backend, make: MakeGovernor) -> None:
    client, prefix = backend
    clock = Clock()
    started: list[float] = []  # the hub's attempt log: when each call started (local clock) ...
    running: set[str] = set()  # ... and which are still in flight
    seeds: list[Seed] = []

    def seed() -> Seed:
        seeds.append(Seed(call_times=list(started), in_flight=len(running)))
        return seeds[-1]

    gov = make(calls=3, period=10.0, concurrency=3, margin=0.0, seed=seed, clock=clock)
    grants = []
    for _ in range(3):
        grants.append(grant(gov.try_acquire()))
        started.append(clock.now)
        running.add(grants[-1].lease_id)
        clock.advance(1)
    gov.release(grants[0].lease_id)
    running.discard(grants[0].lease_id)
    assert len(seeds) == 1  # the very first call found no marker

    for key in client.scan_iter(match=f"{prefix}:*"):  # Redis loses everything
        client.delete(key)

    denied = gov.try_acquire()
    assert len(seeds) == 2
    # The seeded calls keep the window full: the wait is what it was before the loss.
    assert isinstance(denied, Denied) and denied.reason == "rate"
    assert denied.retry_after == pytest.approx(grants[0].granted_at + 10 - clock.now, abs=1e-6)
    state = gov.state()
    assert (state.calls_in_window, state.in_flight) == (3, 2)
    # Leases granted before the loss free the placeholders that stand for them.
    gov.release(grants[1].lease_id)
    assert gov.state().in_flight == 1
    gov.release(grants[1].lease_id)  # a lease is freed once; the last placeholder waits for its own
    assert gov.state().in_flight == 1
    gov.release(grants[2].lease_id)
    assert gov.state().in_flight == 0
    clock.advance(10)
    grant(gov.try_acquire())
    assert len(seeds) == 2


def test_seeding_merges_with_what_survived(make: MakeGovernor, backend: Backend) -> None:
    client, prefix = backend
    clock = Clock()
    seeds = iter([Seed(call_times=[], in_flight=0), Seed(call_times=[clock.now], in_flight=2)])
    gov = make(calls=5, concurrency=3, clock=clock, seed=lambda: next(seeds))
    live = grant(gov.try_acquire())
    client.delete(f"{prefix}:{{{ACCOUNT}}}:seeded")  # only the marker lost (e.g. evicted)
    grant(gov.try_acquire())
    state = gov.state()
    # One call before, one seeded call, one new; in flight: the live lease + 1 placeholder + the new one.
    assert (state.calls_in_window, state.in_flight) == (3, 3)
    gov.release(live.lease_id)
    assert gov.state().in_flight == 2


def test_lease_granted_at_the_seeding_instant_frees_its_placeholder(
    make: MakeGovernor, backend: Backend
) -> None:
    client, prefix = backend
    clock = Clock()  # frozen: grant, loss, seeding and release all in one microsecond
    seeds = iter([Seed(call_times=[], in_flight=0), Seed(call_times=[clock.now], in_flight=1)])
    gov = make(calls=5, concurrency=1, clock=clock, seed=lambda: next(seeds))
    lease = grant(gov.try_acquire())
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    assert gov.try_acquire() == Denied(retry_after=0.05, reason="concurrency")
    gov.release(lease.lease_id)
    grant(gov.try_acquire())


def test_expired_lease_frees_no_placeholder(make: MakeGovernor, backend: Backend) -> None:
    client, prefix = backend
    clock = Clock()
    seeds = iter([Seed(call_times=[], in_flight=0), Seed(call_times=[], in_flight=2)])
    gov = make(concurrency=3, lease_seconds=5.0, clock=clock, seed=lambda: next(seeds))
    late = grant(gov.try_acquire())  # at t: its lease ends at t+5
    clock.advance(0.5)
    live = grant(gov.try_acquire())  # at t+0.5: its lease ends at t+5.5
    clock.advance(0.5)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    grant(gov.try_acquire())  # seeds two placeholders, counted until t+6
    clock.advance(4)  # t+5: `late` has expired, so releasing it now frees nothing
    gov.release(late.lease_id)
    assert gov.state().in_flight == 3
    clock.now = live.granted_at + 5 - 1e-6  # `live` is still live: it frees a placeholder
    gov.release(live.lease_id)
    assert gov.state().in_flight == 2


def test_seed_none_seeds_empty(make: MakeGovernor, backend: Backend) -> None:
    client, prefix = backend
    gov = make(calls=1)
    grant(gov.try_acquire())
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    grant(gov.try_acquire())
    assert isinstance(gov.try_acquire(), Denied)


def test_one_process_seeds_while_the_others_wait(make: MakeGovernor) -> None:
    calls: list[float] = []

    def slow_seed() -> Seed:
        calls.append(time.time())
        time.sleep(0.2)
        return Seed(call_times=[time.time()] * 2, in_flight=0)

    govs = [make(calls=3, seed=slow_seed) for _ in range(6)]
    answers: list[Grant | Denied] = []
    threads = [threading.Thread(target=lambda g=g: answers.append(g.try_acquire())) for g in govs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sum(isinstance(a, Grant) for a in answers) == 1  # 3 allowed, 2 already seeded


def test_seed_failure_propagates_and_frees_the_lock(make: MakeGovernor) -> None:
    def broken() -> Seed:
        raise RuntimeError("hub unavailable")

    with pytest.raises(RuntimeError, match="hub unavailable"):
        make(seed=broken).try_acquire()
    grant(make(seed=lambda: Seed(call_times=[], in_flight=0)).try_acquire())


def test_acquire_waits_for_the_window(make: MakeGovernor) -> None:
    gov = make(calls=1, period=0.3, margin=0.0)
    first = done(gov)
    second = grant(gov.acquire(max_wait=1.0))
    assert 0.3 <= second.granted_at - first.granted_at < 0.4


def test_acquire_waits_for_a_slot(make: MakeGovernor) -> None:
    gov = make(concurrency=1)
    lease = grant(gov.try_acquire())
    threading.Timer(0.2, gov.release, args=[lease.lease_id]).start()
    started = time.monotonic()
    grant(gov.acquire(max_wait=2.0))
    assert 0.15 < time.monotonic() - started < 1.0


def test_acquire_gives_up_at_once_when_the_wait_is_too_long(make: MakeGovernor) -> None:
    gov = make(calls=1, period=10.0)
    grant(gov.try_acquire())
    started = time.monotonic()
    denied = gov.acquire(max_wait=2.0)
    assert isinstance(denied, Denied) and denied.reason == "rate" and denied.retry_after > 9
    assert time.monotonic() - started < 0.1


def test_acquire_gives_up_after_max_wait(make: MakeGovernor) -> None:
    gov = make(concurrency=1)
    grant(gov.try_acquire())
    started = time.monotonic()
    denied = gov.acquire(max_wait=0.3)
    assert isinstance(denied, Denied) and denied.reason == "concurrency"
    assert 0.3 <= time.monotonic() - started < 0.5


def test_script_reloads_after_script_flush() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    gov = Governor(client, ACCOUNT, RateLimit(3, 10.0), 3)
    grant(gov.try_acquire())
    client.script_flush()  # what a Redis restart does to the script cache
    grant(gov.try_acquire())
    assert gov.state().calls_in_window == 2


def test_decoded_responses() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    gov = Governor(client, ACCOUNT, RateLimit(1, 10.0), 3)
    lease = grant(gov.try_acquire())
    gov.pause(5, "429")
    gov.release(lease.lease_id)
    state = gov.state()
    assert (state.in_flight, state.pause_reason) == (0, "429")


def test_connection_errors_propagate() -> None:
    nothing_there = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    gov = Governor(nothing_there, ACCOUNT, RateLimit(5, 60.0), 5)
    with pytest.raises(redis.ConnectionError):
        gov.try_acquire()


def test_rejects_braces_in_account_id() -> None:
    with pytest.raises(ValueError, match="braces"):
        Governor(fakeredis.FakeRedis(), "ab{c}", RateLimit(5, 60.0), 5)


def clocked(calls: int, period: float, concurrency: int, start: float) -> tuple[Governor, list[float]]:
    """A governor on a fresh fakeredis, driven by a clock the test moves by hand (now[0])."""
    now = [start]
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    gov = Governor(client, ACCOUNT, RateLimit(calls, period), concurrency, margin=0.0, clock=lambda: now[0])
    return gov, now


def test_a_call_counts_in_the_window_until_it_completes():
    """NetSuite may see a call arrive any time up to its answer, so the window runs from completion."""
    gov, now = clocked(calls=1, period=10.0, concurrency=2, start=1_000.0)
    first = gov.try_acquire()
    assert isinstance(first, Grant)
    now[0] += 4.0
    gov.release(first.lease_id)  # the answer came 4 s after the grant
    now[0] = 1_010.5  # 10.5 s after the grant, but only 6.5 s after the call ended
    denied = gov.try_acquire()
    assert isinstance(denied, Denied) and denied.reason == "rate"
    assert denied.retry_after == pytest.approx(3.5)
    now[0] = 1_014.0
    assert isinstance(gov.try_acquire(), Grant)


def test_a_call_given_up_on_keeps_its_slot_for_the_hold():
    gov, now = clocked(calls=100, period=1.0, concurrency=1, start=2_000.0)
    lease = gov.try_acquire()
    assert isinstance(lease, Grant)
    gov.release(lease.lease_id, hold=3.0)  # timed out: NetSuite may still be running it
    now[0] += 2.0
    denied = gov.try_acquire()
    assert isinstance(denied, Denied) and denied.reason == "concurrency"
    now[0] += 1.5
    again = gov.try_acquire()
    assert isinstance(again, Grant)
    gov.release(again.lease_id)  # answered: the slot is free at once
    assert isinstance(gov.try_acquire(), Grant)


def test_a_call_in_flight_keeps_counting_until_it_completes():
    """NetSuite may see a slow call arrive late: it never slides out of the window while in flight."""
    gov, now = clocked(calls=1, period=2.0, concurrency=2, start=3_000.0)
    slow = grant(gov.try_acquire())
    now[0] += 5.0  # long past the window, still waiting for NetSuite's answer
    assert isinstance(gov.try_acquire(), Denied)
    gov.release(slow.lease_id)  # answered now: counts from here
    now[0] += 1.9
    assert isinstance(gov.try_acquire(), Denied)
    now[0] += 0.2
    assert isinstance(gov.try_acquire(), Grant)
