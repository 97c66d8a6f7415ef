"""The record state machine is one table (hub/states.py): every statement that moves a record is
built from it, and what it does not allow is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nue_ns.hub import dispatching, states, sweeps, transfers
from nue_ns.hub.models import State

HUB = Path(states.__file__).parent
# The modules that move records between states (the producers' insert and supersede, and the
# NetSuite batches, keep theirs in hub/intake.py and hub/batch_store.py).
MOVERS = ["transfers.py", "dispatching.py", "sweeps.py", "operators.py", "prerequisites.py"]


def test_every_state_is_reached_and_left_as_the_table_says():
    targets = {t.target for t in states.TRANSITIONS.values()}
    sources = set().union(*(t.sources for t in states.TRANSITIONS.values()))
    # Transferred and superseded are final; everything else moves on.
    assert sources == set(State) - {State.TRANSFERRED, State.SUPERSEDED}
    assert targets == {State.QUEUED, State.IN_FLIGHT, State.TRANSFERRED, State.PENDING, State.FAILED,
                       State.WAITING, State.SUPERSEDED}  # fmt: skip


@pytest.mark.parametrize(
    ("verb", "state"),
    [
        ("claim", "transferred"),
        ("claim", "in_flight"),
        ("complete", "failed"),
        ("wait", "queued"),
        ("dispatch", "waiting"),
        ("retry", "transferred"),
        ("wake", "pending"),
    ],
)
def test_an_illegal_transition_is_refused(verb, state):
    assert not states.allowed(verb, state)
    with pytest.raises(states.IllegalTransition, match=f"{verb}: a record in state '{state}'"):
        states.check(verb, state)


def test_a_legal_transition_gives_the_tables_target():
    assert states.check("claim", "queued") is State.IN_FLIGHT
    assert states.check("complete", "in_flight") is State.TRANSFERRED
    assert states.check("retry", "failed") is State.PENDING


def test_the_guard_is_the_tables_sources():
    assert states.guard("claim") == "state IN ('queued')"
    assert states.guard("complete", "r.state") == "r.state IN ('in_flight', 'pending', 'queued')"
    assert states.target("wait") == "'waiting'"


def test_the_hot_paths_statements_are_built_from_the_table():
    claim = re.search(
        r"SET state = ('\w+').*?WHERE id = %\(id\)s AND (state IN \([^)]*\))", transfers._CLAIM, re.S
    )
    assert claim is not None and claim.groups() == (states.target("claim"), states.guard("claim"))
    assert f"SET state = {states.target('complete')}" in transfers._COMPLETE
    assert states.guard("complete") in transfers._COMPLETE
    assert f"SET state = {states.target('wake')}" in transfers._COMPLETE
    assert states.guard("wake", "w.state") in transfers._COMPLETE  # the waiters it releases
    assert (
        f"SET state = {states.target('wake')}" in transfers._WAKE and states.guard("wake") in transfers._WAKE
    )
    assert states.guard("dispatch") in dispatching.DISPATCH
    assert f"SET state = {states.target('dispatch')}" in dispatching.DISPATCH


def test_no_mover_writes_a_state_of_its_own():
    """Every `SET state = ...` and every state guard in the modules that move records comes from
    the table (an f-string of states.target / states.guard), never a literal."""
    for name in MOVERS:
        text = (HUB / name).read_text()
        assert not re.search(r"state\s*=\s*'\w+'\s*,|SET\s+state\s*=\s*'", text), name
        assert not re.search(r"state\s*=\s*State\.|state\.in_\(", text), (
            f"{name}: build it from hub/states.py"
        )
        assert "store" not in re.findall(r"from nue_ns\.hub import ([\w, ]+)", text), name


def test_the_sweeps_use_the_table():
    source = Path(sweeps.__file__).read_text()
    for verb in ("recover", "give_up", "wake"):
        assert f'states.guard("{verb}"' in source
