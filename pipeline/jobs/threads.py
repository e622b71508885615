"""The thread policy of avatar jobs: how many threads torch, numpy's BLAS and Cycles use, set by the job.

Results must not depend on where a job runs (one process, a local pool, a remote actor, the add-on) nor on what a
backend or an environment variable (``OMP_NUM_THREADS``) happens to set: the thread counts of torch's intra-op
pool and of numpy's BLAS change how sums are split, hence the last bit of float32 results (measured: 2 threads
instead of 1 move shape coefficients by up to 1.6e-6 and vertices by 1 ulp). So every process that runs jobs
applies this policy and the manifest records it. Default: one torch and one BLAS thread per process (a decode at
batch 1 is a few small matrix products; more threads only wait for each other on busy cores, and parallelism
comes from running avatars side by side); Cycles uses the machine's cores, divided among the job processes.
BLAS threads are set through ``threadpoolctl`` (OpenBLAS, MKL and BLIS alike).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any


@dataclasses.dataclass(frozen=True)
class ThreadPolicy:
    """Threads per job process. ``torch_threads``: torch intra-op threads; ``blas_threads``: numpy's BLAS;
    ``cycles_threads``: Cycles render threads (fixed, not Blender's automatic count)."""

    torch_threads: int = 1
    blas_threads: int = 1
    cycles_threads: int = 1

    @classmethod
    def for_processes(cls, processes: int = 1) -> ThreadPolicy:
        """One torch thread per process; Cycles gets the machine's cores divided among ``processes``."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return cls(cycles_threads=max(1, cores // max(1, processes)))

    def apply_blas(self) -> None:
        """Limit numpy's BLAS to ``blas_threads`` in this process (for as long as it runs)."""
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=self.blas_threads, user_api="blas")

    def apply_torch(self) -> None:
        """Set torch's intra-op threads in this process (call before the first decode)."""
        from models.common.threads import set_torch_threads

        set_torch_threads(self.torch_threads)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
