"""Deformation quality of the game rig without and with its twist bones, on the same bodies in the same run.

Not a test. 50 people from the population sampler (all ages, both sexes; seed 2026), decoded and refined as
``avatar generate`` does, each posed in the quality poses of ``pipeline.core.deformation`` (arm raised 90 degrees,
elbow bent 120, forearm rolled 90, wrist bent 60, hip flexed 90, knee bent 120, a walk) on the rig as it was (53
bones, the source weights) and on the rig with twist bones (61 bones, their rule applied). Prints per pose and
measure the median and the worst body of each, and draws them into ``--plot`` (default
examples/deformation_qa.png).

Usage: ``python bench/bench_deformation.py [--n 50] [--plot FILE]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.deformation import quality_report
from pipeline.core.population import sample_people
from pipeline.core.spec import parse_avatar
from pipeline.jobs.context import JobContext
from pipeline.jobs.stages import decode_requests

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--plot", type=Path, default=ROOT / "examples" / "deformation_qa.png")
    args = ap.parse_args()
    ctx = JobContext()
    people = [parse_avatar(p) for p in sample_people(args.n, seed=2026)]
    dec = decode_requests(people, ctx)
    rigs = {"before (53 bones)": ctx.body.rig("game_engine", twist=False),
            "twist bones (61)": ctx.body.rig("game_engine")}
    t0 = time.perf_counter()
    reports: dict[str, list[dict]] = {label: [] for label in rigs}
    for label, rig in rigs.items():
        batch = assemble(ctx.body, rig, dec.coefficients)
        for i in range(len(people)):
            reports[label].append(quality_report(avatar_from_batch(ctx.body, rig, batch, i, people[i].name, 4)))
    print(f"{args.n} bodies (ages {min(p.age_years for p in people):.1f}-{max(p.age_years for p in people):.0f}), "
          f"{time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}")
    poses = list(reports[next(iter(rigs))][0])
    rows = []
    for pose in poses:
        for key in reports[next(iter(rigs))][0][pose]:
            worse = min if "kept" in key else max
            cells = []
            for label in rigs:
                values = np.array([r[pose][key] for r in reports[label]])
                cells.append((float(np.median(values)), float(worse(values))))
            if any(abs(c - 1.0) > 1e-3 for cell in cells for c in cell) or "intersecting" in key:
                rows.append((pose, key, cells))
    print(f"{'pose':18s} {'measure':22s} " + "  ".join(f"{label:>26s}" for label in rigs))
    print(f"{'':18s} {'':22s} " + "  ".join(f"{'median':>12s} {'worst':>13s}" for _ in rigs))
    for pose, key, cells in rows:
        print(f"{pose:18s} {key:22s} " + "  ".join(f"{m:12.3f} {w:13.3f}" for m, w in cells))
    _plot(rows, list(rigs), args.plot)
    print(f"plot: {args.plot}")


def _plot(rows: list, labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if "intersecting" not in r[1]]
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(shown) + 1.5))
    y = np.arange(len(shown))
    for k, label in enumerate(labels):
        worst = [r[2][k][1] for r in shown]
        median = [r[2][k][0] for r in shown]
        ax.barh(y + (0.2 if k else -0.2), worst, 0.38, label=f"{label}: worst body", alpha=0.85)
        ax.plot(median, y + (0.2 if k else -0.2), "k|", markersize=9)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_yticks(y, [f"{p}: {k}" for p, k, _ in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to rest (volume kept; edge stretch): bar = worst of the bodies, | = median")
    ax.set_title("Game rig deformation in test poses, without and with twist bones")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
