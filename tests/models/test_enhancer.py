"""The render enhancer on real Cycles renders made here (tiny: 64 px, a few samples): the passes mean what they
say, the network starts as the demodulated estimate, training, saving, loading, `avatar enhance` and the
held-out evaluation run end to end, and the same input gives the same bytes."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from models.common.colour import linear_to_srgb
from models.enhancer.data import RenderProfile, avatar_mask, display, load_view, psnr_on_mask
from models.enhancer.model import EnhancerConfig, RenderEnhancer, demodulated_bicubic
from models.enhancer.train import NET_KEYS, TrainConfig, inputs_from_view, train, views_dir
from pipeline.cli import main
from pipeline.jobs.enhancer_renders import render_dataset

PROFILE = RenderProfile(size=64, low_samples=4, aux_samples=2, ref_samples=16, eevee_low_samples=1,
                        eevee_ref_samples=4)
DATA_SEED = 77


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    folder = tmp_path_factory.mktemp("views")
    summary = render_dataset(folder, 3, DATA_SEED, PROFILE, progress=False)
    assert summary["written"] == 3
    return folder


def test_passes_mean_what_they_say(views):
    for f in sorted(views.glob("view_*.npz")):
        v, meta = load_view(f)
        assert v["ref"].shape == (64, 64, 4) and v["low"].shape == (32, 32, 4)
        body = v["alpha"] > 0.99
        assert body.mean() > 0.02 and (v["alpha"] < 0.01).mean() > 0.05, meta["shot"]["kind"]
        n = np.linalg.norm(v["normal"][body], axis=1)
        # unit shading normals on the body (a pixel's samples average: shorter where the surface turns fast)
        assert np.median(n) > 0.97 and n.max() < 1.01
        assert np.mean(v["normal"][body][:, 2] > 0) > 0.95  # camera space: the visible surface faces the camera
        assert np.all(v["depth"][v["alpha"] == 0] == 1.0) and v["depth"].min() >= -1.0
        # the half-resolution render's albedo is the full-resolution albedo averaged
        down = v["albedo"].reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
        inner = v["low"][..., 3] > 0.99
        assert np.abs(down - v["low_albedo"])[inner].mean() < 0.03
        # the enlarged low render lines up with the reference (rows top first in both)
        up, ref, mask = np.repeat(np.repeat(display(v["low"]), 2, 0), 2, 1), display(v["ref"]), avatar_mask(v["alpha"])
        assert psnr_on_mask(up, ref, mask) > psnr_on_mask(up[::-1], ref, mask) + 3.0
        assert set(meta["cpu_seconds"]) == {"low", "aux", "ref"}


def test_a_fresh_enhancer_is_the_demodulated_estimate(views):
    x = inputs_from_view(load_view(sorted(views.glob("view_*.npz"))[0])[0])
    net = RenderEnhancer().eval()
    with torch.inference_mode():
        y = net(*(x[k] for k in NET_KEYS))
        base = linear_to_srgb(
            demodulated_bicubic(x["low"], x["low_albedo"], x["low_alpha"], x["albedo"], x["alpha"])[0])
    assert torch.equal(y, base.clamp(0, 1))
    # the demodulated estimate is closer to the reference than plain bicubic on the avatar
    plain = linear_to_srgb(torch.nn.functional.interpolate(x["low"], size=(64, 64), mode="bicubic"))
    m = x["mask"].bool().expand_as(base)
    assert (base - x["target"]).abs()[m].mean() < (plain - x["target"]).abs()[m].mean()


def test_a_fresh_blending_enhancer_is_the_mean_of_both_estimates(views):
    x = inputs_from_view(load_view(sorted(views.glob("view_*.npz"))[0])[0])
    net = RenderEnhancer(EnhancerConfig(blend=True)).eval()
    with torch.inference_mode():
        y = net(*(x[k] for k in NET_KEYS))
        demod = linear_to_srgb(
            demodulated_bicubic(x["low"], x["low_albedo"], x["low_alpha"], x["albedo"], x["alpha"])[0])
        plain = linear_to_srgb(torch.nn.functional.interpolate(x["low"], size=(64, 64), mode="bicubic").clamp(min=0.0))
    assert torch.allclose(y, (0.5 * (demod + plain)).clamp(0, 1), atol=1e-6)
    assert not torch.allclose(demod, plain, atol=1e-3)  # two different estimates


def test_tiled_inference_is_the_whole_image():
    """``infer`` in tiles with a halo gives the forward pass of the whole image: odd sizes, tiles that do not
    divide them, and a trained-looking (random, non-zero) head."""
    torch.manual_seed(0)
    net = RenderEnhancer().eval()
    for p in net.parameters():
        p.data.normal_(0.0, 0.1)
    h, w = 75, 53
    low, low_albedo = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
    low_alpha = (torch.rand(1, 1, h, w) > 0.3).float()
    full = [torch.rand(1, 3, 2 * h, 2 * w), torch.rand(1, 3, 2 * h, 2 * w) * 2 - 1,
            torch.rand(1, 1, 2 * h, 2 * w) * 2 - 1, torch.nn.functional.interpolate(low_alpha, scale_factor=2)]
    with torch.inference_mode():
        whole = net(low, low_albedo, low_alpha, *full)
    for tile in (32, 64, 1000):
        tiled = net.infer(low, low_albedo, low_alpha, *full, tile=tile)
        assert tiled.shape == whole.shape and (tiled - whole).abs().max() < 1e-5, tile
    net.to(memory_format=torch.channels_last)  # as ``load`` leaves it
    assert (net.infer(low, low_albedo, low_alpha, *full, tile=64) - whole).abs().max() < 1e-5
    net.to(memory_format=torch.contiguous_format)
    # a halo too small would show: the same tiles without their neighbours differ
    import models.enhancer.model as m

    mp = pytest.MonkeyPatch()
    mp.setattr(m, "HALO", 6)
    try:
        assert (net.infer(low, low_albedo, low_alpha, *full, tile=32) - whole).abs().max() > 1e-3
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def weights(views, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(cache))
    shutil.copytree(views, views_dir(DATA_SEED, PROFILE.size))
    out = tmp_path_factory.mktemp("weights")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as a job's thread policy leaves it after rendering the data in this process
    try:
        log = train(out, TrainConfig(minutes=0.05, data_seed=DATA_SEED, n_views=3, crop=32, batch=2, threads=2,
                                     profile=PROFILE, log_every=2), progress=False)
    finally:
        mp.undo()
        torch.set_num_threads(before)
    assert log["iterations"] >= 2 and log["views"] == 3
    assert log["threads"] == 2
    return out


def test_training_writes_both_networks_and_a_report(weights):
    for aux in (True, False):
        net = RenderEnhancer.load(weights, aux=aux)
        assert net.cfg.aux is aux
    assert (weights / "training_log.json").is_file() and (weights / "report_training.png").is_file()


def test_enhance_cli_writes_the_same_bytes_twice(views, weights, tmp_path, capsys):
    src = tmp_path / "passes"
    src.mkdir()
    for f in sorted(views.glob("view_*.npz"))[:2]:
        v, _ = load_view(f)
        np.savez(src / f.name, **{k: v[k] for k in v if k != "ref"})
    for run in ("a", "b"):
        assert main(["enhance", str(src), "--out", str(tmp_path / run), "--weights", str(weights)]) == 0
    outs = sorted((tmp_path / "a").glob("*.png"))
    assert len(outs) == 2
    for p in outs:
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes()
    assert "enhanced 2 render(s)" in capsys.readouterr().out


def test_enhance_names_what_is_missing(tmp_path, weights, capsys):
    np.savez(tmp_path / "bad.npz", low=np.zeros((8, 8, 4), np.float32))
    assert main(["enhance", str(tmp_path), "--out", str(tmp_path / "o"), "--weights", str(weights)]) != 0
    err = capsys.readouterr().err
    assert "bad.npz: missing low_albedo, albedo, normal, depth, alpha" in err


def test_evaluation_renders_a_held_out_set_with_every_row(weights):
    from pipeline.jobs.enhancer_renders import evaluate

    r = evaluate(weights, seed=DATA_SEED + 1, n=4, samples=(1, 2), qualities=("FAST",), eevee_samples=(1, 2),
                 comic_every=2, progress=False)
    assert set(r["rows"]) == {"bicubic", "demodulated bicubic", "colour only", "enhancer"}
    assert all(np.isfinite(v["psnr_avatar"]) and 0 < v["ssim_avatar"] <= 1 for v in r["rows"].values())
    # the second person is a comic avatar: its view renders its colour with EEVEE and has its own sweep
    assert r["views_by_engine"] == {"cycles": 3, "eevee": 1} and set(r["rows_by_engine"]) == {"cycles", "eevee"}
    assert [(s["quality"], s["samples"]) for s in r["sweep"]] == [("EEVEE", 1), ("EEVEE", 2), ("FAST", 1), ("FAST", 2)]
    assert all(r["ours_cpu_s"][e] > 0 for e in ("cycles", "eevee"))
    assert np.isfinite(r["acceptance"]["over_colour_only_db"])
    # the report's face and hand crops sit on the avatar in the rendered view (pixels of the profile's size)
    points = [(im["mask"], p) for im in r["_images"] for p in im.get("points", {}).values()]
    assert points
    for mask, (row, col) in points:
        assert 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1], (row, col, mask.shape)
        assert mask[max(0, row - 3): row + 4, max(0, col - 3): col + 4].any(), (row, col)
    with pytest.raises(ValueError, match="training data's seed"):
        evaluate(weights, seed=DATA_SEED, n=1)


def test_profile_round_trips_through_the_weights(weights):
    from models.enhancer.model import training_record

    rec = training_record(weights)
    assert RenderProfile(**rec["profile"]) == PROFILE and rec["data_seed"] == DATA_SEED
    assert dataclasses.asdict(PROFILE)["size"] == 64
