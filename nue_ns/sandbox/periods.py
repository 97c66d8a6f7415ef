"""The sandbox account's accounting periods: one per calendar month ("2026-10"), each open, closed,
or with its A/R locked (switches `closed_periods`, `ar_locked_periods`), and what the account does
with a transaction dated in a closed one (switch `closed_period_posting`). docs/NETSUITE.md
"Accounting periods" has the sources; the rules:

- A posting transaction gets a posting period (`postingPeriod`, a reference on the real account's
  invoice and creditMemo): the one it sends, else the period of its `tranDate`. A sales order posts
  nothing and is never refused ("These restrictions don't apply to non-posting transactions such
  as sales orders", section_N1457543).
- Closed: "This status prevents posting to the general ledger for any dates included in the period,
  by anyone"; "No one can make general ledger impacting changes to posting transactions in a closed
  period. The period must be reopened" (Accounting Period Close, section_N1452509). Locked A/R
  locks A/R transactions "whether they're generated from the user interface, CSV imports,
  WebServices, SuiteScript, and ODBC" (section_N1457300); a role without Override Period
  Restrictions sees a locked period treated as closed (chapter_N2394992). Whether an integration's
  role has that permission is [U]: here it has not.
- A transaction dated in a closed period: "If the matching period is closed, you'll see either the
  first open period or the current period ... The accounting preference Default Posting Period
  When Transaction Date in Closed Periods determines which" (chapter_N2394992); with Allow
  Transaction Date Outside of Posting Period at Disallow "users are not allowed to save a
  transaction unless the transaction date is within the date range for the posting period
  selected" (section_N1456591). `closed_period_posting`: "refuse" (Disallow: refused with
  DATE_PRD_MISMATCH's words, Error Status Codes section_N3539978) or "next_open" (Warn or Allow,
  first open period: posted in the next open period, its date kept). What REST does is [U]: both.
- Changing a transaction posted in a closed period, or moving one into or out of one, is refused
  with CLOSED_TRAN_PRD's words (section_N3539978). Whether REST answers these under those
  o:errorCodes or USER_ERROR is [U]: USER_ERROR here, so nue-ns must know them by their words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

POSTING_TYPES = ("invoice", "creditMemo", "customerPayment", "customerRefund", "deposit")
AR_TYPES = ("invoice", "creditMemo", "customerPayment", "customerRefund")  # locked by Lock A/R
POSTINGS = ("refuse", "next_open")  # closed_period_posting

DATE_MISMATCH = (
    "Your transaction date does not fall between the start and end dates of your accounting period."
)
CHANGE_IN_CLOSED = "The G/L impact of a transaction in a closed period cannot be changed."
MOVE_CLOSED = "You cannot move a transaction to or from a closed period."

_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_PERIOD_ID = re.compile(r"^[0-9]{4}(0[1-9]|1[0-2])$")


@dataclass
class PeriodSettings:
    closed: frozenset[str] = frozenset()  # "YYYY-MM"
    ar_locked: frozenset[str] = frozenset()
    posting: str = "refuse"


def describe(acct: Any) -> dict[str, Any]:
    p = acct.periods
    return {
        "closed_periods": sorted(p.closed),
        "ar_locked_periods": sorted(p.ar_locked),
        "closed_period_posting": p.posting,
    }


def apply(acct: Any, data: dict[str, Any]) -> None:
    """The period switches `data` names (ValueError naming a bad one)."""
    p = acct.periods
    for name, attr in (("closed_periods", "closed"), ("ar_locked_periods", "ar_locked")):
        if name in data:
            months = data[name]
            if not isinstance(months, list) or not all(_MONTH.match(str(m)) for m in months):
                raise ValueError(f"{name} must list months as YYYY-MM")
            setattr(p, attr, frozenset(months))
    if "closed_period_posting" in data:
        if data["closed_period_posting"] not in POSTINGS:
            raise ValueError(f"closed_period_posting must be one of {', '.join(POSTINGS)}")
        p.posting = data["closed_period_posting"]


def reference(month: str) -> dict[str, str]:
    """A period as a reference: {"id": "202610", "refName": "Oct 2026"}."""
    year, mon = int(month[:4]), int(month[5:])
    return {"id": f"{year}{mon:02d}", "refName": dt.date(year, mon, 1).strftime("%b %Y")}


def shut(acct: Any, ns_type: str, month: str) -> bool:
    """Closed, or its A/R locked for an A/R transaction: no posting there."""
    p = acct.periods
    return month in p.closed or (ns_type in AR_TYPES and month in p.ar_locked)


def settle(acct: Any, ns_type: str, existing: Any, body: dict[str, Any]) -> dict[str, str] | None:
    """The posting period of a transaction about to be stored (None: it posts nothing), or the
    NetSuite refusal; nothing is stored yet. A `postingPeriod` sent is taken from `body`: the
    record keeps the period it got (rec.derived), so an update without one derives it again."""
    from nue_ns.sandbox import state  # state imports this module

    if ns_type not in POSTING_TYPES:
        return None
    sent = body.pop("postingPeriod", None)
    before = _month_of(existing.derived.get("postingPeriod")) if existing is not None else None
    if before is not None and shut(acct, ns_type, before):
        raise state.user_error(CHANGE_IN_CLOSED)
    dated = str(body.get("tranDate") or dt.datetime.now(dt.UTC).date().isoformat())[:7]
    if sent is not None:
        month = _month_of(sent)
        if month is None:
            raise state.invalid_value(sent, "postingPeriod")
        if shut(acct, ns_type, month):
            raise state.user_error(MOVE_CLOSED, "postingPeriod")
        if month != dated and acct.periods.posting == "refuse":
            raise state.user_error(DATE_MISMATCH, "tranDate")
        return reference(month)
    if not shut(acct, ns_type, dated):
        return reference(dated)
    if acct.periods.posting == "refuse":
        if before is not None:  # an update dating it into a closed period
            raise state.user_error(MOVE_CLOSED, "tranDate")
        raise state.user_error(DATE_MISMATCH, "tranDate")
    return reference(_next_open(acct, ns_type, dated))


def _month_of(ref: Any) -> str | None:
    rid = ref.get("id") if isinstance(ref, dict) else None
    if not isinstance(rid, str) or not _PERIOD_ID.match(rid):
        return None
    return f"{rid[:4]}-{rid[4:]}"


def _next_open(acct: Any, ns_type: str, month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    while True:  # finite: only listed months are shut
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
        candidate = f"{year}-{mon:02d}"
        if not shut(acct, ns_type, candidate):
            return candidate
