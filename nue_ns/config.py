"""Settings from the environment (pydantic-settings).

Secrets are `SecretStr`, so they never show in a repr, a log line or an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class RateLimit:
    """`calls` per `period` seconds, never more in any window of that length."""

    calls: int
    period: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse `5/60s`, `5/2s`, `100/1m`; a bare number of seconds is allowed (`5/60`)."""
        m = _RATE_RE.match(str(text))
        if not m:
            raise ValueError(f"rate limit {text!r}: expected CALLS/PERIOD such as '5/60s'")
        calls, amount, unit = int(m.group(1)), float(m.group(2)), m.group(3)
        period = amount * _UNIT_SECONDS[unit]
        if calls < 1 or period <= 0:
            raise ValueError(f"rate limit {text!r}: calls and period must be positive")
        return cls(calls, period)

    def __str__(self) -> str:
        period = f"{self.period:g}"
        return f"{self.calls}/{period}s"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str | None = Field(None, alias="NUE_NS_DATABASE_URL")
    redis_url: str | None = Field(None, alias="NUE_NS_REDIS_URL")
    # Where embedded PostgreSQL/Redis keep their data when no URL is configured.
    state_dir: Path = Field(Path(".nue-ns"), alias="NUE_NS_STATE_DIR")
    # Key that encrypts the NetSuite secrets of integrations stored in the hub (Fernet).
    secret_key: SecretStr | None = Field(None, alias="NUE_NS_SECRET_KEY")

    # The default integration's NetSuite connection.
    netsuite_account_id: str | None = Field(None, alias="NETSUITE_ACCOUNT_ID")
    netsuite_consumer_key: SecretStr | None = Field(None, alias="NETSUITE_CONSUMER_KEY")
    netsuite_consumer_secret: SecretStr | None = Field(None, alias="NETSUITE_CONSUMER_SECRET")
    netsuite_token_id: SecretStr | None = Field(None, alias="NETSUITE_TOKEN_ID")
    netsuite_token_secret: SecretStr | None = Field(None, alias="NETSUITE_TOKEN_SECRET")
    netsuite_rest_url: str | None = Field(None, alias="NETSUITE_REST_URL")
    # OAuth 2.0 client credentials of the default integration (README "Connecting NetSuite").
    netsuite_auth_method: Literal["tba", "oauth2"] | None = Field(None, alias="NETSUITE_AUTH_METHOD")
    netsuite_client_id: SecretStr | None = Field(None, alias="NETSUITE_CLIENT_ID")
    netsuite_certificate_id: str | None = Field(None, alias="NETSUITE_CERTIFICATE_ID")
    netsuite_private_key: SecretStr | None = Field(None, alias="NETSUITE_PRIVATE_KEY")
    netsuite_private_key_file: str | None = Field(None, alias="NETSUITE_PRIVATE_KEY_FILE")
    netsuite_oauth_scope: str = Field("rest_webservices", alias="NETSUITE_OAUTH_SCOPE")
    # The shared access token is renewed this long before it expires (at most a fifth of its life).
    oauth_refresh_ahead: float = Field(300.0, alias="NUE_NS_OAUTH_REFRESH_AHEAD", ge=0)
    netsuite_rate_limit: str = Field("5/60s", alias="NETSUITE_RATE_LIMIT")
    netsuite_concurrency: int = Field(5, alias="NETSUITE_CONCURRENCY", ge=1)
    netsuite_timeout: float = Field(60.0, alias="NETSUITE_TIMEOUT", gt=0)

    # Worker behaviour.
    governor_max_wait: float = Field(2.0, alias="NUE_NS_GOVERNOR_MAX_WAIT", ge=0)
    # Extra fraction of the period kept free so that jitter between taking a token and the
    # request reaching NetSuite never puts limit+1 calls in one window as NetSuite sees it.
    governor_margin: float = Field(0.005, alias="NUE_NS_GOVERNOR_MARGIN", ge=0, le=0.5)
    lease_seconds: float = Field(300.0, alias="NUE_NS_LEASE_SECONDS", gt=0)
    dispatch_timeout: float = Field(120.0, alias="NUE_NS_DISPATCH_TIMEOUT", gt=0)
    dispatch_window: int = Field(0, alias="NUE_NS_DISPATCH_WINDOW", ge=0)  # 0: 2 x concurrency
    # A worker's transfer task carries on with the next record its integration's refill makes
    # due, on the same thread, for up to this long (0: one record per task). sync.carry_on.
    carry_on_seconds: float = Field(2.0, alias="NUE_NS_CARRY_ON_SECONDS", ge=0)
    max_attempts: int = Field(10, alias="NUE_NS_MAX_ATTEMPTS", ge=1)
    backoff_base: float = Field(2.0, alias="NUE_NS_BACKOFF_BASE", gt=0)
    backoff_max: float = Field(600.0, alias="NUE_NS_BACKOFF_MAX", gt=0)
    pause_on_429: float = Field(30.0, alias="NUE_NS_PAUSE_ON_429", ge=0)
    pause_on_auth: float = Field(300.0, alias="NUE_NS_PAUSE_ON_AUTH", ge=0)
    # Hub connections a process keeps in its pool; 0: a worker keeps one per thread (+2), others 10.
    db_pool_size: int = Field(0, alias="NUE_NS_DB_POOL_SIZE", ge=0)
    # Per-task telemetry: Celery task events (what Flower shows) and the worker's per-task
    # "received"/"succeeded" log lines. Off, as they cost CPU and Redis publishes on every task.
    task_events: bool = Field(False, alias="NUE_NS_TASK_EVENTS")

    # Batches (nue_ns/batches.py): up to 100 records of one type per NetSuite call.
    batch_size: int = Field(100, alias="NUE_NS_BATCH_SIZE", ge=1, le=100)
    # First poll of a job this long after its submit, then doubling up to batch_poll_max.
    batch_poll_first: float = Field(3.0, alias="NUE_NS_BATCH_POLL_FIRST", gt=0)
    batch_poll_max: float = Field(120.0, alias="NUE_NS_BATCH_POLL_MAX", gt=0)
    # Open (submitted, unfinished) batches per integration; more records wait for the next.
    batch_max_open: int = Field(8, alias="NUE_NS_BATCH_MAX_OPEN", ge=1)
    # NetSuite calls one batch task makes for one integration before it yields to the others.
    batch_calls_per_run: int = Field(8, alias="NUE_NS_BATCH_CALLS_PER_RUN", ge=1)
    # Real-time mode: more than this many due records of one type go as a batch (0: never).
    batch_burst_threshold: int = Field(0, alias="NUE_NS_BATCH_BURST_THRESHOLD", ge=0)

    # celery beat
    batch_sweep_seconds: float = Field(600.0, alias="NUE_NS_BATCH_SWEEP_SECONDS", gt=0)
    retry_sweep_seconds: float = Field(5.0, alias="NUE_NS_RETRY_SWEEP_SECONDS", gt=0)
    lease_sweep_seconds: float = Field(30.0, alias="NUE_NS_LEASE_SWEEP_SECONDS", gt=0)

    # Inbound (NetSuite -> Nue): the SuiteQL poller and webhook delivery.
    inbound_poll_seconds: float = Field(300.0, alias="NUE_NS_INBOUND_POLL_SECONDS", gt=0)
    # Re-read this far behind the watermark: a NetSuite transaction that commits late keeps the
    # lastmodifieddate it got when it started, behind changes already read.
    inbound_overlap_seconds: int = Field(120, alias="NUE_NS_INBOUND_OVERLAP_SECONDS", ge=0)
    inbound_page_size: int = Field(1000, alias="NUE_NS_INBOUND_PAGE_SIZE", ge=1, le=1000)
    # Pages per poll and integration: leaves the account's tokens for writes; the next poll goes on.
    inbound_max_pages: int = Field(10, alias="NUE_NS_INBOUND_MAX_PAGES", ge=1)
    webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("NUE_NS_WEBHOOK_URL", "NUE_WEBHOOK_URL")
    )
    webhook_secret: SecretStr | None = Field(None, alias="NUE_NS_WEBHOOK_SECRET")
    webhook_timeout: float = Field(10.0, alias="NUE_NS_WEBHOOK_TIMEOUT", gt=0)
    webhook_backoff_base: float = Field(2.0, alias="NUE_NS_WEBHOOK_BACKOFF_BASE", gt=0)
    webhook_backoff_max: float = Field(600.0, alias="NUE_NS_WEBHOOK_BACKOFF_MAX", gt=0)
    webhook_deliver_seconds: float = Field(10.0, alias="NUE_NS_WEBHOOK_DELIVER_SECONDS", gt=0)

    @field_validator("netsuite_rate_limit")
    @classmethod
    def _valid_rate(cls, v: str) -> str:
        RateLimit.parse(v)
        return v

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit.parse(self.netsuite_rate_limit)

    @property
    def netsuite_auth_method_resolved(self) -> str:
        """The default integration's auth method: as set, else OAuth 2.0 if a client id is given."""
        if self.netsuite_auth_method:
            return self.netsuite_auth_method
        return "oauth2" if self.netsuite_client_id else "tba"

    @property
    def default_integration_configured(self) -> bool:
        if not self.netsuite_account_id:
            return False
        if self.netsuite_auth_method_resolved == "oauth2":
            return bool(self.netsuite_client_id and self.netsuite_certificate_id)
        return bool(self.netsuite_consumer_key and self.netsuite_token_id)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the demo change the environment)."""
    get_settings.cache_clear()
