"""An integration's connection over HTTP (API and settings page): account, REST URL, auth method and
credentials (write-only), limits, webhook, enabled; certificate rotation; removal. Every bad value
is named (422), nothing half-written."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nue_ns.api.common import Problem
from nue_ns.context import Context
from nue_ns.hub import integrations as hub
from nue_ns.hub.models import Integration
from nue_ns.netsuite.auth import DEFAULT_SCOPE, Certificate, Credentials, OAuth2Credentials
from nue_ns.secrets import AnyCredentials

_Text = Field(None, max_length=10_000)


class CredentialsIn(BaseModel):
    """OAuth 2.0 (client_id, certificate_id, private_key PEM or private_key_env) or TBA (four values)."""

    model_config = ConfigDict(extra="forbid")

    auth_method: Literal["oauth2", "tba"] = "oauth2"
    client_id: str | None = Field(None, max_length=200)
    certificate_id: str | None = Field(None, max_length=200)
    private_key: str | None = _Text
    private_key_env: str | None = Field(None, max_length=128)
    scope: str | None = Field(None, max_length=200)
    consumer_key: str | None = Field(None, max_length=200)
    consumer_secret: str | None = Field(None, max_length=200)
    token_id: str | None = Field(None, max_length=200)
    token_secret: str | None = Field(None, max_length=200)


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate_id: str = Field(..., min_length=1, max_length=200)
    private_key: str | None = _Text
    private_key_env: str | None = Field(None, max_length=128)


class ConnectionIn(BaseModel):
    """PATCH: what is given changes ("" unsets rest_url / webhook_url)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str | None = Field(None, max_length=64)
    rest_url: str | None = Field(None, max_length=500)
    rate_limit: str | None = Field(None, max_length=32)
    concurrency: int | None = Field(None, ge=1, le=1000)
    webhook_url: str | None = Field(None, max_length=2000)
    enabled: bool | None = None
    credentials: CredentialsIn | None = None
    add_certificate: CertificateIn | None = None
    activate_certificate: str | None = Field(None, max_length=200)
    retire_certificate: str | None = Field(None, max_length=200)


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=64)
    account_id: str = Field(..., max_length=64)
    rest_url: str | None = Field(None, max_length=500)
    rate_limit: str = Field("5/60s", max_length=32)
    concurrency: int = Field(5, ge=1, le=1000)
    webhook_url: str | None = Field(None, max_length=2000)
    enabled: bool = True
    credentials: CredentialsIn


def _problem(detail: str, exc: ValueError | ValidationError) -> Problem:
    if isinstance(exc, ValidationError):
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
    else:
        text = str(exc)
        field = re.split(r"[ :]", text, maxsplit=1)[0].lstrip("-")
        errors = [{"field": field, "reason": text}]
    return Problem(422, detail, errors)


def parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _problem("invalid integration", exc) from None


def credentials_of(c: CredentialsIn, prefix: str = "credentials.") -> AnyCredentials:
    """The credentials the input describes; 422 naming the missing field."""
    if c.auth_method == "tba":
        values = {
            k: (getattr(c, k) or "").strip()
            for k in ("consumer_key", "consumer_secret", "token_id", "token_secret")
        }
        missing = [k for k, v in values.items() if not v]
        if missing:
            raise Problem(
                422,
                "invalid credentials",
                [{"field": prefix + k, "reason": "required for TBA"} for k in missing],
            )
        return Credentials(**values)
    errors = [
        {"field": prefix + k, "reason": "required for OAuth 2.0"}
        for k in ("client_id", "certificate_id")
        if not (getattr(c, k) or "").strip()
    ]
    if not (c.private_key or c.private_key_env):
        errors.append(
            {"field": prefix + "private_key", "reason": "give the PEM private key or private_key_env"}
        )
    if errors:
        raise Problem(422, "invalid credentials", errors)
    cert = _certificate(c.certificate_id or "", c.private_key, c.private_key_env)
    return OAuth2Credentials(
        (c.client_id or "").strip(), (cert,), cert.certificate_id, c.scope or DEFAULT_SCOPE
    )


def _certificate(certificate_id: str, pem: str | None, env: str | None) -> Certificate:
    return Certificate(
        certificate_id.strip(), private_key_pem=pem or None, private_key_env=None if pem else env
    )


def create(ctx: Context, body: IntegrationIn) -> Integration:
    creds = credentials_of(body.credentials)
    try:
        return hub.create_integration(
            ctx.engine,
            ctx.settings,
            body.name,
            account_id=body.account_id,
            credentials=creds,
            rest_url=body.rest_url,
            rate_limit=body.rate_limit,
            concurrency=body.concurrency,
            webhook_url=body.webhook_url,
            enabled=body.enabled,
        )
    except ValueError as exc:
        raise _problem("invalid integration; nothing saved", exc) from None


def change(ctx: Context, name: str, body: ConnectionIn) -> Integration:
    """Connection first, then certificate rotation (each step validated before it is written)."""
    creds = credentials_of(body.credentials) if body.credentials else None
    add = body.add_certificate
    cert = _certificate(add.certificate_id, add.private_key, add.private_key_env) if add else None
    fields = body.model_dump(
        include={"account_id", "rest_url", "rate_limit", "concurrency", "webhook_url", "enabled"}
    )
    try:
        # Checked before anything is written: the connection's values, the new certificate.
        hub.check_connection(
            fields["account_id"], fields["rest_url"], fields["rate_limit"], fields["concurrency"]
        )
        if cert is not None:
            hub.check_credentials(OAuth2Credentials("x", (cert,), cert.certificate_id))
        integ = hub.change_integration(ctx.engine, ctx.settings, name, credentials=creds, **fields)
        if cert or body.activate_certificate or body.retire_certificate:
            integ = hub.rotate_certificates(
                ctx.engine,
                ctx.settings,
                name,
                add=cert,
                activate=body.activate_certificate,
                retire=body.retire_certificate,
            )
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    except ValueError as exc:
        raise _problem("invalid change", exc) from None
    return integ


def remove(ctx: Context, name: str) -> None:
    try:
        hub.remove_integration(ctx.engine, name)
    except hub.IntegrationInUse as exc:
        raise Problem(409, str(exc)) from None
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
