"""Parking records whose prerequisites are not in NetSuite yet: one rule for a transfer (one record)
and a batch's form (hundreds at once).

Each record names exactly what it waits for; the hub's own copies of those go to the front (even
in scheduled mode); a transaction whose customer lacks its currency asks for a customer version
with it; then all are parked in one statement, and re-checked, so a prerequisite that landed
meanwhile never leaves a record asleep (hub/transfers.lock_refs serialises the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

from nue_ns import currencies, mapping
from nue_ns.context import Context
from nue_ns.hub import prerequisites, transfers
from nue_ns.hub.models import Record, State
from nue_ns.refs import Ref


def park(ctx: Context, integration_id: int, waits: Sequence[tuple[Record, Sequence[Ref]]]) -> None:
    """Park each (record, its missing prerequisites) of one integration until they land."""
    if not waits:
        return
    engine = ctx.engine
    missing = list(dict.fromkeys(ref for _, refs in waits for ref in refs))
    states = prerequisites.prerequisite_states(engine, integration_id, missing)
    prerequisites.hurry(engine, integration_id, missing)
    wanted = [
        (ref.id, ref.type.removeprefix(mapping.CUSTOMER_CURRENCY))
        for ref in missing
        if ref.type.startswith(mapping.CUSTOMER_CURRENCY)
    ]
    if wanted:  # a customer version with the currency on its list goes first
        currencies.request_currencies(ctx, integration_id, wanted)
    parked = []
    for rec, refs in waits:
        parts, on = [], list(refs)
        for ref in refs:
            st = states[ref]
            if ref.type.startswith(mapping.CUSTOMER_CURRENCY):
                # Woken by that customer version, or by any customer version (then it asks again).
                code = ref.type.removeprefix(mapping.CUSTOMER_CURRENCY)
                on.append(Ref("customer", ref.id))
                parts.append(f"customer {ref.id} with {code} on its NetSuite currency list")
            elif st is None:
                parts.append(f"{ref} (not in the hub yet)")
            elif st == State.FAILED:
                parts.append(f"{ref} (it needs a person)")
            else:
                parts.append(f"{ref} ({st})")
        parked.append((rec.id, list(dict.fromkeys(on)), "waiting for " + ", ".join(parts)))
    transfers.wait_all(engine, integration_id, parked)
    # A prerequisite may have landed between resolve() and parking: re-check so nothing sleeps forever.
    _, still = prerequisites.resolve(engine, integration_id, missing)
    landed = set(missing) - set(still)
    if landed:
        woken = [rec.id for rec, refs in waits if any(ref in landed for ref in refs)]
        transfers.requeue(engine, woken, "a prerequisite landed while it began to wait")
