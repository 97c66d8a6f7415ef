"""API keys and ended UI sessions: made from 32 random bytes, shown once, stored only as their SHA-256.

A key that random cannot be guessed, so a fast hash is enough; a database leak reveals no key.
Who may call what (roles, the UI's signed cookies) is nue_ns.api.auth's; this module only keeps
the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from nue_ns.hub.db import session_scope
from nue_ns.hub.models import utcnow
from nue_ns.hub.models_api import ApiKey, EndedSession, Role

PREFIX = "nns_"
_TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is refreshed at most this often


def digest(secret: str) -> str:
    """The SHA-256 the hub keeps of a key or a UI session id (never the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


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
            name=name.strip(), role=role.value, key_hash=digest(key), prefix=key[:10], integrations=scope
        )
        s.add(row)
        s.flush()
        return key, row


def live_key(engine: Engine, key: str) -> ApiKey | None:
    """The row of a live key (its last use noted, at most once a minute); None for an unknown or
    revoked one."""
    with session_scope(engine) as s:
        row = s.scalars(select(ApiKey).where(ApiKey.key_hash == digest(key))).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
            row.last_used_at = now
        return row


def live_key_by_id(engine: Engine, key_id: int) -> ApiKey | None:
    """The row of key `key_id` unless it is revoked (a UI session re-reads it on every request)."""
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        return None if row is None or row.revoked_at is not None else row


def list_keys(engine: Engine) -> list[ApiKey]:
    with session_scope(engine) as s:
        return list(s.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(engine: Engine, key_id: int) -> bool:
    with session_scope(engine) as s:
        result = s.execute(
            update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        return result.rowcount > 0


def end_ui_session(engine: Engine, session_id: str, expires_at: dt.datetime) -> None:
    """Record a UI session as logged out until its cookie would expire; forget expired ones."""
    with session_scope(engine) as s:
        s.execute(delete(EndedSession).where(EndedSession.expires_at < func.now()))  # keep it small
        s.execute(
            insert(EndedSession)
            .values(sid_hash=digest(session_id), expires_at=expires_at)
            .on_conflict_do_nothing()
        )


def ui_session_ended(engine: Engine, session_id: str) -> bool:
    with session_scope(engine) as s:
        return s.get(EndedSession, digest(session_id)) is not None
