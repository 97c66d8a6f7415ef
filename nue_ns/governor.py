"""Per-NetSuite-account governor: rate limit, concurrency limit and pause, shared through Redis.

Every decision is one Lua script run on Redis's own clock (`TIME`), so any number of workers on
any number of hosts see one governor per account and no host's clock matters. The rate limit is
a sliding log (never more than `calls` grants in ANY window of `period` seconds, not fixed
buckets); the concurrency limit is a set of leases that expire, so a killed worker's slot comes
back after `lease_seconds`. One grant = one HTTP attempt.

Times inside Redis are integer microseconds: exact in Lua's doubles, so window arithmetic never
rounds. All of one account's keys share a hash tag and so one cluster slot.

If Redis loses the account's state (FLUSHALL, restart without persistence) the `:seeded` marker
is gone and the scripts refuse to decide until the state is rebuilt from `seed()` (the hub's
attempt log), so a flush never lets a window go over the limit.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

from nue_ns.config import RateLimit

_US = 1_000_000
_BUSY_POLL = 0.05  # seconds between polls while all concurrency slots are taken
_JITTER = 0.01  # up to this many seconds added to a sleep, so waiters don't wake together
_SEED_LOCK_MS = 10_000  # a seeding process that dies frees the lock after this long
_SEED_POLL = 0.01  # seconds between looks while another process seeds


@dataclass(frozen=True)
class Grant:
    lease_id: str
    granted_at: float  # Redis time, epoch seconds


@dataclass(frozen=True)
class Denied:
    retry_after: float  # seconds; exact for 'rate' and 'paused', a poll interval for 'concurrency'
    reason: str  # 'rate' | 'concurrency' | 'paused'


@dataclass(frozen=True)
class Seed:
    """What the durable attempt log knows, used to rebuild the governor after Redis lost it."""

    # Epoch seconds (local clock) of the calls made within at least the last period * (1 + margin);
    # older ones are ignored.
    call_times: list[float]
    in_flight: int  # calls in flight right now


@dataclass(frozen=True)
class GovernorState:
    account_id: str
    calls_in_window: int  # grants in the effective window, period * (1 + margin)
    limit: int
    period: float
    in_flight: int
    concurrency: int
    paused_until: float | None  # Redis time, epoch seconds
    pause_reason: str | None
    tokens_available: int  # rate tokens free right now (ignores concurrency and pause)


# Shared by every script. `now` is Redis TIME in microseconds unless a test passes an override.
_PRELUDE = """
local function clock(override)
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function int(x) return string.format('%.0f', x) end
local function ms(us) return math.max(1, math.ceil(us / 1000)) end
"""

# KEYS calls, inflight, pause, seeded; ARGV limit, window_us, concurrency, lease_us, token, now.
_ACQUIRE = (
    _PRELUDE
    + """
local calls, inflight, pause, seeded = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local concurrency, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = clock(ARGV[6])
local generation = redis.call('HGET', seeded, 'generation')
if not generation then return {'seed'} end

local paused = redis.call('GET', pause)
if paused then
  local till = tonumber(string.match(paused, '^(%d+)'))
  if till > now then return {'paused', till - now} end
end

-- A call still in flight counts as of now: NetSuite may not have seen it arrive yet, so it must
-- not slide out of the window before it completes (release then scores it at its completion).
for _, live in ipairs(redis.call('ZRANGEBYSCORE', inflight, '(' .. int(now), '+inf')) do
  redis.call('ZADD', calls, 'XX', 'GT', now, live)
end
redis.call('ZREMRANGEBYSCORE', calls, '-inf', now - window)
local used = redis.call('ZCARD', calls)
if used >= limit then
  -- room appears when the (used - limit + 1)-th oldest call leaves the window
  local entry = redis.call('ZRANGE', calls, used - limit, used - limit, 'WITHSCORES')
  return {'rate', tonumber(entry[2]) + window - now}
end

redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
if redis.call('ZCARD', inflight) >= concurrency then
  local first = redis.call('ZRANGE', inflight, 0, 0, 'WITHSCORES')
  return {'concurrency', tonumber(first[2]) - now}
end

local id = int(now) .. ':' .. generation .. ':' .. ARGV[5]
redis.call('ZADD', calls, now, id)
redis.call('ZADD', inflight, now + lease, id)
redis.call('PEXPIRE', calls, ms(window + lease) + 1000)  -- a call may be re-scored at completion
redis.call('PEXPIRE', inflight, ms(lease) + 1000)
redis.call('PEXPIRE', seeded, ms(window + lease) + 1000)
return {'grant', id, now}
"""
)

# KEYS inflight, seeded, calls; ARGV lease_id, lease_us, now, window_us, hold_us.
# Lease ids are "granted_us:generation:token".
# A live lease of an earlier generation (granted before the last seeding) is not in the set any
# more (Redis lost it): the seed counted it as a placeholder, so free one of those, once per lease
# (the marker hash remembers which leases did). An expired lease frees nothing: it stopped
# counting when it expired. A lease released after the loss but before the re-seed frees nothing
# and is remembered too: the attempt log may have it finished by then, so the seed's placeholders
# stand for other calls and a repeated release must not free one (if the seed did count it, its
# placeholder just waits out the lease: never over the limit).
_RELEASE = (
    _PRELUDE
    + """
local inflight, seeded, lease = KEYS[1], KEYS[2], ARGV[1]
-- NetSuite may see the call arrive any time up to its answer: from now on it counts in the
-- rate window from its completion, not its grant (only while it is still in the window).
local expires = redis.call('ZSCORE', inflight, lease)
local ended, hold = clock(ARGV[3]), tonumber(ARGV[5])
if expires and tonumber(expires) > ended then
  local counted = redis.call('ZSCORE', KEYS[3], lease)
  if counted and tonumber(counted) > ended - tonumber(ARGV[4]) then
    redis.call('ZADD', KEYS[3], 'XX', 'GT', ended, lease)
  end
  -- a call the client gave up on may still run in NetSuite: keep its slot a while longer
  if hold > 0 then
    redis.call('ZADD', inflight, 'XX', ended + hold, lease)
    redis.call('PEXPIRE', inflight, ms(hold) + 1000)
    return 1
  end
end
if redis.call('ZREM', inflight, lease) == 1 then return 1 end
local mark = redis.call('HMGET', seeded, 'generation', 'placeholders')
local generation, placeholders = mark[1], mark[2]
local granted_at, granted_in = string.match(lease, '^(%d+):(%x+):')
if not granted_at or granted_in == generation then return 0 end
if tonumber(granted_at) + tonumber(ARGV[2]) <= clock(ARGV[3]) then return 0 end
if redis.call('HEXISTS', seeded, lease) == 1 then return 0 end
if not generation then  -- not re-seeded yet; the marker outlives the lease, and seeding keeps it
  redis.call('HSET', seeded, lease, 1)
  redis.call('PEXPIRE', seeded, ms(tonumber(ARGV[2])) + 1000)
  return 0
end
for i = 1, tonumber(placeholders) do
  if redis.call('ZREM', inflight, 'seed:' .. generation .. ':' .. i) == 1 then
    redis.call('HSET', seeded, lease, 1)
    return 1
  end
end
return 0
"""
)

# KEYS calls, inflight, seeded; ARGV window_us, lease_us, in_flight, now, generation, ages_us...
# Seed calls merge with whatever survived; in-flight placeholders only top up the live leases.
_SEED = (
    _PRELUDE
    + """
local calls, inflight, seeded = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HEXISTS', seeded, 'generation') == 1 then return 0 end  -- (it may hold only releases)
local window, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, generation = clock(ARGV[4]), ARGV[5]
for i = 6, #ARGV do
  local age = tonumber(ARGV[i])
  if age < window then redis.call('ZADD', calls, now - age, 'seed:' .. generation .. ':c' .. i) end
