"""Sweep locks (tasks._sweep_lock) on real Redis: held while the sweep runs, however long, up to
its longest run; lapsing seconds after a worker killed mid-sweep (SIGKILL), not after the sweep's
longest run (a batch sweep's 300 s held scheduled mode up after a kill in the chaos run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from nue_ns import tasks
from nue_ns.context import get_context


def _free(name: str) -> bool:
    with tasks._sweep_lock(name, 60) as mine:
        return mine


def test_the_lock_is_renewed_while_the_sweep_runs(env, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_LOCK_SECONDS", 0.3)
    seen: list[bool] = []
    with tasks._sweep_lock("renewed", 60) as mine:
        assert mine
        for _ in range(4):  # 1.2 s: four times the lock's own life
            time.sleep(0.3)
            seen.append(_free("renewed"))
    assert seen == [False] * 4
    assert _free("renewed")  # released at the end


def test_a_hung_sweep_keeps_it_no_longer_than_its_longest_run(env, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_LOCK_SECONDS", 0.3)
    released = threading.Event()

    def hung() -> None:
        with tasks._sweep_lock("hung", 0.5):
            released.wait(5)

    t = threading.Thread(target=hung)
    t.start()
    time.sleep(0.1)
    assert not _free("hung")
    time.sleep(1.0)  # past its longest run (0.5 s) and the lock's life after it
    assert _free("hung")
    released.set()
    t.join()


HOLDER = """
import sys, time
from nue_ns import tasks
tasks.SWEEP_LOCK_SECONDS = 1.0
with tasks._sweep_lock("killed", 300) as mine:
    print("held" if mine else "not held", flush=True)
    time.sleep(60)
"""


def test_a_worker_killed_mid_sweep_holds_it_seconds_not_its_longest_run(env):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not _free("killed")
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        killed = time.monotonic()
        while not _free("killed"):
            assert time.monotonic() - killed < 3, "the dead holder's lock outlived SWEEP_LOCK_SECONDS"
            time.sleep(0.1)
    finally:
        holder.kill()
    assert get_context().redis.exists("nue_ns:sweep:killed") == 0  # released by the one that took it
