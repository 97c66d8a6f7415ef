"""The import rules `make lint` checks (pyproject.toml, import-linter) cover the whole package."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import nue_ns

ROOT = Path(__file__).resolve().parent.parent


def _contract(name_starts: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (found,) = [c for c in contracts if c["name"].startswith(name_starts)]
    return found


def test_every_module_outside_the_hub_is_kept_from_its_sessions():
    """A new top-level module is under the rule at once: the contract lists them all."""
    contract = _contract("only hub/ opens database sessions")
    top_level = {f"nue_ns.{m.name}" for m in pkgutil.iter_modules(nue_ns.__path__)} - {"nue_ns.hub"}
    assert set(contract["source_modules"]) == top_level
    assert contract["forbidden_modules"] == ["nue_ns.hub.db"]
