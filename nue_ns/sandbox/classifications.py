"""The sandbox account's departments, classes and locations, and the preferences that make them
mandatory.

Each account is seeded with a few of each (one inactive), in id ranges of their own so a connector
that sends a department's id as a class is refused. A transaction naming one that does not exist
or is inactive is refused like any bad reference (400 INVALID_CONTENT naming the field, as
`_Checker.record` refuses an inactive record). With an account's switch `departments_mandatory`
(`classes_mandatory`, `locations_mandatory`; off by default: Accounting Preferences > General,
"Make Departments Mandatory - Check this box to make the Department field required on records and
transactions", section_N259878) a transaction without one on its header, or on an item line, is
refused with NetSuite's "Please enter value(s) for: Department": "If you've enabled a preference
to make classes, departments, locations, or custom segments required, then you have to select them
at both the header and line level" (section_N265988). The rule holds where the record type has the
field (its schema in the account's kind); the labels are NetSuite's UI labels [U: an account that
renamed them]. A transform copies the source's lines with theirs, not its header's
(sandbox/transforms.py _COPIED) [U whether NetSuite copies them: the stricter reading].
"""

from __future__ import annotations

from typing import Any

from nue_ns.sandbox import values

# (REST field, SuiteQL table, label, switch) per classification.
SEGMENTS = (
    ("department", "department", "Department", "departments_mandatory"),
    ("class", "classification", "Class", "classes_mandatory"),
    ("location", "location", "Location", "locations_mandatory"),
)
SWITCHES = tuple(s[3] for s in SEGMENTS)
TABLES = tuple(s[1] for s in SEGMENTS)

# table -> {internal id: (name, inactive)}
SEEDED: dict[str, dict[str, tuple[str, bool]]] = {
    "department": {"11": ("Sales", False), "12": ("Services", False), "13": ("Closed Unit", True)},
    "classification": {"21": ("Subscriptions", False), "22": ("Hardware", False), "23": ("Legacy", True)},
    "location": {"31": ("HQ", False), "32": ("East Coast", False), "33": ("Old Office", True)},
}


def seeded() -> dict[str, dict[str, tuple[str, bool]]]:
    return {table: dict(rows) for table, rows in SEEDED.items()}


def active(acct: Any, table: str, value: Any) -> bool:
    found = acct.classifications[table].get(values.ref_id(value) or "")
    return found is not None and not found[1]


def check(acct: Any, ns_type: str, body: dict[str, Any]) -> None:
    """Classification rules of a transaction about to be stored (the merged record)."""
    from nue_ns.sandbox import state as errors  # state imports this module

    fields = acct.kind.fields(ns_type)
    line_fields = acct.kind.sublists(ns_type).get("item", frozenset())
    lines = values.lines(body, "item")
    missing: list[str] = []
    for field, table, label, switch in SEGMENTS:
        required = getattr(acct, switch)
        places = [(field, body)] if field in fields else []
        if field in line_fields:
            places += [(f"item.items[{i}].{field}", line) for i, line in enumerate(lines)]
        for path, holder in places:
            value = holder.get(field)
            if value is None:
                if required and label not in missing:
                    missing.append(label)
            elif not active(acct, table, value):
                raise errors.invalid_value(value, path)
    if missing:
        raise errors.missing_values(*missing)


def rows(acct: Any, table: str) -> list[tuple[Any, ...]]:
    """SuiteQL rows (id, name, isinactive) of one table."""
    return [
        (int(i), name, "T" if inactive else "F")
        for i, (name, inactive) in acct.classifications[table].items()
    ]


def describe(acct: Any) -> dict[str, Any]:
    """The switches, and each field's values: {id: {name, isInactive}}."""
    out: dict[str, Any] = {switch: getattr(acct, switch) for switch in SWITCHES}
    out["classifications"] = {
        field: {
            i: {"name": name, "isInactive": inactive}
            for i, (name, inactive) in acct.classifications[table].items()
        }
        for field, table, _label, _switch in SEGMENTS
    }
    return out
