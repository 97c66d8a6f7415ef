"""Reading values out of NetSuite request bodies: sublist lines, numbers, references (no state)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def lines(body: dict[str, Any], sublist: str) -> list[dict[str, Any]]:
    value = body.get(sublist)
    return value.get("items", []) if isinstance(value, dict) else []


def num(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def ref_id(value: Any) -> str | None:
    """The id of a `{"id": "N"}` reference (ids may be sent as numbers), else None."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("id"), str | int)
        and not isinstance(value["id"], bool)
    ):
        return str(value["id"])
    return None
