"""Values written into SuiteQL text, validated: REST SuiteQL takes only the query, "in the request
body after the body parameter `q`" (section_157909186990; the example body of section_158394344595
is `{"q": "SELECT ..."}`). Bind parameters (`params` with `?`) are documented for SuiteScript's
`query.runSuiteQL` only (section_157960542026), so every value is inlined, and only as a literal
that cannot carry SQL: integers through int(), times from a datetime in one fixed format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

TIME_FORMAT = "YYYY-MM-DD HH24:MI:SS"  # Oracle's format model, and the same as Python's below
_TIME = "%Y-%m-%d %H:%M:%S"


def integer(value: object) -> str:
    """An internal id as a SQL integer (ValueError unless it is one)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r}: an integer is expected")
    return str(int(value))


def integers(values: Iterable[object]) -> str:
    """`1, 2, 3` for an `IN (...)` list (ValueError when empty: `IN ()` is not SQL)."""
    listed = [integer(v) for v in values]
    if not listed:
        raise ValueError("an IN list needs at least one value")
    return ", ".join(listed)


def timestamp(when: dt.datetime) -> str:
    """`TO_DATE('2026-12-02 13:00:00', 'YYYY-MM-DD HH24:MI:SS')`, to the second."""
    if not isinstance(when, dt.datetime):
        raise ValueError(f"{when!r}: a datetime is expected")
    return f"TO_DATE('{when.strftime(_TIME)}', '{TIME_FORMAT}')"
