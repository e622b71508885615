"""Judge the AvatarDecoder on held-out bodies (seeds never used for fitting), beside a quadratic ridge baseline.

Metrics (all written to ``report.json`` and drawn in ``report.png``):
- mean point-to-point vertex error (mm) on ``heldout_macro`` (local changes 0) and ``heldout_local`` (local
  changes ~ N(0, 0.25)), from sex+age+height+weight(+chest+waist+hips), refinement off and on, per sex and age
  band; the baseline is a ridge regression on quadratic features of the same inputs, fitted on the same data;
- refinement accuracy: stature, mass and girth errors against the request;
- height monotonicity (+1 cm request -> +1 cm stature) and seed variety (20 seeds, one request);
- plausibility: the fraction of triangles that pass through another triangle of the same body
  (``pipeline.core.self_intersection``: grid broad phase, exact segment-triangle tests) over 500 bodies decoded and
  refined from held-out requests, beside the training bodies and the true held-out bodies; also outside the head,
  whose inner cavities (mouth, eye sockets) of the template account for most intersections of every body.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.common.reports import figure, plot_curves, read_json, save_figure, write_json
from models.decoder.data import TRAIN_SETS, heldout_sets, load_population
from models.decoder.model import NAME, AvatarDecoder, decode, latent_for_seed, prior_covariance
from models.decoder.refine import Refiner
from pipeline.core.attributes import column_targets, mask_for, normalise_columns
from pipeline.core.body_model import BodyModel, load_body_model
from pipeline.core.fields import ATTRIBUTE_ORDER, FIELDS, MEASURED_FIELDS, column
from pipeline.core.resources import weights_dir
from pipeline.core.self_intersection import intersecting_triangles

INPUTS = {
    "sex_age_height_weight_girths": ("sex", "age_years", "height_cm", "weight_kg", "chest_cm", "waist_cm",
                                     "hips_cm"),
    "sex_age_height_weight": ("sex", "age_years", "height_cm", "weight_kg"),
}
AGE_BANDS = ((0, 2), (2, 12), (12, 18), (18, 60), (60, 91))


def quadratic_features(a: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(a.shape[1])
    quad = (a[:, :, None] * a[:, None, :])[:, iu[0], iu[1]]
    return np.concatenate([np.ones((a.shape[0], 1)), a, quad], axis=1)


class RidgeBaseline:
    """Quadratic ridge regression from the given (normalised) inputs to the coefficients."""

    def __init__(self, raw: np.ndarray, coeffs: np.ndarray, keys: tuple[str, ...], lam: float = 1e-3) -> None:
        self.cols = [column(k) for k in keys]
        x = quadratic_features(self._norm(raw))
        self.w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ coeffs)

    def _norm(self, raw: np.ndarray) -> np.ndarray:
        return normalise_columns(raw, np.ones_like(raw))[:, self.cols].astype(np.float64)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return quadratic_features(self._norm(raw)) @ self.w


def vertex_error_mm(body: BodyModel, c_pred: np.ndarray, c_true: np.ndarray, chunk: int = 100) -> np.ndarray:
    """(n,) mean point-to-point vertex distance per body, mm."""
    out = []
    for i in range(0, len(c_pred), chunk):
        d = body.vertices(c_pred[i:i + chunk]) - body.vertices(c_true[i:i + chunk])
        out.append(np.linalg.norm(d, axis=-1).mean(axis=1) * 1000)
    return np.concatenate(out)


def decode_raw(model: AvatarDecoder, raw: np.ndarray, keys: tuple[str, ...], z: np.ndarray | None = None
               ) -> np.ndarray:
    """Decode raw attribute columns (ATTRIBUTE_ORDER units) with only ``keys`` given."""
    m = mask_for(keys, raw.shape[0])
    return decode(model, normalise_columns(raw, m), m, z)


def breakdown(err: np.ndarray, raw: np.ndarray) -> dict:
    sex, age = raw[:, column("sex")], raw[:, column("age_years")]
    out = {"female_sex_lt_0.5": float(err[sex < 0.5].mean()), "male_sex_ge_0.5": float(err[sex >= 0.5].mean())}
    for lo, hi in AGE_BANDS:
        sel = (age >= lo) & (age < hi)
        if sel.any():
            out[f"age_{lo}_{hi}"] = float(err[sel].mean())
    return out


def evaluate(weights: Path | None = None, body: BodyModel | None = None, n_monotone: int = 40,
             seed: int | None = None, n: int | None = None) -> dict:
    """The held-out evaluation (see the module docstring) on the committed held-out sets, or on fresh ones drawn
    with ``seed`` (``data.heldout_sets``); ``n`` bodies per set."""
    body = body or load_body_model()
    model = AvatarDecoder.load(weights)
    pop = load_population(body)
    heldout = heldout_sets(body, seed, n)
    train_raw = np.concatenate([pop[s]["raw"] for s in TRAIN_SETS])
    train_c = np.concatenate([pop[s]["coefficients"] for s in TRAIN_SETS])
    refiner = Refiner(body, prior_cov=prior_covariance(model))
    report: dict = {"heldout_seed": "committed (777002, 777001)" if seed is None else f"{seed}, {seed + 1}",
                    "heldout": {}}
    refined: dict[str, np.ndarray] = {}
    for set_name in ("heldout_macro", "heldout_local"):
        raw, c_true = heldout[set_name]["raw"], heldout[set_name]["coefficients"]
        e_mean = vertex_error_mm(body, np.broadcast_to(train_c.mean(axis=0), c_true.shape), c_true)
        for label, keys in INPUTS.items():
            base = RidgeBaseline(train_raw, train_c, keys)
            e_base = vertex_error_mm(body, base(raw), c_true)
            c_dec = decode_raw(model, raw, keys)
            e_dec = vertex_error_mm(body, c_dec, c_true)
            c_ref, achieved = refiner(c_dec, column_targets(raw, keys))
            refined[f"{set_name}/{label}"] = c_ref
            e_ref = vertex_error_mm(body, c_ref, c_true)
            acc = {}
            for spec_key in MEASURED_FIELDS:
                if spec_key not in keys:
                    continue
                mkey = FIELDS[spec_key].measurement
                want = raw[:, column(spec_key)]
                err = achieved[mkey] - want
                acc[mkey] = {"abs_p95": float(np.quantile(np.abs(err), 0.95)), "abs_max": float(np.abs(err).max()),
                             "rel_p95": float(np.quantile(np.abs(err / want), 0.95))}
            report["heldout"][f"{set_name}/{label}"] = {
                "n": len(raw),
                "decoder_mm": float(e_dec.mean()), "baseline_ridge_mm": float(e_base.mean()),
                "baseline_mean_body_mm": float(e_mean.mean()),
                "improvement_vs_baseline": float(1 - e_dec.mean() / e_base.mean()),
                "decoder_refined_mm": float(e_ref.mean()),
                "decoder_by_group_mm": breakdown(e_dec, raw), "refined_by_group_mm": breakdown(e_ref, raw),
                "refinement_accuracy": acc,
            }
            print(f"  {set_name:14s} {label:30s} decoder {e_dec.mean():6.2f} mm  refined {e_ref.mean():6.2f} mm  "
                  f"ridge {e_base.mean():6.2f} mm  mean body {e_mean.mean():6.2f} mm", flush=True)

    # monotone: +1 cm requested height -> +1 cm stature (refinement on), adults and children
    raw = heldout["heldout_macro"]["raw"][:n_monotone]
    keys = INPUTS["sex_age_height_weight"]
    up = raw.copy()
    up[:, column("height_cm")] += 1.0
    _, a0 = refiner(decode_raw(model, raw, keys), column_targets(raw, keys))
    _, a1 = refiner(decode_raw(model, up, keys), column_targets(up, keys))
    step = a1["stature_cm"] - a0["stature_cm"]
    report["monotone_height"] = {"n": int(n_monotone), "step_cm_min": float(step.min()),
                                 "step_cm_max": float(step.max()),
                                 "within_1mm": float(np.mean(np.abs(step - 1.0) <= 0.1))}

    # seed variety: 20 seeds, one request, refinement on
    one = heldout["heldout_macro"]["raw"][[0]].repeat(20, axis=0)
    keys = INPUTS["sex_age_height_weight_girths"]
    z = np.stack([latent_for_seed(s, model.cfg.latent_dim) for s in range(20)])
    c_seeds, ach = refiner(decode_raw(model, one, keys, z), column_targets(one, keys))
    v = body.vertices(c_seeds)
    pair = np.linalg.norm(v[:, None] - v[None], axis=-1).mean(-1) * 1000
    report["seed_variety"] = {
        "request": {k: float(one[0, i]) for i, k in enumerate(ATTRIBUTE_ORDER) if k in keys},
        "mean_pairwise_vertex_distance_mm": float(pair[np.triu_indices(20, 1)].mean()),
        "max_vertex_displacement_between_seeds_mm": float(
            np.linalg.norm(v[:, None] - v[None], axis=-1).max() * 1000),
        "stature_spread_mm": float(np.ptp(ach["stature_cm"]) * 10),
        "mass_spread_percent": float(np.ptp(ach["mass_kg"]) / one[0, column("weight_kg")] * 100),
        "waist_spread_mm": float(np.ptp(ach["waist_cm"]) * 10),
    }
    k = min(500, len(heldout["heldout_macro"]["raw"]))  # bodies per plausibility set
    report["plausibility"] = plausibility(body, {
        "training_bodies (train_macro)": pop["train_macro"]["coefficients"][:k],
        "heldout_true_bodies (heldout_macro)": heldout["heldout_macro"]["coefficients"][:k],
        "heldout_requests_decoded_refined (4 inputs)": refined["heldout_macro/sex_age_height_weight"][:k],
        "heldout_requests_decoded_refined (+ girths)": refined["heldout_macro/sex_age_height_weight_girths"][:k],
    })
    return report


def head_triangles(body: BodyModel) -> np.ndarray:
    """(F,) bool: triangles touching a vertex driven mostly by the makehuman rig's head or a bone below it."""
    rig = body.rig("makehuman")
    head = rig.bone_names.index("head")
    below = np.zeros(rig.n_bones, dtype=bool)
    for j in range(rig.n_bones):
        p = j
        while p >= 0 and p != head:
            p = int(rig.parents[p])
        below[j] = p == head
    dominant = rig.skin_indices[np.arange(body.n_vertices), np.argmax(rig.skin_weights, axis=1)]
    return below[dominant[body.faces]].any(axis=1)


