"""The accounts the sandbox knows at start: the public demo account and, if set, the env account.

The demo credentials are public values for the local demo only; they unlock nothing real.
"""

from __future__ import annotations

import os
from typing import Any

DEMO_ACCOUNT_ID = "TSTDRV1234567"
DEMO_CONSUMER_KEY = "7b1aaf170dfcaea04ff6549737601f31818b092624259db72df9a810a014775e"
DEMO_CONSUMER_SECRET = "706b2ab13840a707b4d81a1f8720e8690e2ce1d1d4d5c715db4461773a29acc3"
DEMO_TOKEN_ID = "892efcf1b551ce576b6d16a5e7ff30b269cbab2096958245ed372d865b0bea46"
DEMO_TOKEN_SECRET = "bc89fcbc5f45dfb5e3ca2ea1fbeb6c7d8ad37105606fe4a5a1316113a01794d5"
DEMO_CONCURRENCY_LIMIT = 5

_ENV_NAMES = {
    "account_id": "NETSUITE_ACCOUNT_ID",
    "consumer_key": "NETSUITE_CONSUMER_KEY",
    "consumer_secret": "NETSUITE_CONSUMER_SECRET",
    "token_id": "NETSUITE_TOKEN_ID",
    "token_secret": "NETSUITE_TOKEN_SECRET",
}


def demo_account() -> dict[str, Any]:
    return {
        "account_id": DEMO_ACCOUNT_ID,
        "consumer_key": DEMO_CONSUMER_KEY,
        "consumer_secret": DEMO_CONSUMER_SECRET,
        "token_id": DEMO_TOKEN_ID,
        "token_secret": DEMO_TOKEN_SECRET,
        "concurrency_limit": DEMO_CONCURRENCY_LIMIT,
    }


def env_account(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The account named by NETSUITE_ACCOUNT_ID + the four NETSUITE_* credentials, if all are set."""
    env = os.environ if environ is None else environ
    values = {key: env.get(name, "").strip() for key, name in _ENV_NAMES.items()}
    return values if all(values.values()) else None


def startup_accounts(environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Accounts to register at start; the env account comes last so it wins over the demo one."""
    accounts = [demo_account()]
    env = env_account(environ)
    if env:
        accounts.append(env)
    return accounts
