"""Creating, changing, disabling and removing integrations (NetSuite account connections) in the hub.

Credentials are write-only: stored Fernet-encrypted, never shown back; `auth_info` keeps what may be
shown (the auth method's certificate ids and which one is active).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, select, text

from nue_ns.account_profile import AccountProfile, summary
from nue_ns.config import RateLimit, Settings
from nue_ns.hub.db import session_scope
from nue_ns.hub.models import OPEN_STATES, Attempt, Integration, NetSuiteLink, Record
from nue_ns.hub.models_inbound import InboundEvent, InboundWatermark
from nue_ns.integration import IntegrationConfig
from nue_ns.netsuite.auth import Certificate, Credentials, OAuth2Credentials, load_private_key
from nue_ns.secrets import AnyCredentials, decrypt, encrypt

DEFAULT = "default"
AUTH_METHODS = ("oauth2", "tba")
# NetSuite allows five active certificates per integration record (section_162686838198).
MAX_CERTIFICATES = 5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class IntegrationInUse(ValueError):
    """Removing an integration the hub still holds records of."""


def auth_method_of(credentials: AnyCredentials) -> str:
    return "oauth2" if isinstance(credentials, OAuth2Credentials) else "tba"


def check_credentials(credentials: AnyCredentials) -> None:
    """ValueError naming the field when NetSuite could not accept these credentials."""
    if isinstance(credentials, Credentials):
        for field in ("consumer_key", "consumer_secret", "token_id", "token_secret"):
            if not getattr(credentials, field).strip():
                raise ValueError(f"{field}: required for token-based authentication")
        return
    if not credentials.client_id.strip():
        raise ValueError("client_id: required for OAuth 2.0 (the integration record's client ID)")
    if not credentials.certificates:
        raise ValueError("certificate_id: OAuth 2.0 needs at least one certificate")
    if len(credentials.certificates) > MAX_CERTIFICATES:
        raise ValueError(f"certificates: NetSuite allows at most {MAX_CERTIFICATES} per integration record")
    ids = [c.certificate_id for c in credentials.certificates]
    if len(set(ids)) != len(ids):
        raise ValueError("certificate_id: each certificate may be added once")
    for cert in credentials.certificates:
        if not cert.certificate_id.strip():
            raise ValueError(
                "certificate_id: required (the id NetSuite shows when the certificate is mapped)"
            )
        if bool(cert.private_key_pem) == bool(cert.private_key_env):
            raise ValueError(
                f"certificate {cert.certificate_id}: give a private key or its environment variable"
            )
        if cert.private_key_pem:
            load_private_key(cert.private_key_pem)
        elif not _ENV_NAME.match(cert.private_key_env or ""):
            raise ValueError(f"private_key_env {cert.private_key_env!r}: not an environment variable name")
    credentials.certificate()  # the active one is among them


def _set_credentials(integ: Integration, credentials: AnyCredentials, settings: Settings) -> None:
    check_credentials(credentials)
    integ.credentials = encrypt(credentials, settings)
    integ.auth_method = auth_method_of(credentials)
    integ.auth_info = credentials.public() if isinstance(credentials, OAuth2Credentials) else {}


def ensure_default(engine: Engine, settings: Settings) -> Integration | None:
    """The integration described by NETSUITE_* variables; its secrets stay in the environment."""
    if not settings.netsuite_account_id:
        return None
    with session_scope(engine) as s:
        integ = s.scalars(select(Integration).where(Integration.name == DEFAULT)).one_or_none()
        if integ is None:
            integ = Integration(name=DEFAULT, settings={})
            s.add(integ)
        method = settings.netsuite_auth_method_resolved
        changed = (
            integ.account_id != settings.netsuite_account_id
            or integ.rate_limit != settings.netsuite_rate_limit
            or integ.concurrency != settings.netsuite_concurrency
            or integ.auth_method != method
        )
        if changed:
            integ.account_id = settings.netsuite_account_id
            integ.rate_limit = settings.netsuite_rate_limit
            integ.concurrency = settings.netsuite_concurrency
            integ.auth_method = method
            integ.auth_info = {"from_environment": True}
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
    credentials: AnyCredentials | None = None,
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
            _set_credentials(integ, credentials, settings)
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
    config = config_of(integ)
    return {
        "name": integ.name,
        "account_id": integ.account_id,
        "rest_url": integ.rest_url,
        "enabled": integ.enabled,
        "auth_method": integ.auth_method,
        "auth": integ.auth_info or {},
        "rate_limit": integ.rate_limit,
        "concurrency": integ.concurrency,
        "webhook_url": config.webhook_url,
        "credentials": "stored encrypted" if integ.credentials else "from environment",
        "config": config.model_dump(mode="json"),
        "profile": summary(integ.profile),
    }


# ---------------------------------------------------------------- operator changes


def check_connection(
    account_id: str | None, rest_url: str | None, rate_limit: str | None, concurrency: int | None
) -> None:
    if account_id is not None and not _ACCOUNT.match(account_id):
        raise ValueError(
            f"account_id {account_id!r}: expected a NetSuite account id such as 1234567 or 1234567_SB1"
        )
    if rest_url and not re.match(r"^https?://[^\s/]+", rest_url):
        raise ValueError(f"rest_url {rest_url!r}: expected https://<host>/services/rest")
    if rate_limit is not None:
        try:
            RateLimit.parse(rate_limit)
        except ValueError as exc:
            raise ValueError(f"rate_limit: {exc}") from None
    if concurrency is not None and concurrency < 1:
        raise ValueError("concurrency: must be at least 1")


def _with_webhook(integ: Integration, webhook_url: str) -> None:
    """An empty string unsets the integration's webhook URL (NUE_NS_WEBHOOK_URL applies then)."""
    try:
        config = config_of(integ).model_copy(update={"webhook_url": webhook_url or None})
        integ.settings = IntegrationConfig.model_validate(config.model_dump(mode="json")).model_dump(
            mode="json"
        )
    except ValidationError:
        raise ValueError(f"webhook_url {webhook_url!r}: expected an http(s) URL") from None


