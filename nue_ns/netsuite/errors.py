"""NetSuite failures, classified by what the connector must do about them.

The classification follows docs/NETSUITE.md "Errors": transient failures are retried
with backoff, throttling pauses the account, auth failures pause the account without blaming
the record, everything else needs a person and is never retried in a loop.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nue_ns.netsuite import periods, segments
from nue_ns.safe_text import clip

# What the hub keeps of NetSuite's own words (its columns: error_code 64, error_path 200).
CODE_CHARS = 64
PATH_CHARS = 200
DETAIL_CHARS = 2000


class Kind(StrEnum):
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors, record locked / changed
    THROTTLED = "throttled"  # 429, or a CONCURRENCY_LIMIT_EXCEEDED code: back off the whole account
    AUTH = "auth"  # 401 INVALID_LOGIN: pause the account, no record is at fault
    NEEDS_PERSON = "needs_person"  # invalid field, permission, business rule, bad request


@dataclass
class Exchange:
    """One HTTP attempt as it goes in the audit log: never headers, so never secrets."""

    method: str
    url: str
    request_body: Any = None
    status: int | None = None
    response_body: Any = None
    elapsed_ms: float | None = None


@dataclass
class NetSuiteError(Exception):
    kind: Kind
    detail: str
    status: int | None = None
    code: str | None = None
    path: str | None = None
    exchange: Exchange | None = field(default=None, repr=False)
    # Seconds NetSuite asked to wait (a Retry-After header on a throttled answer), bounded.
    retry_after: float | None = None

    def __post_init__(self) -> None:
        # Bounded and escaped once, here: everything downstream (hub columns, logs, CLI, UI) is safe.
        self.detail = clip(self.detail, DETAIL_CHARS) or ""
        self.code = clip(self.code, CODE_CHARS)
        self.path = clip(self.path, PATH_CHARS)
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (str(self.status) if self.status else None, self.code) if p]
        head = " ".join(parts) or self.kind.value
        where = f" (field {self.path})" if self.path else ""
        return f"{head}: {self.detail}{where}"


# USER_ERROR messages that mean "try again in a moment", not "fix the data".
_TRANSIENT_USER_ERRORS = re.compile(
    r"record has been changed|has been changed since you retrieved|locked|try again|"
    r"concurrency_limit_exceeded|request limit exceeded|unexpected error",
    re.IGNORECASE,
)


def parse_error_body(text: str | None) -> tuple[str | None, str | None, str | None]:
    """(o:errorCode, detail, o:errorPath) of the first error detail in a NetSuite error body."""
    if not text:
        return None, None, None
    try:
        body = json.loads(text)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nested past the stack
        return None, text.strip()[:500] or None, None
    if not isinstance(body, dict):
        return None, str(body)[:500], None
    details = body.get("o:errorDetails") or []
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    code = first.get("o:errorCode") or body.get("o:errorCode")
    detail = first.get("detail") or body.get("title") or body.get("detail")
    path = first.get("o:errorPath")
    # Any of them may be a number, an object or a list in a malformed answer: kept as text.
    return _as_text(code), _as_text(detail), _as_text(path)


def _as_text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


# o:errorCodes that mean "over the account's limit" whatever the status: the concurrency limit
# (docs/NETSUITE.md "Errors"), and the RESTlets' "400 ... SSS_REQUEST_LIMIT_EXCEEDED" (bridgehead_1525252812).
_THROTTLING_CODES = frozenset({"CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED"})
# The Retry-After honoured, bounded: never a retry at once (a storm), never an account parked for hours.
RETRY_AFTER_MIN, RETRY_AFTER_MAX = 1.0, 600.0


# A customer whose Customer ID (entityId: the name, where the account does not number customers)
# another customer has: UNIQUE_CUST_ID_REQD, "A customer record with this ID already exists. You
# must enter a unique customer ID for each record you create." (Error Status Codes,
# section_N3539978), or DUP_ENTITY, "This entity already exists." Whether REST answers under that
# o:errorCode or as USER_ERROR with those words is [U]: either is recognised.
_CUSTOMER_ID_CODES = frozenset({"UNIQUE_CUST_ID_REQD", "DUP_ENTITY"})
_CUSTOMER_ID_WORDS = re.compile(
    r"customer record with this ID already exists|this entity already exists", re.I
)


def customer_id_taken(err: NetSuiteError) -> bool:
    """NetSuite refused a customer because another one has its Customer ID."""
    return err.kind is Kind.NEEDS_PERSON and (
        err.code in _CUSTOMER_ID_CODES or bool(_CUSTOMER_ID_WORDS.search(err.detail or ""))
    )


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date, RFC 9110 10.2.3) in seconds, bounded to
    RETRY_AFTER_MIN..RETRY_AFTER_MAX; None when absent or unreadable. Oracle documents no
    Retry-After on a REST 429 (docs/NETSUITE.md "Errors"): honoured when one is sent."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(seconds, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


def classify_response(
    status: int, text: str | None, exchange: Exchange | None = None, retry_after: str | None = None
) -> NetSuiteError:
    """Turn a non-2xx NetSuite answer into a classified error (`retry_after`: its Retry-After header)."""
    code, detail, path = parse_error_body(text)
    detail = detail or f"HTTP {status}"
    if status == 429 or (400 <= status < 500 and code in _THROTTLING_CODES):
        kind = Kind.THROTTLED
    elif status == 401:
        kind = Kind.AUTH
    elif status >= 500 or status in (408, 502, 503, 504):
        kind = Kind.TRANSIENT
    elif periods.refusal(code, detail) is not None:  # a closed or locked period: no retry passes it
        kind, detail = Kind.NEEDS_PERSON, periods.explained(code, detail)
    elif status == 400 and code == "USER_ERROR" and _TRANSIENT_USER_ERRORS.search(detail or ""):
        kind = Kind.TRANSIENT
    else:
        kind = Kind.NEEDS_PERSON
        # A refusal naming a department, class or location says what to set in nue-ns (segments.py).
        detail = segments.explained(detail)
    wait = retry_after_seconds(retry_after) if kind is Kind.THROTTLED else None
    return NetSuiteError(
        kind, detail, status=status, code=code, path=path, exchange=exchange, retry_after=wait
    )


def transient(detail: str, exchange: Exchange | None = None, code: str | None = None) -> NetSuiteError:
    """A failure before NetSuite answered (timeout, refused connection)."""
    return NetSuiteError(Kind.TRANSIENT, detail, code=code, exchange=exchange)
