"""CPU time of this process, the measure by which renders and networks of different settings are compared."""

from __future__ import annotations

import resource


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, every thread included (``getrusage``)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
