"""Judging a list of call times against a limit of `limit` calls in any `period` seconds."""

from __future__ import annotations

from bisect import bisect_left


def busiest(times: list[float], period: float) -> int:
    """Most calls in any half-open window [t, t + period)."""
    ts, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ts):
        while t - ts[lo] >= period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def over(times: list[float], period: float, limit: int) -> int:
    """Windows (one starting at each call) holding more than `limit` calls."""
    ts = sorted(times)
    return sum(1 for i, t in enumerate(ts) if bisect_left(ts, t + period) - i > limit)


def utilisation(times: list[float], period: float, limit: int, step: float = 0.01) -> float:
    """Mean calls per window ÷ limit, over windows starting every `step` s from the first call
    while the window still ends before the last call: 1.0 is every window exactly full.

    Bursty and smooth patterns are judged alike, unlike calls ÷ elapsed time."""
    ts = sorted(times)
    if len(ts) < 2 or ts[-1] - ts[0] <= period:
        return float("nan")
    start, total, n = ts[0], 0, 0
    while start + period <= ts[-1]:
        total += bisect_left(ts, start + period) - bisect_left(ts, start)
        n += 1
        start += step
    return total / n / limit