def plausibility(body: BodyModel, sets: dict[str, np.ndarray]) -> dict:
    """Self-intersection fractions (whole mesh and outside the head) per set of coefficients."""
    head = head_triangles(body)
    out: dict = {"method": "fraction of triangles crossing another triangle of the same mesh "
                           "(pipeline/self_intersection.py: grid broad phase, segment-triangle tests)",
                 "head_triangles_fraction": float(head.mean())}
    for name, coeffs in sets.items():
        whole, body_only = [], []
        for i in range(0, len(coeffs), 50):
            for v in body.vertices(coeffs[i:i + 50]):
                hit = intersecting_triangles(v, body.faces)
                whole.append(hit.mean())
                body_only.append(hit[~head].mean())
        w, b = np.array(whole), np.array(body_only)
        out[name] = {"n": len(w), "mean_fraction": float(w.mean()), "p95_fraction": float(np.quantile(w, 0.95)),
                     "outside_head_mean_fraction": float(b.mean()),
                     "outside_head_p95_fraction": float(np.quantile(b, 0.95)),
                     "bodies_with_intersections_outside_head": float((b > 0).mean())}
        print(f"  plausibility {name:45s} {w.mean() * 100:.3f} % of triangles, outside the head "
              f"{b.mean() * 100:.3f} %", flush=True)
    return out


