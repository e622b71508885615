"""Shared timing helper of the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def wall_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up call, in seconds."""
    return min(wall_times(fn, repeats))
