"""The AvatarDecoder (torch, CPU) and measurement refinement, on held-out bodies never used for fitting."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.decoder.anthropometry import TorchAnthropometry
from models.decoder.data import TRAIN_SETS, load_population
from models.decoder.evaluate import INPUTS, RidgeBaseline, decode_raw, vertex_error_mm
from models.decoder.model import NAME, AvatarDecoder, decode, latent_for_seed, prior_covariance
from models.decoder.refine import Refiner
from models.decoder.train import TrainConfig, train
from pipeline.core.anthropometry import MEASUREMENT_KEYS, measure
from pipeline.core.attributes import column_targets, normalise_attributes
from pipeline.core.resources import weights_dir

N = 150  # held-out bodies per check (the full 500 are in models/weights/decoder/report.json)


@pytest.fixture(scope="module")
def decoder():
    return AvatarDecoder.load()


@pytest.fixture(scope="module")
def pop(body):
    return load_population(body)


@pytest.fixture(scope="module")
def refiner(body, decoder):
    return Refiner(body, prior_cov=prior_covariance(decoder))


def test_shipped_weights_are_small_safetensors_with_config_and_report():
    files = {p.name: p.stat().st_size for p in weights_dir(NAME).iterdir()}
    assert {"decoder.safetensors", "config.json", "report.json", "report.png", "training_log.json"} <= set(files)
    assert sum(files.values()) < 10_000_000
    report = json.loads((weights_dir(NAME) / "report.json").read_text())
    assert report["heldout"]["heldout_macro/sex_age_height_weight_girths"]["n"] == 500


def test_torch_anthropometry_equals_numpy(body):
    c = np.stack([body.presets[k] for k in ("child", "adult_man", "heavy_adult")])
    v = body.vertices(c).astype(np.float64)
    ours = measure(v, body.faces, body.landmarks)
    t = TorchAnthropometry(body.faces, body.landmarks)(torch.from_numpy(v))
    for k in MEASUREMENT_KEYS:
        assert np.allclose(t[k].numpy(), ours[k], rtol=1e-9, atol=1e-9), k


def _errors_beside_baseline(body, pop, decoder, set_name, keys, n=N):
    """Mean vertex error (mm) of the decoder and of the quadratic ridge baseline on n held-out bodies."""
    raw, c_true = pop[set_name]["raw"][:n], pop[set_name]["coefficients"][:n]
    train_raw = np.concatenate([pop[s]["raw"] for s in TRAIN_SETS])
    train_c = np.concatenate([pop[s]["coefficients"] for s in TRAIN_SETS])
    e_dec = vertex_error_mm(body, decode_raw(decoder, raw, keys), c_true).mean()
    e_base = vertex_error_mm(body, RidgeBaseline(train_raw, train_c, keys)(raw), c_true).mean()
    return e_dec, e_base


# Issue 3 asks for >= 25 % better than the ridge baseline on both input sets, on the 500 held-out bodies:
# measured 75 % with girths (0.74 vs 2.99 mm) and 25.6 % from sex+age+height+weight (3.91 vs 5.26 mm).
@pytest.mark.parametrize("label, limit, gain", [("sex_age_height_weight_girths", 3.0, 0.25),
                                               ("sex_age_height_weight", 4.5, 0.25)])
def test_accuracy_on_heldout_macro_bodies_beats_ridge(body, pop, decoder, label, limit, gain):
    e_dec, e_base = _errors_beside_baseline(body, pop, decoder, "heldout_macro", INPUTS[label], n=500)
    print(f"{label}: decoder {e_dec:.2f} mm, quadratic ridge {e_base:.2f} mm")
    assert e_dec <= limit
    assert e_dec <= (1 - gain) * e_base


def test_accuracy_on_heldout_bodies_with_local_changes_beats_ridge(body, pop, decoder):
    e_dec, e_base = _errors_beside_baseline(body, pop, decoder, "heldout_local", INPUTS["sex_age_height_weight_girths"])
    print(f"local changes: decoder {e_dec:.2f} mm, quadratic ridge {e_base:.2f} mm")
    assert e_dec < e_base


def test_refinement_meets_requests_for_95_percent(body, pop, decoder, refiner):
    keys = INPUTS["sex_age_height_weight_girths"]
    for set_name in ("heldout_macro", "heldout_local"):
        raw = pop[set_name]["raw"][:N]
        _, achieved = refiner(decode_raw(decoder, raw, keys), column_targets(raw, keys))
        stature = np.abs(achieved["stature_cm"] - raw[:, 2]) * 10  # mm
        mass = np.abs(achieved["mass_kg"] - raw[:, 3]) / raw[:, 3]
        girths = np.abs(np.stack([achieved[k] for k in ("chest_cm", "waist_cm", "hips_cm")], 1) - raw[:, 4:7]) * 10
        ok = (stature <= 2.0) & (mass <= 0.01) & (girths.max(axis=1) <= 5.0)
        print(f"{set_name}: {ok.mean():.1%} of requests met; stature p95 {np.quantile(stature, 0.95):.3f} mm")
        assert ok.mean() >= 0.95


def test_height_monotone_and_smooth(body, pop, decoder, refiner):
    keys = INPUTS["sex_age_height_weight"]
    raw = pop["heldout_macro"]["raw"][:30]
    up = raw.copy()
    up[:, 2] += 1.0
    _, a0 = refiner(decode_raw(decoder, raw, keys), column_targets(raw, keys))
    _, a1 = refiner(decode_raw(decoder, up, keys), column_targets(up, keys))
    step = a1["stature_cm"] - a0["stature_cm"]
    assert np.all(np.abs(step - 1.0) <= 0.1), step


def test_seeds_give_different_bodies_that_keep_the_measurements(body, decoder, refiner):
    req = {"sex": 0.0, "age_years": 34.0, "height_cm": 168.0, "weight_kg": 61.0, "chest_cm": 88.0,
           "waist_cm": 72.0, "hips_cm": 98.0}
    a, m = normalise_attributes([req] * 20)
    z = np.stack([latent_for_seed(s, decoder.cfg.latent_dim) for s in range(20)])
    c, achieved = refiner(decode(decoder, a, m, z), column_targets(
        np.array([[0.0, 34, 168, 61, 88, 72, 98, np.nan, np.nan, np.nan]] * 20), INPUTS[
            "sex_age_height_weight_girths"]))
    v = body.vertices(c)
    pair = np.linalg.norm(v[:, None] - v[None], axis=-1).max(axis=-1) * 1000  # largest displacement per pair
    off = pair[np.triu_indices(20, 1)]
    print(f"seed pairs: largest vertex displacement median {np.median(off):.0f} mm")
    assert np.median(off) > 15  # visibly different somewhere on the body
    assert np.abs(achieved["stature_cm"] - 168).max() <= 0.2
    assert np.abs(achieved["mass_kg"] - 61).max() <= 0.61
    assert np.abs(achieved["waist_cm"] - 72).max() <= 0.5
    same = decode(decoder, a[:1], m[:1], z[:1])
    assert np.array_equal(same, decode(decoder, a[:1], m[:1], latent_for_seed(0, decoder.cfg.latent_dim)[None]))


def test_decoded_bodies_intersect_themselves_no_more_than_training_bodies(body, pop, decoder, refiner):
    """Plausibility (the full 500 are in report.json): self-intersecting triangles of bodies decoded and refined
    from held-out requests, beside as many training bodies; whole mesh and outside the head's inner cavities."""
    from models.decoder.evaluate import plausibility

    report = json.loads((weights_dir(NAME) / "report.json").read_text())["plausibility"]
    train_ref = report["training_bodies (train_macro)"]
    for name in ("heldout_requests_decoded_refined (4 inputs)", "heldout_requests_decoded_refined (+ girths)"):
        assert report[name]["n"] == 500
        assert report[name]["mean_fraction"] <= train_ref["mean_fraction"]
        assert report[name]["outside_head_mean_fraction"] <= train_ref["outside_head_mean_fraction"]
    n, keys = 40, INPUTS["sex_age_height_weight"]
    raw = pop["heldout_macro"]["raw"][:n]
    c_ref, _ = refiner(decode_raw(decoder, raw, keys), column_targets(raw, keys))
    # a small live check, paired: the same 40 people's true bodies (different people differ more than this)
    live = plausibility(body, {"decoded": c_ref, "true": pop["heldout_macro"]["coefficients"][:n]})
    print({k: (v["mean_fraction"], v["outside_head_mean_fraction"]) for k, v in live.items() if k in ("decoded",
                                                                                                      "true")})
    assert live["decoded"]["mean_fraction"] <= 1.02 * live["true"]["mean_fraction"]
    assert live["decoded"]["outside_head_mean_fraction"] <= 1.10 * live["true"]["outside_head_mean_fraction"]


