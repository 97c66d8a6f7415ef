"""README.md's configuration table lists every setting nue-ns reads from the environment, with its
default. A setting added to nue_ns/config.py (or read from os.environ anywhere) without a row fails
here, naming the variable to add."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from nue_ns.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# Read from the environment outside the Settings model: the Makefile's Flower credentials.
OTHER_VARIABLES = {"FLOWER_BASIC_AUTH"}


def _table() -> dict[str, str]:
    """{variable: default cell} of the rows under '## Configuration (environment)'."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            rows[name] = cells[1]
    return rows


def _names(field) -> list[str]:
    if isinstance(field.validation_alias, AliasChoices):
        return [str(c) for c in field.validation_alias.choices]
    return [field.alias]


def _shown(default: object) -> str:
    return f"{default:g}" if isinstance(default, float) else str(default)


def test_every_setting_has_a_row_with_its_default() -> None:
    rows = _table()
    missing = [_names(f)[0] for f in Settings.model_fields.values() if _names(f)[0] not in rows]
    missing += sorted(OTHER_VARIABLES - rows.keys())
    assert not missing, (
        "README.md's configuration table has no row for: "
        + ", ".join(missing)
        + " (add `| `NAME` | default | meaning |` under '## Configuration (environment)')"
    )
    wrong = [
        f"{_names(f)[0]}: README says {rows[_names(f)[0]]!r}, config.py says {_shown(f.default)!r}"
        for f in Settings.model_fields.values()
        if f.default is not None and _shown(f.default) not in rows[_names(f)[0]]
    ]
    assert not wrong, "README.md's configuration table shows a wrong default: " + "; ".join(wrong)


def test_every_variable_read_from_the_environment_is_a_setting_or_listed() -> None:
    """Code that reads os.environ directly (not through Settings) must name a documented variable."""
    known = {n for f in Settings.model_fields.values() for n in _names(f)} | OTHER_VARIABLES
    pattern = re.compile(
        r"""(?:os\.environ(?:\.get)?\(|os\.environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    read = {
        (name, str(path.relative_to(ROOT)))
        for path in [*(ROOT / "nue_ns").rglob("*.py"), ROOT / "celeryconfig.py"]
        for name in pattern.findall(path.read_text())
    }
    undocumented = sorted(f"{name} ({where})" for name, where in read if name not in known)
    assert not undocumented, "read from the environment but not in README's table: " + ", ".join(undocumented)
