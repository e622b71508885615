"""Benchmark: vertices + joints per avatar, our body assembly vs anny's forward pass, in the same run.

Not a test. Prints milliseconds per avatar at batch 1 and 128 and the ratio (anny / ours). Both sides produce
rest vertices and bone frames for a new body shape; anny's forward also runs its skinning at the rest pose
(its cheapest complete call), so anny's ``get_rest_model`` is timed too as the stricter baseline.
Goal (issue "Body space and rigs"): at least 10x faster than anny at both batch sizes.

Usage: ``make bench`` or ``python bench/bench_assembly.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("ANNY_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "anny"))

from timing import best_of

from pipeline.core.assembly import assemble
from pipeline.core.body_model import load_body_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    import anny
    import torch

    torch.set_grad_enabled(False)
    body = load_body_model()
    rig = body.rig("game_engine")
    model = anny.Anny(rig="game_engine-blender", topology="anny", local_changes="default",
                      pose_parameterization="local-bone")
    print(f"threads: torch {torch.get_num_threads()}, anny skinning {model._skinning_method.__module__}")
    rng = np.random.default_rng(0)
    print(f"{'batch':>5} {'ours ms/avatar':>15} {'anny fwd ms/avatar':>19} {'anny rest ms/avatar':>20} "
          f"{'ratio fwd':>10} {'ratio rest':>11}")
    for b in (1, 128):
        coeffs = rng.normal(size=(b, body.n_components)).astype(np.float32)
        phen = torch.rand(b, len(model.phenotype_labels))
        local = torch.randn(b, len(model.local_change_labels)) * 0.25

        def ours(coeffs=coeffs):
            return assemble(body, rig, coeffs)

        def anny_fwd(phen=phen, local=local):
            return model(phenotype_kwargs=phen, local_changes_kwargs=local)

        def anny_rest(phen=phen, local=local, b=b):
            c = model._get_phenotype_blendshape_coefficients(phen, local, torch.zeros(b, 0))
            return model.get_rest_model(c)

        t_ours = best_of(ours, args.repeats) / b * 1000
        t_fwd = best_of(anny_fwd, args.repeats) / b * 1000
        t_rest = best_of(anny_rest, args.repeats) / b * 1000
        print(f"{b:>5} {t_ours:>15.3f} {t_fwd:>19.3f} {t_rest:>20.3f} {t_fwd / t_ours:>9.1f}x "
              f"{t_rest / t_ours:>10.1f}x")


if __name__ == "__main__":
    main()