def _get(s: Any, name: str) -> Integration:
    integ = s.scalars(select(Integration).where(Integration.name == name)).one_or_none()
    if integ is None:
        raise LookupError(f"no integration named {name!r}")
    return integ


def create_integration(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    account_id: str,
    credentials: AnyCredentials,
    rest_url: str | None = None,
    rate_limit: str = "5/60s",
    concurrency: int = 5,
    webhook_url: str | None = None,
    enabled: bool = True,
) -> Integration:
    """A new NetSuite connection. OAuth 2.0 unless TBA credentials are given: NetSuite creates no new
    TBA integrations from 2027.1 (section_0525020842)."""
    if not _NAME.match(name or ""):
        raise ValueError(f"name {name!r}: expected 1-64 of A-Z a-z 0-9 _ - (starting with a letter or digit)")
    check_connection(account_id, rest_url, rate_limit, concurrency)
    with session_scope(engine) as s:
        if s.scalars(select(Integration.id).where(Integration.name == name)).first() is not None:
            raise ValueError(f"name: an integration named {name!r} exists already")
        integ = Integration(
            name=name,
            account_id=account_id,
            rest_url=rest_url or None,
            rate_limit=rate_limit,
            concurrency=concurrency,
            enabled=enabled,
            settings={},
        )
        _set_credentials(integ, credentials, settings)
        if webhook_url:
            _with_webhook(integ, webhook_url)
        s.add(integ)
        s.flush()
        return integ


def change_integration(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    account_id: str | None = None,
    rest_url: str | None = None,
    rate_limit: str | None = None,
    concurrency: int | None = None,
    webhook_url: str | None = None,
    credentials: AnyCredentials | None = None,
    enabled: bool | None = None,
) -> Integration:
    """Change what is given (None: unchanged; "" unsets rest_url / webhook_url). Workers pick the
    change up on their next record (context.py re-reads an integration whose row changed)."""
    check_connection(account_id, rest_url, rate_limit, concurrency)
    with session_scope(engine) as s:
        integ = _get(s, name)
        if account_id is not None:
            integ.account_id = account_id
        if rest_url is not None:
            integ.rest_url = rest_url or None
        if rate_limit is not None:
            integ.rate_limit = rate_limit
        if concurrency is not None:
            integ.concurrency = concurrency
        if webhook_url is not None:
            _with_webhook(integ, webhook_url)
        if credentials is not None:
            _set_credentials(integ, credentials, settings)
        if enabled is not None:
            integ.enabled = enabled
        integ.not_before = None  # new limits or credentials: let dispatch judge afresh
        s.flush()
        return integ


def stored_credentials(integ: Integration, settings: Settings) -> AnyCredentials:
    if integ.credentials is None:
        raise ValueError(
            f"integration {integ.name!r} takes its credentials from NETSUITE_* variables; change them there"
        )
    return decrypt(integ.credentials, settings)


