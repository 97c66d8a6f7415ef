"""A reference from one Nue record to another it needs in NetSuite first (domain: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """A prerequisite: the Nue record of `type` with `id` must exist in NetSuite first."""

    type: str
    id: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