end
redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
local missing = math.max(0, tonumber(ARGV[3]) - redis.call('ZCARD', inflight))
for i = 1, missing do redis.call('ZADD', inflight, now + lease, 'seed:' .. generation .. ':' .. i) end
redis.call('PEXPIRE', calls, ms(window + lease) + 1000)
redis.call('PEXPIRE', inflight, ms(lease) + 1000)
redis.call('HSET', seeded, 'generation', generation, 'placeholders', missing)
redis.call('PEXPIRE', seeded, ms(window + lease) + 1000)
return 1
"""
)

# KEYS pause; ARGV seconds_us, reason, now. Stores "until_us|reason"; never moves `until` earlier.
_PAUSE = (
    _PRELUDE
    + """
local span = tonumber(ARGV[1])
if span <= 0 then return 0 end
local till = clock(ARGV[3]) + span
local current = redis.call('GET', KEYS[1])
if current and tonumber(string.match(current, '^(%d+)')) >= till then return 0 end
redis.call('SET', KEYS[1], int(till) .. '|' .. ARGV[2], 'PX', ms(span))
return 1
"""
)

# KEYS calls, inflight, pause; ARGV window_us, now. Read only.
_STATE = (
    _PRELUDE
    + """
local now = clock(ARGV[2])
local used = redis.call('ZCOUNT', KEYS[1], '(' .. int(now - tonumber(ARGV[1])), '+inf')
local busy = redis.call('ZCOUNT', KEYS[2], '(' .. int(now), '+inf')
return {used, busy, now, redis.call('GET', KEYS[3]) or ''}
"""
)

# KEYS lock; ARGV token. Delete the lock only if it is still ours.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Governor:
    """The governor of one NetSuite account. Cheap to build; holds no state outside Redis.

    `clock` is for tests only: it replaces Redis TIME (and the local clock that seeding reads) with
    epoch seconds the test controls.
    Redis connection errors propagate (the caller defers the record).
    """

    def __init__(
        self,
        redis: Redis,
        account_id: str,
        rate: RateLimit,
        concurrency: int,
        *,
        margin: float = 0.005,
        lease_seconds: float = 300.0,
        seed: Callable[[], Seed] | None = None,
        key_prefix: str = "nue_ns:gov",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if "{" in account_id or "}" in account_id:
            raise ValueError("account_id must not contain braces (they delimit the key hash tag)")
        if concurrency < 1 or margin < 0 or lease_seconds <= 0:
            raise ValueError("need concurrency >= 1, margin >= 0, lease_seconds > 0")
        self.account_id = account_id
        self.rate = rate
        self.concurrency = concurrency
        self._redis = redis
        self._seed = seed
        self._clock = clock
        # Margin: slack so that jitter between the grant and the request reaching NetSuite never
        # puts limit+1 calls into one NetSuite-side window.
        self._window_us = math.ceil(rate.period * (1 + margin) * _US)
        self._lease_us = math.ceil(lease_seconds * _US)
        base = f"{key_prefix}:{{{account_id}}}"
        self._calls, self._inflight = f"{base}:calls", f"{base}:inflight"
        self._pause_key, self._seeded, self._lock = f"{base}:pause", f"{base}:seeded", f"{base}:seedlock"
        # register_script runs EVALSHA and reloads the script if Redis answers NOSCRIPT.
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._release_script = redis.register_script(_RELEASE)
        self._seed_script = redis.register_script(_SEED)
        self._pause_script = redis.register_script(_PAUSE)
        self._state_script = redis.register_script(_STATE)
        self._unlock_script = redis.register_script(_UNLOCK)

    def try_acquire(self) -> Grant | Denied:
        """Take one rate token and one concurrency slot, or say how long to wait.

        If Redis lost the account's state, first rebuilds it from `seed()` (whose errors propagate).
        """
        keys = [self._calls, self._inflight, self._pause_key, self._seeded]
        while True:
            args = [self.rate.calls, self._window_us, self.concurrency, self._lease_us, uuid.uuid4().hex]
            reply = self._acquire_script(keys=keys, args=[*args, self._now_arg()])
            kind = _text(reply[0])
            if kind == "grant":
                return Grant(lease_id=_text(reply[1]), granted_at=int(reply[2]) / _US)
            if kind == "seed":
                self._rebuild()
                continue
            wait = int(reply[1]) / _US
            return Denied(retry_after=min(wait, _BUSY_POLL) if kind == "concurrency" else wait, reason=kind)

    def acquire(self, max_wait: float) -> Grant | Denied:
        """Poll `try_acquire` for at most `max_wait` seconds.

        Returns a denial at once when its exact wait ('rate', 'paused') outlasts `max_wait`:
        nothing another worker does can shorten it, so waiting would only hold the worker.
        """
        deadline = time.monotonic() + max_wait
        while True:
            answer = self.try_acquire()
            remaining = deadline - time.monotonic()
            if isinstance(answer, Grant) or remaining <= 0:
                return answer
            if answer.reason != "concurrency" and answer.retry_after > remaining:
                return answer
            time.sleep(min(answer.retry_after + random.uniform(0, _JITTER), remaining))

    def release(self, lease_id: str, hold: float = 0.0) -> None:
        """Free the concurrency slot; the rate token stays spent.

        `hold`: keep the slot this many more seconds (a call that timed out on our side may
        still be running in NetSuite, which would answer the next call with a 429)."""
        args = [lease_id, self._lease_us, self._now_arg(), self._window_us, round(hold * _US)]
        self._release_script(keys=[self._inflight, self._seeded, self._calls], args=args)

    def pause(self, seconds: float, reason: str) -> None:
        """Deny every grant for `seconds` from now; extends a pause, never shortens one."""
        self._pause_script(keys=[self._pause_key], args=[round(seconds * _US), reason, self._now_arg()])

    def state(self) -> GovernorState:
        """What the account's governor holds right now (read only; does not seed)."""
        used, busy, now, pause = self._state_script(
            keys=[self._calls, self._inflight, self._pause_key], args=[self._window_us, self._now_arg()]
        )
        until_us, _, reason = _text(pause).partition("|")
        paused = bool(until_us) and int(until_us) > int(now)
        return GovernorState(
            account_id=self.account_id,
            calls_in_window=int(used),
            limit=self.rate.calls,
            period=self.rate.period,
            in_flight=int(busy),
            concurrency=self.concurrency,
            paused_until=int(until_us) / _US if paused else None,
            pause_reason=reason if paused else None,
            tokens_available=max(0, self.rate.calls - int(used)),
        )

    def _now_arg(self) -> str:
        return "" if self._clock is None else str(round(self._clock() * _US))

    def _rebuild(self) -> None:
        """Reload the account's state from `seed()` under a short lock, or wait for whoever holds it."""
        token = uuid.uuid4().hex
        if not self._redis.set(self._lock, token, nx=True, px=_SEED_LOCK_MS):
            time.sleep(_SEED_POLL)
            return
        try:
            if self._redis.hexists(self._seeded, "generation"):  # someone seeded since our script
                return
            seed = self._seed() if self._seed is not None else Seed(call_times=[], in_flight=0)
            # Ages, not times: the script places each call at redis_now - age, on Redis's clock.
            local_now = self._clock() if self._clock is not None else time.time()
            ages = [max(0, round((local_now - t) * _US)) for t in seed.call_times]
            generation = uuid.uuid4().hex[:12]
            args = [self._window_us, self._lease_us, seed.in_flight, self._now_arg(), generation, *ages]
            self._seed_script(keys=[self._calls, self._inflight, self._seeded], args=args)
        finally:
            self._unlock_script(keys=[self._lock], args=[token])
