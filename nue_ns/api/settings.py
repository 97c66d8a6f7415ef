"""Changing an integration's mapping, shared by the API and the UI: validate against NetSuite, then save.

The GL accounts are judged by nue_ns.validation (one governed SuiteQL call); only a valid mapping
is saved, together with its verdict, so workers trust it without asking NetSuite again. Saving
wakes the records that waited for the mapping.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nue_ns import dispatch, gateway, profile, validation
from nue_ns.account_profile import summary
from nue_ns.api.common import Problem
from nue_ns.context import Context
from nue_ns.hub import prerequisites
from nue_ns.hub.integrations import save_config
from nue_ns.hub.models import Integration
from nue_ns.integration import IntegrationConfig
from nue_ns.mapping import setup
from nue_ns.netsuite.errors import NetSuiteError
from nue_ns.records import _field_path

MAX_WAIT = 10.0  # seconds an operator waits for a NetSuite call slot before being told to retry


def parse_config(data: Any) -> IntegrationConfig:
    """The operator's mapping, every invalid field named; a stored verdict is never taken from input."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "validation"}
    try:
        return IntegrationConfig.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": _field_path(e["loc"]), "reason": _reason(e)}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise Problem(422, "invalid integration configuration", errors) from None


_PATTERNS = {
    r"^[0-9]{1,12}$": "must be a NetSuite internal id (digits only)",
    r"^[A-Z]{3}$": "must be a 3-letter upper-case currency code such as EUR",
}


def _reason(error: dict[str, Any]) -> str:
    if error["type"] == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return _PATTERNS.get(pattern, f"has characters that are not allowed ({pattern})")
    return error["msg"].removeprefix("Value error, ")


def check(ctx: Context, integ: Integration, config: IntegrationConfig) -> dict[str, Any]:
    """NetSuite's verdict on the config's GL accounts: {valid, problems, hash, checked_at}."""
    try:
        return validation.check(ctx, integ.id, config, max_wait=MAX_WAIT)
    except gateway.NoCallSlot as exc:
        raise Problem(
            503, f"NetSuite is busy ({exc.denied.reason}); try again in {exc.denied.retry_after:.0f}s"
        ) from None
    except NetSuiteError as err:
        raise Problem(502, f"could not check the GL accounts in NetSuite: {err}") from None


def discover(ctx: Context, integ: Integration) -> dict[str, Any]:
    """Read the NetSuite account's profile again (governed calls) and store it; its summary."""
    try:
        read = profile.discover(ctx, integ.id, max_wait=MAX_WAIT)
    except gateway.NoCallSlot as exc:
        raise Problem(
            503, f"NetSuite is busy ({exc.denied.reason}); try again in {exc.denied.retry_after:.0f}s"
        ) from None
    except NetSuiteError as err:
        raise Problem(502, f"could not read the NetSuite account profile: {err}") from None
    return summary(read.model_dump(mode="json")) or {}


def account_findings(
    ctx: Context, integ: Integration, config: IntegrationConfig
) -> dict[str, list[str]] | None:
    """What the account (its stored profile) lacks for `config`; None while no profile is stored."""
    stored = profile.load(integ.profile)
    if stored is None:
        return None
    found = setup.judge(
        config,
        stored,
        hub_currencies=prerequisites.open_currencies(ctx.engine, integ.id),
        customer_subsidiaries=prerequisites.customer_subsidiaries(ctx.engine, integ.id),
    )
    return found.as_json()


def problems_by_setting(verdict: dict[str, Any]) -> list[dict[str, str]]:
    """Each problem sentence ("setting: what is wrong") as {field, reason}."""
    out = []
    for sentence in verdict.get("problems", []):
        setting, _, reason = sentence.partition(": ")
        out.append({"field": setting, "reason": reason or sentence})
    return out


def save(ctx: Context, integ: Integration, config: IntegrationConfig) -> dict[str, Any]:
    """Validate against NetSuite and save only a valid mapping; returns the verdict (422 if invalid)."""
    verdict = check(ctx, integ, config)
    if not verdict["valid"]:
        raise Problem(
            422,
            "the GL account mapping is not valid in NetSuite; nothing saved",
            problems_by_setting(verdict),
        )
    save_config(ctx.engine, integ.name, config.model_copy(update={"validation": verdict}))
    profile.forget(ctx, integ.id)  # read again for the new mapping
    if prerequisites.wake_mapping(ctx.engine, integ.id):
        dispatch.dispatch(ctx, integ.id)
    return verdict
