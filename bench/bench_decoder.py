"""Benchmark: decode (+ refine) + assembly per avatar, at batch 1 and 128, with anny's forward pass in the same run.

Not a test. Prints milliseconds per avatar and the ratio anny / ours. anny's forward makes a body from its own
phenotype sliders (no units, no measurement targets); ours decodes metric attributes and, with refinement,
meets them to the millimetre, so the refined row does strictly more work.

Usage: ``make bench`` or ``python bench/bench_decoder.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("ANNY_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "anny"))

from timing import best_of

from models.decoder.model import AvatarDecoder, decode, latent_for_seed
from models.decoder.refine import Refiner
from pipeline.core.assembly import assemble
from pipeline.core.attributes import measurement_targets, normalise_attributes
from pipeline.core.body_model import load_body_model
from pipeline.core.population import sample_people


def main() -> None:
    import anny
    import torch

    torch.set_grad_enabled(False)
    body = load_body_model()
    rig = body.rig("game_engine")
    decoder = AvatarDecoder.load()
    refiner = Refiner(body)
    model = anny.Anny(rig="game_engine-blender", topology="anny", local_changes="default",
                      pose_parameterization="local-bone")
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'batch':>5} {'decode+assembly':>16} {'+refine':>10} {'anny fwd':>10} {'ratio':>7} {'ratio refined':>14}"
          "   (ms per avatar)")
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

        reps = 5 if b == 1 else 3
        t0 = best_of(ours, reps) / b * 1000
        t1 = best_of(ours_refined, reps) / b * 1000
        ta = best_of(anny_fwd, reps) / b * 1000
        print(f"{b:>5} {t0:>16.3f} {t1:>10.3f} {ta:>10.3f} {ta / t0:>6.1f}x {ta / t1:>13.2f}x")


if __name__ == "__main__":
    main()
