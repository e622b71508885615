"""The Ray backend: avatar jobs on a pool of long-lived Ray actors, for batches that outgrow one machine.

Each actor is one process holding a ``JobContext`` (decoder, Blender scene, renderer), started once and reused for
every avatar it makes; each avatar is one actor call, handed to whichever actor is free, and its result comes back
as soon as it is done. The actors write the avatar's files themselves, through the same temporary names and
renames as every backend, so the output folder must be reachable by every node at the same path (the same machine,
or shared storage); only the manifest entries travel back through Ray's object store to the batch process, which
writes the manifest.

Faults: an actor whose process dies mid-avatar is restarted by Ray and the call retried (at most ``RETRIES``
times), so the avatar is still made once; a retry's files replace the dead attempt's (same content), and the
attempt's temporary files are removed when the batch ends. The actors belong to the batch process: when it dies,
Ray ends them. ``--ray-address auto`` joins a running cluster (``ray start --head``); no address starts a local one
for the batch (``num_cpus`` = the workers asked for).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from pipeline.core.spec import AvatarRequest
from pipeline.jobs.context import JobContext
from pipeline.jobs.job import failed_entry, run_job
from pipeline.jobs.options import JobOptions

RETRIES = 3


class AvatarActor:
    """One Ray actor: a JobContext kept for all its avatars (made into a Ray actor class by ``RayBackend``)."""

    def __init__(self, options: JobOptions) -> None:
        self.options = options
        self.ctx = JobContext(options.threads)

    def run(self, req: AvatarRequest) -> dict[str, Any]:
        return run_job(req, self.options, self.ctx)

    def pid(self) -> int:
        return os.getpid()


class RayBackend:
    """``workers`` Ray actors; avatars dispatched one at a time to whichever actor is free."""

    def __init__(self, options: JobOptions, workers: int, address: str | None = None) -> None:
        import ray

        self.ray = ray
        self.options = options
        self.started = not ray.is_initialized()
        if self.started:
            kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(log_to_driver=False, include_dashboard=False, configure_logging=False, **kwargs)
        remote = ray.remote(num_cpus=1, max_restarts=RETRIES, max_task_retries=RETRIES)(AvatarActor)
        self.actors = [remote.remote(options) for _ in range(workers)]
        self.queue: deque[AvatarRequest] = deque()

    def submit(self, req: AvatarRequest) -> None:
        self.queue.append(req)

    def pids(self) -> list[int]:
        """The actors' process ids (for tests that kill one)."""
        return self.ray.get([a.pid.remote() for a in self.actors])

    def results(self) -> Iterator[tuple[str, dict[str, Any]]]:
        ray = self.ray
        idle = deque(self.actors)
        running: dict[Any, tuple[Any, AvatarRequest]] = {}
        while self.queue or running:
            while idle and self.queue:
                actor, req = idle.popleft(), self.queue.popleft()
                running[actor.run.remote(req)] = (actor, req)
            if not running:  # every actor died more often than Ray may restart it
                req = self.queue.popleft()
                yield req.name, failed_entry(req, self.options, RuntimeError("no Ray actor is left to make it"))
                continue
            (done,), _ = ray.wait(list(running), num_returns=1)
            actor, req = running.pop(done)
            try:
                entry = ray.get(done)
                idle.append(actor)
            except ray.exceptions.RayError as exc:  # the actor died more often than it may be restarted
                entry = failed_entry(req, self.options, exc)
            yield req.name, entry

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started:
            self.ray.shutdown()
