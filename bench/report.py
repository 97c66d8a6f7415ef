"""Results as plain Markdown tables: readable in a terminal and pasted as is into docs/BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        lines = [f"### {self.title}", "", _line(self.headers), _line(["---"] * len(self.headers))]
        lines += [_line(row) for row in cells]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def load() -> str:
    """The machine's load right now: other work on it slows every figure."""
    one, five, _ = os.getloadavg()
    return f"load average before the run: {one:.2f} (1 min), {five:.2f} (5 min)"


def machine() -> str:
    """The machine a run was made on: cores, memory, Python."""
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"nproc: {cores}; Python {sys.version.split()[0]}; {platform.platform()}\n\n"
        f"```\n$ free -h\n{free}\n```\n"
    )
