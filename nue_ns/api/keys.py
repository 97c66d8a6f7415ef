"""Who calls the API: the principal of an API key (the keys themselves are nue_ns.hub.api_keys')."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from nue_ns.hub import api_keys
from nue_ns.hub.models_api import ApiKey, Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's id, name and role (never the key itself)."""

    key_id: int
    name: str
    role: Role
    integrations: tuple[str, ...] | None = None  # a producer key's scope (None: every integration)

    def may(self, role: Role) -> bool:
        return self.role is Role.OPERATOR or self.role is role

    def serves(self, integration: str) -> bool:
        """Whether this key may write records into `integration`."""
        return self.integrations is None or integration in self.integrations


def authenticate(engine: Engine, key: str) -> Principal | None:
    """The principal of a live key, or None for an unknown or revoked one."""
    if not key or len(key) > 200:
        return None
    row = api_keys.live_key(engine, key)
    return _principal(row) if row is not None else None


def _principal(row: ApiKey) -> Principal:
    scope = tuple(row.integrations) if row.integrations is not None else None
    return Principal(row.id, row.name, Role(row.role), scope)


def principal_of(engine: Engine, key_id: int) -> Principal | None:
    """A UI session's key, re-read on every request so that revoking it ends the session."""
    row = api_keys.live_key_by_id(engine, key_id)
    return _principal(row) if row is not None else None
