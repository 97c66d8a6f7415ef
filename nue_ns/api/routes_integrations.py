"""Integrations over HTTP: connect NetSuite accounts (create, change, disable, remove; credentials
write-only), read the configuration, change the mapping (validated against NetSuite first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from nue_ns.api import connection, settings
from nue_ns.api.auth import operator
from nue_ns.api.common import Problem, throttling
from nue_ns.api.keys import Principal
from nue_ns.context import get_context
from nue_ns.hub.integrations import list_integrations, public_view
from nue_ns.hub.models import Integration
from nue_ns.integration import SANDBOX_GL, IntegrationConfig

router = APIRouter(prefix="/v1", tags=["integrations"])

_EXAMPLE = IntegrationConfig(gl=SANDBOX_GL, subsidiary_id="1").model_dump(mode="json", exclude={"validation"})


def _integration(name: str) -> Integration:
    try:
        return get_context().integration(name)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None


def _view(integ: Integration) -> dict[str, Any]:
    """Never the credentials (public_view), plus advice when NetSuite keeps throttling it."""
    advice = throttling(get_context().engine).get(integ.name)
    return public_view(integ) | {"throttling": advice}


@router.get("/integrations")
def integrations(_: Principal = Depends(operator)) -> list[dict[str, Any]]:
    return [_view(i) for i in list_integrations(get_context().engine)]


@router.post(
    "/integrations",
    status_code=201,
    responses={422: {"description": "a bad value, named (nothing saved)"}},
)
def create_integration(
    body: Any = Body(..., description="name, account_id, credentials {auth_method: oauth2|tba, ...}, limits"),
    _: Principal = Depends(operator),
) -> dict[str, Any]:
    """Connect a NetSuite account. OAuth 2.0 client credentials by default; credentials are
    stored encrypted and never shown back."""
    integ = connection.create(get_context(), connection.parse(connection.IntegrationIn, body))
    return _view(_integration(integ.name))


@router.patch(
    "/integrations/{name}",
    responses={404: {"description": "no such integration"}, 422: {"description": "a bad value, named"}},
)
def change_integration(
    name: str,
    body: Any = Body(..., description="connection fields, enabled, credentials, certificate rotation"),
    _: Principal = Depends(operator),
) -> dict[str, Any]:
    """Change the connection: account, REST URL, limits, webhook, enabled (a disabled integration's
    records stay in the hub, none is sent), credentials, or rotate certificates."""
    _integration(name)
    connection.change(get_context(), name, connection.parse(connection.ConnectionIn, body))
    return _view(_integration(name))


@router.delete(
    "/integrations/{name}",
    status_code=204,
    responses={409: {"description": "the hub holds records of it (the count is given)"}},
)
def delete_integration(name: str, _: Principal = Depends(operator)) -> None:
    """Remove an integration the hub holds no record of."""
    connection.remove(get_context(), name)


@router.get("/integrations/{name}")
def integration(name: str, _: Principal = Depends(operator)) -> dict[str, Any]:
    """The connection (never its secrets), the mapping, its last validation, throttling advice."""
    return _view(_integration(name))


@router.put(
    "/integrations/{name}",
    responses={
        422: {"description": "invalid configuration, or GL accounts NetSuite rejects (nothing saved)"},
        502: {"description": "NetSuite could not be asked (nothing saved)"},
        503: {"description": "no NetSuite call slot in time (nothing saved)"},
    },
)
def put_integration(
    name: str,
    body: Any = Body(..., examples=[_EXAMPLE], description="the whole mapping (IntegrationConfig)"),
    _: Principal = Depends(operator),
) -> dict[str, Any]:
    """Replace the mapping. The GL accounts are checked in NetSuite first; only a valid mapping is saved."""
    integ = _integration(name)
    config = settings.parse_config(body)
    verdict = settings.save(get_context(), integ, config)
    return _view(_integration(name)) | {"validation": verdict}


@router.post("/integrations/{name}/validate")
def validate(
    name: str,
    body: Any = Body(None, description="a mapping to check; empty: the saved one"),
    _=Depends(operator),
) -> dict[str, Any]:
    """Check GL accounts in NetSuite without saving anything: {valid, problems, errors}, and what
    the NetSuite account (its stored profile) lacks for the mapping: account {problems, warnings}."""
    integ = _integration(name)
    config = settings.parse_config(body) if body else IntegrationConfig.load(integ.settings)
    ctx = get_context()
    verdict = settings.check(ctx, integ, config)
    account = settings.account_findings(ctx, integ, config)
    return verdict | {"errors": settings.problems_by_setting(verdict), "account": account}


@router.post(
    "/integrations/{name}/discover",
    responses={
        502: {"description": "NetSuite could not be read"},
        503: {"description": "no NetSuite call slot in time"},
    },
)
def discover(name: str, _=Depends(operator)) -> dict[str, Any]:
    """Read the NetSuite account's profile again (metadata catalog and SuiteQL facts, governed and
    counted) and store it: its summary, with what the account lacks for the saved mapping."""
    integ = _integration(name)
    ctx = get_context()
    read = settings.discover(ctx, integ)
    integ = _integration(name)
    return read | {"account": settings.account_findings(ctx, integ, IntegrationConfig.load(integ.settings))}
