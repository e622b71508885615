"""Rebuild ``assets/body/population.npz``: bodies of the shipped body space with their attributes, for training
and judging the attribute decoder. Development tool (needs anny); deterministic for its seeds.

Each set holds, per body: shape coefficients (projected from anny's vertices and the joints of every rig),
``sex`` (0 female, 1 male, as INTERFACES.md), ``age_years`` (anny's own morphological-age calibration),
``muscle`` and ``proportions`` (anny's phenotype values, 0-1) and the measurements of
``pipeline.core.anthropometry`` taken on the body as the product rebuilds it.

Sets (prefix of the arrays):
- ``train_macro``: 12,000 bodies, macro phenotypes only (local changes 0), seed 20261126.
- ``train_local``: the 5,500 bodies the basis was fitted on (local changes ~ N(0, 0.25)), seed 20261125.
- ``heldout_macro``: 500 bodies, local changes 0, seed 777002 (never used for fitting anything).
- ``heldout_local``: the 500 held-out bodies of the basis, local changes ~ N(0, 0.25), seed 777001.

Usage: ``python -m assets.build_population`` (part of ``make assets``), about 2 minutes once anny's cache exists.
"""

from __future__ import annotations

import numpy as np
import torch

from assets import build_body_assets as build
from pipeline.core.anthropometry import measure
from pipeline.core.body_model import load_body_model

SETS = {
    "train_macro": (12000, 20261126, 0.0),
    "train_local": (5500, build.TRAIN_SEED, 0.25),
    "heldout_macro": (500, 777002, 0.0),
    "heldout_local": (500, build.HELDOUT_SEED, 0.25),
}


def sample_with_ages(model, n: int, seed: int, local_sd: float):
    """As ``build.sample_parameters`` (same random stream, so the same bodies), plus the ages in years."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    dist = SimpleShapeDistribution(model)
    years, kw = dist.sample(n)
    phen = torch.stack([kw[k] for k in model.phenotype_labels], dim=1).clamp(0.0, 1.0)
    local = (torch.randn(n, len(model.local_change_labels), dtype=torch.float64) * local_sd).clamp(-1, 1)
    return phen, local, years.numpy()


def draw_set(body, models: dict, n: int, seed: int, local_sd: float) -> dict[str, np.ndarray]:
    """n bodies drawn with a seed: ``coefficients`` (n, K) and the population columns (sex, age_years, muscle,
    proportions and every measurement), float32."""
    labels = models["game_engine"].phenotype_labels
    phen, local, years = sample_with_ages(models["game_engine"], n, seed, local_sd)
    coeffs = []
    for i in range(0, n, 500):
        st = build.states(models, phen[i:i + 500], local[i:i + 500])
        coeffs.append(body.project(st["vertices"], {r: st[f"joints_{r}"] for r in build.RIGS}))
    c = np.concatenate(coeffs)
    meas: dict[str, list[np.ndarray]] = {}
    for i in range(0, n, 500):
        m = measure(body.vertices(c[i:i + 500]).astype(np.float64), body.faces, body.landmarks)
        for k, v in m.items():
            meas.setdefault(k, []).append(v)
    p = phen.numpy()
    out = {"coefficients": c.astype(np.float32),
           "sex": (1.0 - p[:, labels.index("gender")]).astype(np.float32),
           "age_years": years.astype(np.float32),
           "muscle": p[:, labels.index("muscle")].astype(np.float32),
           "proportions": p[:, labels.index("proportions")].astype(np.float32)}
    out.update({k: np.concatenate(v).astype(np.float32) for k, v in meas.items()})
    return out


def reference_models() -> dict:
    """anny's model for every rig (cached in ``$ANNY_CACHE_DIR`` after the first build)."""
    return {rig: build.build_model(rig) for rig in build.RIGS}


def main() -> None:
    body = load_body_model()
    models = reference_models()
    arrays: dict[str, np.ndarray] = {}
    for name, (n, seed, local_sd) in SETS.items():
        for k, v in draw_set(body, models, n, seed, local_sd).items():
            arrays[f"{name}_{k}"] = v
        build.log(f"{name}: {n} bodies, stature {np.min(arrays[f'{name}_stature_cm']):.0f}-"
                  f"{np.max(arrays[f'{name}_stature_cm']):.0f} cm, mass {np.min(arrays[f'{name}_mass_kg']):.1f}-"
                  f"{np.max(arrays[f'{name}_mass_kg']):.1f} kg")
    np.savez_compressed(body.asset_dir / "population.npz", **arrays)
    build.log(f"wrote {body.asset_dir / 'population.npz'}")


if __name__ == "__main__":
    main()
