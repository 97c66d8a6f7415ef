"""GL account validation, pure: which accounts a mapping names, and whether NetSuite's rows for
them (SuiteQL on `account`) show each one existing, active and of the type its role needs.

The verdict is stored with the mapping it judged (a hash of the GL accounts and overrides), so a
changed mapping is never trusted on an old verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nue_ns.integration import EXPECTED_TYPES, GlAccounts, IntegrationConfig
from nue_ns.netsuite import literals


@dataclass(frozen=True)
class Use:
    """One place the mapping names an account: `setting` as operators write it (`clearing`,
    `Enterprise.subscription_income`), `role` the GlAccounts field."""

    setting: str
    role: str
    account_id: str


def _set_fields(accounts: GlAccounts) -> dict[str, str]:
    return {role: value for role, value in accounts.model_dump().items() if value}


def uses(config: IntegrationConfig) -> list[Use]:
    found = [Use(role, role, value) for role, value in _set_fields(config.gl).items()]
    for category, override in sorted(config.category_overrides.items()):
        found += [Use(f"{category}.{role}", role, v) for role, v in _set_fields(override).items()]
    return found


def account_ids(config: IntegrationConfig) -> list[str]:
    return sorted({u.account_id for u in uses(config)}, key=int)


def query(ids: Iterable[str]) -> str:
    """The SuiteQL for the accounts; ids are digits only (IntegrationConfig's AccountId)."""
    listed = literals.integers(ids)
    return f"SELECT id, acctnumber, fullname, accttype, isinactive FROM account WHERE id IN ({listed})"


def mapping_hash(config: IntegrationConfig) -> str:
    judged = {
        "gl": config.gl.model_dump(),
        "category_overrides": {k: v.model_dump() for k, v in config.category_overrides.items()},
    }
    return hashlib.sha256(json.dumps(judged, sort_keys=True).encode()).hexdigest()


def _expected(role: str) -> str:
    return " or ".join(EXPECTED_TYPES[role])


def _label(row: Mapping[str, Any]) -> str:
    name = " ".join(str(row[k]) for k in ("acctnumber", "fullname") if row.get(k))
    return f"account {row['id']}" + (f" ({name})" if name else "")


def problems(config: IntegrationConfig, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """One sentence per bad use, naming the setting, the account and the type it must have."""
    by_id = {str(row["id"]): row for row in rows}
    out = []
    for use in uses(config):
        row = by_id.get(use.account_id)
        expected = _expected(use.role)
        if row is None:
            out.append(
                f"{use.setting}: account {use.account_id} does not exist in NetSuite "
                f"(expected an active {expected} account)"
            )
        elif str(row.get("isinactive", "F")).upper() in ("T", "TRUE"):
            out.append(f"{use.setting}: {_label(row)} is inactive (expected an active {expected} account)")
        elif row.get("accttype") not in EXPECTED_TYPES[use.role]:
            out.append(f"{use.setting}: {_label(row)} is of type {row.get('accttype')} (expected {expected})")
    return out


def verdict(
    config: IntegrationConfig, rows: Iterable[Mapping[str, Any]], checked_at: dt.datetime
) -> dict[str, Any]:
    found = problems(config, rows)
    return {
        "valid": not found,
        "problems": found,
        "hash": mapping_hash(config),
        "checked_at": checked_at.isoformat(),
    }


def unchecked_verdict(config: IntegrationConfig, problem: str, checked_at: dt.datetime) -> dict[str, Any]:
    """The verdict when NetSuite refused the check itself (e.g. the role may not read accounts)."""
    return {
        "valid": False,
        "problems": [problem],
        "hash": mapping_hash(config),
        "checked_at": checked_at.isoformat(),
    }


def current_verdict(config: IntegrationConfig) -> dict[str, Any] | None:
    """The stored verdict if it judged exactly this mapping, else None (stale or never checked)."""
    saved = config.validation
    if saved and saved.get("hash") == mapping_hash(config):
        return saved
    return None
