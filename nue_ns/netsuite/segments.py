"""NetSuite's classifications (departments, classes, locations): their REST field, their label in
NetSuite's messages, their SuiteQL table, the integration setting that gives nue-ns their ids, and
what a refusal that names one means for a person.

An account can make each one mandatory: "Make Departments Mandatory - Check this box to make the
Department field required on records and transactions", and likewise "Make Classes Mandatory",
"Make Locations Mandatory" (Oracle's words on the General subtab of "Setting Up Transactions for
NetSuite CRM+", section_N259878; "Using Per-Line Classifications", section_N265988, lists the same
preferences at Setup > Accounting > Accounting Preferences, whose own page, section_N1384948, is
not in the corpus searched), and then "you have to select them at both the header and line
level" [section_N265988]. NetSuite's
refusal of a record without a required field reads "Please enter value(s) for: <label>" (as for
a tax schedule, docs/NETSUITE.md "Tax"); the labels are the fields' UI labels, Department, Class,
Location [section_N259878; an account that renamed them (Setup > Company > Rename Records) words
them its own way: U].
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    setting: str  # IntegrationConfig field, as operators write it
    field: str  # REST field on a transaction's body and its item lines
    label: str  # NetSuite's label, as "Please enter value(s) for: ..." names it
    table: str  # SuiteQL table of its values
    option: str  # `nue-ns integration set` option
    plural: str  # for people: "departments"


SEGMENTS = (
    Segment("department_id", "department", "Department", "department", "--department", "departments"),
    Segment("class_id", "class", "Class", "classification", "--class", "classes"),
    Segment("location_id", "location", "Location", "location", "--location", "locations"),
)
_BY_LABEL = {s.label.lower(): s for s in SEGMENTS}
# Other required fields a setting fills, by label: {label: (setting, what its value is)}. Accounts
# with Advanced Taxes refuse an item without a tax schedule (docs/NETSUITE.md "Tax").
_SETTINGS = {"tax schedule": ("tax_schedule_id", "the internal id of the tax schedule items take")}
_BY_FIELD = {s.field: s for s in SEGMENTS}

_MISSING = re.compile(r"Please enter value\(s\) for:\s*(?P<labels>[^.\n]+)", re.IGNORECASE)
# NetSuite's invalid reference: "Invalid Field Value ... for the following field: ..."
# (section_156570709583; docs/NETSUITE.md "Errors").
_INVALID = re.compile(
    r"Invalid Field Value .* for the following field:\s*(?P<field>[A-Za-z]+)", re.IGNORECASE
)


def _labels(detail: str | None) -> list[str]:
    """The labels a "Please enter value(s) for: ..." refusal names, in its order."""
    found = _MISSING.search(detail or "")
    return [label.strip() for label in found["labels"].split(",") if label.strip()] if found else []


def missing(detail: str | None) -> list[Segment]:
    """The classifications a "Please enter value(s) for: ..." refusal names, in its order."""
    return [_BY_LABEL[label.lower()] for label in _labels(detail) if label.lower() in _BY_LABEL]


def hint(detail: str | None) -> str | None:
    """What a person does about a refusal that names a required field; None for any other."""
    required = missing(detail)
    others = [label for label in _labels(detail) if label.lower() not in _BY_LABEL]
    hints = []
    if required:
        labels = ", ".join(s.label for s in required)
        settings = ", ".join(s.setting for s in required)
        options = " ".join(f"{s.option} ID" for s in required)
        preferences = ", ".join(f"Make {s.plural.capitalize()} Mandatory" for s in required)
        hints.append(
            f"the NetSuite account requires {labels} on this record (Setup > Accounting > Accounting "
            f"Preferences > General: {preferences}): set {settings} in the integration's mapping to "
            f"the internal id NetSuite should post it to (`nue-ns integration set NAME {options}`, the "
            "settings page, or PUT /v1/integrations/NAME), then retry the record (`nue-ns hub retry`); "
            "nue-ns puts it on the header and every item line, where the account's record has the "
            "field (if it is set already, read the account profile again: `nue-ns integration discover`)"
        )
    for label in [o for o in others if o.lower() in _SETTINGS]:
        setting, what = _SETTINGS[label.lower()]
        hints.append(
            f"the NetSuite account requires {label} on this record: set {setting} in the integration's "
            f"mapping to {what} (PUT /v1/integrations/NAME), then retry the record (`nue-ns hub retry`)"
        )
    others = [o for o in others if o.lower() not in _SETTINGS]
    if others:
        # Most likely a custom field the account makes mandatory (mapping/field_values.py).
        hints.append(
            f"the NetSuite account requires {', '.join(others)} on this record, which nue-ns does not "
            "fill: where it is a custom field, give it a value for every record of this type in the "
            "integration's field_values, by the field's script id (Customization > Lists, Records & "
            "Fields shows it; `nue-ns integration set NAME --field-value TYPE.FIELD=VALUE`, e.g. "
            "invoice.custbody_region=3, or PUT /v1/integrations/NAME), then retry the record "
            "(`nue-ns hub retry`)"
        )
    if hints:
        return "; and ".join(hints)
    invalid = _INVALID.search(detail or "")
    segment = _BY_FIELD.get(invalid["field"]) if invalid else None
    if segment is None:
        return None
    return (
        f"{segment.field} is the integration's {segment.setting}, which NetSuite does not take here: "
        f"set it to the internal id of an active {segment.label.lower()} (`nue-ns integration validate` "
        "checks it), then retry the record"
    )


def explained(detail: str) -> str:
    """NetSuite's words, led by what they mean for a person where they name a required field."""
    why = hint(detail)
    return f"{why}. NetSuite said: {detail}" if why else detail
