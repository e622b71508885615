"""Benchmark: avatars per second on the Ray backend beside the local one, in the same run.

Not a test. The same 16 sampled people (glb + pyrender previews, as ``make demo`` but one format) through the local
backend with 1 and 2 workers and the Ray backend with 1 and 2 actors (a local cluster of this machine's cores),
alternating over ``--rounds``, each configuration in a fresh process (Ray's cluster belongs to its process, and a
local pool spawned after ``ray.init`` cannot import Blender there). Throughput is counted once every worker is
warm: (n - w) / (time of the last result - time of the w-th), w the number of workers, so process and actor
start-up (torch, Blender: a few seconds each) is left out; the start-up is printed apart. The thread policy of each
job process is printed (one torch and one BLAS thread; Cycles gets the cores divided among the workers).

Usage: ``python bench/bench_ray.py [--n 16] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.core.population import sample_people
from pipeline.core.spec import parse_avatar
from pipeline.jobs.backends import make_backend
from pipeline.jobs.options import GenerateOptions


def run(backend: str, workers: int, people: list, out: Path) -> tuple[float, float, dict]:
    """(steady avatars per second, seconds to the first result, thread policy)."""
    job = GenerateOptions(out=out, workers=workers, backend=backend).job()
    t0 = time.perf_counter()
    b = make_backend(job, workers, backend)
    for req in people:
        b.submit(req)
    times = []
    try:
        for _name, entry in b.results():
            assert entry["status"] == "done", entry
            times.append(time.perf_counter() - t0)
    finally:
        b.close()
    return (len(times) - workers) / (times[-1] - times[workers - 1]), times[0], job.threads.as_dict()


def one(backend: str, workers: int, n: int) -> None:
    """Measure one configuration in this process and print its numbers as JSON."""
    import json

    if backend == "ray":
        import ray

        ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    people = [parse_avatar(p) for p in sample_people(n, seed=31)]
    with tempfile.TemporaryDirectory() as tmp:
        rate, first, threads = run(backend, workers, people, Path(tmp) / "o")
    print(json.dumps({"rate": rate, "first": first, "threads": threads}))


def main() -> None:
    import json
    import subprocess
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one[0], int(args.one[1]), args.n)
        return
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    cores = len(os.sched_getaffinity(0))
    configs = [("local", w) for w in range(1, cores + 1)] + [("ray", w) for w in range(1, cores + 1)]
    rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    starts: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    threads = {}
    for r in range(args.rounds):
        for c in (configs if r % 2 == 0 else configs[::-1]):
            proc = subprocess.run([sys.executable, __file__, "--one", c[0], str(c[1]), "--n", str(args.n)],
                                  capture_output=True, text=True, env=env, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rates[c].append(result["rate"])
            starts[c].append(result["first"])
            threads[c] = result["threads"]
    print(f"{cores} cores, load {os.getloadavg()[0]:.2f}, {args.n} avatars (glb + previews) x {args.rounds} rounds")
    print(f"{'backend':8s} {'workers':>7s} {'avatars/s':>10s} {'s/avatar':>9s} {'first result s':>15s}  threads")
    med = {c: statistics.median(v) for c, v in rates.items()}
    for c in configs:
        print(f"{c[0]:8s} {c[1]:7d} {med[c]:10.2f} {1 / med[c]:9.3f} {statistics.median(starts[c]):15.1f}  "
              f"{threads[c]}")
    best_local = max(v for c, v in med.items() if c[0] == "local")
    best_ray = max(v for c, v in med.items() if c[0] == "ray")
    print(f"best Ray / best local throughput: {best_ray / best_local:.3f} (goal >= 0.95); 1 actor / 1 local worker "
          f"per-avatar time: {med[('local', 1)] / med[('ray', 1)]:.3f} (goal within 10 %)")
    print("scaling with Ray actors: " + ", ".join(f"{w}: {med[('ray', w)] / med[('ray', 1)]:.2f}x"
                                                   for w in range(1, cores + 1)))


if __name__ == "__main__":
    main()