def test_implausible_request_gets_closest_plausible_body_and_deviation(body, decoder, refiner):
    raw = np.array([[1.0, 40, 120.0, 150.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]])
    keys = INPUTS["sex_age_height_weight"]
    c, achieved = refiner(decode_raw(decoder, np.nan_to_num(raw), keys), column_targets(raw, keys))
    assert (c**2).sum() <= refiner.cfg.plausible_radius2 + 1e-3
    assert np.abs(c).max() <= refiner.cfg.max_abs_coefficient + 1e-6
    assert abs(achieved["mass_kg"][0] - 150) > 1.5 or abs(achieved["stature_cm"][0] - 120) > 0.2


def test_refinement_stops_per_avatar_once_met_and_a_batch_changes_no_result(body, pop, decoder, refiner,
                                                                             monkeypatch):
    """Early stop: a reachable request stops moving once met (fewer measurements than the iteration cap), an
    unreachable one runs every iteration; refining a batch gives each avatar what it gets alone."""
    keys = INPUTS["sex_age_height_weight"]
    raw = pop["heldout_macro"]["raw"][:12].copy()
    raw[5] = [1.0, 40, 120.0, 150.0, *[np.nan] * 6]  # implausible: never met, runs the whole cap
    c0 = decode_raw(decoder, np.nan_to_num(raw), keys)
    calls: list[int] = []
    measure = refiner.measure
    monkeypatch.setattr(refiner, "measure", lambda c: calls.append(c.shape[0]) or measure(c))
    alone, counts = [], []
    for i in range(len(raw)):
        alone.append(refiner(c0[i: i + 1], column_targets(raw[i: i + 1], keys)))
        counts.append(len(calls))
        calls.clear()
    cap = refiner.cfg.iterations + 1  # measurements of an avatar that is never met
    assert counts[5] == cap
    assert np.median(counts) <= 3, counts  # 2 steps and the measurement that shows they met the request
    c_batch, a_batch = refiner(c0, column_targets(raw, keys))
    assert len(calls) == cap  # a batch runs until its slowest avatar is done
    for i, (c_i, a_i) in enumerate(alone):
        assert np.abs(c_batch[i] - c_i[0]).max() < 1e-4, i
        assert abs(a_batch["stature_cm"][i] - a_i["stature_cm"][0]) < 1e-3, i
    met = [i for i in range(len(raw)) if i != 5]
    assert np.abs(a_batch["stature_cm"][met] - raw[met, 2]).max() <= 1e-3  # cm
    assert np.abs(a_batch["mass_kg"][met] - raw[met, 3]).max() <= 1e-3  # kg


def test_training_runs_seeded_and_saves_loadable_weights(tmp_path, body):
    r1 = train(tmp_path / "a", TrainConfig(epochs=2, minutes=1), body, progress=False)
    r2 = train(tmp_path / "b", TrainConfig(epochs=2, minutes=1), body, progress=False)
    assert r1["history"]["val_rms_mm"] == r2["history"]["val_rms_mm"]  # same seed, same curve
    assert np.isfinite(r1["best_val_rms_mm"])
    m = AvatarDecoder.load(tmp_path / "a")
    assert m.latent_basis.abs().sum() > 0
    from safetensors.torch import load_file

    assert set(load_file(str(tmp_path / "a" / "decoder.safetensors"))) == set(m.state_dict())
