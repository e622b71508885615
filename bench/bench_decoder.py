"""Benchmark: decode (+ refine) + assembly per avatar, at batch 1 and 128, with anny's forward pass in the same run.

Not a test. Prints milliseconds per avatar and the ratio anny / ours. The three are timed in alternating rounds
(``--rounds``; each round the best of a few calls of each), so that a drift of the machine's speed reaches all of
them alike: the medians over the rounds, the median of the per-round ratios and their range. anny's forward makes
a body from its own phenotype sliders (no units, no measurement targets); ours decodes metric attributes and,
with refinement, meets them to the millimetre, so the refined row does strictly more work.

Then decode + refine per avatar at batch 1 (``avatar generate``'s decode stage) without and with a competing
CPU-bound process, in child processes: with the jobs' thread policy (1 torch and 1 BLAS thread) and with 2 of
each, each with OpenMP's idle threads spinning (libgomp's default) and sleeping (``OMP_WAIT_POLICY=PASSIVE``, what
``models`` sets). Median, 90th percentile and worst of 30 avatars, and the loaded / quiet ratio of the medians.

Usage: ``make bench`` or ``python bench/bench_decoder.py [--skip-load] [--rounds 9]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("ANNY_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "anny"))

from timing import wall_times

from models.decoder.model import AvatarDecoder, decode, latent_for_seed
from models.decoder.refine import Refiner
from pipeline.core.assembly import assemble
from pipeline.core.attributes import measurement_targets, normalise_attributes
from pipeline.core.body_model import load_body_model
from pipeline.core.population import sample_people


def main(rounds: int = 9) -> None:
    import anny
    import torch

    torch.set_grad_enabled(False)
    body = load_body_model()
    rig = body.rig("game_engine")
    decoder = AvatarDecoder.load()
    refiner = Refiner(body)
    model = anny.Anny(rig="game_engine-blender", topology="anny", local_changes="default",
                      pose_parameterization="local-bone")
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} (1 min), {rounds} "
          "alternating rounds")
    print(f"{'batch':>5} {'decode+assembly':>16} {'+refine':>10} {'anny fwd':>10} {'ratio':>7} {'(range)':>13} "
          f"{'ratio refined':>14}   (ms per avatar; medians over the rounds)")
    for b in (1, 128):
        people = sample_people(b, seed=5)
        values = [{k: p[k] for k in ("age_years", "height_cm", "weight_kg")} | {"sex": float(p["sex"] == "male")}
                  for p in people]
        a, m = normalise_attributes(values)
        z = np.stack([latent_for_seed(p["seed"], decoder.cfg.latent_dim) for p in people])
        targets = measurement_targets(values)

        def ours(a=a, m=m, z=z):
            return assemble(body, rig, decode(decoder, a, m, z))

        def ours_refined(a=a, m=m, z=z, targets=targets):
            with torch.enable_grad():
                c, _ = refiner(decode(decoder, a, m, z), targets)
            return assemble(body, rig, c)

        phen = torch.rand(b, len(model.phenotype_labels))
        local = torch.randn(b, len(model.local_change_labels)) * 0.25

        def anny_fwd(phen=phen, local=local):
            return model(phenotype_kwargs=phen, local_changes_kwargs=local)

        fns = {"ours": ours, "refined": ours_refined, "anny": anny_fwd}
        calls = 3 if b == 1 else 1
        ms: dict[str, list[float]] = {k: [] for k in fns}
        for f in fns.values():
            f()  # warm-up
        for _ in range(rounds):
            for k, f in fns.items():
                ms[k].append(min(wall_times(f, calls)) / b * 1000)
        t0, t1, ta = (float(np.median(ms[k])) for k in fns)
        ratios = np.array(ms["anny"]) / np.array(ms["ours"])
        print(f"{b:>5} {t0:>16.3f} {t1:>10.3f} {ta:>10.3f} {np.median(ratios):>6.1f}x "
              f"{f'({ratios.min():.1f}-{ratios.max():.1f}x)':>13} {ta / t1:>13.2f}x")


def _busy() -> None:
    while True:
        pass


def load_child(threads: int) -> None:
    """Print 'quiet' and 'loaded' decode + refine times (ms per avatar, batch 1) in this process."""
    from pipeline.core.spec import parse_avatar
    from pipeline.jobs.context import JobContext
    from pipeline.jobs.stages import decode_requests
    from pipeline.jobs.threads import ThreadPolicy

    ctx = JobContext(threads=ThreadPolicy(torch_threads=threads, blas_threads=threads))
    keys = ("sex", "age_years", "height_cm", "weight_kg", "seed")
    reqs = [parse_avatar({"name": f"p{i}", **{k: p[k] for k in keys}}) for i, p in
            enumerate(sample_people(31, seed=3))]
    decode_requests(reqs[:1], ctx)
    for label in ("quiet", "loaded"):
        busy = mp.Process(target=_busy, daemon=True) if label == "loaded" else None
        if busy:
            busy.start()
            time.sleep(0.5)
        times = []
        for r in reqs[1:]:
            t = time.perf_counter()
            decode_requests([r], ctx)
            times.append(1000 * (time.perf_counter() - t))
        if busy:
            busy.terminate()
        print(label, np.median(times), np.percentile(times, 90), np.max(times), flush=True)


def load_table() -> None:
    print(f"\ndecode + refine at batch 1 with one competing CPU-bound process ({len(os.sched_getaffinity(0))} cores, "
          f"load {os.getloadavg()[0]:.2f}; ms per avatar: median / p90 / worst)")
    print(f"{'threads':>7} {'OpenMP idle':>12} {'quiet':>20} {'loaded':>20} {'loaded/quiet':>13}")
    for threads in (1, 2):
        for policy, label in (("", "spin"), ("PASSIVE", "sleep")):
            env = {**os.environ, "OMP_WAIT_POLICY": policy}
            out = subprocess.run([sys.executable, __file__, "--load-child", str(threads)], env=env, text=True,
                                 capture_output=True, check=True).stdout
            rows = {ln.split()[0]: [float(x) for x in ln.split()[1:]] for ln in out.splitlines()
                    if ln.startswith(("quiet", "loaded"))}
            q, lo = rows["quiet"], rows["loaded"]
            print(f"{threads:>7} {label:>12} {q[0]:>6.1f} {q[1]:>6.1f} {q[2]:>6.1f} {lo[0]:>6.1f} {lo[1]:>6.1f} "
                  f"{lo[2]:>6.1f} {lo[0] / q[0]:>12.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-load", action="store_true", help="only the batch table")
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds of the batch table")
    ap.add_argument("--load-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load_child:
        load_child(args.load_child)
    else:
        main(args.rounds)
        if not args.skip_load:
            load_table()