def plot(report: dict, training: dict, path: Path) -> None:
    """report.png: the training curves beside the held-out errors of the decoder and its baselines."""
    fig, ax = figure(1, 2)
    h = training["history"]
    plot_curves(ax[0], h["seconds"], {"train (random masks)": h["train_rms_mm"], "validation": h["val_rms_mm"]},
                f"seconds ({training.get('torch_threads', 2)} CPU threads)", "RMS vertex error (mm)",
                "AvatarDecoder training")
    rows = list(report["heldout"].items())
    x = np.arange(len(rows))
    w = 0.27
    ax[1].bar(x - w, [r["baseline_ridge_mm"] for _, r in rows], w, label="quadratic ridge")
    ax[1].bar(x, [r["decoder_mm"] for _, r in rows], w, label="decoder")
    ax[1].bar(x + w, [r["decoder_refined_mm"] for _, r in rows], w, label="decoder + refinement")
    ax[1].set_xticks(x, [k.replace("heldout_", "").replace("/sex_age_height_weight", "\n4 inputs")
                         .replace("_girths", "\n+ girths") for k, _ in rows], fontsize=8)
    ax[1].set_ylabel("mean vertex error (mm), held-out")
    ax[1].set_yscale("log")
    ax[1].legend()
    save_figure(fig, path)


def evaluate_and_report(weights: Path | None = None, seed: int | None = None, n: int | None = None,
                        out: Path | None = None) -> dict:
    """Evaluate the weights in a folder (default: the shipped ones), print every number beside its baselines and,
    with ``out``, write report.json and report.png there."""
    weights = Path(weights) if weights else weights_dir(NAME)
    report = evaluate(weights, seed=seed, n=n)
    if out is not None:
        training = read_json(weights / "training_log.json")
        report["training"] = {k: v for k, v in training.items() if k != "history"}
        write_json(Path(out) / "report.json", report)
        plot(report, training, Path(out) / "report.png")
    return report
