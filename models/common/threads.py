"""torch's intra-op thread count (the jobs' thread policy sets it through here: torch is imported only in models/)."""

from __future__ import annotations

import torch


def set_torch_threads(n: int) -> None:
    """Use ``n`` intra-op threads in this process from now on."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def machine_cores() -> int:
    """The cores this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
