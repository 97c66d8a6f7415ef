"""API keys: made from 32 random bytes, shown once, stored only as their SHA-256.

A key that random cannot be guessed, so a fast hash is enough; a database leak reveals no key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import utcnow
from nue_ns.hub.models_api import ApiKey, Role

PREFIX = "nns_"
_TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is refreshed at most this often


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


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    engine: Engine, name: str, role: Role | str, integrations: list[str] | None = None
) -> tuple[str, ApiKey]:
    """A new key: returns the key (the only time it exists in clear) and its row. A producer key
    may be scoped to the integrations it serves; an operator key is never scoped."""
    role = Role(role)
    if not name.strip() or len(name) > 80:
        raise ValueError("name: 1 to 80 characters")
    scope = sorted({i.strip() for i in integrations if i.strip()}) if integrations else None
    if scope and role is Role.OPERATOR:
        raise ValueError("integrations: only a producer key is scoped to integrations")
    key = PREFIX + secrets.token_urlsafe(32)
    with session_scope(engine) as s:
        row = ApiKey(
            name=name.strip(), role=role.value, key_hash=_digest(key), prefix=key[:10], integrations=scope
        )
        s.add(row)
        s.flush()
        return key, row


def authenticate(engine: Engine, key: str) -> Principal | None:
    """The principal of a live key, or None for an unknown or revoked one."""
    if not key or len(key) > 200:
        return None
    with session_scope(engine) as s:
        row = s.scalars(select(ApiKey).where(ApiKey.key_hash == _digest(key))).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
            row.last_used_at = now
        return _principal(row)


def _principal(row: ApiKey) -> Principal:
    scope = tuple(row.integrations) if row.integrations is not None else None
    return Principal(row.id, row.name, Role(row.role), scope)


def principal_of(engine: Engine, key_id: int) -> Principal | None:
    """A UI session's key, re-read on every request so that revoking it ends the session."""
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return None
        return _principal(row)


def list_keys(engine: Engine) -> list[ApiKey]:
    with session_scope(engine) as s:
        return list(s.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(engine: Engine, key_id: int) -> bool:
    with session_scope(engine) as s:
        result = s.execute(
            update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        return result.rowcount > 0
