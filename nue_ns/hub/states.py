"""The record state machine: ONE table of transitions, verb -> allowed from-states -> to-state.

Every statement that moves a record between states builds its guard (`state IN (...)`) and its
new state from this table (`guard(verb)`, `target(verb)`), so a transition the table does not
allow cannot be written: the conditional UPDATE simply matches no row. Two workers (or two
beats) racing on one record therefore never both win it.

    parked/pending --dispatch--> queued --claim--> in_flight --complete--> transferred
                                                   in_flight --defer/retry_later/recover--> pending
                                                   in_flight --wait--> waiting --wake/requeue--> pending
                                                   in_flight --fail/give_up--> failed --retry--> pending
                                                   in_flight --retire--> superseded (a newer version exists)

Producers insert new versions as pending (parked in scheduled mode) and supersede older open
ones (hub/intake.py); NetSuite batches (hub/batch_store.py) take and settle
their own records.
"""

from __future__ import annotations

from dataclasses import dataclass

from nue_ns.hub.models import State


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State]
    target: State


def _t(sources: tuple[State, ...], target: State) -> Transition:
    return Transition(frozenset(sources), target)


S = State
TRANSITIONS: dict[str, Transition] = {
    # dispatch: a due record is handed to Redis (parked ones once their batch is released)
    "dispatch": _t((S.PENDING, S.PARKED), S.QUEUED),
    # claim: one worker takes a queued record
    "claim": _t((S.QUEUED,), S.IN_FLIGHT),
    # complete: NetSuite has it (a batch's answer may land for a record queued or pending again)
    "complete": _t((S.IN_FLIGHT, S.PENDING, S.QUEUED), S.TRANSFERRED),
    # defer: handed back without counting an attempt (no token, account paused, older version first)
    "defer": _t((S.IN_FLIGHT,), S.PENDING),
    # retry_later: a transient failure, backed off
    "retry_later": _t((S.IN_FLIGHT,), S.PENDING),
    # give_up: a transient failure after max_attempts, or a fault on our side that keeps recurring
    "give_up": _t((S.IN_FLIGHT,), S.FAILED),
    # fail: needs a person (NetSuite refused the record, or the change cannot be made)
    "fail": _t((S.IN_FLIGHT,), S.FAILED),
    # wait: parked until its prerequisites are in NetSuite (or the mapping is fixed)
    "wait": _t((S.IN_FLIGHT,), S.WAITING),
    # wake: a prerequisite landed, the mapping was saved, or the sweep found it settled
    "wake": _t((S.WAITING,), S.PENDING),
    # requeue: the product's own re-queue (a prerequisite landed while it began to wait)
    "requeue": _t((S.WAITING, S.PENDING), S.PENDING),
    # hurry: a waiter's prerequisite the hub holds goes first (even in scheduled mode)
    "hurry": _t((S.PARKED, S.PENDING), S.PENDING),
    # recover: the worker holding it was lost (its lease expired)
    "recover": _t((S.IN_FLIGHT,), S.PENDING),
    # retry: an operator's fresh start
    "retry": _t((S.FAILED, S.WAITING, S.PENDING, S.PARKED), S.PENDING),
    # retire: a version a newer one replaced while a worker held it, taken again: never sent, or
    # NetSuite would end with the older data (producers supersede the open versions themselves)
    "retire": _t((S.IN_FLIGHT,), S.SUPERSEDED),
}


class IllegalTransition(ValueError):
    pass


def allowed(verb: str, state: str) -> bool:
    return State(state) in TRANSITIONS[verb].sources


def check(verb: str, state: str) -> State:
    """The state `verb` moves a record in `state` to; IllegalTransition if the table forbids it."""
    t = TRANSITIONS[verb]
    if State(state) not in t.sources:
        raise IllegalTransition(
            f"{verb}: a record in state {state!r} cannot move (allowed from: "
            f"{', '.join(sorted(s.value for s in t.sources))})"
        )
    return t.target


def sources(verb: str) -> list[str]:
    return sorted(s.value for s in TRANSITIONS[verb].sources)


def guard(verb: str, column: str = "state") -> str:
    """The SQL condition a record must meet for `verb`: `state IN ('queued')`."""
    return f"{column} IN ({', '.join(repr(s) for s in sources(verb))})"


def target(verb: str) -> str:
    """The state `verb` moves a record to, as an SQL literal."""
    return repr(TRANSITIONS[verb].target.value)
