"""Rich tables shared by the CLI and the demo (kept apart so neither imports the other)."""

from __future__ import annotations

from rich.table import Table


def status_table(counts: dict[str, dict[str, int]]) -> Table:
    from nue_ns.hub.models import State

    present = {st for by_state in counts.values() for st in by_state}
    states = [s.value for s in State if s is not State.SUPERSEDED and s.value in present]
    table = Table(title="Transaction Hub")
    table.add_column("type")
    for st in states:
        table.add_column(st, justify="right")
    table.add_column("total", justify="right")
    for rtype, by_state in sorted(counts.items()):
        row = [str(by_state.get(st, 0) or "") for st in states]
        table.add_row(rtype, *row, str(sum(by_state.values())))
    return table
