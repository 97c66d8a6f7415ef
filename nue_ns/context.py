"""A process's connections: the hub, Redis, and one NetSuite client and governor per integration.

Built once per process (workers rebuild after fork). Integrations are re-read when they change,
so a mapping saved by an operator applies to the next record without a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass

import redis
from sqlalchemy import Engine

from nue_ns.account_profile import AccountProfile
from nue_ns.config import RateLimit, Settings, get_settings
from nue_ns.embedded import resolve_urls
from nue_ns.governor import Governor, Seed
from nue_ns.hub import attempts
from nue_ns.hub import integrations as hub_integrations
from nue_ns.hub.engines import get_engine
from nue_ns.hub.models import Integration
from nue_ns.integration import IntegrationConfig
from nue_ns.netsuite.auth import (
    TOKEN_PATH,
    OAuth2ClientCredentials,
    OAuth2Credentials,
    rest_base_url,
    tba_auth,
)
from nue_ns.netsuite.client import NetSuiteClient
from nue_ns.secrets import decrypt, fernet, from_environment
from nue_ns.tokens import SharedBearer, TokenKeeper

SEED_SETTLE_SECONDS = 0.5


@dataclass
class Connection:
    """What a worker needs to talk to one integration's NetSuite account."""

    integration: Integration
    config: IntegrationConfig
    client: NetSuiteClient
    governor: Governor
    profile: AccountProfile | None = None  # None until the account was read
    bearer: SharedBearer | None = None  # OAuth 2.0: the integration's shared access token


class Context:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.database_url, self.redis_url = resolve_urls(self.settings)
        self.engine: Engine = get_engine(self.database_url)
        self.redis = redis.Redis.from_url(self.redis_url, socket_timeout=10, health_check_interval=30)
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        self._connections: dict[int, Connection] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ integrations

    def integration(self, name_or_id: str | int) -> Integration:
        found = hub_integrations.find(self.engine, name_or_id)
        if found is None:
            raise LookupError(f"no integration named {name_or_id!r}")
        return found

    def connection(self, integration_id: int, updated_at: dt.datetime | None = None) -> Connection:
        """Cached per integration, rebuilt as soon as the integration row changed (a saved mapping
        applies to the very next record). `updated_at`: the row's, when the caller just read it
        (a transfer's claim does, in the same statement), saving a query."""
        if updated_at is None:
            updated_at = hub_integrations.updated_at(self.engine, integration_id)
        if updated_at is None:
            raise LookupError(f"no integration with id {integration_id}")
        with self._lock:
            conn = self._connections.get(integration_id)
        if conn and conn.integration.updated_at == updated_at:
            return conn
        conn = self._connect(self.integration(integration_id))
        with self._lock:
            old = self._connections.get(integration_id)
            self._connections[integration_id] = conn
        if old is not None and old.client is not conn.client:
            old.client.close()
        return conn

    def _connect(self, integ: Integration) -> Connection:
        creds = (
            decrypt(integ.credentials, self.settings)
            if integ.credentials
            else from_environment(self.settings)
        )
        rest_url = integ.rest_url or (self.settings.netsuite_rest_url if integ.name == "default" else None)
        governor = self.governor(integ)
        bearer = None
        if isinstance(creds, OAuth2Credentials):
            bearer = SharedBearer(
                self.token_keeper(integ, creds, rest_url, governor), self.settings.governor_max_wait
            )
            auth = bearer
        else:
            auth = tba_auth(creds, integ.account_id)
        client = NetSuiteClient(
            integ.account_id, auth, rest_url=rest_url, timeout=self.settings.netsuite_timeout
        )
        profile = AccountProfile.model_validate(integ.profile) if integ.profile else None
        config = IntegrationConfig.load(integ.settings)
        return Connection(integ, config, client, governor, profile, bearer)

    def token_keeper(
        self, integ: Integration, creds: OAuth2Credentials, rest_url: str | None, governor: Governor
    ) -> TokenKeeper:
        """The shared token of the integration's OAuth 2.0 client, signed with its active certificate."""
        cert = creds.certificate()
        signer = OAuth2ClientCredentials(
            integ.account_id,
            creds.client_id,
            cert.certificate_id,
            cert.pem(),
            token_url=rest_base_url(integ.account_id, rest_url) + TOKEN_PATH,
            scope=creds.scope,
            timeout=self.settings.netsuite_timeout,
        )
        # A new client id means a new token; a new certificate of the same client does not.
        client_fp = hashlib.sha256(f"{integ.account_id}|{creds.client_id}".encode()).hexdigest()[:12]
        return TokenKeeper(
            self.redis,
            f"nue_ns:oauth:{integ.id}:{client_fp}",
            signer.fetch,
            governor,
            fernet(self.settings),
            refresh_ahead=self.settings.oauth_refresh_ahead,
            fetch_timeout=self.settings.netsuite_timeout,
        )

    def governor(self, integ: Integration) -> Governor:
        rate = RateLimit.parse(integ.rate_limit)

        def seed() -> Seed:
            # Every grant made before Redis lost its memory is logged in the hub within moments
            # (sync.py writes the attempt right after the grant), and no grant is made while the
            # governor waits for this seed: let those last rows land before reading them.
            time.sleep(SEED_SETTLE_SECONDS)
            times, in_flight = attempts.recent_calls(
                self.engine, integ.account_id, rate.period, self.settings.netsuite_timeout
            )
            return Seed(call_times=times, in_flight=in_flight)

        return Governor(
            self.redis,
            integ.account_id,
            rate,
            integ.concurrency,
            margin=self.settings.governor_margin,
            lease_seconds=self.settings.lease_seconds,
            seed=seed,
        )


_context: Context | None = None
_context_pid: int | None = None


def get_context() -> Context:
    """The process's context; a forked child builds its own (sockets are not shared across fork)."""
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        _context = Context()
        _context_pid = os.getpid()
    return _context


def reset_context() -> None:
    global _context
    _context = None