def rotate_certificates(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    add: Certificate | None = None,
    activate: str | None = None,
    retire: str | None = None,
) -> Integration:
    """Key rotation without stopping workers: add a certificate, make it active, retire the old one.
    Workers re-read the integration on its next record and sign with the active certificate; the
    shared access token stays valid (it belongs to the client, not the certificate)."""
    with session_scope(engine) as s:
        integ = _get(s, name)
        creds = stored_credentials(integ, settings)
        if not isinstance(creds, OAuth2Credentials):
            raise ValueError(f"integration {name!r} uses token-based authentication: it has no certificates")
        certs = list(creds.certificates)
        active = creds.active
        ids = [c.certificate_id for c in certs]
        if add is not None:
            if add.certificate_id in ids:
                raise ValueError(f"certificate_id {add.certificate_id!r}: the integration has it already")
            certs.append(add)
            ids.append(add.certificate_id)
        if activate is not None:
            if activate not in ids:
                raise ValueError(f"certificate_id {activate!r}: not among the integration's certificates")
            active = activate
        if retire is not None:
            if retire not in ids:
                raise ValueError(f"certificate_id {retire!r}: not among the integration's certificates")
            if retire == active:
                raise ValueError(f"certificate_id {retire!r}: it is the active one; activate another first")
            certs = [c for c in certs if c.certificate_id != retire]
        _set_credentials(
            integ, OAuth2Credentials(creds.client_id, tuple(certs), active, creds.scope), settings
        )
        s.flush()
        return integ


def held(engine: Engine, name: str) -> tuple[int, int, int]:
    """(hub records, of them still open, inbound events) of the integration."""
    with session_scope(engine) as s:
        integ = _get(s, name)
        return _held(s, integ.id)


def _held(s: Any, integration_id: int) -> tuple[int, int, int]:
    mine = Record.integration_id == integration_id
    records = s.scalar(select(func.count()).select_from(Record).where(mine)) or 0
    still_open = (
        s.scalar(select(func.count()).select_from(Record).where(mine, Record.state.in_(OPEN_STATES))) or 0
    )
    events = (
        s.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.integration_id == integration_id)
        )
        or 0
    )
    return int(records), int(still_open), int(events)


def remove_integration(engine: Engine, name: str) -> None:
    """Refused (IntegrationInUse, with the count) while the hub holds any of its records."""
    with session_scope(engine) as s:
        integ = _get(s, name)
        records, _, events = _held(s, integ.id)
        if records or events:
            raise IntegrationInUse(
                f"integration {name!r} has {records} record(s) and {events} inbound event(s) in the hub; "
                "nothing removed (disable it instead: its records stay and nothing is sent)"
            )
        for model in (Attempt, NetSuiteLink, InboundWatermark):
            s.execute(delete(model).where(model.integration_id == integ.id))
        s.delete(integ)


def save_profile(engine: Engine, integration_id: int, profile: AccountProfile | None) -> None:
    """Store the account profile (None forgets it); updated_at moves, so workers pick it up."""
    value = json.dumps(profile.model_dump(mode="json")) if profile is not None else None
    with session_scope(engine) as s:
        s.execute(
            text("UPDATE integrations SET profile = CAST(:p AS jsonb), updated_at = now() WHERE id = :id"),
            {"p": value, "id": integration_id},
        )


def save_validation(
    engine: Engine, integration_id: int, judged: dict[str, Any] | None, verdict: dict[str, Any]
) -> bool:
    """Store a GL-account verdict in the settings unless they changed since `judged` was read (then
    it judged an old mapping and is dropped). Returns whether it was stored."""
    seen = {k: v for k, v in (judged or {}).items() if k != "validation"}
    with session_scope(engine) as s:
        stored = s.execute(
            text(
                """
                UPDATE integrations
                SET settings = jsonb_set(COALESCE(settings, '{}'::jsonb), '{validation}', CAST(:v AS jsonb)),
                    updated_at = now()
                WHERE id = :id AND (COALESCE(settings, '{}'::jsonb) - 'validation') = CAST(:seen AS jsonb)
                """
            ),
            {"id": integration_id, "v": json.dumps(verdict), "seen": json.dumps(seen)},
        ).rowcount
    return bool(stored)


def find(engine: Engine, name_or_id: str | int) -> Integration | None:
    """The integration of this id (an int) or name (a str)."""
    q = select(Integration)
    q = (
        q.where(Integration.id == name_or_id)
        if isinstance(name_or_id, int)
        else q.where(Integration.name == name_or_id)
    )
    with session_scope(engine) as s:
        return s.scalars(q).one_or_none()


def updated_at(engine: Engine, integration_id: int) -> dt.datetime | None:
    """When the integration last changed (None: no such integration); connections are rebuilt on a change."""
    with session_scope(engine) as s:
        return s.scalar(select(Integration.updated_at).where(Integration.id == integration_id))
