"""One OAuth 2.0 access token per integration, shared by every worker on every host through Redis.

The token lives in Redis only, Fernet-encrypted with NUE_NS_SECRET_KEY (so a Redis dump holds no
usable token), never in the hub, a log line or a task's arguments. It is renewed ahead of its expiry
by exactly one process, the holder of a Redis lock (SET NX PX with a random value), while every
other process keeps using the current one. When Redis loses it (a flush, a restart), the next
caller takes the lock and fetches a new one; the others wait briefly for it.

Whether NetSuite counts a token request against the account's limits is not documented
(section_162755359851 is silent): it is governed like any call, paying one governor token.

A 401 on a record call (sync.py) leads to exactly one refresh: `unauthorized()` drops the shared
token if it is the one that failed and marks the next one as fetched after a 401; a 401 with that
next token too means NetSuite refuses the integration itself, and the account is paused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
import requests
from cryptography.fernet import Fernet, InvalidToken

from nue_ns.governor import Denied, Governor
from nue_ns.netsuite.auth import TOKEN_PATH
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError, transient

log = logging.getLogger(__name__)

# Compare-and-delete: only the holder of the lock (or of the failing token) removes the key.
_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# The token entry is dropped only if it still holds the failing token (fingerprint match).
_DROP_TOKEN = """
local raw = redis.call('get', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw)['fp'] ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"""
SAFETY_S = 5.0  # a token this close to its expiry (at most a tenth of its life) is not handed out
POLL_S = 0.05


class TokenSlotDenied(Exception):
    """No token yet: the governor gave the token request no call slot, or another process is
    still fetching it. `denied` says why and how long to wait."""

    def __init__(self, denied: Denied) -> None:
        self.denied = denied
        super().__init__(f"no OAuth 2.0 access token yet ({denied.reason})")


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, repr=False)
class Entry:
    token: str
    expires_at: float  # epoch seconds
    refresh_at: float  # one process renews it from then on
    use_until: float  # not handed out after this: a call could reach NetSuite after the expiry
    after_401: bool  # fetched because NetSuite refused the previous token

    def __repr__(self) -> str:
        return f"Entry(token=<redacted>, expires_at={self.expires_at}, after_401={self.after_401})"


class TokenKeeper:
    """The shared token of one integration's OAuth 2.0 client."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        fetch: Callable[[], tuple[str, float]],
        governor: Governor,
        fernet: Fernet,
        *,
        refresh_ahead: float = 300.0,
        fetch_timeout: float = 30.0,
    ) -> None:
        self.redis = client
        self.key = key
        self.lock_key = f"{key}:lock"
        self.invalidated_key = f"{key}:invalidated"
        self._fetch = fetch
        self.governor = governor
        self._fernet = fernet
        self.refresh_ahead = refresh_ahead
        self.fetch_timeout = fetch_timeout
        self._delete_if = client.register_script(_DELETE_IF)
        self._drop_token = client.register_script(_DROP_TOKEN)
        self._cache: tuple[bytes, Entry] | None = None

    def __repr__(self) -> str:
        return f"TokenKeeper(key={self.key!r})"

    # ------------------------------------------------------------------ reading

    def current(self) -> Entry | None:
        raw = self.redis.get(self.key)
        if raw is None:
            return None
        cached = self._cache
        if cached and cached[0] == raw:
            return cached[1]
        try:
            data = json.loads(raw)
            plain = json.loads(self._fernet.decrypt(data["enc"].encode()))
        except (ValueError, KeyError, InvalidToken):
            log.warning(
                "the shared OAuth 2.0 token in Redis is unreadable (another secret key?); fetching anew"
            )
            return None
        entry = Entry(**plain)
        self._cache = (raw, entry)
        return entry

    # ------------------------------------------------------------------ the token

    def ensure(self, max_wait: float) -> str:
        """A token valid for a while yet. Renews it ahead of expiry (one process does, the others use
        the current one); fetches one when there is none, waiting up to `max_wait` for a NetSuite
        call slot or for another process's fetch. NetSuiteError when none can be had."""
        deadline = time.monotonic() + max_wait
        while True:
            entry = self.current()
            now = time.time()
            if entry is not None and now < entry.refresh_at:
                return entry.token
            usable = entry is not None and now < entry.use_until
            lock = self._lock()
            if lock is not None:
                try:
                    return self._renew(entry if usable else None, deadline)
                finally:
                    self._delete_if(keys=[self.lock_key], args=[lock])
            if usable:
                return entry.token  # another process is renewing it
            if time.monotonic() >= deadline:  # another process is still fetching it
                raise TokenSlotDenied(Denied(retry_after=POLL_S, reason="token being fetched"))
            time.sleep(POLL_S)

    def _lock(self) -> str | None:
        value = uuid.uuid4().hex
        ttl_ms = int((self.fetch_timeout + 10.0) * 1000)
        return value if self.redis.set(self.lock_key, value, nx=True, px=ttl_ms) else None

    def _renew(self, usable: Entry | None, deadline: float) -> str:
        """Under the lock: fetch a token, paying a governor token. With a usable token in hand this
        never waits and never fails: the current token serves until the next caller tries again."""
        entry = self.current()  # another process may have renewed it since we looked
        if entry is not None and time.time() < entry.refresh_at:
            return entry.token
        wait = 0.0 if usable is not None else max(0.0, deadline - time.monotonic())
        grant = self.governor.acquire(wait) if wait > 0 else self.governor.try_acquire()
        if isinstance(grant, Denied):
            if usable is not None:
                return usable.token
            raise TokenSlotDenied(grant)
        hold = 0.0
        try:
            token, lifetime = self._fetch()
        except NetSuiteError as err:
            hold = self.fetch_timeout if err.status is None and err.kind is Kind.TRANSIENT else 0.0
            if usable is not None:
                log.warning("renewing the OAuth 2.0 token failed (%s); the current one serves meanwhile", err)
                return usable.token
            raise
        finally:
            self.governor.release(grant.lease_id, hold=hold)
        after_401 = bool(self.redis.delete(self.invalidated_key))
        now = time.time()
        ahead = min(self.refresh_ahead, lifetime / 5)
        safety = min(SAFETY_S, lifetime / 10)
        plain = {
            "token": token,
            "expires_at": now + lifetime,
            "refresh_at": now + lifetime - ahead,
            "use_until": now + lifetime - safety,
            "after_401": after_401,
        }
        value = json.dumps(
            {"fp": fingerprint(token), "enc": self._fernet.encrypt(json.dumps(plain).encode()).decode()}
        )
        ttl_ms = max(1, int((lifetime - safety) * 1000))
        self.redis.set(self.key, value, px=ttl_ms)
        return token

    def unauthorized(self, token: str | None) -> bool:
        """NetSuite answered 401 to a call made with `token`. True: a new token is due, send the
        record again; False: the token fetched after the last 401 failed too, pause the account."""
        if token is None:
            return False
        entry = self.current()
        if entry is None or entry.token != token:
            return True  # someone already replaced it: the next call uses the new one
        # Dropped either way: after the pause a new token is tried (one per pause, never a loop).
        ttl_ms = int(max(60.0, entry.expires_at - time.time()) * 1000)
        self._drop_token(keys=[self.key, self.invalidated_key], args=[fingerprint(token), ttl_ms])
        return not entry.after_401


def from_token_endpoint(err: NetSuiteError) -> bool:
    """The error came from the token request, not from a call that carried a token."""
    return err.exchange is not None and err.exchange.url.endswith(TOKEN_PATH)


class SharedBearer(requests.auth.AuthBase):
    """requests auth sending the shared token; remembers per thread which token a call carried."""

    def __init__(self, keeper: TokenKeeper, max_wait: float) -> None:
        self.keeper = keeper
        self.max_wait = max_wait
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SharedBearer({self.keeper!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        try:
            token = self.keeper.ensure(self.max_wait)
        except TokenSlotDenied as exc:  # the token vanished since the gateway made sure of it
            raise transient(str(exc), Exchange("POST", TOKEN_PATH)) from None
        self._local.token = token
        r.headers["Authorization"] = f"Bearer {token}"
        return r

    def unauthorized(self) -> bool:
        """The last call of this thread got a 401: see TokenKeeper.unauthorized."""
        return self.keeper.unauthorized(getattr(self._local, "token", None))
