"""Execution backends: where avatar jobs run. A backend takes one avatar job at a time (``submit``) and hands back
each result as soon as it is done (``results``), so the batch records every avatar the moment it exists.

- ``InProcessBackend``: jobs run one after another in this process (``--workers 1``).
- ``LocalProcessBackend``: a pool of local processes (``--workers N``, spawned, so each starts clean); each worker
  keeps one ``JobContext`` (decoder, Blender scene, renderer) for all the avatars it makes, and dies with the
  batch process (Linux: the parent-death signal), so a killed batch leaves no workers behind.
- ``RayBackend`` (``ray_backend.py``, ``--backend ray``): long-lived Ray actors, locally or on a cluster.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from pipeline.core.spec import AvatarRequest
from pipeline.jobs.context import JobContext
from pipeline.jobs.job import failed_entry, run_job
from pipeline.jobs.options import JobOptions


class Backend(Protocol):
    def submit(self, req: AvatarRequest) -> None:
        """Queue one avatar job."""

    def results(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(avatar name, manifest entry) for every submitted job, each as it completes."""

    def close(self) -> None:
        """Release the backend's processes and resources."""


class InProcessBackend:
    """Jobs run in this process, in order, when their results are asked for."""

    def __init__(self, options: JobOptions, ctx: JobContext | None = None) -> None:
        self.options = options
        self.ctx = ctx
        self.queue: list[AvatarRequest] = []

    def submit(self, req: AvatarRequest) -> None:
        self.queue.append(req)

    def results(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if self.ctx is None:
            self.ctx = JobContext(self.options.threads)
        while self.queue:
            req = self.queue.pop(0)
            yield req.name, run_job(req, self.options, self.ctx)

    def close(self) -> None:
        if self.ctx is not None:
            self.ctx.close()


class _Worker:
    """The state of one pool process: its job options and context (set once by ``_start_worker``)."""

    options: JobOptions | None = None
    ctx: JobContext | None = None


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the process that started it dies (no orphans mid-avatar)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _start_worker(options: JobOptions) -> None:
    _die_with_parent()
    _Worker.options = options
    _Worker.ctx = JobContext(options.threads)


def _run_in_worker(req: AvatarRequest) -> tuple[str, dict[str, Any]]:
    assert _Worker.options is not None and _Worker.ctx is not None
    return req.name, run_job(req, _Worker.options, _Worker.ctx)


class LocalProcessBackend:
    """A pool of ``workers`` local processes; one task per avatar."""

    def __init__(self, options: JobOptions, workers: int) -> None:
        import multiprocessing as mp

        self.options = options
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                        initializer=_start_worker, initargs=(options,))
        self.futures: dict[Future, AvatarRequest] = {}

    def submit(self, req: AvatarRequest) -> None:
        self.futures[self.pool.submit(_run_in_worker, req)] = req

    def results(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for fut in as_completed(self.futures):
            req = self.futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # the worker process died (a crash in Blender, killed): this avatar failed
                yield req.name, failed_entry(req, self.options, exc)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_backend(options: JobOptions, workers: int, backend: str = "local", address: str | None = None) -> Backend:
    """``local``: this process for one worker, a local process pool for more; ``ray``: ``workers`` Ray actors on
    the cluster at ``address`` (a local one started for the batch when None)."""
    if backend == "ray":
        from pipeline.jobs.ray_backend import RayBackend

        return RayBackend(options, workers, address)
    return InProcessBackend(options) if workers <= 1 else LocalProcessBackend(options, workers)
