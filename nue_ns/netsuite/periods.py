"""NetSuite refusing a transaction for its accounting period (month-end close), known by its code or
its words, and what it means for a person. docs/NETSUITE.md "Accounting periods" has the sources.

A closed period takes no posting "by anyone", and "No one can make general ledger impacting changes
to posting transactions in a closed period. The period must be reopened" (Accounting Period Close,
section_N1452509); Lock A/R stops A/R transactions from web services too (section_N1457300). The
codes and words (Error Status Codes, section_N3539978): CLOSED_TRAN_PRD "The G/L impact of a
transaction in a closed period cannot be changed." / "You cannot move a transaction to or from a
closed period."; DATE_PRD_MISMATCH "Your transaction date does not fall between the start and end
dates of your accounting period."; ACCTNG_PRD_REQD "Missing next accounting period". Integrations
report the mismatch as "The transaction date you specified is not within the date range of your
accounting period." [third-party: Fyle's and Expensify's NetSuite connectors]. Whether REST answers
under those codes or USER_ERROR with the words is [U]: either is known. None of them passes by
itself, so none is retried: a person reopens the period, unlocks A/R, or sets the preferences.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol, TypeVar


class _Refusal(Protocol):
    """What this module reads of a NetSuiteError (errors.py imports this module: no cycle back)."""

    code: str | None
    detail: str


_E = TypeVar("_E", bound=_Refusal)

CHANGED_CODES = frozenset({"CLOSED_TRAN_PRD"})
DATED_CODES = frozenset({"DATE_PRD_MISMATCH"})
NO_PERIOD_CODES = frozenset({"ACCTNG_PRD_REQD"})

_CHANGED = re.compile(
    r"transaction in a (closed|locked) period cannot be changed|to or from a (closed|locked) period", re.I
)
_NO_PERIOD = re.compile(r"missing next accounting period", re.I)
# Any other refusal for a closed or locked period (a lock's words are on no public page [U]).
_DATED = re.compile(
    r"not within the date range of your accounting period|"
    r"does not fall between the start and end dates of your accounting period|"
    r"\b(accounting|posting) period\b[^.]*\b(is|are|was|been) (closed|locked)\b|"
    r"\b(closed|locked) (accounting |posting )?period\b",
    re.I,
)
MARK = "NetSuite refused this for its accounting period"  # how an explained detail starts

_REOPEN = (
    "a NetSuite administrator reopens the period (Setup > Accounting > Manage G/L > Manage Accounting "
    "Periods: the period's checklist, task Close, Reopen Period) or unlocks its A/R (task Lock A/R, "
    "Unlock)"
)


def refusal(code: str | None, detail: str | None) -> str | None:
    """`changed` (a transaction NetSuite holds in a closed or A/R-locked period, or one moved into
    or out of one), `no_period` (no open period to post in) or `dated` (the period of its date takes
    no posting); None: not a period refusal."""
    words = detail or ""
    if code in CHANGED_CODES or _CHANGED.search(words):
        return "changed"
    if code in NO_PERIOD_CODES or _NO_PERIOD.search(words):
        return "no_period"
    if code in DATED_CODES or _DATED.search(words):
        return "dated"
    return None


def explained(code: str | None, detail: str) -> str:
    """NetSuite's words behind what they mean and what a person can do (unchanged when they are not
    about a period, or already explained)."""
    which = refusal(code, detail)
    if which is None or detail.startswith(MARK):
        return detail
    if which == "changed":
        why = (
            f"{MARK}: NetSuite keeps a transaction posted in a closed period, or in one whose A/R is "
            "locked, as it is, and moves none into or out of one, so this version was not applied "
            "(NetSuite's record, and the hub's link to it, are unchanged). To apply it, "
            f"{_REOPEN}, then retry this record; or leave NetSuite's record as it is and correct it "
            "in an open period (a credit memo, a new document)"
        )
    elif which == "no_period":
        why = (
            f"{MARK}: NetSuite has no open accounting period to post it in. A NetSuite administrator "
            "sets up the next periods (Setup > Accounting > Manage G/L > Manage Accounting Periods), "
            "then retry this record"
        )
    else:
        why = (
            f"{MARK}: the period of its date is closed, or its A/R is locked, and this account posts "
            f"no transaction dated there to another period. Either {_REOPEN}; or an administrator sets "
            "the accounting preferences (Setup > Accounting > Accounting Preferences, General) Allow "
            "Transaction Date Outside of Posting Period to Warn or Allow and Default Posting Period "
            "When Transaction Date in Closed Period to the first open period, so that NetSuite posts "
            "it in the next open period with its date kept. Then retry this record"
        )
    return f"{why}. NetSuite said: {detail}"


def refused(err: _Refusal) -> bool:
    """NetSuite refused a record for its accounting period (explained at classification)."""
    return refusal(err.code, err.detail) is not None


def dated(err: _E, day: str | None) -> _E:
    """The refusal with the record's own date (its Nue date; the transaction's tranDate) named."""
    if not day or not refused(err) or not err.detail.startswith(MARK):
        return err
    return replace(err, detail=f"{MARK} (its date: {day}){err.detail[len(MARK) :]}")  # type: ignore[type-var]
