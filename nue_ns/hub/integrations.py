"""Creating and changing integrations (NetSuite account connections) in the hub."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from nue_ns.account_profile import summary
from nue_ns.config import RateLimit, Settings
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import Integration
from nue_ns.integration import IntegrationConfig
from nue_ns.netsuite.auth import Credentials
from nue_ns.secrets import encrypt

DEFAULT = "default"


def ensure_default(engine: Engine, settings: Settings) -> Integration | None:
    """The integration described by NETSUITE_* variables; its secrets stay in the environment."""
    if not settings.netsuite_account_id:
        return None
    with session_scope(engine) as s:
        integ = s.scalars(select(Integration).where(Integration.name == DEFAULT)).one_or_none()
        if integ is None:
            integ = Integration(name=DEFAULT, settings={})
            s.add(integ)
        changed = (
            integ.account_id != settings.netsuite_account_id
            or integ.rate_limit != settings.netsuite_rate_limit
            or integ.concurrency != settings.netsuite_concurrency
        )
        if changed:
            integ.account_id = settings.netsuite_account_id
            integ.rate_limit = settings.netsuite_rate_limit
            integ.concurrency = settings.netsuite_concurrency
            integ.credentials = None
            integ.not_before = None
        s.flush()
        return integ


def upsert_integration(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    account_id: str,
    credentials: Credentials | None = None,
    rest_url: str | None = None,
    rate_limit: str = "5/60s",
    concurrency: int = 5,
    config: IntegrationConfig | None = None,
) -> Integration:
    RateLimit.parse(rate_limit)
    if concurrency < 1:
        raise ValueError("concurrency: must be at least 1")
    with session_scope(engine) as s:
        integ = s.scalars(select(Integration).where(Integration.name == name)).one_or_none()
        if integ is None:
            integ = Integration(name=name, settings={})
            s.add(integ)
        integ.account_id = account_id
        integ.rest_url = rest_url
        integ.rate_limit = rate_limit
        integ.concurrency = concurrency
        if credentials is not None:
            integ.credentials = encrypt(credentials, settings)
        if config is not None:
            integ.settings = config.model_dump(mode="json")
        integ.not_before = None  # new limits or credentials: let dispatch judge afresh
        s.flush()
        return integ


def save_config(engine: Engine, name: str, config: IntegrationConfig) -> Integration:
    with session_scope(engine) as s:
        integ = s.scalars(select(Integration).where(Integration.name == name)).one()
        integ.settings = config.model_dump(mode="json")
        s.flush()
        return integ


def list_integrations(engine: Engine) -> list[Integration]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Integration).order_by(Integration.id)))


def config_of(integ: Integration) -> IntegrationConfig:
    return IntegrationConfig.load(integ.settings)


def public_view(integ: Integration) -> dict[str, Any]:
    """What operators may see: never the credentials."""
    return {
        "name": integ.name,
        "account_id": integ.account_id,
        "rest_url": integ.rest_url,
        "rate_limit": integ.rate_limit,
        "concurrency": integ.concurrency,
        "credentials": "stored encrypted" if integ.credentials else "from environment",
        "config": config_of(integ).model_dump(mode="json"),
        "profile": summary(integ.profile),
    }
